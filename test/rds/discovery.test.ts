/**
 * Endpoint discovery (handlers/rds.ts) through the real RDS and Secrets Manager clients against the
 * local RDS endpoint and the local stack: what a value gains (host, port, engine, the port to RDS),
 * what it is refused for (a host that is not the database's), what it costs (calls per
 * invocation). No database server is needed: discovery never logs in.
 */
import { RDSClient } from '@aws-sdk/client-rds';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RdsDiscovery, type RdsEnricher } from '../../handlers/rds.js';
import { type LocalRds, startLocalRds } from '../../local/rds.js';
import { type LocalStack, startLocalStack } from '../../local/stack.js';
import { InvalidSecretError, PermissionDeniedError } from '../../rotators/errors.js';

const ORDERS = { address: 'orders.abc123.us-east-1.rds.amazonaws.com', port: 5432 };
const BILLING = {
  writer: 'billing.cluster-abc123.us-east-1.rds.amazonaws.com',
  reader: 'billing.cluster-ro-abc123.us-east-1.rds.amazonaws.com',
  custom: 'reports.cluster-custom-abc123.us-east-1.rds.amazonaws.com',
  member: 'billing-2.abc123.us-east-1.rds.amazonaws.com',
};
const ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:app-AbCdEf';

let rds: LocalRds;
let stack: LocalStack;
let rdsClient: RDSClient;
let sm: SecretsManagerClient;
let discovery: RdsDiscovery;

beforeAll(async () => {
  rds = await startLocalRds();
  stack = await startLocalStack();
  rdsClient = new RDSClient(rds.clientConfig);
  sm = new SecretsManagerClient(stack.clientConfig);
  discovery = new RdsDiscovery({ rds: () => rdsClient, secretsManager: sm });
  rds.registerInstance({
    identifier: 'orders',
    engine: 'postgres',
    endpoint: ORDERS,
    masterUsername: 'postgres',
  });
  rds.registerInstance({
    identifier: 'managed',
    engine: 'mariadb',
    endpoint: { address: 'managed.abc123.us-east-1.rds.amazonaws.com', port: 3306 },
    masterUsername: 'admin',
    manageMasterUserPassword: true,
  });
  rds.registerCluster({
    identifier: 'billing',
    engine: 'aurora-postgresql',
    endpoint: { address: BILLING.writer, port: 5433 },
    readerEndpoint: BILLING.reader,
    customEndpoints: [BILLING.custom],
    masterUsername: 'dbadmin',
    members: [
      {
        identifier: 'billing-1',
        endpoint: { address: 'billing-1.abc123.us-east-1.rds.amazonaws.com', port: 5433 },
        writer: true,
      },
      { identifier: 'billing-2', endpoint: { address: BILLING.member, port: 5433 } },
    ],
  });
  // A stand-in whose endpoints do not follow RDS's naming (as local databases do).
  rds.registerCluster({
    identifier: 'local',
    engine: 'aurora-mysql',
    endpoint: { address: 'writer.local.test', port: 3306 },
    masterUsername: 'admin',
    members: [{ identifier: 'local-1', endpoint: { address: 'member.local.test', port: 3306 } }],
  });
});

afterAll(async () => {
  rdsClient?.destroy();
  sm?.destroy();
  await rds?.stop();
  await stack?.stop();
});

function enricher(): RdsEnricher {
  return discovery.forInvocation(AbortSignal.timeout(10_000));
}

async function refusal(work: Promise<unknown>): Promise<InvalidSecretError> {
  const error = await work.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(InvalidSecretError);
  return error as InvalidSecretError;
}

const user = { username: 'app', password: 'Secret-password-1' };

describe('RDS endpoint discovery', () => {
  it('fills host, port and engine of a secret that names its DB instance, and keeps the rest', async () => {
    // Act
    const { value, managedDatabase } = await enricher().enrich(
      { ...user, dbInstanceIdentifier: 'orders', appKey: 'kept' },
      { secretArn: ARN, label: 'AWSCURRENT' },
    );

    // Assess
    expect(value).toEqual({
      ...user,
      dbInstanceIdentifier: 'orders',
      appKey: 'kept',
      host: ORDERS.address,
      port: ORDERS.port,
      engine: 'postgres',
    });
    expect(managedDatabase).toMatchObject({
      kind: 'instance',
      identifier: 'orders',
      engine: 'postgres',
      masterUsername: 'postgres',
      managesMasterPassword: false,
    });
  });

  it('fills a cluster secret with its writer endpoint and port; the port manages the cluster', async () => {
    // Act
    const { value, managedDatabase } = await enricher().enrich(
      { ...user, dbClusterIdentifier: 'billing' },
      { secretArn: ARN, label: 'AWSCURRENT' },
    );

    // Assess
    expect(value).toMatchObject({ host: BILLING.writer, port: 5433, engine: 'aurora-postgresql' });
    expect(managedDatabase).toMatchObject({
      kind: 'cluster',
      identifier: 'billing',
      masterUsername: 'dbadmin',
    });
  });

  it.each([
    ['the writer endpoint', BILLING.writer],
    ['the reader endpoint', BILLING.reader],
    ['a custom endpoint', BILLING.custom],
    ['a member instance endpoint', BILLING.member],
    ['an endpoint written in capitals with a trailing dot', `${BILLING.reader.toUpperCase()}.`],
  ])('accepts a cluster secret whose host is %s', async (_name, host) => {
    // Act
    const { value } = await enricher().enrich(
      { ...user, host, dbClusterIdentifier: 'billing', engine: 'postgres' },
      { secretArn: ARN, label: 'AWSCURRENT' },
    );

    // Assess: the value's own host and engine stay as written.
    expect(value).toMatchObject({ host, engine: 'postgres', port: 5433 });
  });

  it('refuses a host that is not an endpoint of the named instance, naming host and the endpoint', async () => {
    // Act
    const error = await refusal(
      enricher().enrich(
        { ...user, host: 'evil.example.com', dbInstanceIdentifier: 'orders' },
        { secretArn: ARN, label: 'AWSCURRENT' },
      ),
    );

    // Assess
    expect(error.field).toBe('host');
    expect(error.label).toBe('AWSCURRENT');
    expect(error.message).toContain(ORDERS.address);
    expect(error.message).not.toContain(user.password);
  });

  it('refuses a cluster secret whose host belongs to another cluster or instance', async () => {
    // Act
    const error = await refusal(
      enricher().enrich(
        { ...user, host: ORDERS.address, dbClusterIdentifier: 'billing' },
        { secretArn: ARN, label: 'AWSPENDING' },
      ),
    );

    // Assess
    expect([error.field, error.label]).toEqual(['host', 'AWSPENDING']);
    expect(error.message).toMatch(/member instance/);
  });

  it("refuses a port that is not the endpoint's", async () => {
    // Act
    const error = await refusal(
      enricher().enrich(
        { ...user, port: '5439', dbInstanceIdentifier: 'orders' },
        { secretArn: ARN, label: 'AWSCURRENT' },
      ),
    );

    // Assess
    expect(error.field).toBe('port');
    expect(error.message).toContain('5432');
  });

  it('refuses an engine of another family than the database runs', async () => {
    // Act
    const error = await refusal(
      enricher().enrich(
        { ...user, engine: 'mysql', dbInstanceIdentifier: 'orders' },
        { secretArn: ARN, label: 'AWSCURRENT' },
      ),
    );

    // Assess
    expect(error.field).toBe('engine');
  });

  it('refuses a value naming both an instance and a cluster, or a malformed identifier, before any call', async () => {
    // Prepare
    const calls = rds.calls.length;

    // Act
    const both = await refusal(
      enricher().enrich(
        { ...user, dbInstanceIdentifier: 'orders', dbClusterIdentifier: 'billing' },
        { secretArn: ARN, label: 'AWSCURRENT' },
      ),
    );
    const malformed = await refusal(
      enricher().enrich(
        { ...user, dbInstanceIdentifier: 'orders--db' },
        { secretArn: ARN, label: 'AWSCURRENT' },
      ),
    );

    // Assess
    expect(both.field).toBe('dbClusterIdentifier');
    expect(malformed.field).toBe('dbInstanceIdentifier');
    expect(rds.calls.length).toBe(calls);
  });

  it('refuses an identifier RDS does not know, naming the field', async () => {
    // Act
    const error = await refusal(
      enricher().enrich({ ...user, dbClusterIdentifier: 'gone' }, { secretArn: ARN, label: 'AWSCURRENT' }),
    );

    // Assess
    expect(error.field).toBe('dbClusterIdentifier');
    expect(error.message).toMatch(/"gone", which does not exist/);
  });

  it("reports RDS's own management of the master password on the port", async () => {
    // Act
    const { managedDatabase } = await enricher().enrich(
      { username: 'admin', password: 'x', dbInstanceIdentifier: 'managed' },
      { secretArn: ARN, label: 'AWSCURRENT' },
    );

    // Assess
    expect(managedDatabase?.managesMasterPassword).toBe(true);
  });

  it('an instance of a cluster gets a port to the cluster, which holds the master password', async () => {
    // Act
    const { value, managedDatabase } = await enricher().enrich(
      { ...user, dbInstanceIdentifier: 'billing-2' },
      { secretArn: ARN, label: 'AWSCURRENT' },
    );

    // Assess
    expect(value.host).toBe(BILLING.member);
    expect(managedDatabase).toMatchObject({
      kind: 'cluster',
      identifier: 'billing',
      masterUsername: 'dbadmin',
    });
  });

  it("finds an RDS-managed secret's database from its aws:rds tags (username and password only)", async () => {
    // Prepare
    // As RDS creates its master secrets: `rds!db-…`, tagged by the service (callers cannot set aws: tags).
    const created = stack.secretsManager.createServiceSecret({
      Name: `rds!db-${Date.now()}`,
      SecretString: JSON.stringify(user),
      Tags: [{ Key: 'aws:rds:primaryDBInstanceArn', Value: 'arn:aws:rds:us-east-1:123456789012:db:orders' }],
    });

    // Act
    const { value, managedDatabase } = await enricher().enrich(user, {
      secretArn: created.ARN,
      label: 'AWSCURRENT',
    });

    // Assess
    expect(value).toEqual({ ...user, host: ORDERS.address, port: ORDERS.port, engine: 'postgres' });
    expect(managedDatabase?.identifier).toBe('orders');
  });

  it('finds a cluster from the aws:rds:primaryDBClusterArn tag', async () => {
    // Prepare
    const created = stack.secretsManager.createServiceSecret({
      Name: `rds!cluster-${Date.now()}`,
      SecretString: JSON.stringify(user),
      Tags: [
        { Key: 'aws:rds:primaryDBClusterArn', Value: 'arn:aws:rds:us-east-1:123456789012:cluster:billing' },
      ],
    });

    // Act
    const { managedDatabase } = await enricher().enrich(user, {
      secretArn: created.ARN,
      label: 'AWSCURRENT',
    });

    // Assess
    expect(managedDatabase).toMatchObject({ kind: 'cluster', identifier: 'billing' });
  });

  it('cannot be fooled by a caller: Secrets Manager refuses aws:rds tags on a secret anyone creates', async () => {
    // Act
    const error = await sm
      .send(
        new CreateSecretCommand({
          Name: `not-rds-${Date.now()}`,
          SecretString: JSON.stringify(user),
          Tags: [
            { Key: 'aws:rds:primaryDBInstanceArn', Value: 'arn:aws:rds:us-east-1:123456789012:db:orders' },
          ],
        }),
      )
      .catch((caught: Error) => caught);

    // Assess
    expect(error).toMatchObject({
      name: 'InvalidParameterException',
      message: "You can't modify system tags. Tag key: 'aws:rds:primaryDBInstanceArn'.",
    });
  });

  it('makes no call at all for a secret that names no database (host or engine given)', async () => {
    // Prepare
    const before = rds.calls.length;
    const sut = enricher();
    const value = { engine: 'postgres', host: 'db.example.com', ...user };

    // Act
    const enriched = await sut.enrich(value, { secretArn: ARN, label: 'AWSCURRENT' });

    // Assess
    expect(enriched).toEqual({ value });
    expect(sut.calls).toEqual({});
    expect(rds.calls.length).toBe(before);
  });

  it("recognises a member's endpoint from RDS's naming, without describing the members", async () => {
    // Prepare
    const sut = enricher();

    // Act
    await sut.enrich(
      { ...user, host: BILLING.member, dbClusterIdentifier: 'billing' },
      { secretArn: ARN, label: 'AWSCURRENT' },
    );

    // Assess
    expect(sut.calls).toEqual({ 'rds:DescribeDBClusters': 1 });
  });

  it("looks a member's endpoint up, once, when the cluster's endpoints do not follow RDS's naming", async () => {
    // Prepare
    const sut = enricher();

    // Act
    for (const label of ['AWSCURRENT', 'AWSPENDING']) {
      await sut.enrich(
        { ...user, host: 'MEMBER.local.test', dbClusterIdentifier: 'local' },
        { secretArn: ARN, label },
      );
    }
    const refused = await refusal(
      sut.enrich(
        { ...user, host: 'other.local.test', dbClusterIdentifier: 'local' },
        { secretArn: ARN, label: 'AWSPREVIOUS' },
      ),
    );

    // Assess
    expect(sut.calls).toEqual({ 'rds:DescribeDBClusters': 1, 'rds:DescribeDBInstances': 1 });
    expect(refused.field).toBe('host');
  });

  it('describes a database once per invocation however many versions name it; a new invocation asks again', async () => {
    // Prepare
    const first = enricher();
    const before = rds.count('DescribeDBClusters', 'billing');

    // Act: AWSCURRENT, AWSPENDING and AWSPREVIOUS of one secret, then the next step's invocation.
    for (const label of ['AWSCURRENT', 'AWSPENDING', 'AWSPREVIOUS']) {
      await first.enrich({ ...user, dbClusterIdentifier: 'billing' }, { secretArn: ARN, label });
    }
    const second = enricher();
    await second.enrich({ ...user, dbClusterIdentifier: 'billing' }, { secretArn: ARN, label: 'AWSCURRENT' });

    // Assess
    expect(first.calls).toEqual({ 'rds:DescribeDBClusters': 1 });
    expect(second.calls).toEqual({ 'rds:DescribeDBClusters': 1 });
    expect(rds.count('DescribeDBClusters', 'billing')).toBe(before + 2);
  });

  it('turns a refused Describe into a PermissionDeniedError that says what to grant', async () => {
    // Prepare: a client whose every call is refused the way IAM refuses it.
    const denied = new RDSClient(rds.clientConfig);
    denied.middlewareStack.add(
      () => async () => {
        const error = new Error(
          'User: arn:aws:sts::1:assumed-role/x is not authorized to perform: rds:DescribeDBInstances',
        );
        error.name = 'AccessDenied';
        throw error;
      },
      { step: 'finalizeRequest' },
    );
    const sut = new RdsDiscovery({ rds: () => denied, secretsManager: sm }).forInvocation(
      AbortSignal.timeout(5_000),
    );

    // Act
    const error = await sut
      .enrich({ ...user, dbInstanceIdentifier: 'orders' }, { secretArn: ARN, label: 'AWSCURRENT' })
      .then(
        () => undefined,
        (caught: unknown) => caught,
      );

    // Assess
    expect(error).toBeInstanceOf(PermissionDeniedError);
    expect((error as Error).message).toMatch(
      /DescribeDBInstances on RDS DB instance "orders" was denied \(AccessDenied\)/,
    );
    expect((error as Error).message).not.toContain('assumed-role');
    denied.destroy();
  });
});
