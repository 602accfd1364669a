/**
 * Secrets Manager calls per rotation: every protocol check kept, nothing read twice. A warm
 * container (the same handler for the four steps, as Lambda reuses it) reads each version once; a
 * cold one (a fresh handler, no cache, per step) reads only what each step needs.
 */
import { randomUUID } from 'node:crypto';
import { RotateSecretCommand } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readConfig } from '../../handlers/config.js';
import { createRotationHandler } from '../../handlers/createHandler.js';
import { FakeTarget } from '../../rotators/fake/client.js';
import { createFakeRotator } from '../../rotators/fake/index.js';
import { type RotationHarness, startRotationHarness } from '../support/rotation.js';

const targets = new Map<string, FakeTarget>();
let h: RotationHarness;

beforeAll(async () => {
  h = await startRotationHarness({ rotators: [createFakeRotator(targets)] });
});

afterAll(async () => {
  await h.close();
});

async function fixture() {
  const name = `target-${randomUUID()}`;
  const target = new FakeTarget();
  target.addAccount('app', 'initial-password-1');
  targets.set(name, target);
  return h.createSecret({ engine: 'fake', target: name, username: 'app', password: 'initial-password-1' });
}

/** Calls made while rotating, RotateSecret itself excluded. */
async function callsOfRotation(arn: string, functionArn = h.functionArn): Promise<Record<string, number>> {
  h.stack.secretsManager.resetCalls();
  await h.sm.send(
    new RotateSecretCommand({
      SecretId: arn,
      RotationLambdaARN: functionArn,
      RotationRules: { AutomaticallyAfterDays: 30 },
    }),
  );
  await h.stack.idle();
  const { RotateSecret: _, ...calls } = h.stack.secretsManager.calls;
  return calls;
}

describe('Secrets Manager calls per rotation', () => {
  it('a warm container makes 8: DescribeSecret per step, each version read once, one put, one label move', async () => {
    // Prepare
    const arn = await fixture();

    // Act
    const calls = await callsOfRotation(arn);

    // Assess
    expect(calls).toEqual({
      DescribeSecret: 4,
      GetSecretValue: 2, // AWSCURRENT, and the empty AWSPENDING that tells createSecret to generate
      PutSecretValue: 1,
      UpdateSecretVersionStage: 1,
    });
  });

  it('a cold container per step makes 12: each step reads only the versions it needs', async () => {
    // Prepare: every invocation gets a new handler, as a fresh Lambda container would.
    const arn = await fixture();
    const config = { ...readConfig({ ROTOR_LOG_LEVEL: 'SILENT', ROTOR_METRICS: 'off' }) };
    const cold = h.stack.registerFunction('cold', (event, context) =>
      createRotationHandler({
        rotators: [createFakeRotator(targets)],
        secretsManager: h.sm,
        eventBridge: h.eb,
        config,
      })(event, context),
    );

    // Act
    const calls = await callsOfRotation(arn, cold);

    // Assess
    expect(calls).toEqual({
      DescribeSecret: 4,
      // createSecret: current + empty pending; setSecret: current + pending; testSecret and finishSecret: pending.
      GetSecretValue: 6,
      PutSecretValue: 1,
      UpdateSecretVersionStage: 1,
    });
    expect(h.stack.rotations.history.filter((r) => r.secretArn === arn).at(-1)?.status).toBe('succeeded');
  });
});
