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
import { asRotorError, type RotorError } from '../rotators/errors.js';
import type { Registry } from '../rotators/registry.js';
import type { TrustConfig } from './config.js';
import type { EventPublisher } from './events.js';
import type { Redactor } from './redact.js';
import { CURRENT, PENDING, PREVIOUS, type SecretsStore } from './secrets.js';
import { type Discovery, type Loaded, VersionReader } from './versions.js';

export type HealDecision =
  /** No AWSPENDING, or AWSPENDING on the AWSCURRENT version: nothing is stuck. */
  | 'healthy'
  /** AWSPENDING is younger than the minimum age: a rotation may still be running. */
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
  /** Whether the pending / current credential passed the rotator's test (when tried). */
  pendingWorks?: boolean;
  currentWorks?: boolean;
  pendingError?: string;
  currentError?: string;
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
  /** A pending version younger than this is left alone (a rotation may be running). Default 1 h. */
  minAgeMs?: number;
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
  /** Ignore the minimum age. */
  force?: boolean;
  signal?: AbortSignal;
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
      await this.#publish(report);
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
    const base = {
      secretArn: secret.arn,
      ...(pendingId ? { pendingVersionId: pendingId } : {}),
      ...(currentId ? { currentVersionId: currentId } : {}),
      acted: false,
    };
    if (pendingId === undefined || pendingId === currentId) {
      return {
        ...base,
        decision: 'healthy',
        reason: 'no rotation is stuck: AWSPENDING is absent or on AWSCURRENT',
      };
    }
    const listed = await client.send(
      new ListSecretVersionIdsCommand({ SecretId: secret.arn, IncludeDeprecated: true, MaxResults: 100 }),
      { abortSignal: signal },
    );
    const created = listed.Versions?.find((v) => v.VersionId === pendingId)?.CreatedDate;
    const now = this.deps.now?.() ?? Date.now();
    const ageMs = created ? now - created.getTime() : Number.POSITIVE_INFINITY;
    const withAge = {
      ...base,
      ...(Number.isFinite(ageMs) ? { pendingAgeSeconds: Math.round(ageMs / 1000) } : {}),
    };
    const minAgeMs = this.deps.minAgeMs ?? 3_600_000;
    if (!options.force && ageMs < minAgeMs) {
      return {
        ...withAge,
        decision: 'in-progress',
        reason: `AWSPENDING is ${Math.round(ageMs / 1000)} s old: a rotation may still be running (wait ${Math.round(minAgeMs / 60_000)} min or use --force)`,
      };
    }
    if (currentId === undefined) {
      return { ...withAge, decision: 'manual', reason: 'the secret has no AWSCURRENT version' };
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
    if (pending === undefined || !('rotator' in pending)) {
      const why =
        pending === undefined
          ? 'createSecret never stored a value, so nothing was applied to the target'
          : `the pending value is not usable (${pending.message})`;
      return currentCheck.ok
        ? {
            ...withAge,
            decision: 'abandon',
            currentWorks: true,
            reason: `${why}; the current credential works`,
          }
        : {
            ...withAge,
            decision: 'manual',
            currentWorks: false,
            ...(currentCheck.error ? { currentError: currentCheck.error } : {}),
            reason: `${why}, and the current credential fails too (${currentCheck.error})`,
          };
    }
    const pendingCheck = await this.#works(secret.arn, pending, current, reader, signal, pendingId);
    const checks = {
      pendingWorks: pendingCheck.ok,
      currentWorks: currentCheck.ok,
      ...(pendingCheck.error ? { pendingError: pendingCheck.error } : {}),
      ...(currentCheck.error ? { currentError: currentCheck.error } : {}),
    };
    if (pendingCheck.ok) {
      return {
        ...withAge,
        ...checks,
        decision: 'roll-forward',
        reason: `the target accepts the pending credential${currentCheck.ok ? '' : ' (and no longer the current one)'}: promoting it finishes the rotation`,
      };
    }
    if (currentCheck.ok) {
      return {
        ...withAge,
        ...checks,
        decision: 'abandon',
        reason: `the pending credential does not work (${pendingCheck.error}) and the current one does: clearing AWSPENDING lets rotation start afresh`,
      };
    }
    return {
      ...withAge,
      ...checks,
      decision: 'manual',
      reason: `neither credential works (pending: ${pendingCheck.error}; current: ${currentCheck.error}); nothing was changed`,
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
  ): Promise<{ ok: boolean; error?: string }> {
    try {
      await candidate.rotator.test({
        signal,
        deadline: Date.now() + 30_000,
        token,
        step: 'testSecret',
        fetchRelated: reader.fetchRelated,
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
      return { ok: false, error: `${rotorError.name}: ${this.deps.redactor.scrub(rotorError.detail)}` };
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
        detail: { ...report },
      },
    ]);
  }
}
