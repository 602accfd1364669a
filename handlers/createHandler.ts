/**
 * The Lambda handler factory: one per rotation function (lambda/postgres.ts, ...), each given its
 * function's wiring from the catalogue (handlers/catalogue/), so that each bundle carries only its
 * own driver. Dependencies are built lazily, once per cold start, and can
 * be passed in (tests, the local stack, the benchmark).
 */
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { RDSClient } from '@aws-sdk/client-rds';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { Context } from 'aws-lambda';
import { optional } from '../rotators/optional.js';
import { createRegistry } from '../rotators/registry.js';
import type { AnyRotator } from '../rotators/types.js';
import { type Config, readConfig } from './config.js';
import { EventPublisher } from './events.js';
import type { FunctionWiring } from './functions.js';
import { createLogger, StepMetrics } from './observability.js';
import { ObservedStepMachine } from './observedMachine.js';
import { redactor } from './redact.js';
import { SecretsStore } from './secrets.js';
import { StepMachine, type StepOutcome } from './stepMachine.js';
import type { Discovery } from './versions.js';

export interface HandlerOptions {
  /** The rotators, or how to build them from the configuration (on the first invocation). */
  rotators: readonly AnyRotator[] | ((config: Config) => readonly AnyRotator[]);
  secretsManager?: SecretsManagerClient;
  eventBridge?: EventBridgeClient;
  /**
   * Enriches secret values before they are parsed: RDS endpoint discovery for the database
   * functions (their catalogue wiring passes it, so that the RDS client is bundled where it is
   * needed).
   */
  discovery?: (secretsManager: SecretsManagerClient) => Discovery;
  config?: Config;
  /** Pauses before re-sending failed event entries (tests shorten them). */
  eventBackoffMs?: readonly number[];
}

export type RotationHandler = (
  event: unknown,
  context: Pick<Context, 'getRemainingTimeInMillis'>,
) => Promise<StepOutcome>;

/** The step machine (the protocol) inside its observability wrapper (logs, metrics, events). */
export function createStepMachine(options: HandlerOptions): ObservedStepMachine {
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
  const machine = new StepMachine({
    store: new SecretsStore(secretsManager),
    registry: createRegistry(
      typeof options.rotators === 'function' ? options.rotators(config) : options.rotators,
    ),
    config,
    redactor,
    ...(options.discovery ? { discovery: options.discovery(secretsManager) } : {}),
  });
  return new ObservedStepMachine(machine, {
    config,
    redactor,
    logger,
    metrics,
    ...(publisher ? { publisher } : {}),
  });
}

/** The handler options of a catalogued function (`rds`: the RDS client its discovery uses). */
export function wiringOptions(
  wiring: FunctionWiring,
  rds?: RDSClient,
): Pick<HandlerOptions, 'rotators' | 'discovery'> {
  return {
    rotators: wiring.rotators,
    ...optional('discovery', wiring.discovery?.(rds)),
  };
}

export function createRotationHandler(options: HandlerOptions): RotationHandler {
  let machine: ObservedStepMachine | undefined;
  return async (event, context) => {
    machine ??= createStepMachine(options);
    return machine.run(event, context.getRemainingTimeInMillis());
  };
}
