/**
 * RDS in the stage file and the generated IAM (pure logic): a database function may describe the
 * instances and clusters its engines' secrets and bindings name, and modify only the databases
 * `rdsMasters:` binds to a secret of its engines (never what a secret's value names); nothing for
 * the API-key function, nothing on `*`.
 */
import { describe, expect, it } from 'vitest';
import { DeployConfigError, parseDeployConfig } from '../../deploy/config.js';
import { buildResources, roleLogicalId } from '../../deploy/template.js';

type Statement = { Sid?: string; Action: string | string[]; Resource: unknown };

const names = { service: 'rotor', stage: 'test' };
const entry = { schedule: 'rate(30 days)' };

function statements(config: unknown, fn: string): Statement[] {
  const { Resources } = buildResources(parseDeployConfig(config, 'test.yml'), names);
  const role = Resources[roleLogicalId(fn)] as {
    Properties: { Policies: { PolicyDocument: { Statement: Statement[] } }[] };
  };
  return role.Properties.Policies.flatMap((policy) => policy.PolicyDocument.Statement);
}

const rds = (type: 'db' | 'cluster', id: string) => ({
  'Fn::Sub': `arn:\${AWS::Partition}:rds:\${AWS::Region}:\${AWS::AccountId}:${type}:${id}`,
});

function rdsActions(list: Statement[]): Record<string, unknown> {
  return Object.fromEntries(
    list.filter((s) => JSON.stringify(s.Action).includes('rds:')).map((s) => [s.Sid, [s.Action, s.Resource]]),
  );
}

const config = {
  region: 'eu-west-1',
  secrets: [
    {
      ...entry,
      id: 'prod/orders',
      engine: 'postgres',
      strategy: 'single-user',
      dbInstanceIdentifier: 'orders',
    },
    {
      ...entry,
      id: 'prod/pg-master',
      engine: 'postgres',
      strategy: 'rds-master',
      dbInstanceIdentifier: 'reports',
    },
    {
      ...entry,
      id: 'prod/aurora-master',
      engine: 'aurora-postgresql',
      strategy: 'rds-master',
      dbInstanceIdentifier: 'ledger-1',
      dbClusterIdentifier: 'ledger',
    },
    { ...entry, id: 'prod/billing-master', engine: 'aurora-mysql', strategy: 'rds-master' },
    { ...entry, id: 'prod/api', engine: 'apikey', strategy: 'api-key' },
  ],
  rdsMasters: [
    { secret: 'prod/pg-master', dbInstanceIdentifier: 'reports' },
    // An Aurora cluster holds its instances' master: the cluster is what rds-master modifies.
    { secret: 'prod/aurora-master', dbClusterIdentifier: 'ledger' },
    { secret: 'prod/billing-master', dbClusterIdentifier: 'billing' },
  ],
};

describe('RDS permissions generated from the stage file', () => {
  it('lets the postgres function describe what its secrets name, and modify only the databases rdsMasters binds', () => {
    // Act
    const granted = rdsActions(statements(config, 'postgres'));

    // Assess
    expect(granted).toEqual({
      DescribeRdsInstances: [
        'rds:DescribeDBInstances',
        [rds('db', 'orders'), rds('db', 'reports'), rds('db', 'ledger-1')],
      ],
      DescribeRdsClusters: ['rds:DescribeDBClusters', [rds('cluster', 'ledger')]],
      // ledger-1 belongs to the ledger cluster, which holds its master: rdsMasters binds the cluster.
      RdsMasterPasswordInstances: ['rds:ModifyDBInstance', [rds('db', 'reports')]],
      RdsMasterPasswordClusters: ['rds:ModifyDBCluster', [rds('cluster', 'ledger')]],
    });
  });

  it("gives each function only its own engines' databases, and none to the API-key function", () => {
    // Act
    const mysql = rdsActions(statements(config, 'mysql'));
    const apikey = rdsActions(statements(config, 'apikey'));

    // Assess
    expect(mysql).toEqual({
      DescribeRdsClusters: ['rds:DescribeDBClusters', [rds('cluster', 'billing')]],
      RdsMasterPasswordClusters: ['rds:ModifyDBCluster', [rds('cluster', 'billing')]],
    });
    expect(apikey).toEqual({});
  });

  it('grants no RDS action at all when no secret names a database', () => {
    // Act
    const granted = rdsActions(
      statements(
        {
          region: 'eu-west-1',
          secrets: [{ ...entry, id: 'a', engine: 'postgres', strategy: 'single-user' }],
        },
        'postgres',
      ),
    );

    // Assess
    expect(granted).toEqual({});
  });

  it.each([
    [
      'rds-master without an rdsMasters entry, even when the secret entry names a database',
      { id: 'x', engine: 'postgres', strategy: 'rds-master', dbInstanceIdentifier: 'orders' },
      /secrets\.0 \(x\): strategy rds-master needs an rdsMasters entry/,
    ],
    [
      'a database on an API key',
      { id: 'x', engine: 'apikey', strategy: 'api-key', dbInstanceIdentifier: 'orders' },
      /apply to database engines only/,
    ],
    [
      'a malformed identifier',
      { id: 'x', engine: 'mysql', strategy: 'single-user', dbClusterIdentifier: 'bad--id' },
      /secrets\.0\.dbClusterIdentifier \(x\): must be an RDS DB cluster identifier/,
    ],
  ])('refuses %s, naming the entry', (_name, secret, message) => {
    // Act
    let text = '';
    try {
      parseDeployConfig({ region: 'eu-west-1', secrets: [{ ...entry, ...secret }] }, 'test.yml');
    } catch (error) {
      expect(error).toBeInstanceOf(DeployConfigError);
      text = (error as Error).message;
    }

    // Assess
    expect(text).toMatch(message);
  });
});
