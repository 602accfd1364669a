/**
 * Adoption: an operator's explicit decision that rotor may act for an account (or API key) a
 * secret does not prove it holds. `rotor attach <secret> --adopt <name>` records it in the
 * adoption record (a secret only operators write); the step machine hands rotators the names
 * adopted for the secret being rotated (`request.adopted()`), reading the record only when a
 * rotator asks, once per rotation. Local stack, real SDK, the CLI in-process.
 */
import { randomUUID } from 'node:crypto';
import {
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  ListSecretVersionIdsCommand,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeTarget } from '../../rotators/fake/client.js';
import { createFakeRotator } from '../../rotators/fake/index.js';
import type { AnyRotator } from '../../rotators/types.js';
import { CliRunner } from '../cli/support.js';
import { type RotationHarness, startRotationHarness } from '../support/rotation.js';

const targets = new Map<string, FakeTarget>();
const fake = createFakeRotator(targets);
/** What `adopted()` answered, by secret ARN, each time a rotator asked. */
const asked = new Map<string, (readonly string[])[]>();

/** The fake engine; a secret with `askAdopted` makes apply and test ask for the adopted names. */
const asking: AnyRotator = {
  ...fake,
  async apply(request) {
    if ((request.current as { askAdopted?: boolean }).askAdopted === true) {
      asked.set(request.secretArn, [...(asked.get(request.secretArn) ?? []), await request.adopted()]);
    }
    return fake.apply(request);
  },
  async test(request) {
    if ((request.pending as { askAdopted?: boolean }).askAdopted === true) {
      asked.set(request.secretArn, [...(asked.get(request.secretArn) ?? []), await request.adopted()]);
    }
    return fake.test(request);
  },
};

const RECORD = 'rotor/adoptions';
let h: RotationHarness;
let cli: CliRunner;

beforeAll(async () => {
  h = await startRotationHarness({ rotators: [asking] });
  cli = new CliRunner(h.stack.endpoint, { env: { ROTOR_OPERATOR: 'alice@ops', NO_COLOR: '1' } });
});

afterAll(async () => {
  await h.close();
});

async function fixture(extra: Record<string, unknown> = {}) {
  const target = `target-${randomUUID()}`;
  const password = `initial-${randomUUID()}`;
  const t = new FakeTarget();
  t.addAccount('app', password);
  targets.set(target, t);
  const name = `adopt/${randomUUID().slice(0, 8)}`;
  const arn = await h.createSecret({ engine: 'fake', target, username: 'app', password, ...extra }, name);
  return { arn, name, password };
}

async function record(): Promise<{ adoptions: Record<string, unknown>[] }> {
  const out = await h.sm.send(new GetSecretValueCommand({ SecretId: RECORD, VersionStage: 'AWSCURRENT' }));
  return JSON.parse(out.SecretString ?? '{}') as { adoptions: Record<string, unknown>[] };
}

describe('rotor attach --adopt', () => {
  it('creates the adoption record, records the user for the secret ARN, and prints what it did', async () => {
    // Prepare
    const { arn, name, password } = await fixture();

    // Act
    const result = await cli.run('attach', name, '--adopt', 'legacy_app');

    // Assess
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(
      `adopted user "legacy_app" for ${name} (${arn}): recorded in ${RECORD} (created)`,
    );
    const { adoptions } = await record();
    expect(adoptions).toEqual([
      { secret: arn, username: 'legacy_app', adoptedAt: expect.any(String), by: 'alice@ops' },
    ]);
    expect(Number.isNaN(Date.parse(String(adoptions[0]?.adoptedAt)))).toBe(false);
    // Nothing of the secret's value (its password) reaches the record or the output.
    const described = await h.sm.send(new DescribeSecretCommand({ SecretId: RECORD }));
    expect(described.Description).toMatch(/Holds no credential/);
    expect(JSON.stringify(await record())).not.toContain(password);
    expect(result.stdout + result.stderr).not.toContain(password);
    // Adopting is not attaching: rotation stays off.
    expect((await h.sm.send(new DescribeSecretCommand({ SecretId: arn }))).RotationEnabled).not.toBe(true);
  });

  it('adds to an existing record, keeps other entries, and changes nothing when adopted again', async () => {
    // Prepare
    const first = await fixture();
    const second = await fixture();
    await cli.run('attach', first.name, '--adopt', 'a_user');
    const versionsBefore = async () =>
      (await h.sm.send(new ListSecretVersionIdsCommand({ SecretId: RECORD }))).Versions?.length ?? 0;

    // Act
    const added = await cli.run('attach', second.name, '--adopt', 'b_user', '--adopt', 'c_user');
    const count = await versionsBefore();
    const again = await cli.run('attach', second.name, '--adopt', 'b_user');

    // Assess
    expect(added.code).toBe(0);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`already in ${RECORD}; nothing changed`);
    expect(await versionsBefore()).toBe(count);
    const mine = (await record()).adoptions.filter((a) => [first.arn, second.arn].includes(String(a.secret)));
    expect(mine.map((a) => `${a.secret === first.arn ? 'first' : 'second'}:${a.username}`)).toEqual([
      'first:a_user',
      'second:b_user',
      'second:c_user',
    ]);
  });

  it('records an API key id for an API-key secret', async () => {
    // Prepare: an apikey secret (its value need not be valid to be adopted for).
    const name = `adopt/key-${randomUUID().slice(0, 8)}`;
    const arn = await h.createSecret(
      { engine: 'apikey', provider: 'acme', keyId: 'k1', key: 'sk-123456' },
      name,
    );

    // Act
    const result = await cli.run('attach', name, '--adopt', 'key-0042');

    // Assess
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('adopted API key "key-0042"');
    const entry = (await record()).adoptions.find((a) => a.secret === arn);
    expect(entry).toMatchObject({ secret: arn, keyId: 'key-0042', by: 'alice@ops' });
    expect(JSON.stringify(await record())).not.toContain('sk-123456');
  });

  it('exits 2 without --function or --adopt, and for a secret that does not exist, changing nothing', async () => {
    // Prepare
    const { name } = await fixture();
    const before = JSON.stringify(await record().catch(() => null));

    // Act
    const neither = await cli.run('attach', name);
    const missing = await cli.run('attach', 'adopt/no-such-secret', '--adopt', 'x_user');
    const badName = await cli.run('attach', name, '--adopt', 'x"user');

    // Assess
    expect(neither.code).toBe(2);
    expect(neither.stderr).toMatch(/attach needs --function and --schedule \(or --adopt\)/);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/nothing was adopted/);
    expect(badName.code).toBe(2);
    expect(badName.stderr).toMatch(/--adopt.*must be a user name or API key id/);
    expect(JSON.stringify(await record().catch(() => null))).toBe(before);
  });
});

describe('adopted() in a rotation', () => {
  it('returns the names adopted for the rotated secret only, reading the record once per rotation', async () => {
    // Prepare
    const mine = await fixture({ askAdopted: true });
    const other = await fixture();
    await cli.run('attach', mine.name, '--adopt', 'legacy_app');
    await cli.run('attach', other.name, '--adopt', 'not_mine');
    const reads = () =>
      h.stack.secretsManager.requests('GetSecretValue').filter((r) => String(r.input.SecretId) === RECORD)
        .length;
    const before = reads();

    // Act
    await h.rotate(mine.arn);

    // Assess
    expect(asked.get(mine.arn)).toEqual([['legacy_app'], ['legacy_app']]);
    expect(reads() - before).toBe(1);
  });

  it('does not carry over to a secret deleted and created again under the same name (the record holds the ARN)', async () => {
    // Prepare: an adoption for a secret, which is then deleted; a writer creates one of the same name.
    const old = await fixture();
    await cli.run('attach', old.name, '--adopt', 'legacy_app');
    await h.sm.send(new DeleteSecretCommand({ SecretId: old.arn, ForceDeleteWithoutRecovery: true }));
    const target = `target-${randomUUID()}`;
    const t = new FakeTarget();
    t.addAccount('app', 'initial-pw-2');
    targets.set(target, t);
    const arn = await h.createSecret(
      { engine: 'fake', target, username: 'app', password: 'initial-pw-2', askAdopted: true },
      old.name,
    );

    // Act
    await h.rotate(arn);

    // Assess
    expect(arn).not.toBe(old.arn);
    expect(asked.get(arn)).toEqual([[], []]);
  });

  it('is not read when no rotator asks', async () => {
    // Prepare
    const plain = await fixture();
    await cli.run('attach', plain.name, '--adopt', 'someone');
    const reads = () =>
      h.stack.secretsManager.requests('GetSecretValue').filter((r) => String(r.input.SecretId) === RECORD)
        .length;
    const before = reads();

    // Act
    await h.rotate(plain.arn);

    // Assess
    expect(asked.has(plain.arn)).toBe(false);
    expect((await h.value(plain.arn)).password).not.toBe(plain.password);
    expect(reads()).toBe(before);
  });

  it('is empty when nobody adopted anything and no record exists', async () => {
    // Prepare: a stack of its own, without a record.
    const bare = await startRotationHarness({ rotators: [asking] });
    try {
      const target = `target-${randomUUID()}`;
      const t = new FakeTarget();
      t.addAccount('app', 'initial-pw-1');
      targets.set(target, t);
      const arn = await bare.createSecret({
        engine: 'fake',
        target,
        username: 'app',
        password: 'initial-pw-1',
        askAdopted: true,
      });

      // Act
      await bare.rotate(arn);

      // Assess
      expect(asked.get(arn)).toEqual([[], []]);
      expect((await bare.value(arn)).password).not.toBe('initial-pw-1');
    } finally {
      await bare.close();
    }
  });
});
