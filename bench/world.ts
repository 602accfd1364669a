/**
 * One local AWS stack with rotor's real step machine registered as rotation functions, the way
 * the Lambda runtime would run it, each invocation recorded at the function.
 *
 * Two ways to host a function:
 * - `warm`: one handler (one step machine, one set of SDK clients, one version cache) serves every
 *   step, as a warm Lambda container does;
 * - `cold`: every invocation gets a fresh handler, fresh SDK clients and no secure context, as if
 *   each step landed on a new container (module load itself is measured separately, on the real
 *   bundles).
 */
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import {
  CreateSecretCommand,
  GetSecretValueCommand,
  RotateSecretCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import type { Config } from '../handlers/config.js';
import { createRotationHandler, type RotationHandler } from '../handlers/createHandler.js';
import {
  type LocalStack,
  type RotationFunction,
  type RotationRecord,
  startLocalStack,
} from '../local/stack.js';
import { forgetTlsState } from '../rotators/tls.js';
import type { AnyRotator } from '../rotators/types.js';
import { type Meter, type MeterReading, meterEventBridge, meterSecretsManager } from './meter.js';
import { type Counts, diffCounts } from './stats.js';

export type Container = 'warm' | 'cold';

/** One invocation of a rotation function, as seen from outside it. */
export interface Invocation {
  step: string;
  secretArn: string;
  token: string;
  ms: number;
  /**
   * What the invocation cost, read from counters before and after it. Only meaningful while
   * nothing else runs (the per-rotation runs); absent in the concurrent scale runs.
   */
  cost?: InvocationCost;
}

export interface InvocationCost {
  secretsManager: Counts;
  eventBridge: Counts;
  meter: MeterReading;
}

export interface World {
  readonly stack: LocalStack;
  /** The benchmark's own client (setup, RotateSecret): not metered. */
  readonly sm: SecretsManagerClient;
  /** Every invocation of every function, in order. */
  readonly invocations: Invocation[];
  /** Registers a rotation function for `rotators`; returns its ARN. */
  register(name: string, rotators: () => readonly AnyRotator[], container: Container): string;
  /** Registers another rotation function (AWS's reference functions), recorded the same way. */
  registerFunction(name: string, fn: RotationFunction): string;
  createSecret(name: string, value: Record<string, unknown>): Promise<string>;
  /** AWSCURRENT of a secret, parsed. */
  current(arn: string): Promise<Record<string, unknown>>;
  /**
   * RotateSecret with `functionArn`, then waits until the rotation settled. Returns the rotation's
   * record, or why RotateSecret itself was refused.
   */
  rotate(arn: string, functionArn: string, token: string): Promise<RotationRecord | string>;
  close(): Promise<void>;
}

export interface WorldOptions {
  meter: Meter;
  config: Config;
  /** Whether each invocation's cost is read from the counters (serial runs only). */
  detailed: boolean;
}

function readingDiff(after: MeterReading, before: MeterReading): MeterReading {
  return {
    targetMs: after.targetMs - before.targetMs,
    awsMs: after.awsMs - before.awsMs,
    counts: diffCounts(after.counts, before.counts),
  };
}

export async function startWorld(options: WorldOptions): Promise<World> {
  const { meter, config } = options;
  // One attempt: a benchmark rotation that fails must show as a failure, not as a slow success,
  // and nothing reattempts it behind the benchmark's back.
  const stack = await startLocalStack({ rotation: { attempts: 1, backoffMs: 0, reattemptStuck: false } });
  const sm = new SecretsManagerClient(stack.clientConfig);
  const invocations: Invocation[] = [];
  const clients: { destroy(): void }[] = [sm];

  const functionClients = () => {
    const functionSm = meterSecretsManager(new SecretsManagerClient(stack.clientConfig), meter);
    const functionEb = meterEventBridge(new EventBridgeClient(stack.clientConfig), meter);
    return { secretsManager: functionSm, eventBridge: functionEb };
  };

  const handlerFor = (rotators: () => readonly AnyRotator[], container: Container): RotationHandler => {
    if (container === 'warm') {
      const aws = functionClients();
      clients.push(aws.secretsManager, aws.eventBridge);
      return createRotationHandler({ rotators: rotators(), ...aws, config });
    }
    return async (event, context) => {
      // A new container also starts without secure contexts (the modules stay loaded here).
      forgetTlsState();
      const aws = functionClients();
      try {
        return await createRotationHandler({ rotators: rotators(), ...aws, config })(event, context);
      } finally {
        aws.secretsManager.destroy();
        aws.eventBridge.destroy();
      }
    };
  };

  const recorded = (handler: RotationHandler | RotationFunction): RotationFunction => {
    return async (event, context) => {
      const before = options.detailed ? snapshot() : undefined;
      const started = performance.now();
      try {
        return await handler(event, context);
      } finally {
        const ms = performance.now() - started;
        const after = before === undefined ? undefined : snapshot();
        invocations.push({
          step: event.Step,
          secretArn: event.SecretId,
          token: event.ClientRequestToken,
          ms,
          ...(before === undefined || after === undefined
            ? {}
            : {
                cost: {
                  secretsManager: diffCounts(after.secretsManager, before.secretsManager),
                  eventBridge: diffCounts(after.eventBridge, before.eventBridge),
                  meter: readingDiff(after.meter, before.meter),
                },
              }),
        });
      }
    };
  };

  const snapshot = () => ({
    secretsManager: stack.secretsManager.calls,
    eventBridge: stack.eventBridge.calls,
    meter: meter.read(),
  });

  return {
    stack,
    sm,
    invocations,
    register(name, rotators, container) {
      return stack.registerFunction(name, recorded(handlerFor(rotators, container)));
    },
    registerFunction(name, fn) {
      return stack.registerFunction(name, recorded(fn));
    },
    async createSecret(name, value) {
      const out = await sm.send(new CreateSecretCommand({ Name: name, SecretString: JSON.stringify(value) }));
      if (out.ARN === undefined) throw new Error(`CreateSecret ${name} returned no ARN`);
      return out.ARN;
    },
    async current(arn) {
      const out = await sm.send(new GetSecretValueCommand({ SecretId: arn }));
      return JSON.parse(out.SecretString ?? '{}') as Record<string, unknown>;
    },
    async rotate(arn, functionArn, token) {
      try {
        await sm.send(
          new RotateSecretCommand({
            SecretId: arn,
            ClientRequestToken: token,
            RotationLambdaARN: functionArn,
            RotationRules: { AutomaticallyAfterDays: 30 },
          }),
        );
      } catch (error) {
        return `RotateSecret refused: ${(error as Error).name}: ${(error as Error).message}`;
      }
      return (await stack.waitForRotation(arn, token)) ?? 'the rotation never started';
    },
    async close() {
      for (const client of clients) client.destroy();
      await stack.stop();
    },
  };
}
