/**
 * Refusals at a trust boundary are loud: the step machine counts each with its own metric
 * (`TrustBoundaryRefused`, service dimension only, for one alarm per deployment), logs it at error
 * level and publishes the `Rotation Step Failed` event with `error.category: "security"`.
 *
 * The rotator here does what the SQL engines do before a master logs in: it asks the step machine
 * for the master and its binding (`fetchMaster`) and lets the trust kit decide where the master's
 * credential may go (`bindMasterEndpoint`). A master secret without a host and without a binding
 * is refused before anything is sent.
 */
import { randomUUID } from 'node:crypto';
import { RDSClient } from '@aws-sdk/client-rds';
import { DescribeSecretCommand } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalRds } from '../../local/rds.js';
import { FakeTarget } from '../../rotators/fake/client.js';
import { createFakeRotator } from '../../rotators/fake/index.js';
import { bindMasterEndpoint } from '../../rotators/trust.js';
import type { AnyRotator } from '../../rotators/types.js';
import { type RotationHarness, startRotationHarness } from '../support/rotation.js';
import { captureStdout } from '../support/stdout.js';

const targets = new Map<string, FakeTarget>();
const fake = createFakeRotator(targets);

/** The fake engine, whose apply first binds its master (`masterarn`) the way the SQL engines do. */
const masterBound: AnyRotator = {
  ...fake,
  async apply(request) {
    const { current } = request;
    const masterArn = (current as { masterarn?: string }).masterarn;
    if (masterArn !== undefined) {
      const master = await request.fetchMaster(masterArn);
      const own = JSON.parse(master.value) as { host?: string; port?: number };
      bindMasterEndpoint({
        masterSecretId: masterArn,
        master: {
          ...(own.host === undefined ? {} : { host: own.host }),
          ...(own.port === undefined ? {} : { port: own.port }),
        },
        ...(master.binding === undefined ? {} : { binding: master.binding }),
        rotated: {
          host: (current as { host?: string }).host ?? 'db.example.com',
          port: (current as { port?: number }).port ?? 5432,
        },
        defaultPort: 5432,
      });
    }
    return fake.apply(request);
  },
};

let h: RotationHarness;

beforeAll(async () => {
  h = await startRotationHarness({
    rotators: [masterBound],
    config: { metricsEnabled: true, logLevel: 'INFO' },
    stack: { rotation: { attempts: 1 } },
  });
});

afterAll(async () => {
  await h.close();
});

async function fixture(master: Record<string, unknown> | undefined) {
  const name = `target-${randomUUID()}`;
  const target = new FakeTarget();
  const password = `initial-${randomUUID()}`;
  target.addAccount('app', password);
  targets.set(name, target);
  const masterarn =
    master === undefined
      ? undefined
      : await h.createSecret({ username: 'admin', password: 'pw-admin-1', ...master });
  const arn = await h.createSecret({
    engine: 'fake',
    target: name,
    username: 'app',
    password,
    ...(masterarn === undefined ? {} : { masterarn }),
  });
  return { arn, target, password };
}

/** Lines of stdout that are JSON (Powertools logs and EMF metrics). */
function records(output: string): Record<string, unknown>[] {
  return output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

function refusedMetrics(output: string) {
  return records(output).filter((record) => 'TrustBoundaryRefused' in record);
}

describe('a refusal at a trust boundary', () => {
  it('emits TrustBoundaryRefused with the service dimension only, logs at error level, and marks the event "security"', async () => {
    // Prepare: a master secret with no host, and no binding names one.
    const { arn, target, password } = await fixture({});
    const stdout = captureStdout();

    // Act
    await h.rotate(arn);
    const output = stdout.stop();

    // Assess
    const [metric, ...more] = refusedMetrics(output);
    expect(more).toEqual([]);
    expect(metric?.TrustBoundaryRefused).toBe(1);
    const emf = (
      metric?._aws as
        | { CloudWatchMetrics: { Dimensions: string[][]; Metrics: { Name: string }[] }[] }
        | undefined
    )?.CloudWatchMetrics[0];
    expect(emf?.Dimensions).toEqual([['service']]);
    expect(emf?.Metrics.map((m) => m.Name)).toEqual(['TrustBoundaryRefused']);
    const failedLog = records(output).find(
      (record) => record.message === 'step failed' && record.secretArn === arn,
    ) as { level: string; error: { name: string; category: string } } | undefined;
    expect(failedLog?.level).toBe('ERROR');
    expect(failedLog?.error).toMatchObject({ name: 'MasterBindingError', category: 'security' });
    const failed = h
      .rotorEvents()
      .filter((event) => event.detailType === 'Rotation Step Failed' && event.detail.secretArn === arn);
    expect(failed).toHaveLength(1);
    expect(failed[0]?.detail.error).toMatchObject({
      name: 'MasterBindingError',
      category: 'security',
      retryable: false,
      step: 'setSecret',
    });
    expect(String((failed[0]?.detail.error as { message: string } | undefined)?.message)).toMatch(
      /names no host and no binding/,
    );
    // The page is built from what the event says: the cause in words and the runbook entry.
    expect(failed[0]?.detail.cause).toMatchObject({ class: 'security' });
    expect(failed[0]?.detail.runbook).toMatch(/RUNBOOK\.md#masterbindingerror$/);
    // Nothing was changed: the fake target still takes the original password.
    expect(() => target.login('app', password)).not.toThrow();
  });

  it('is not counted for an ordinary failure, whose event has no security category', async () => {
    // Prepare: the master names its host, but the target refuses the change.
    const { arn, target } = await fixture({ host: 'db.example.com', port: 5432 });
    target.faults.add('failApply');
    const stdout = captureStdout();

    // Act
    await h.rotate(arn);
    const output = stdout.stop();

    // Assess
    expect(refusedMetrics(output)).toEqual([]);
    const failed = h
      .rotorEvents()
      .filter((event) => event.detailType === 'Rotation Step Failed' && event.detail.secretArn === arn);
    expect(failed[0]?.detail.error).toMatchObject({ name: 'TargetUnreachableError' });
    expect(failed[0]?.detail.error).not.toHaveProperty('category');
    expect(failed[0]?.detail.cause).toMatchObject({ class: 'network' });
    expect(failed[0]?.detail.runbook).toMatch(/RUNBOOK\.md#targetunreachableerror$/);
  });

  it('lets a master bound by the stage file through to its bound host', async () => {
    // Prepare: a hostless master, bound by name to the rotated secret's host.
    const { arn, target, password } = await fixture({});
    const master = String((await h.value(arn)).masterarn);
    const { Name: name } = await h.sm.send(new DescribeSecretCommand({ SecretId: master }));
    h.config.masters.push({ secret: String(name), hosts: ['DB.example.com'], port: 5432 });
    const stdout = captureStdout();

    // Act
    await h.rotate(arn);
    const output = stdout.stop();

    // Assess
    expect(refusedMetrics(output)).toEqual([]);
    const current = await h.value(arn);
    expect(current.password).not.toBe(password);
    expect(() => target.login('app', String(current.password))).not.toThrow();
  });
});

describe('a master secret RDS manages, through the step machine', () => {
  it('is bound by RDS to its instance: a secret on that endpoint rotates, one elsewhere is refused', async () => {
    // Prepare: a local RDS instance whose master secret RDS keeps (rds!db-…, tagged by RDS).
    const rds = await startLocalRds();
    const rdsClient = new RDSClient(rds.clientConfig);
    const local = await startRotationHarness({
      rotators: [masterBound],
      rds: rdsClient,
      stack: { rotation: { attempts: 1 } },
    });
    try {
      const address = 'orders.abc123.us-east-1.rds.amazonaws.com';
      rds.registerInstance({
        identifier: 'orders',
        engine: 'postgres',
        endpoint: { address, port: 5432 },
        masterUsername: 'postgres',
        manageMasterUserPassword: true,
      });
      const master = local.stack.secretsManager.createServiceSecret({
        Name: `rds!db-${randomUUID()}`,
        SecretString: JSON.stringify({ username: 'postgres', password: 'Rds-managed-1' }),
        Tags: [
          { Key: 'aws:rds:primaryDBInstanceArn', Value: 'arn:aws:rds:us-east-1:123456789012:db:orders' },
        ],
      });
      const secret = async (host: string) => {
        const target = `target-${randomUUID()}`;
        const t = new FakeTarget();
        t.addAccount('app', 'initial-pw-1');
        targets.set(target, t);
        return local.createSecret({
          engine: 'fake',
          target,
          username: 'app',
          password: 'initial-pw-1',
          host,
          port: 5432,
          masterarn: master.ARN,
        });
      };
      const onInstance = await secret(address.toUpperCase());
      const elsewhere = await secret('attacker.example.com');

      // Act
      await local.rotate(onInstance);
      await local.rotate(elsewhere);

      // Assess
      expect((await local.value(onInstance)).password).not.toBe('initial-pw-1');
      expect((await local.value(elsewhere)).password).toBe('initial-pw-1');
      const refused = local
        .rotorEvents()
        .find((event) => event.detailType === 'Rotation Step Failed' && event.detail.secretArn === elsewhere);
      expect(refused?.detail.error).toMatchObject({ name: 'MasterBindingError', category: 'security' });
      expect(String((refused?.detail.error as { message?: string } | undefined)?.message)).toContain(
        `not an endpoint the RDS binds master secret ${master.ARN} to (${address})`,
      );
    } finally {
      await local.close();
      rdsClient.destroy();
      await rds.stop();
    }
  });
});
