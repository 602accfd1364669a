/**
 * Secrets Manager calls per rotation: every protocol check kept, nothing read twice. A warm
 * container (the same handler for the four steps, as Lambda reuses it) reads each version once; a
 * cold one (a fresh handler, no cache, per step) reads only what each step needs.
 */
import { randomUUID } from 'node:crypto';
import { PutSecretValueCommand, RotateSecretCommand } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readConfig } from '../../handlers/config.js';
import { createRotationHandler } from '../../handlers/createHandler.js';
import { FakeTarget } from '../../rotators/fake/client.js';
import { createFakeRotator } from '../../rotators/fake/index.js';
import type { FakeSecret } from '../../rotators/fake/secret.js';
import type { Rotator } from '../../rotators/types.js';
import { type RotationHarness, startRotationHarness } from '../support/rotation.js';

const targets = new Map<string, FakeTarget>();
let h: RotationHarness;

/**
 * The fake rotator, reading a master secret (`masterarn`) in every step that acts on the target,
 * as the alternating-users strategies do.
 */
function fakeWithMaster() {
  const fake = createFakeRotator(targets);
  const master = async (request: { fetchMaster(id: string): Promise<unknown> }, value: FakeSecret) => {
    if (typeof value.masterarn === 'string') await request.fetchMaster(value.masterarn);
  };
  return {
    ...fake,
    async apply(request: Parameters<typeof fake.apply>[0]) {
      await master(request, request.current);
      return fake.apply(request);
    },
    async test(request: Parameters<typeof fake.test>[0]) {
      await master(request, request.pending);
      return fake.test(request);
    },
    async finish(request: Parameters<typeof fake.finish>[0]) {
      await master(request, request.current);
      return fake.finish(request);
    },
  } satisfies Rotator<FakeSecret>;
}

beforeAll(async () => {
  h = await startRotationHarness({ rotators: [fakeWithMaster()] });
});

afterAll(async () => {
  await h.close();
});

async function fixture(extra: Record<string, unknown> = {}) {
  const name = `target-${randomUUID()}`;
  const target = new FakeTarget();
  target.addAccount('app', 'initial-password-1');
  targets.set(name, target);
  return h.createSecret({
    engine: 'fake',
    target: name,
    username: 'app',
    password: 'initial-password-1',
    ...extra,
  });
}

/** Records the GetSecretValue requests for `secretId` that the function's client sends. */
function recordReads(secretId: string): { VersionStage?: string; VersionId?: string }[] {
  const reads: { VersionStage?: string; VersionId?: string }[] = [];
  h.sm.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as { SecretId?: string; VersionStage?: string; VersionId?: string };
      if (context.commandName === 'GetSecretValueCommand' && input.SecretId === secretId) {
        reads.push({
          ...(input.VersionStage === undefined ? {} : { VersionStage: input.VersionStage }),
          ...(input.VersionId === undefined ? {} : { VersionId: input.VersionId }),
        });
      }
      return next(args);
    },
    { step: 'initialize', name: `recordReads-${secretId}` },
  );
  return reads;
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
  it('a warm container makes 7: DescribeSecret per step, AWSCURRENT read once, one put, one label move', async () => {
    // Prepare
    const arn = await fixture();

    // Act
    const calls = await callsOfRotation(arn);

    // Assess
    expect(calls).toEqual({
      DescribeSecret: 4,
      // AWSCURRENT only: createSecret puts without reading the empty AWSPENDING first (a value
      // stored earlier under the token would make PutSecretValue fail, and win).
      GetSecretValue: 1,
      PutSecretValue: 1,
      UpdateSecretVersionStage: 1,
    });
  });

  it('a cold container per step makes 11: each step reads only the versions it needs', async () => {
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
      // createSecret: current; setSecret: current + pending; testSecret and finishSecret: pending.
      GetSecretValue: 5,
      PutSecretValue: 1,
      UpdateSecretVersionStage: 1,
    });
    expect(h.stack.rotations.history.filter((r) => r.secretArn === arn).at(-1)?.status).toBe('succeeded');
  });

  it('reads a master secret once per rotation, naming AWSCURRENT', async () => {
    // Prepare
    const masterArn = await h.createSecret({ username: 'master', password: 'master-password-1' });
    const arn = await fixture({ masterarn: masterArn });
    const reads = recordReads(masterArn);

    // Act
    const calls = await callsOfRotation(arn);

    // Assess
    expect(h.stack.rotations.history.filter((r) => r.secretArn === arn).at(-1)?.status).toBe('succeeded');
    expect(reads).toEqual([{ VersionStage: 'AWSCURRENT' }]);
    expect(calls.GetSecretValue).toBe(2); // AWSCURRENT and the master
  });

  it('reads AWSPENDING before createPending for a rotator that changes something elsewhere', async () => {
    // Prepare: a rotator that mints credentials elsewhere does not declare createPending harmless.
    const { createPendingChangesNothing: _harmless, ...minting } = createFakeRotator(targets);
    const other = await startRotationHarness({ rotators: [minting satisfies Rotator<FakeSecret>] });
    try {
      const name = `target-${randomUUID()}`;
      const target = new FakeTarget();
      target.addAccount('app', 'initial-password-1');
      targets.set(name, target);
      const arn = await other.createSecret({
        engine: 'fake',
        target: name,
        username: 'app',
        password: 'initial-password-1',
      });
      other.stack.secretsManager.resetCalls();

      // Act
      await other.rotate(arn);

      // Assess
      const { RotateSecret: _, ...calls } = other.stack.secretsManager.calls;
      expect(calls).toEqual({
        DescribeSecret: 4,
        GetSecretValue: 2, // AWSCURRENT, and the empty AWSPENDING that tells createSecret to generate
        PutSecretValue: 1,
        UpdateSecretVersionStage: 1,
      });
    } finally {
      await other.close();
    }
  });

  it('keeps the value an earlier run stored under the token: the put is refused, the stored value read', async () => {
    // Prepare: an earlier createSecret for the token stored a value, in another container.
    const arn = await fixture();
    const token = await h.stagePending(arn);
    const current = await h.value(arn);
    const earlier = { ...current, password: 'stored-by-an-earlier-run-1' };
    await h.sm.send(
      new PutSecretValueCommand({
        SecretId: arn,
        ClientRequestToken: token,
        SecretString: JSON.stringify(earlier),
        VersionStages: ['AWSPENDING'],
      }),
    );
    h.stack.secretsManager.resetCalls();

    // Act
    await h.invoke('createSecret', arn, token);

    // Assess
    // AWSCURRENT, then the stored AWSPENDING after the refused put.
    expect(h.stack.secretsManager.calls).toMatchObject({ PutSecretValue: 1, GetSecretValue: 2 });
    expect(await h.value(arn, 'AWSPENDING')).toEqual(earlier);
  });
});
