/**
 * Scaffolding for the local-stack tests: a stack with SDK clients, and a tiny rotation function
 * that follows the Secrets Manager protocol with the SDK (the reference template's checks and
 * steps). It is test scaffolding only: rotor's real step machine lives in handlers/.
 */
import { randomUUID } from 'node:crypto';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import type { Context } from 'aws-lambda';
import {
  type LocalStack,
  type LocalStackOptions,
  type RotationEvent,
  startLocalStack,
} from '../../local/stack.js';

export interface TestStack {
  readonly stack: LocalStack;
  readonly sm: SecretsManagerClient;
  readonly eb: EventBridgeClient;
  /** Creates a secret with a unique name and returns its ARN. */
  createSecret(value?: string): Promise<string>;
  /** Label → version id. */
  labels(secretId: string): Promise<Record<string, string>>;
  close(): Promise<void>;
}

/** A local stack with quick retries, and SDK clients that do not retry (to see every answer). */
export async function startTestStack(options: LocalStackOptions = {}): Promise<TestStack> {
  const stack = await startLocalStack({ ...options, rotation: { backoffMs: 0, ...options.rotation } });
  const sm = new SecretsManagerClient({ ...stack.clientConfig, maxAttempts: 1 });
  const eb = new EventBridgeClient({ ...stack.clientConfig, maxAttempts: 1 });
  return {
    stack,
    sm,
    eb,
    async createSecret(value = '{"password":"initial"}') {
      const out = await sm.send(
        new CreateSecretCommand({ Name: `local-test/${randomUUID()}`, SecretString: value }),
      );
      return out.ARN ?? '';
    },
    async labels(secretId) {
      const out = await sm.send(new DescribeSecretCommand({ SecretId: secretId }));
      const labels: Record<string, string> = {};
      for (const [versionId, stages] of Object.entries(out.VersionIdsToStages ?? {})) {
        for (const stage of stages) labels[stage] = versionId;
      }
      return labels;
    },
    async close() {
      sm.destroy();
      eb.destroy();
      await stack.stop();
    },
  };
}

/** One invocation as the function saw it. */
export interface Invocation {
  readonly event: RotationEvent;
  readonly functionName: string;
  readonly invokedFunctionArn: string;
  readonly awsRequestId: string;
  readonly remainingMs: number;
}

export interface ProtocolBehaviour {
  /** Runs after the protocol checks of every step; throw to fail the step, await to slow it. */
  readonly during?: (step: RotationEvent['Step'], invocation: number) => Promise<void> | void;
  /** finishSecret returns without moving AWSCURRENT (a broken function). */
  readonly skipPromotion?: boolean;
}

/**
 * A rotation function following the reference protocol: DescribeSecret checks, createSecret
 * puts a new value with VersionStages ['AWSPENDING'] (passing the RotationToken), finishSecret
 * moves AWSCURRENT naming the version it leaves.
 */
export function protocolFunction(sm: SecretsManagerClient, behaviour: ProtocolBehaviour = {}) {
  const invocations: Invocation[] = [];
  const fn = async (event: RotationEvent, context: Context): Promise<void> => {
    invocations.push({
      event,
      functionName: context.functionName,
      invokedFunctionArn: context.invokedFunctionArn,
      awsRequestId: context.awsRequestId,
      remainingMs: context.getRemainingTimeInMillis(),
    });
    const { SecretId: arn, ClientRequestToken: token, Step: step } = event;
    const described = await sm.send(new DescribeSecretCommand({ SecretId: arn }));
    if (described.RotationEnabled !== true) throw new Error('secret is not enabled for rotation');
    const stages = described.VersionIdsToStages?.[token];
    if (stages === undefined) throw new Error('version has no stage for rotation');
    if (stages.includes('AWSCURRENT')) return;
    if (!stages.includes('AWSPENDING')) throw new Error('version not set as AWSPENDING');
    await behaviour.during?.(step, invocations.length);

    if (step === 'createSecret') {
      await sm.send(new GetSecretValueCommand({ SecretId: arn, VersionStage: 'AWSCURRENT' }));
      try {
        await sm.send(
          new GetSecretValueCommand({ SecretId: arn, VersionId: token, VersionStage: 'AWSPENDING' }),
        );
      } catch (error) {
        if (!(error instanceof ResourceNotFoundException)) throw error;
        await sm.send(
          new PutSecretValueCommand({
            SecretId: arn,
            ClientRequestToken: token,
            SecretString: JSON.stringify({ password: `rotated-${token}` }),
            VersionStages: ['AWSPENDING'],
            ...(event.RotationToken === undefined ? {} : { RotationToken: event.RotationToken }),
          }),
        );
      }
    }
    if (step === 'finishSecret' && behaviour.skipPromotion !== true) {
      const current = Object.entries(described.VersionIdsToStages ?? {}).find(([, labels]) =>
        labels.includes('AWSCURRENT'),
      )?.[0];
      await sm.send(
        new UpdateSecretVersionStageCommand({
          SecretId: arn,
          VersionStage: 'AWSCURRENT',
          MoveToVersionId: token,
          ...(current === undefined ? {} : { RemoveFromVersionId: current }),
        }),
      );
    }
  };
  return { fn, invocations };
}

/** A promise and the function that resolves it: lets a test hold a step open. */
export function gate(): { wait: Promise<void>; open: () => void } {
  let open: () => void = () => undefined;
  const wait = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { wait, open: () => open() };
}

/** Runs `action` and returns the error it throws (fails the test if it does not throw). */
export async function failure(action: () => Promise<unknown>): Promise<Error> {
  try {
    await action();
  } catch (error) {
    if (error instanceof Error) return error;
    throw new Error(`expected an Error, got ${String(error)}`);
  }
  throw new Error('expected the call to fail, and it succeeded');
}

/** Polls `condition` until true (for state reached in the background). */
export async function eventually(
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 2000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
