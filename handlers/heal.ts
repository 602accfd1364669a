/**
 * Healing a stuck rotation: AWSPENDING left on a version that is not AWSCURRENT blocks every later
 * RotateSecret ("A previous rotation isn't complete"). The healer decides, without changing
 * anything, whether to roll forward (the target already accepts the pending credential: promote
 * it) or to abandon (the pending credential does not work but the current one does: clear the
 * label), and acts only when asked. Used by `rotor heal` and by the scheduled heal function.
 *
 * Three parts: gather the facts (the state model's view, the rotator's `test` — which never
 * mutates — of each credential, so that it makes the judgement the rotation itself would make),
 * decide (`decideHeal`, pure: handlers/healDecision.ts), act. Every Secrets Manager call goes
 * through `SecretsStore`; rotator requests and the finish path are the step machine's
 * (handlers/rotatorRequest.ts).
 */
import { causeClass, causeLine } from '../rotators/causes.js';
import {
  AwsCallError,
  asRotorError,
  DeadlineExceededError,
  PermissionDeniedError,
  RotorError,
  type Step,
} from '../rotators/errors.js';
import { optional } from '../rotators/optional.js';
import type { Registry } from '../rotators/registry.js';
import type { TrustConfig } from './config.js';
import type { EventPublisher } from './events.js';
import {
  type CredentialCheck,
  decideHeal,
  type HealFacts,
  type HealReport,
  isStuck,
  needsCredentials,
  type PendingFacts,
} from './healDecision.js';
import type { RedactionScope, Redactor } from './redact.js';
import { rotationState, type StateEvent } from './rotationState.js';
import { finishPromoted, type RequestContext, rotatorRequest } from './rotatorRequest.js';
import { runbookUrl } from './runbook.js';
import { CURRENT, PENDING, PREVIOUS, type SecretDescription, type SecretsStore } from './secrets.js';
import { type Discovery, type Loaded, VersionReader } from './versions.js';

export {
  type CredentialCheck,
  decideHeal,
  decisiveCause,
  type HealDecision,
  type HealFacts,
  type HealReport,
} from './healDecision.js';

export interface HealerDeps {
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

/** How long one rotator call of the healer may take (a test, the finish hook, discard). */
const CALL_MS = 30_000;

/** The versions the healer read, kept for acting on them. */
interface Gathered {
  facts: HealFacts;
  reader?: VersionReader;
  current?: Loaded;
  /** The pending value, when it parsed. */
  pending?: Loaded;
}

export class Healer {
  constructor(private readonly deps: HealerDeps) {}

  async heal(secretId: string, options: HealOptions = {}): Promise<HealReport> {
    const signal = options.signal ?? AbortSignal.timeout(60_000);
    const scope = this.deps.redactor.scope();
    try {
      const gathered = await this.#gather(secretId, options, signal, scope);
      const report = decideHeal(gathered.facts);
      if (options.apply && (report.decision === 'roll-forward' || report.decision === 'abandon')) {
        await this.#act(report, gathered, signal);
        report.acted = true;
      }
      report.reason = this.deps.redactor.scrub(report.reason);
      if (report.acted || options.announceNeeded !== false) await this.#publish(report);
      return report;
    } catch (error) {
      // Scrubbed while this heal's values are still registered: the caller's scrub comes too late.
      if (error instanceof RotorError) throw error.scrubbed((text) => this.deps.redactor.scrub(text));
      throw error;
    } finally {
      scope.close();
    }
  }

  /** The facts: labels, the state model's judgement, and (when the decision needs them) the credentials' tests. */
  async #gather(
    secretId: string,
    options: HealOptions,
    signal: AbortSignal,
    scope: RedactionScope,
  ): Promise<Gathered> {
    const { store } = this.deps;
    const secret = await store.describe(secretId, signal);
    const labels = {
      secretArn: secret.arn,
      ...optional('pendingVersionId', secret.versionOf(PENDING)),
      ...optional('currentVersionId', secret.versionOf(CURRENT)),
    };
    const stuck = isStuck(labels);
    const facts = {
      ...labels,
      force: options.force === true,
      state: await this.#state(secret, stuck, signal),
    };
    if (!needsCredentials(facts)) return { facts };
    const pendingId = facts.pendingVersionId as string;
    const currentId = facts.currentVersionId as string;
    const reader = new VersionReader({
      store,
      registry: this.deps.registry,
      scope,
      signal,
      ...optional('enricher', this.deps.discovery?.forInvocation(signal)),
      ...optional('trust', this.deps.trust),
      tags: secret.tags,
      secretArn: secret.arn,
    });
    const current = await reader.load(secret.arn, currentId, CURRENT);
    // A value that does not parse is unusable; a read that failed (throttled, denied, out of time)
    // says nothing of the value: deciding on it could abandon a pending credential that works.
    const pending = await reader.loadPending(secret.arn, pendingId, current).catch((error: unknown) => {
      if (
        error instanceof AwsCallError ||
        error instanceof PermissionDeniedError ||
        error instanceof DeadlineExceededError
      )
        throw error;
      return asRotorError(error);
    });
    const test = (candidate: Loaded) =>
      this.#works(this.#context(reader, secret.arn, pendingId, 'testSecret', signal), candidate, current);
    const currentCheck = await test(current);
    let pendingFacts: PendingFacts;
    if (pending === undefined) pendingFacts = { kind: 'empty' };
    else if (!('rotator' in pending)) pendingFacts = { kind: 'unusable', message: pending.message };
    else pendingFacts = { kind: 'tested', check: await test(pending) };
    return {
      facts: { ...facts, current: currentCheck, pending: pendingFacts },
      reader,
      current,
      ...(pending !== undefined && 'rotator' in pending ? { pending } : {}),
    };
  }

  /** The rotation state, from the same facts `rotor status` judges with. */
  async #state(secret: SecretDescription, stuck: boolean, signal: AbortSignal) {
    const pendingId = secret.versionOf(PENDING);
    const created = stuck
      ? (await this.deps.store.listVersions(secret.arn, signal)).find((v) => v.versionId === pendingId)
          ?.created
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
    return rotationState({
      now: this.deps.now?.() ?? Date.now(),
      rotationEnabled: secret.rotationEnabled,
      functionArn: secret.rotationLambdaArn,
      lastRotated: secret.lastRotated,
      stages: Object.fromEntries(secret.versions),
      pendingCreated: created,
      events,
      serviceEventsVisible: eventsRead && this.deps.serviceEventsVisible === true,
      timing: { quietMs: this.deps.minAgeMs ?? 3_600_000 },
    });
  }

  /** A rotator request's context for the rotation `token` of `secretArn`, as its step would get it. */
  #context(reader: VersionReader, secretArn: string, token: string, step: Step, signal: AbortSignal) {
    return {
      signal,
      deadline: Date.now() + CALL_MS,
      token,
      step,
      secretArn,
      reader,
    } satisfies RequestContext;
  }

  /** Whether `candidate`'s credential passes the rotator's (non-mutating) test. */
  async #works(context: RequestContext, candidate: Loaded, current: Loaded): Promise<CredentialCheck> {
    try {
      await candidate.rotator.test({
        ...rotatorRequest(context, current),
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

  /**
   * Carries a roll-forward or an abandon out. Roll-forward: promote, then the step machine's finish
   * path (the finish hook, the caches forgotten). Abandon: the rotator's `discard` for a pending
   * value that parsed (what createPending minted for it must not stay live). Both: AWSPENDING
   * cleared, so that rotation can start again; last, so that a failure before leaves the pending
   * version findable by the next heal.
   */
  async #act(report: HealReport, gathered: Gathered, signal: AbortSignal): Promise<void> {
    const { store } = this.deps;
    const { secretArn: arn, pendingVersionId: pendingId, currentVersionId: currentId } = report;
    const { reader, current, pending } = gathered;
    if (pendingId === undefined || currentId === undefined || reader === undefined) return;
    if (report.decision === 'roll-forward' && pending !== undefined) {
      await store.promote(arn, pendingId, currentId, signal);
      const context = this.#context(reader, arn, pendingId, 'finishSecret', signal);
      await finishPromoted(store, context, pending, () =>
        reader.loadOptional(arn, currentId, pending, PREVIOUS, () => undefined),
      );
    } else if (report.decision === 'abandon' && pending?.rotator.discard && current !== undefined) {
      // The heal ends the rotation: for messages, its last step.
      const context = this.#context(reader, arn, pendingId, 'finishSecret', signal);
      await pending.rotator.discard({
        ...rotatorRequest(context, current),
        current: current.value,
        pending: pending.value,
      });
    }
    await store.clearPending(arn, pendingId, signal);
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
