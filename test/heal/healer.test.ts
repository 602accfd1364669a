/**
 * The healer on the local stack with the fake rotator: each decision (healthy, in progress, roll
 * forward, abandon, manual), report-only versus acting, and that rotation works again afterwards.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readConfig } from '../../handlers/config.js';
import { EventPublisher } from '../../handlers/events.js';
import { Healer } from '../../handlers/heal.js';
import { redactor } from '../../handlers/redact.js';
import { SecretsStore } from '../../handlers/secrets.js';
import { AwsCallError, ProviderError } from '../../rotators/errors.js';
import { FakeTarget } from '../../rotators/fake/client.js';
import { createFakeRotator } from '../../rotators/fake/index.js';
import { createRegistry } from '../../rotators/registry.js';
import type { AnyRotator, DiscardRequest } from '../../rotators/types.js';
import { type RotationHarness, startRotationHarness } from '../support/rotation.js';

const targets = new Map<string, FakeTarget>();
let h: RotationHarness;

beforeAll(async () => {
  h = await startRotationHarness({
    rotators: [createFakeRotator(targets)],
    stack: { rotation: { reattemptStuck: false } },
  });
});

afterAll(async () => {
  await h.close();
});

function healer(minAgeMs = 0, rotator: AnyRotator = createFakeRotator(targets)): Healer {
  return new Healer({
    store: new SecretsStore(h.sm),
    registry: createRegistry([rotator]),
    redactor,
    publisher: new EventPublisher(h.eb, { busName: 'default', source: readConfig({}).eventSource, redactor }),
    minAgeMs,
  });
}

async function fixture() {
  const name = `target-${randomUUID()}`;
  const target = new FakeTarget();
  target.addAccount('app', 'initial-password-1');
  targets.set(name, target);
  const arn = await h.createSecret({
    engine: 'fake',
    target: name,
    username: 'app',
    password: 'initial-password-1',
  });
  return { arn, target };
}

/** The fake rotator with a `discard` hook that records what it was asked to discard. */
function discarding(): { rotator: AnyRotator; discarded: DiscardRequest<Record<string, unknown>>[] } {
  const discarded: DiscardRequest<Record<string, unknown>>[] = [];
  const rotator: AnyRotator = {
    ...createFakeRotator(targets),
    discard: async (request: DiscardRequest<Record<string, unknown>>) => {
      discarded.push(request);
    },
  };
  return { rotator, discarded };
}

const stuckEmpty = (arn: string) => h.stagePending(arn);

/** A rotation that died right after setSecret: the pending password is live, AWSCURRENT is stale. */
async function stuckAfterSet(arn: string): Promise<string> {
  const token = await stuckEmpty(arn);
  await h.invoke('createSecret', arn, token);
  await h.invoke('setSecret', arn, token);
  return token;
}

describe('healer', () => {
  it('reports a secret with nothing stuck as healthy and changes nothing', async () => {
    // Prepare
    const { arn } = await fixture();
    await h.rotate(arn);
    const labels = await h.labels(arn);

    // Act
    const report = await healer().heal(arn, { apply: true });

    // Assess
    expect(report.decision).toBe('healthy');
    expect(report.acted).toBe(false);
    expect(await h.labels(arn)).toEqual(labels);
  });

  it('leaves a pending version younger than the minimum age alone, unless forced', async () => {
    // Prepare
    const { arn } = await fixture();
    await stuckEmpty(arn);

    // Act
    const young = await healer(3_600_000).heal(arn, { apply: true });
    const forced = await healer(3_600_000).heal(arn, { apply: false, force: true });

    // Assess
    expect(young.decision).toBe('in-progress');
    expect(young.acted).toBe(false);
    expect(forced.decision).toBe('abandon');
  });

  it('abandons an empty pending version: nothing was applied; rotation works again afterwards', async () => {
    // Prepare
    const { arn, target } = await fixture();
    const token = await stuckEmpty(arn);

    // Act
    const report = await healer().heal(arn, { apply: true });

    // Assess
    expect(report).toMatchObject({
      decision: 'abandon',
      acted: true,
      pendingVersionId: token,
      currentWorks: true,
    });
    expect(report.reason).toContain('createSecret never stored a value');
    expect((await h.labels(arn)).AWSPENDING).toBeUndefined();
    await h.rotate(arn);
    const current = await h.value(arn);
    expect(() => target.login('app', current.password as string)).not.toThrow();
  });

  it('rolls forward when the target already accepts the pending credential', async () => {
    // Prepare
    const { arn, target } = await fixture();
    const token = await stuckAfterSet(arn);
    const pending = await h.value(arn, 'AWSPENDING');

    // Act
    const report = await healer().heal(arn, { apply: true });

    // Assess
    expect(report).toMatchObject({
      decision: 'roll-forward',
      acted: true,
      pendingWorks: true,
      currentWorks: false,
    });
    const labels = await h.labels(arn);
    expect(labels.AWSCURRENT).toBe(token);
    expect(labels.AWSPENDING).toBeUndefined();
    expect((await h.value(arn)).password).toBe(pending.password);
    expect(() => target.login('app', pending.password as string)).not.toThrow();
    expect(target.changes).toContain('finish app');
  });

  it('abandons when the pending credential fails and the current one works', async () => {
    // Prepare
    const { arn } = await fixture();
    await stuckAfterSet(arn);
    const pending = await h.value(arn, 'AWSPENDING');
    const name = (await h.value(arn)).target as string;
    targets.get(name)?.setPassword('app', 'initial-password-1'); // someone put the old password back

    // Act
    const report = await healer().heal(arn, { apply: true });

    // Assess
    expect(report).toMatchObject({
      decision: 'abandon',
      acted: true,
      pendingWorks: false,
      currentWorks: true,
    });
    expect(report.pendingError).toContain('AuthenticationFailedError');
    expect(JSON.stringify(report)).not.toContain(pending.password as string);
    expect((await h.labels(arn)).AWSPENDING).toBeUndefined();
  });

  it('fails, changing nothing, when reading the pending value fails (not an unusable value to abandon)', async () => {
    // Prepare
    const { arn } = await fixture();
    const token = await stuckAfterSet(arn);
    const store = new SecretsStore(h.sm);
    const read = store.getVersion.bind(store);
    store.getVersion = async (secretArn, versionId, stage, signal) => {
      if (versionId === token) {
        throw new AwsCallError('Secrets Manager GetSecretValue failed: ThrottlingException', {
          retryable: true,
        });
      }
      return read(secretArn, versionId, stage, signal);
    };
    const throttled = new Healer({
      store,
      registry: createRegistry([createFakeRotator(targets)]),
      redactor,
      minAgeMs: 0,
    });

    // Act
    const heal = throttled.heal(arn, { apply: true });

    // Assess
    await expect(heal).rejects.toBeInstanceOf(AwsCallError);
    expect((await h.labels(arn)).AWSPENDING).toBeDefined();
  });

  it('scrubs an error that leaves the heal of the values it read (its caller scrubs too late)', async () => {
    // Prepare
    const { arn } = await fixture();
    await stuckAfterSet(arn);
    const pending = await h.value(arn, 'AWSPENDING');
    targets.get((await h.value(arn)).target as string)?.setPassword('app', 'initial-password-1');
    const rotator: AnyRotator = {
      ...createFakeRotator(targets),
      discard: async (request: DiscardRequest<Record<string, unknown>>) => {
        throw new ProviderError(`revoke refused for ${String(request.pending.password)}`);
      },
    };

    // Act
    const error = await healer(0, rotator)
      .heal(arn, { apply: true })
      .catch((thrown: unknown) => thrown);

    // Assess
    expect(error).toBeInstanceOf(ProviderError);
    expect(String((error as Error).message)).not.toContain(pending.password as string);
    expect(String((error as Error).stack)).not.toContain(pending.password as string);
  });

  it("calls the rotator's discard hook with the abandoned pending value before clearing AWSPENDING", async () => {
    // Prepare
    const { arn } = await fixture();
    const token = await stuckAfterSet(arn);
    const pending = await h.value(arn, 'AWSPENDING');
    const name = (await h.value(arn)).target as string;
    targets.get(name)?.setPassword('app', 'initial-password-1');
    const { rotator, discarded } = discarding();

    // Act
    const report = await healer(0, rotator).heal(arn, { apply: true });

    // Assess
    expect(report).toMatchObject({ decision: 'abandon', acted: true });
    expect(discarded).toHaveLength(1);
    expect(discarded[0]).toMatchObject({
      token,
      secretArn: arn,
      current: { password: 'initial-password-1' },
      pending: { password: pending.password },
    });
    expect((await h.labels(arn)).AWSPENDING).toBeUndefined();
  });

  it('never calls discard on roll-forward, nor for a pending version with no value, nor without --yes', async () => {
    // Prepare
    const forward = await fixture();
    await stuckAfterSet(forward.arn);
    const empty = await fixture();
    await stuckEmpty(empty.arn);
    const looked = await fixture();
    await stuckAfterSet(looked.arn);
    targets.get((await h.value(looked.arn)).target as string)?.setPassword('app', 'initial-password-1');
    const { rotator, discarded } = discarding();

    // Act
    const reports = [
      await healer(0, rotator).heal(forward.arn, { apply: true }),
      await healer(0, rotator).heal(empty.arn, { apply: true }),
      await healer(0, rotator).heal(looked.arn),
    ];

    // Assess
    expect(reports.map((r) => `${r.decision} ${r.acted}`)).toEqual([
      'roll-forward true',
      'abandon true',
      'abandon false',
    ]);
    expect(discarded).toEqual([]);
  });

  it('asks for a person when neither credential works, and changes nothing', async () => {
    // Prepare
    const { arn, target } = await fixture();
    await stuckAfterSet(arn);
    target.setPassword('app', 'changed-by-someone-else');
    const labels = await h.labels(arn);

    // Act
    const report = await healer().heal(arn, { apply: true });

    // Assess
    expect(report).toMatchObject({
      decision: 'manual',
      acted: false,
      pendingWorks: false,
      currentWorks: false,
    });
    expect(await h.labels(arn)).toEqual(labels);
    const needed = h
      .rotorEvents()
      .filter((e) => e.detailType === 'Rotation Heal Needed' && e.detail.secretArn === arn);
    expect(needed).toHaveLength(1);
  });

  it('only reports without --yes, and emits a heal-needed event', async () => {
    // Prepare
    const { arn } = await fixture();
    await stuckAfterSet(arn);
    const labels = await h.labels(arn);

    // Act
    const report = await healer().heal(arn, { apply: false });

    // Assess
    expect(report).toMatchObject({ decision: 'roll-forward', acted: false });
    expect(await h.labels(arn)).toEqual(labels);
    expect(
      h.rotorEvents().some((e) => e.detailType === 'Rotation Heal Needed' && e.detail.secretArn === arn),
    ).toBe(true);
  });
});
