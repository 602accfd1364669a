/**
 * A rotation harness for integration tests: the local AWS stack, the real SDK clients pointed at
 * it, and rotor's real step machine registered as the rotation function.
 */

import { randomUUID } from 'node:crypto';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { RDSClient } from '@aws-sdk/client-rds';
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  RotateSecretCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { type Config, readConfig } from '../../handlers/config.js';
import { createRotationHandler, type RotationHandler } from '../../handlers/createHandler.js';
import { ENGINES_TAG, enginesTagValue } from '../../handlers/functions.js';
import { rdsDiscovery } from '../../handlers/rds.js';
import { type LocalStack, type LocalStackOptions, startLocalStack } from '../../local/stack.js';
import type { Step } from '../../rotators/errors.js';
import type { AnyRotator } from '../../rotators/types.js';

export interface RotationHarness {
  stack: LocalStack;
  sm: SecretsManagerClient;
  eb: EventBridgeClient;
  handler: RotationHandler;
  functionArn: string;
  /**
   * The function's live configuration: a test may add bindings (masters, rdsMasters) before it
   * rotates, as an operator would by deploying the stage file.
   */
  config: Config;
  /** Creates a secret holding `value` (JSON) and returns its ARN. */
  createSecret(value: Record<string, unknown>, name?: string): Promise<string>;
  /** RotateSecret with rotor as the function, then waits until the rotation (and retries) settled. */
  rotate(
    secretId: string,
    options?: { token?: string; rotateImmediately?: boolean; functionArn?: string },
  ): Promise<void>;
  /**
   * Stages an empty AWSPENDING version the way RotateSecret does, without rotor running: rotation
   * goes to a function that does nothing, so the attempts fail and leave the token staged.
   * Returns the token.
   */
  stagePending(secretId: string): Promise<string>;
  /** Invokes one step directly, as Secrets Manager would. */
  invoke(step: Step, secretId: string, token: string): ReturnType<RotationHandler>;
  /** Label → version id. */
  labels(secretId: string): Promise<Record<string, string>>;
  /** A version's parsed value (by label). */
  value(secretId: string, stage?: string): Promise<Record<string, unknown>>;
  /** rotor's own events (source `rotor`), in arrival order. */
  rotorEvents(): { detailType: string; detail: Record<string, unknown> }[];
  close(): Promise<void>;
}

export interface HarnessOptions {
  rotators: readonly AnyRotator[];
  stack?: LocalStackOptions;
  config?: Partial<Config>;
  /** The RDS client rotor's function uses (e.g. pointed at local/rds.ts). */
  rds?: RDSClient;
}

export async function startRotationHarness(options: HarnessOptions): Promise<RotationHarness> {
  const stack = await startLocalStack({
    ...options.stack,
    rotation: { attempts: 3, backoffMs: 0, ...options.stack?.rotation },
  });
  const sm = new SecretsManagerClient(stack.clientConfig);
  const eb = new EventBridgeClient(stack.clientConfig);
  // Quiet by default; suites that inspect logs or metrics turn them on.
  const config: Config = {
    ...readConfig({ ROTOR_LOG_LEVEL: 'SILENT', ROTOR_METRICS: 'off' }),
    ...options.config,
  };
  // Copies: a test's bindings stay its harness's own.
  config.masters = [...config.masters];
  config.rdsMasters = [...config.rdsMasters];
  const handler = createRotationHandler({
    rotators: options.rotators,
    secretsManager: sm,
    eventBridge: eb,
    config,
    eventBackoffMs: [1, 2, 4],
    discovery: rdsDiscovery(options.rds),
  });
  // Tagged as deploy tags rotor's functions: `rotor attach` / `preflight` read its engines.
  stack.registerFunction('rotor-test', handler, {
    [ENGINES_TAG]: enginesTagValue(options.rotators.flatMap((rotator) => rotator.engines)),
  });
  const functionArn = stack.functionArn('rotor-test');

  const harness: RotationHarness = {
    stack,
    sm,
    eb,
    handler,
    functionArn,
    config,
    async createSecret(value, name = `test/${randomUUID()}`) {
      const out = await sm.send(new CreateSecretCommand({ Name: name, SecretString: JSON.stringify(value) }));
      return out.ARN as string;
    },
    async rotate(secretId, rotateOptions = {}) {
      await sm.send(
        new RotateSecretCommand({
          SecretId: secretId,
          RotationLambdaARN: rotateOptions.functionArn ?? functionArn,
          RotationRules: { AutomaticallyAfterDays: 30 },
          ...(rotateOptions.token ? { ClientRequestToken: rotateOptions.token } : {}),
          ...(rotateOptions.rotateImmediately === false ? { RotateImmediately: false } : {}),
        }),
      );
      await stack.idle();
    },
    async stagePending(secretId) {
      const hold = stack.registerFunction('hold', async () => undefined);
      const out = await sm.send(
        new RotateSecretCommand({
          SecretId: secretId,
          RotationLambdaARN: hold,
          RotationRules: { AutomaticallyAfterDays: 30 },
        }),
      );
      await stack.idle();
      return out.VersionId as string;
    },
    invoke(step, secretId, token) {
      return handler(
        { Step: step, SecretId: secretId, ClientRequestToken: token },
        { getRemainingTimeInMillis: () => 30_000 },
      );
    },
    async labels(secretId) {
      const out = await sm.send(new DescribeSecretCommand({ SecretId: secretId }));
      const labels: Record<string, string> = {};
      for (const [versionId, stages] of Object.entries(out.VersionIdsToStages ?? {})) {
        for (const stage of stages) labels[stage] = versionId;
      }
      return labels;
    },
    async value(secretId, stage = 'AWSCURRENT') {
      const out = await sm.send(new GetSecretValueCommand({ SecretId: secretId, VersionStage: stage }));
      return JSON.parse(out.SecretString ?? 'null') as Record<string, unknown>;
    },
    rotorEvents() {
      return stack.eventBridge.events
        .filter((event) => event.source === config.eventSource)
        .map((event) => ({
          detailType: event.detailType,
          detail: JSON.parse(event.detail) as Record<string, unknown>,
        }));
    },
    async close() {
      sm.destroy();
      eb.destroy();
      await stack.stop();
    },
  };
  return harness;
}
