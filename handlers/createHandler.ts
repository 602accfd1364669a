/**
 * The Lambda handler factory: one per engine entry (handlers/postgres.ts, ...), so that each
 * bundle carries only its own driver. Dependencies are built lazily, once per cold start, and can
 * be passed in (tests, the local stack, the benchmark).
 */
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { RDSClient } from '@aws-sdk/client-rds';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { Context } from 'aws-lambda';
import { createRegistry } from '../rotators/registry.js';
import type { AnyRotator } from '../rotators/types.js';
import { type Config, readConfig } from './config.js';
import { EventPublisher } from './events.js';
import { createLogger, StepMetrics } from './observability.js';
import { RdsDiscovery } from './rds.js';
import { redactor } from './redact.js';
import { SecretsStore } from './secrets.js';
import { StepMachine, type StepOutcome } from './stepMachine.js';

export interface HandlerOptions {
  /** The rotators, or how to build them from the configuration (on the first invocation). */
  rotators: readonly AnyRotator[] | ((config: Config) => readonly AnyRotator[]);
  secretsManager?: SecretsManagerClient;
  eventBridge?: EventBridgeClient;
  /** RDS, for secrets that name their RDS database (built on first use: most secrets never need it). */
  rds?: RDSClient;
  config?: Config;
  /** Pauses before re-sending failed event entries (tests shorten them). */
  eventBackoffMs?: readonly number[];
}

export type RotationHandler = (
  event: unknown,
  context: Pick<Context, 'getRemainingTimeInMillis'>,
) => Promise<StepOutcome>;

export function createStepMachine(options: HandlerOptions): StepMachine {
  const config = options.config ?? readConfig();
  const logger = createLogger(config, redactor);
  const metrics = StepMetrics.create(config);
  const publisher = config.eventsEnabled
    ? new EventPublisher(options.eventBridge ?? new EventBridgeClient({}), {
        busName: config.eventBusName,
        source: config.eventSource,
        redactor,
        ...(options.eventBackoffMs ? { backoffMs: options.eventBackoffMs } : {}),
        onFailure: (count, reason) => {
          logger.warn('events not published', { count, reason });
          metrics.eventPublishFailed(count);
        },
      })
    : undefined;
  const secretsManager = options.secretsManager ?? new SecretsManagerClient({});
  let rds = options.rds;
  return new StepMachine({
    store: new SecretsStore(secretsManager),
    registry: createRegistry(
      typeof options.rotators === 'function' ? options.rotators(config) : options.rotators,
    ),
    config,
    redactor,
    logger,
    metrics,
    ...(publisher ? { publisher } : {}),
    discovery: new RdsDiscovery({
      rds: () => {
        rds ??= new RDSClient({});
        return rds;
      },
      secretsManager,
    }),
  });
}

export function createRotationHandler(options: HandlerOptions): RotationHandler {
  let machine: StepMachine | undefined;
  return async (event, context) => {
    machine ??= createStepMachine(options);
    return machine.run(event, context.getRemainingTimeInMillis());
  };
}
