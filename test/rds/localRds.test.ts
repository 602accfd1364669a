/**
 * The local RDS endpoint through the real `@aws-sdk/client-rds`: the Query protocol (form-encoded
 * requests, XML answers and errors) for the four operations rotor uses, and RDS's asynchronous way
 * of applying a master password change. The admin hook here records what reached "the server";
 * the rotation suites use the real PostgreSQL and MariaDB hooks.
 */
import {
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  ModifyDBClusterCommand,
  ModifyDBInstanceCommand,
  RDSClient,
  RDSServiceException,
} from '@aws-sdk/client-rds';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalRds, startLocalRds } from '../../local/rds.js';

let rds: LocalRds;
let client: RDSClient;
/** Passwords that reached each database's hook, in order. */
const applied = new Map<string, string[]>();

function hook(identifier: string) {
  return async (password: string) => {
    applied.set(identifier, [...(applied.get(identifier) ?? []), password]);
  };
}

async function failure(work: Promise<unknown>): Promise<RDSServiceException> {
  const error = await work.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(RDSServiceException);
  return error as RDSServiceException;
}

beforeAll(async () => {
  rds = await startLocalRds({ applyDelayMs: 0 });
  client = new RDSClient(rds.clientConfig);
  rds.registerInstance({
    identifier: 'orders-db',
    engine: 'postgres',
    engineVersion: '17.2',
    endpoint: { address: 'orders-db.abc123.us-east-1.rds.amazonaws.com', port: 5432 },
    masterUsername: 'postgres',
    setMasterPassword: hook('orders-db'),
  });
  rds.registerInstance({
    identifier: 'managed-db',
    engine: 'mariadb',
    endpoint: { address: 'managed-db.abc123.us-east-1.rds.amazonaws.com', port: 3306 },
    masterUsername: 'admin',
    manageMasterUserPassword: true,
  });
  rds.registerCluster({
    identifier: 'billing',
    engine: 'aurora-mysql',
    endpoint: { address: 'billing.cluster-abc123.us-east-1.rds.amazonaws.com', port: 3306 },
    readerEndpoint: 'billing.cluster-ro-abc123.us-east-1.rds.amazonaws.com',
    customEndpoints: ['reports.cluster-custom-abc123.us-east-1.rds.amazonaws.com'],
    masterUsername: 'admin',
    members: [
      {
        identifier: 'billing-1',
        endpoint: { address: 'billing-1.abc123.us-east-1.rds.amazonaws.com', port: 3306 },
        writer: true,
      },
      {
        identifier: 'billing-2',
        endpoint: { address: 'billing-2.abc123.us-east-1.rds.amazonaws.com', port: 3306 },
      },
    ],
    setMasterPassword: hook('billing'),
  });
});

afterAll(async () => {
  client?.destroy();
  await rds?.stop();
});

describe('local RDS through @aws-sdk/client-rds', () => {
  it('DescribeDBInstances returns an instance with its endpoint, engine and master user', async () => {
    // Act
    const out = await client.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: 'orders-db' }));

    // Assess
    expect(out.DBInstances).toHaveLength(1);
    expect(out.DBInstances?.[0]).toMatchObject({
      DBInstanceIdentifier: 'orders-db',
      Engine: 'postgres',
      EngineVersion: '17.2',
      DBInstanceStatus: 'available',
      MasterUsername: 'postgres',
      Endpoint: { Address: 'orders-db.abc123.us-east-1.rds.amazonaws.com', Port: 5432 },
      DBInstanceArn: 'arn:aws:rds:us-east-1:123456789012:db:orders-db',
    });
    expect(out.DBInstances?.[0]?.MasterUserSecret).toBeUndefined();
    expect(out.DBInstances?.[0]?.PendingModifiedValues?.MasterUserPassword).toBeUndefined();
  });

  it('reports the MasterUserSecret of a database whose master password RDS manages', async () => {
    // Act
    const out = await client.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: 'managed-db' }));

    // Assess
    expect(out.DBInstances?.[0]?.MasterUserSecret).toMatchObject({
      SecretArn: expect.stringMatching(
        /^arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-managed-db/,
      ),
      SecretStatus: 'active',
    });
  });

  it('DescribeDBClusters returns writer, reader and custom endpoints, port and members', async () => {
    // Act
    const out = await client.send(new DescribeDBClustersCommand({ DBClusterIdentifier: 'billing' }));

    // Assess
    expect(out.DBClusters?.[0]).toMatchObject({
      DBClusterIdentifier: 'billing',
      Engine: 'aurora-mysql',
      Status: 'available',
      Endpoint: 'billing.cluster-abc123.us-east-1.rds.amazonaws.com',
      ReaderEndpoint: 'billing.cluster-ro-abc123.us-east-1.rds.amazonaws.com',
      CustomEndpoints: ['reports.cluster-custom-abc123.us-east-1.rds.amazonaws.com'],
      Port: 3306,
      MasterUsername: 'admin',
      DBClusterMembers: [
        { DBInstanceIdentifier: 'billing-1', IsClusterWriter: true },
        { DBInstanceIdentifier: 'billing-2', IsClusterWriter: false },
      ],
    });
  });

  it('DescribeDBInstances filtered by db-cluster-id returns the members with their endpoints', async () => {
    // Act
    const out = await client.send(
      new DescribeDBInstancesCommand({ Filters: [{ Name: 'db-cluster-id', Values: ['billing'] }] }),
    );

    // Assess
    expect(
      out.DBInstances?.map((i) => [i.DBInstanceIdentifier, i.DBClusterIdentifier, i.Endpoint?.Address]),
    ).toEqual([
      ['billing-1', 'billing', 'billing-1.abc123.us-east-1.rds.amazonaws.com'],
      ['billing-2', 'billing', 'billing-2.abc123.us-east-1.rds.amazonaws.com'],
    ]);
  });

  it('answers an unknown instance with DBInstanceNotFoundFault, HTTP 404', async () => {
    // Act
    const error = await failure(
      client.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: 'nope' })),
    );

    // Assess
    expect(error.name).toBe('DBInstanceNotFoundFault');
    expect(error.$metadata.httpStatusCode).toBe(404);
    expect(error.message).toBe('DBInstance nope not found.');
  });

  it('answers an unknown cluster with DBClusterNotFoundFault, HTTP 404', async () => {
    // Act
    const error = await failure(client.send(new DescribeDBClustersCommand({ DBClusterIdentifier: 'nope' })));

    // Assess
    expect(error.name).toBe('DBClusterNotFoundFault');
    expect(error.$metadata.httpStatusCode).toBe(404);
  });

  it('ModifyDBInstance leaves the change pending, then applies it: pending visible, hook run, pending gone', async () => {
    // Prepare
    rds.setApplyMode('orders-db', 'after-delay', 200);

    // Act
    const out = await client.send(
      new ModifyDBInstanceCommand({
        DBInstanceIdentifier: 'orders-db',
        MasterUserPassword: 'First-password-1',
        ApplyImmediately: true,
      }),
    );
    const during = await client.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: 'orders-db' }));
    await rds.settled();
    const after = await client.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: 'orders-db' }));

    // Assess
    expect(out.DBInstance?.PendingModifiedValues?.MasterUserPassword).toBe('****');
    expect(during.DBInstances?.[0]?.DBInstanceStatus).toBe('resetting-master-credentials');
    expect(applied.get('orders-db')).toEqual(['First-password-1']);
    expect(after.DBInstances?.[0]?.DBInstanceStatus).toBe('available');
    expect(after.DBInstances?.[0]?.PendingModifiedValues?.MasterUserPassword).toBeUndefined();
  });

  it('ModifyDBCluster applies to the cluster, and in "never" mode the change stays pending', async () => {
    // Prepare
    rds.setApplyMode('billing', 'never');

    // Act
    await client.send(
      new ModifyDBClusterCommand({
        DBClusterIdentifier: 'billing',
        MasterUserPassword: 'Never-applied-1',
        ApplyImmediately: true,
      }),
    );
    await rds.settled();
    const cluster = await client.send(new DescribeDBClustersCommand({ DBClusterIdentifier: 'billing' }));
    rds.setApplyMode('billing', 'after-delay', 0);
    const later = await client.send(new DescribeDBClustersCommand({ DBClusterIdentifier: 'billing' }));

    // Assess
    expect(cluster.DBClusters?.[0]?.PendingModifiedValues?.MasterUserPassword).toBe('****');
    expect(applied.get('billing')).toBeUndefined();
    expect(later.DBClusters?.[0]?.PendingModifiedValues?.MasterUserPassword).toBeUndefined();
  });

  it('refuses MasterUserPassword where RDS manages it, or on a member of a cluster (InvalidParameterCombination)', async () => {
    // Act
    const managed = await failure(
      client.send(
        new ModifyDBInstanceCommand({
          DBInstanceIdentifier: 'managed-db',
          MasterUserPassword: 'Managed-pass-1',
        }),
      ),
    );
    const member = await failure(
      client.send(
        new ModifyDBInstanceCommand({
          DBInstanceIdentifier: 'billing-1',
          MasterUserPassword: 'Member-pass-1',
        }),
      ),
    );

    // Assess
    expect([managed.name, managed.$metadata.httpStatusCode]).toEqual(['InvalidParameterCombination', 400]);
    expect(member.name).toBe('InvalidParameterCombination');
    expect(member.message).toMatch(/ModifyDbCluster/);
  });

  it.each([
    ['too short', 'Short-1'],
    ['with an @', 'has-an-@-sign-123'],
    ['with a space', 'has a space 12345'],
    ['too long for MySQL', 'x'.repeat(42)],
  ])('refuses a master password %s (InvalidParameterValue) and changes nothing', async (_name, password) => {
    // Prepare
    const before = applied.get('billing')?.length ?? 0;

    // Act
    const error = await failure(
      client.send(
        new ModifyDBClusterCommand({ DBClusterIdentifier: 'billing', MasterUserPassword: password }),
      ),
    );

    // Assess
    expect(error.name).toBe('InvalidParameterValue');
    expect(error.message).not.toContain(password);
    await rds.settled();
    expect(applied.get('billing')?.length ?? 0).toBe(before);
  });

  it('counts calls by action and identifier, without their parameters', () => {
    // Assess
    expect(rds.count('DescribeDBClusters', 'billing')).toBeGreaterThanOrEqual(3);
    expect(JSON.stringify(rds.calls)).not.toContain('First-password-1');
  });
});
