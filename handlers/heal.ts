/**
 * Healing a stuck rotation: AWSPENDING left on a version that is not AWSCURRENT blocks every later
 * RotateSecret ("A previous rotation isn't complete"). The healer decides, without changing
 * anything, whether to roll forward (the target already accepts the pending credential: promote
 * it) or to abandon (the pending credential does not work but the current one does: clear the
 * label), and acts only when asked. Used by `rotor heal` and by the scheduled heal function.
 *
 * It asks the rotator's `test` — which never mutates — whether each credential works, so it makes
 * the same judgement the rotation itself would have made.
 */
import {
  ListSecretVersionIdsCommand,
  type SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { CAUSE_FIX, type CauseClass, causeClass, causeLine } from '../rotators/causes.js';
import { asRotorError, type RotorError } from '../rotators/errors.js';
import type { Registry } from '../rotators/registry.js';
import type { TrustConfig } from './config.js';
import type { EventPublisher } from './events.js';
import type { Redactor } from './redact.js';
import {
  type RotationFailure,
  type RotationStateName,
  rotationState,
  type StateEvent,
} from './rotationState.js';
import { runbookUrl } from './runbook.js';
import { CURRENT, PENDING, PREVIOUS, type SecretsStore } from './secrets.js';
import { type Discovery, type Loaded, VersionReader } from './versions.js';

export type HealDecision =
  /** No AWSPENDING, or AWSPENDING on the AWSCURRENT version: nothing is stuck. */
  | 'healthy'
  /** The rotation state is `rotating`: a step runs or a retry is due (or, with no events, AWSPENDING is younger than the minimum age). */
  | 'in-progress'
  /** The target accepts the pending credential: promote it to AWSCURRENT. */
  | 'roll-forward'
  /** The pending credential is empty or does not work, the current one does: clear AWSPENDING. */
  | 'abandon'
  /** Neither credential works: a person must look. Nothing is changed. */
  | 'manual';

export interface HealReport {
  secretArn: string;
  decision: HealDecision;
  /** Why, in a sentence an operator can act on. */
  reason: string;
  pendingVersionId?: string;
  currentVersionId?: string;
  /** The rotation state the decision rests on (handlers/rotationState.ts). */
  state: RotationStateName;
  /** `failed`: the failing step and error. */
  failure?: RotationFailure;
  /** Whether the pending / current credential passed the rotator's test (when tried). */
  pendingWorks?: boolean;
  currentWorks?: boolean;
  /** Why a credential failed: `<class> (<error name>): <message>`, codes in words. */
  pendingError?: string;
  currentError?: string;
  /** The class of each failure's cause (network, TLS, authentication, privilege, probe query, ...). */
  pendingCause?: CauseClass;
  currentCause?: CauseClass;
  /** `manual`: the cause to fix first (of the credential that got furthest), with what to do in `reason`. */
  cause?: CauseClass;
  /** Age of the stuck pending version, in seconds. */
  pendingAgeSeconds?: number;
  /** Whether the decision was carried out. */
  acted: boolean;
}

export interface HealerDeps {
  client: SecretsManagerClient;
  store: SecretsStore;
  registry: Registry;
  redactor: Redactor;
  publisher?: EventPublisher;
  /**
   * A pending version with no sign of life for this long is stuck rather than rotating (the state
   * model's quiet window). Default 1 h.
   */
  minAgeMs?: number;
  /**
   * rotor's and the service's events of a secret, so that the state is judged as `rotor status`
   * judges it (the CLI reads them; the heal function has none and relies on the age alone).
   */
  events?: (secretArn: string, functionArn: string | undefined) => Promise<readonly StateEvent[]>;
  /** Whether those events include the service's own rotation events (see StateFacts). */
  serviceEventsVisible?: boolean;
  /** The runbook's URL, for the `runbook` link of heal events (default: the repository's RUNBOOK.md). */
  runbookBaseUrl?: string;
  /**
   * Enriches versions before they are parsed, as the step machine does (RDS endpoint discovery,
   * handlers/rds.ts), so that RDS secrets are judged the way their rotation judges them.
   */
  discovery?: Discovery;
  /** Master bindings, rds-master bindings, adoption record: judged as the rotation function judges them. */
  trust?: TrustConfig;
  now?: () => number;
}

export interface HealOptions {
  /** Carry the decision out. Without it, only report. */
  apply?: boolean;
  /** Judge even a rotation that looks like it is running. */
  force?: boolean;
  /**
   * Publish `Rotation Heal Needed` when nothing was done (default true: the scheduled function's
   * report is what pages). An operator looking with `rotor heal` is not news: the CLI turns it off.
   */
  announceNeeded?: boolean;
  signal?: AbortSignal;
}

/** Causes that happen after a successful login: the credential itself works. */
const LOGGED_IN = new Set<CauseClass>(['probe-query', 'privilege']);

/** Of two failures, the one to fix first: a failure after login beats a refused login. */
export function decisiveCause(pending: CauseClass | undefined, current: CauseClass | undefined): CauseClass {
  for (const cause of ['security', 'probe-query', 'privilege', 'configuration'] as const) {
    if (pending === cause || current === cause) return cause;
  }
  return current ?? pending ?? 'internal';
}

export class Healer {
  constructor(private readonly deps: HealerDeps) {}

  async heal(secretId: string, options: HealOptions = {}): Promise<HealReport> {
    const signal = options.signal ?? AbortSignal.timeout(60_000);
    const scope = this.deps.redactor.scope();
    try {
      const report = await this.#decide(secretId, options, signal, scope);
      if (options.apply && (report.decision === 'roll-forward' || report.decision === 'abandon')) {
        await this.#act(report, signal, scope);
        report.acted = true;
      }
      report.reason = this.deps.redactor.scrub(report.reason);
      if (report.acted || options.announceNeeded !== false) await this.#publish(report);
      return report;
    } finally {
      scope.close();
    }
  }

  async #decide(
    secretId: string,
    options: HealOptions,
    signal: AbortSignal,
    scope: ReturnType<Redactor['scope']>,
  ): Promise<HealReport> {
    const { store, registry, client } = this.deps;
    const secret = await store.describe(secretId, signal);
    const pendingId = secret.versionOf(PENDING);
    const currentId = secret.versionOf(CURRENT);
    const stuck = pendingId !== undefined && pendingId !== currentId;
    const created = stuck
      ? (
          await client.send(
            new ListSecretVersionIdsCommand({
              SecretId: secret.arn,
              IncludeDeprecated: true,
              MaxResults: 100,
            }),
            { abortSignal: signal },
          )
        ).Versions?.find((v) => v.VersionId === pendingId)?.CreatedDate
      : undefined;
    // Events are best effort: without them the state rests on the labels and the age.
    let eventsRead = this.deps.events !== undefined;
    const events =
      stuck && this.deps.events !== undefined
        ? await this.deps.events(secret.arn, secret.rotationLambdaArn).catch(() => {
            eventsRead = false;
            return [];
          })
        : [];
    const now = this.deps.now?.() ?? Date.now();
    const state = rotationState({
      now,
      rotationEnabled: secret.rotationEnabled,
      ...(secret.rotationLambdaArn === undefined ? {} : { functionArn: secret.rotationLambdaArn }),
      ...(secret.lastRotated === undefined ? {} : { lastRotated: secret.lastRotated }),
      stages: Object.fromEntries(secret.versions),
      ...(created === undefined ? {} : { pendingCreated: created }),
      events,
      serviceEventsVisible: eventsRead && this.deps.serviceEventsVisible === true,
      timing: { quietMs: this.deps.minAgeMs ?? 3_600_000 },
    });
    const base = {
      secretArn: secret.arn,
      state: state.state,
      ...(state.failure === undefined ? {} : { failure: state.failure }),
      ...(pendingId ? { pendingVersionId: pendingId } : {}),
      ...(currentId ? { currentVersionId: currentId } : {}),
      acted: false,
    };
    if (!stuck) {
      return {
        ...base,
        decision: 'healthy',
        reason: `no rotation is stuck: AWSPENDING is absent or on AWSCURRENT (${state.state}: ${state.reason})`,
      };
    }
    const withAge = {
      ...base,
      ...(state.pendingAgeSeconds === undefined ? {} : { pendingAgeSeconds: state.pendingAgeSeconds }),
    };
    if (!options.force && state.state === 'rotating') {
      return {
        ...withAge,
        decision: 'in-progress',
        reason: `${state.reason}: a rotation is running; wait for it to end (or use --force)`,
      };
    }
    const why = state.state === 'failed' || state.state === 'stuck' ? `${state.reason}. ` : '';
    if (currentId === undefined) {
      return { ...withAge, decision: 'manual', reason: `${why}The secret has no AWSCURRENT version` };
    }

    const reader = new VersionReader(
      store,
      registry,
      scope,
      signal,
      this.deps.discovery?.forInvocation(signal),
      this.deps.trust,
    );
    reader.tags = secret.tags;
    const current = await reader.load(secret.arn, currentId, CURRENT);
    const pending = await reader.loadPending(secret.arn, pendingId, current).catch((error: unknown) => {
      return asRotorError(error);
    });
    const currentCheck = await this.#works(secret.arn, current, current, reader, signal, pendingId);
    const currentFacts = {
      currentWorks: currentCheck.ok,
      ...(currentCheck.error ? { currentError: currentCheck.error } : {}),
      ...(currentCheck.cause ? { currentCause: currentCheck.cause } : {}),
    };
    if (pending === undefined || !('rotator' in pending)) {
      const unusable =
        pending === undefined
          ? 'createSecret never stored a value, so nothing was applied to the target'
          : `the pending value is not usable (${pending.message})`;
      return currentCheck.ok
        ? {
            ...withAge,
            ...currentFacts,
            decision: 'abandon',
            reason: `${why}${unusable}; the current credential works`,
          }
        : {
            ...withAge,
            ...currentFacts,
            decision: 'manual',
            cause: currentCheck.cause ?? 'internal',
            reason: `${why}${unusable}, and the current credential fails too: ${currentCheck.error}. What to do: ${CAUSE_FIX[currentCheck.cause ?? 'internal']}`,
          };
    }
    const pendingCheck = await this.#works(secret.arn, pending, current, reader, signal, pendingId);
    const checks = {
      pendingWorks: pendingCheck.ok,
      ...(pendingCheck.error ? { pendingError: pendingCheck.error } : {}),
      ...(pendingCheck.cause ? { pendingCause: pendingCheck.cause } : {}),
      ...currentFacts,
    };
    if (pendingCheck.ok) {
      return {
        ...withAge,
        ...checks,
        decision: 'roll-forward',
        reason: `${why}The target accepts the pending credential${currentCheck.ok ? '' : ' (and no longer the current one)'}: promoting it finishes the rotation`,
      };
    }
    if (currentCheck.ok) {
      return {
        ...withAge,
        ...checks,
        decision: 'abandon',
        reason: `${why}The pending credential does not work (${pendingCheck.error}) and the current one does: clearing AWSPENDING lets rotation start afresh`,
      };
    }
    // Neither passes. The credential that got furthest names what to fix first: one that logs in
    // and then fails the probe (or a privilege) is not a password problem, whatever the other says.
    const cause = decisiveCause(pendingCheck.cause, currentCheck.cause);
    const holdsPending =
      pendingCheck.cause !== undefined &&
      LOGGED_IN.has(pendingCheck.cause) &&
      currentCheck.cause === 'authentication'
        ? ' The target already holds the pending password (it logs in): once that is fixed, heal rolls forward.'
        : '';
    return {
      ...withAge,
      ...checks,
      cause,
      decision: 'manual',
      reason: `${why}Neither credential passes the rotator's test (pending: ${pendingCheck.error}; current: ${currentCheck.error}); nothing was changed. What to do: ${CAUSE_FIX[cause]}.${holdsPending}`,
    };
  }

  /** Whether `candidate`'s credential passes the rotator's (non-mutating) test. */
  async #works(
    secretArn: string,
    candidate: Loaded,
    current: Loaded,
    reader: VersionReader,
    signal: AbortSignal,
    token: string,
  ): Promise<{ ok: boolean; error?: string; cause?: CauseClass }> {
    try {
      await candidate.rotator.test({
        signal,
        deadline: Date.now() + 30_000,
        token,
        step: 'testSecret',
        fetchRelated: reader.fetchRelated,
        fetchRelatedSecret: reader.fetchRelatedSecret,
        fetchMaster: reader.fetchMaster,
        secretArn,
        adopted: () => reader.adopted(secretArn),
        ...(current.managedDatabase === undefined ? {} : { managedDatabase: current.managedDatabase }),
        pending: candidate.value,
        current: async () => current.value,
      });
      return { ok: true };
    } catch (error) {
      const rotorError: RotorError = asRotorError(error);
      const facts = {
        ...rotorError.toJSON(),
        name: rotorError.name,
        message: this.deps.redactor.scrub(rotorError.detail),
      };
      return { ok: false, error: causeLine(facts), cause: causeClass(facts) };
    }
  }

  async #act(report: HealReport, signal: AbortSignal, scope: ReturnType<Redactor['scope']>): Promise<void> {
    const { client, store, registry } = this.deps;
    const { secretArn: arn, pendingVersionId: pendingId, currentVersionId: currentId } = report;
    if (pendingId === undefined) return;
    if (report.decision === 'roll-forward' && currentId !== undefined) {
      await store.promote(arn, pendingId, currentId, signal);
      // Run the finish hook, as finishSecret would have (it is idempotent by contract).
      const reader = new VersionReader(
        store,
        registry,
        scope,
        signal,
        this.deps.discovery?.forInvocation(signal),
      );
      const promoted = await reader.load(arn, pendingId, CURRENT);
      if (promoted.rotator.finish) {
        const previousId = currentId;
        await promoted.rotator.finish({
          signal,
          deadline: Date.now() + 30_000,
          token: pendingId,
          step: 'finishSecret',
          fetchRelated: reader.fetchRelated,
          fetchRelatedSecret: reader.fetchRelatedSecret,
          fetchMaster: reader.fetchMaster,
          secretArn: arn,
          adopted: () => reader.adopted(arn),
          ...(promoted.managedDatabase === undefined ? {} : { managedDatabase: promoted.managedDatabase }),
          current: promoted.value,
          previous: () => reader.loadOptional(arn, previousId, promoted, PREVIOUS, () => undefined),
        });
      }
    }
    // In both cases AWSPENDING leaves the (formerly) pending version, so rotation can start again.
    await client.send(
      new UpdateSecretVersionStageCommand({
        SecretId: arn,
        VersionStage: PENDING,
        RemoveFromVersionId: pendingId,
      }),
      { abortSignal: signal },
    );
    store.cache.forgetSecret(arn);
  }

  async #publish(report: HealReport): Promise<void> {
    if (report.decision === 'healthy' || report.decision === 'in-progress') return;
    await this.deps.publisher?.publish([
      {
        detailType: report.acted ? 'Rotation Healed' : 'Rotation Heal Needed',
        secretArn: report.secretArn,
        detail: {
          ...report,
          // Where the page's reader goes next: the entry of the error that failed the rotation,
          // else the entry of the event itself.
          runbook: runbookUrl(
            report.failure?.error ?? (report.acted ? 'Rotation Healed' : 'Rotation Heal Needed'),
            this.deps.runbookBaseUrl,
          ),
        },
      },
    ]);
  }
}
