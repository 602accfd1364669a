/**
 * Where a master credential may be used is decided by the deployment and RDS, never by the rotated
 * secret: `fetchMaster` (handlers/versions.ts, handlers/masters.ts) through the real SDK against
 * the local Secrets Manager and the local RDS endpoint.
 *
 * - A stage-file binding (ROTOR_MASTERS) names its master by name, partial ARN or full ARN, and
 *   matches whichever form the rotated secret's `masterarn` uses.
 * - A master secret RDS manages (`rds!…`, tagged by RDS with its instance or cluster) is bound to
 *   that database's endpoints, as RDS reports them; only the database functions (RDS discovery)
 *   look, and only for `rds!` names.
 * - A binding naming a cluster covers its writer, reader, custom and member endpoints.
 */
import { randomUUID } from 'node:crypto';
import { RDSClient } from '@aws-sdk/client-rds';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MasterEntry, TrustConfig } from '../../handlers/config.js';
import { RdsDiscovery } from '../../handlers/rds.js';
import { redactor } from '../../handlers/redact.js';
import { SecretsStore } from '../../handlers/secrets.js';
import { VersionReader } from '../../handlers/versions.js';
import { type LocalRds, startLocalRds } from '../../local/rds.js';
import { type LocalStack, startLocalStack } from '../../local/stack.js';
import { MasterBindingError } from '../../rotators/errors.js';
import { createFakeRotator } from '../../rotators/fake/index.js';
import { createRegistry } from '../../rotators/registry.js';

let stack: LocalStack;
let rds: LocalRds;
let sm: SecretsManagerClient;
let rdsClient: RDSClient;
const scope = redactor.scope();
/** One store, as in a warm Lambda container: related secrets are kept per rotation token. */
let store: SecretsStore;

beforeAll(async () => {
  stack = await startLocalStack();
  rds = await startLocalRds();
  sm = new SecretsManagerClient(stack.clientConfig);
  rdsClient = new RDSClient(rds.clientConfig);
  store = new SecretsStore(sm);
});

afterAll(async () => {
  scope.close();
  sm.destroy();
  rdsClient.destroy();
  await rds.stop();
  await stack.stop();
});

const unique = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;

/** A secret as a customer creates it (CreateSecret), or as RDS creates its own (`rds!…`). */
async function createSecret(name: string, value: Record<string, unknown>, tags: Record<string, string> = {}) {
  if (name.startsWith('rds!')) {
    const out = stack.secretsManager.createServiceSecret({
      Name: name,
      SecretString: JSON.stringify(value),
      Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
    });
    return { arn: out.ARN, name };
  }
  const out = await sm.send(
    new CreateSecretCommand({
      Name: name,
      SecretString: JSON.stringify(value),
      ...(Object.keys(tags).length === 0
        ? {}
        : { Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) }),
    }),
  );
  return { arn: out.ARN as string, name };
}

/** A reader as one step of a database function (with RDS discovery) or of the API-key function (without) sees it. */
function reader(trust: Partial<TrustConfig>, options: { rds?: boolean; token?: string } = {}) {
  const signal = AbortSignal.timeout(10_000);
  const enricher =
    options.rds === false
      ? undefined
      : new RdsDiscovery({ rds: () => rdsClient, secretsManager: sm }).forInvocation(signal);
  return new VersionReader({
    store,
    registry: createRegistry([createFakeRotator(new Map())]),
    scope,
    signal,
    enricher,
    trust: { masters: [], rdsMasters: [], adoptionsSecret: 'rotor/adoptions', ...trust },
    rotationToken: options.token ?? randomUUID(),
  });
}

const masterValue = { username: 'admin', password: 'Master-password-1' };

describe('a stage-file binding (ROTOR_MASTERS)', () => {
  it.each([
    ['its name', (m: { arn: string; name: string }) => m.name],
    ['its partial ARN', (m: { arn: string; name: string }) => m.arn.slice(0, -7)],
    ['its full ARN', (m: { arn: string; name: string }) => m.arn],
  ])('names the master by %s, and applies whichever form masterarn uses', async (_form, configured) => {
    // Prepare
    const master = await createSecret(unique('masters/orders'), masterValue);
    const entry: MasterEntry = {
      secret: configured(master),
      hosts: ['orders.db.example.com'],
      port: 6432,
      tls: { mode: 'verify-ca' },
      manages: ['app_*'],
    };
    const other: MasterEntry = { secret: `${master.name}-other`, hosts: ['elsewhere.example.com'] };
    const trust = { masters: [other, entry] };

    // Act
    const byName = await reader(trust).fetchMaster(master.name);
    const byArn = await reader(trust).fetchMaster(master.arn);
    const byPartial = await reader(trust).fetchMaster(master.arn.slice(0, -7));

    // Assess
    for (const credential of [byName, byArn, byPartial]) {
      expect(JSON.parse(credential.value)).toEqual(masterValue);
      expect(credential.binding).toEqual({
        source: 'stage file',
        hosts: ['orders.db.example.com'],
        port: 6432,
        tls: { mode: 'verify-ca' },
        manages: ['app_*'],
      });
    }
  });

  it('binds nothing for a master no entry names, and a longer or shorter name is another master', async () => {
    // Prepare
    const master = await createSecret(unique('masters/billing'), masterValue);
    const trust = {
      masters: [
        { secret: `${master.name}x`, hosts: ['a.example.com'] },
        { secret: master.name.slice(0, -1), hosts: ['b.example.com'] },
      ],
    };

    // Act
    const credential = await reader(trust).fetchMaster(master.arn);

    // Assess
    expect(credential.binding).toBeUndefined();
  });

  it('refuses a master two entries bind (by name and by ARN): a binding must be one', async () => {
    // Prepare
    const master = await createSecret(unique('masters/twice'), masterValue);
    const trust = {
      masters: [
        { secret: master.name, hosts: ['a.example.com'] },
        { secret: master.arn, hosts: ['attacker.example.com'] },
      ],
    };

    // Act
    const error = await reader(trust)
      .fetchMaster(master.name)
      .catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(MasterBindingError);
    expect((error as Error).message).toMatch(/bound by 2 entries of ROTOR_MASTERS \(entries 0, 1\)/);
  });

  it('binds to the endpoint RDS reports for the instance an entry names', async () => {
    // Prepare
    const id = unique('orders');
    rds.registerInstance({
      identifier: id,
      engine: 'postgres',
      endpoint: { address: `${id}.abc123.us-east-1.rds.amazonaws.com`, port: 5433 },
      masterUsername: 'admin',
    });
    const master = await createSecret(unique('masters/instance'), masterValue);

    // Act
    const credential = await reader({
      masters: [{ secret: master.name, dbInstanceIdentifier: id }],
    }).fetchMaster(master.arn);

    // Assess
    expect(credential.binding).toEqual({
      source: 'stage file',
      hosts: [`${id}.abc123.us-east-1.rds.amazonaws.com`],
      port: 5433,
    });
  });

  it('binds to every endpoint of a cluster an entry names: writer, reader, custom and members', async () => {
    // Prepare
    const id = unique('aurora');
    const suffix = 'xyz789.us-east-1.rds.amazonaws.com';
    rds.registerCluster({
      identifier: id,
      engine: 'aurora-postgresql',
      endpoint: { address: `${id}.cluster-${suffix}`, port: 5432 },
      readerEndpoint: `${id}.cluster-ro-${suffix}`,
      customEndpoints: [`${id}-reports.cluster-custom-${suffix}`],
      members: [
        { identifier: `${id}-1`, endpoint: { address: `${id}-1.${suffix}`, port: 5432 }, writer: true },
        { identifier: `${id}-2`, endpoint: { address: `${id}-2.${suffix}`, port: 5432 } },
      ],
      masterUsername: 'admin',
    });
    const master = await createSecret(unique('masters/cluster'), masterValue);

    // Act
    const credential = await reader({
      masters: [{ secret: master.arn, dbClusterIdentifier: id, manages: ['report_*'] }],
    }).fetchMaster(master.name);

    // Assess
    expect(credential.binding?.source).toBe('stage file');
    expect(credential.binding?.port).toBe(5432);
    expect(credential.binding?.manages).toEqual(['report_*']);
    expect([...(credential.binding?.hosts ?? [])].sort()).toEqual(
      [
        `${id}.cluster-${suffix}`,
        `${id}.cluster-ro-${suffix}`,
        `${id}-reports.cluster-custom-${suffix}`,
        `${id}-1.${suffix}`,
        `${id}-2.${suffix}`,
      ].sort(),
    );
  });

  it('refuses a binding naming an instance RDS does not know, naming the master', async () => {
    // Prepare
    const master = await createSecret(unique('masters/ghost'), masterValue);

    // Act
    const error = await reader({ masters: [{ secret: master.name, dbInstanceIdentifier: 'no-such-db' }] })
      .fetchMaster(master.arn)
      .catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(MasterBindingError);
    expect((error as Error).message).toContain(master.arn);
    expect((error as Error).message).toMatch(/no-such-db.*does not exist/);
  });
});

describe('a master secret RDS manages', () => {
  it('is bound by RDS to its instance: the endpoint comes from DescribeDBInstances, not from any secret', async () => {
    // Prepare
    const id = unique('pg');
    rds.registerInstance({
      identifier: id,
      engine: 'postgres',
      endpoint: { address: `${id}.abc123.us-east-1.rds.amazonaws.com`, port: 5432 },
      masterUsername: 'postgres',
      manageMasterUserPassword: true,
    });
    const master = await createSecret(`rds!db-${randomUUID()}`, masterValue, {
      'aws:rds:primaryDBInstanceArn': `arn:aws:rds:us-east-1:123456789012:db:${id}`,
    });
    const describes = stack.secretsManager.requests('DescribeSecret').length;

    // Act
    const credential = await reader({}).fetchMaster(master.arn);

    // Assess
    expect(credential.binding).toEqual({
      source: 'RDS',
      hosts: [`${id}.abc123.us-east-1.rds.amazonaws.com`],
      port: 5432,
    });
    expect(stack.secretsManager.requests('DescribeSecret').length - describes).toBe(1);
  });

  it('is bound by RDS to its cluster through the aws:rds:primaryDBClusterArn tag', async () => {
    // Prepare
    const id = unique('aurora');
    const suffix = 'qrs456.us-east-1.rds.amazonaws.com';
    rds.registerCluster({
      identifier: id,
      engine: 'aurora-mysql',
      endpoint: { address: `${id}.cluster-${suffix}`, port: 3306 },
      readerEndpoint: `${id}.cluster-ro-${suffix}`,
      masterUsername: 'admin',
      manageMasterUserPassword: true,
    });
    const master = await createSecret(`rds!cluster-${randomUUID()}`, masterValue, {
      'aws:rds:primaryDBClusterArn': `arn:aws:rds:us-east-1:123456789012:cluster:${id}`,
    });

    // Act
    const credential = await reader({}).fetchMaster(master.name);

    // Assess
    expect(credential.binding?.source).toBe('RDS');
    expect(credential.binding?.port).toBe(3306);
    expect([...(credential.binding?.hosts ?? [])].sort()).toEqual(
      [`${id}.cluster-${suffix}`, `${id}.cluster-ro-${suffix}`].sort(),
    );
  });

  it('is looked at only for rds! names, and only by functions with RDS discovery (no DescribeSecret otherwise)', async () => {
    // Prepare: RDS's tag on a secret whose name is not RDS's (which Secrets Manager refuses to a
    // caller, as the local stack does), and a real rds! secret.
    const id = unique('pg');
    rds.registerInstance({
      identifier: id,
      engine: 'postgres',
      endpoint: { address: `${id}.abc123.us-east-1.rds.amazonaws.com`, port: 5432 },
      masterUsername: 'postgres',
    });
    const tags = { 'aws:rds:primaryDBInstanceArn': `arn:aws:rds:us-east-1:123456789012:db:${id}` };
    const refused = await createSecret(unique('masters/tagged'), masterValue, tags).catch((e: Error) => e);
    // Another service's secret carrying RDS's tag (only the service hook can make one): not an rds! name.
    const plain = stack.secretsManager.createServiceSecret({
      Name: `other!${randomUUID()}`,
      SecretString: JSON.stringify(masterValue),
      Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
    });
    const managed = await createSecret(`rds!db-${randomUUID()}`, masterValue, tags);
    const describes = stack.secretsManager.requests('DescribeSecret').length;

    // Act
    const ofPlain = await reader({}).fetchMaster(plain.ARN);
    const withoutDiscovery = await reader({}, { rds: false }).fetchMaster(managed.arn);

    // Assess
    expect((refused as Error).name).toBe('InvalidParameterException');
    expect(ofPlain.binding).toBeUndefined();
    expect(withoutDiscovery.binding).toBeUndefined();
    expect(stack.secretsManager.requests('DescribeSecret').length).toBe(describes);
  });

  it('gives way to a stage-file entry naming it', async () => {
    // Prepare
    const id = unique('pg');
    rds.registerInstance({
      identifier: id,
      engine: 'postgres',
      endpoint: { address: `${id}.abc123.us-east-1.rds.amazonaws.com`, port: 5432 },
      masterUsername: 'postgres',
    });
    const master = await createSecret(`rds!db-${randomUUID()}`, masterValue, {
      'aws:rds:primaryDBInstanceArn': `arn:aws:rds:us-east-1:123456789012:db:${id}`,
    });

    // Act
    const credential = await reader({
      masters: [{ secret: master.name, hosts: ['proxy.example.com'], tls: { mode: 'verify-full' } }],
    }).fetchMaster(master.arn);

    // Assess
    expect(credential.binding).toEqual({
      source: 'stage file',
      hosts: ['proxy.example.com'],
      tls: { mode: 'verify-full' },
    });
  });
});

describe('reading the master', () => {
  it('asks for AWSCURRENT by label, once per rotation, whatever form the id has', async () => {
    // Prepare
    const master = await createSecret(unique('masters/once'), masterValue);
    const token = randomUUID();
    const before = stack.secretsManager.requests('GetSecretValue').length;

    // Act: three steps of one rotation (one reader each), the master named two ways.
    await reader({}, { token }).fetchMaster(master.arn);
    await reader({}, { token }).fetchMaster(master.arn);
    await reader({}, { token }).fetchMaster(master.arn);
    await reader({}, { token }).fetchMaster(master.name);

    // Assess
    const reads = stack.secretsManager.requests('GetSecretValue').slice(before);
    expect(reads).toHaveLength(2);
    for (const read of reads) expect(read.input.VersionStage).toBe('AWSCURRENT');
  });
});
