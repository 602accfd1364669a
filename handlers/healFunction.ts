/**
 * The scheduled heal function (its Lambda entry is lambda/heal.ts): an EventBridge schedule invokes it (hourly, say); it finds the
 * secrets whose rotation by one of rotor's functions is stuck (AWSPENDING on a version that is not
 * AWSCURRENT, which blocks every later rotation), asks the Healer what to do with each, and — in
 * `heal` mode only — does it. Every decision is published as a rotor event (`Rotation Heal
 * Needed` / `Rotation Healed`) and logged; the invocation returns a summary.
 *
 * Secrets rotated by other functions are never touched, nor are secrets whose rotation is
 * disabled (someone turned it off, perhaps to investigate). A pending version younger than the
 * minimum age is left alone: its rotation may still be running.
 */
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { RDSClient } from '@aws-sdk/client-rds';
import {
  ListSecretsCommand,
  type SecretListEntry,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import type { Context } from 'aws-lambda';
import type { CauseClass } from '../rotators/causes.js';
import { asRotorError, ConfigurationError } from '../rotators/errors.js';
import { createRegistry } from '../rotators/registry.js';
import type { AnyRotator } from '../rotators/types.js';
import { type Config, type HealMode, readConfig } from './config.js';
import { EventPublisher } from './events.js';
import { type HealDecision, Healer } from './heal.js';
import { createLogger } from './observability.js';
import { rdsDiscovery } from './rds.js';
import { redactor } from './redact.js';
import type { RotationStateName } from './rotationState.js';
import { CURRENT, PENDING, SecretsStore } from './secrets.js';

export interface HealHandlerOptions {
  /** The rotators, or how to build them from the configuration (on the first invocation). */
  rotators: readonly AnyRotator[] | ((config: Config) => readonly AnyRotator[]);
  secretsManager?: SecretsManagerClient;
  eventBridge?: EventBridgeClient;
  /** RDS, for secrets that name their RDS database (built on first use: most secrets never need it). */
  rds?: RDSClient;
  config?: Config;
  /** The clock the minimum age is measured with (tests). */
  now?: () => number;
}

/** What happened to one stuck secret. */
export interface HealOutcome {
  secretArn: string;
  decision?: HealDecision;
  /** The rotation state the decision rests on (the age alone: this function reads no events). */
  state?: RotationStateName;
  /** `manual`: the class of the cause to fix first (network, authentication, probe-query, ...). */
  cause?: CauseClass;
  acted: boolean;
  reason?: string;
  pendingVersionId?: string;
  /** The heal itself failed (the secret is left as it was, or half-way: run again). */
  error?: { name: string; message: string };
}

export interface HealSummary {
  mode: HealMode;
  /** Secrets rotated by rotor's functions with rotation enabled. */
  examined: number;
  /** Of those, with AWSPENDING stuck. */
  stuck: number;
  /** Stuck secrets healed (mode `heal`). */
  healed: number;
  /** Stuck secrets left for a later run because the invocation ran out of time. */
  deferred: number;
  outcomes: HealOutcome[];
}

export type HealHandler = (
  event?: unknown,
  context?: Pick<Context, 'getRemainingTimeInMillis'>,
) => Promise<HealSummary>;

/** Whether a rotation function ARN is one of rotor's: an ARN prefix or a function-name prefix. */
export function isRotorFunction(functionArn: string | undefined, prefixes: readonly string[]): boolean {
  if (functionArn === undefined) return false;
  const parts = functionArn.split(':');
  const at = parts.indexOf('function');
  const name = at >= 0 ? (parts[at + 1] ?? '') : functionArn;
  return prefixes.some((prefix) =>
    prefix.startsWith('arn:') ? functionArn.startsWith(prefix) : name.startsWith(prefix),
  );
}

/** AWSPENDING's version when it is not AWSCURRENT's. */
function stuckPending(entry: SecretListEntry): string | undefined {
  const stages = Object.entries(entry.SecretVersionsToStages ?? {});
  const pending = stages.find(([, labels]) => labels.includes(PENDING))?.[0];
  const current = stages.find(([, labels]) => labels.includes(CURRENT))?.[0];
  return pending !== undefined && pending !== current ? pending : undefined;
}

/** Time kept back for one heal: two credential tests of up to 30 s each, and the label changes. */
const PER_SECRET_MS = 70_000;

export function createHealHandler(options: HealHandlerOptions): HealHandler {
  let built: ReturnType<typeof build> | undefined;
  const build = () => {
    const config = options.config ?? readConfig();
    if (config.healFunctionPrefixes.length === 0) {
      throw new ConfigurationError(
        "environment variable ROTOR_HEAL_FUNCTION_PREFIX must list rotor's rotation functions (Lambda ARN prefixes or function-name prefixes, comma-separated)",
      );
    }
    const client = options.secretsManager ?? new SecretsManagerClient({});
    const logger = createLogger(config, redactor);
    const publisher = config.eventsEnabled
      ? new EventPublisher(options.eventBridge ?? new EventBridgeClient({}), {
          busName: config.eventBusName,
          source: config.eventSource,
          redactor,
          onFailure: (count, reason) => logger.warn('events not published', { count, reason }),
        })
      : undefined;
    const rotators = typeof options.rotators === 'function' ? options.rotators(config) : options.rotators;
    const healer = new Healer({
      store: new SecretsStore(client),
      registry: createRegistry(rotators),
      redactor,
      minAgeMs: config.healMinAgeMs,
      trust: config,
      ...(config.runbookUrl === undefined ? {} : { runbookBaseUrl: config.runbookUrl }),
      // Judged as their rotation judges them: RDS secrets get their database's endpoint first.
      discovery: rdsDiscovery(options.rds)(client),
      ...(publisher === undefined ? {} : { publisher }),
      ...(options.now === undefined ? {} : { now: options.now }),
    });
    return { config, client, logger, healer };
  };

  return async (_event, context) => {
    built ??= build();
    const { config, client, logger, healer } = built;
    const remaining = () => context?.getRemainingTimeInMillis() ?? Number.POSITIVE_INFINITY;

    const candidates: { arn: string; pending: string }[] = [];
    let examined = 0;
    let nextToken: string | undefined;
    do {
      const page = await client.send(
        new ListSecretsCommand({
          MaxResults: 100,
          ...(nextToken === undefined ? {} : { NextToken: nextToken }),
        }),
      );
      for (const entry of page.SecretList ?? []) {
        if (entry.RotationEnabled !== true || entry.ARN === undefined) continue;
        if (!isRotorFunction(entry.RotationLambdaARN, config.healFunctionPrefixes)) continue;
        examined++;
        const pending = stuckPending(entry);
        if (pending !== undefined) candidates.push({ arn: entry.ARN, pending });
      }
      nextToken = page.NextToken;
    } while (nextToken !== undefined);

    const summary: HealSummary = {
      mode: config.healMode,
      examined,
      stuck: candidates.length,
      healed: 0,
      deferred: 0,
      outcomes: [],
    };
    for (const { arn, pending } of candidates) {
      const left = remaining() - config.deadlineMarginMs;
      if (left < PER_SECRET_MS) {
        // The next run picks it up; a heal cut off half-way would only have to be resumed.
        summary.deferred++;
        continue;
      }
      try {
        const report = await healer.heal(arn, {
          apply: config.healMode === 'heal',
          signal: AbortSignal.timeout(Math.min(left, PER_SECRET_MS)),
        });
        if (report.acted) summary.healed++;
        summary.outcomes.push({
          secretArn: arn,
          decision: report.decision,
          state: report.state,
          ...(report.cause === undefined ? {} : { cause: report.cause }),
          acted: report.acted,
          reason: report.reason,
          pendingVersionId: report.pendingVersionId ?? pending,
        });
        logger.info('heal decision', {
          secretArn: arn,
          decision: report.decision,
          state: report.state,
          acted: report.acted,
          reason: report.reason,
          pendingVersionId: report.pendingVersionId ?? pending,
          mode: config.healMode,
        });
      } catch (error) {
        const rotorError = asRotorError(error).withContext({ secretId: arn });
        const message = redactor.scrub(rotorError.message);
        summary.outcomes.push({
          secretArn: arn,
          acted: false,
          pendingVersionId: pending,
          error: { name: rotorError.name, message },
        });
        logger.error('heal failed', { secretArn: arn, error: { name: rotorError.name, message } });
      }
    }
    if (summary.deferred > 0) {
      logger.warn('ran out of time: stuck secrets left for the next run', { deferred: summary.deferred });
    }
    logger.info('heal run finished', {
      mode: summary.mode,
      examined: summary.examined,
      stuck: summary.stuck,
      healed: summary.healed,
      deferred: summary.deferred,
    });
    return summary;
  };
}
