/**
 * Trust boundaries in the stage file (pure logic): master bindings, rds-master bindings and the
 * adoption record are validated offline with the entry, field and expectation named; they reach
 * each function's environment in the shared ROTOR_MASTERS / ROTOR_RDS_MASTERS format, only for the
 * engines that use them; and each role may read only its own related secrets, whatever form of
 * secret reference the stage file uses. test/deploy/serverless.test.ts checks the same in the
 * CloudFormation osls generates.
 */
import { describe, expect, it } from 'vitest';
import { DeployConfigError, parseDeployConfig } from '../../deploy/config.js';
import {
  buildResources,
  mastersJson,
  rdsMastersJson,
  roleLogicalId,
  secretResource,
} from '../../deploy/template.js';

type Statement = { Sid?: string; Action: string | string[]; Resource: unknown; Condition?: unknown };

const names = { service: 'rotor', stage: 'test' };
const ACCOUNT = '111122223333';
const REGION = 'eu-west-1';
const arn = (name: string) => `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${name}`;

const RDS_DB_SECRET = 'rds!db-0a1b2c3d-4e5f-6789-abcd-ef0123456789';
const RDS_CLUSTER_SECRET = 'rds!cluster-9f8e7d6c-5b4a-3210-fedc-ba9876543210';

const base = {
  region: REGION,
  masters: [
    {
      secret: 'prod/pg/master',
      engine: 'postgres',
      host: 'orders.example.com',
      port: 5432,
      tls: { mode: 'verify-ca', serverName: 'orders.internal' },
      manages: ['app_*'],
    },
    { secret: RDS_DB_SECRET, engine: 'aurora-postgresql', dbInstanceIdentifier: 'ledger-1' },
    { secret: `${arn(RDS_CLUSTER_SECRET)}-Xy12Zw`, engine: 'mariadb', dbClusterIdentifier: 'billing' },
  ],
  rdsMasters: [{ secret: 'prod/reports/master', engine: 'postgres', dbInstanceIdentifier: 'reports' }],
  relatedSecrets: {
    mysql: [`${arn('prod/mysql/legacy')}`],
    apikey: [`${arn('prod/payments/admin')}-AbCdEf`],
  },
};

function refusal(config: unknown): string {
  try {
    parseDeployConfig(config, 'deploy/stages/test.yml');
  } catch (error) {
    expect(error).toBeInstanceOf(DeployConfigError);
    return (error as Error).message;
  }
  throw new Error('expected the configuration to be refused');
}

/** IAM's ARN matching (`*` any run, `?` one character), after CloudFormation's pseudo parameters. */
function iamMatches(resource: unknown, target: string): boolean {
  const text =
    typeof resource === 'string'
      ? resource
      : String((resource as { 'Fn::Sub': string })['Fn::Sub'])
          .replaceAll('${AWS::Partition}', 'aws')
          .replaceAll('${AWS::Region}', REGION)
          .replaceAll('${AWS::AccountId}', ACCOUNT);
  const pattern = text
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${pattern}$`).test(target);
}

function roleStatements(config: unknown, fn: string): Statement[] {
  const { Resources } = buildResources(parseDeployConfig(config, 'test.yml'), names);
  const role = Resources[roleLogicalId(fn)] as {
    Properties: { Policies: { PolicyDocument: { Statement: Statement[] } }[] };
  };
  return role.Properties.Policies.flatMap((policy) => policy.PolicyDocument.Statement);
}

/** Whether a role may GetSecretValue on a secret without the rotation condition (a related read). */
function canRead(config: unknown, fn: string, secretArn: string): boolean {
  return roleStatements(config, fn).some((statement) => {
    const actions = Array.isArray(statement.Action) ? statement.Action : [statement.Action];
    if (!actions.includes('secretsmanager:GetSecretValue') || statement.Condition !== undefined) return false;
    const resources = Array.isArray(statement.Resource) ? statement.Resource : [statement.Resource];
    return resources.some((resource) => iamMatches(resource, secretArn));
  });
}

describe('master bindings in the stage file', () => {
  it('writes each database function only its engines’ bindings, in the ROTOR_MASTERS format', () => {
    // Prepare
    const config = parseDeployConfig(base, 'test.yml');

    // Act
    const postgres = JSON.parse(mastersJson(config, 'postgres'));
    const mysql = JSON.parse(mastersJson(config, 'mysql'));
    const heal = JSON.parse(mastersJson(config, 'heal'));

    // Assess
    expect(postgres).toEqual([
      {
        secret: 'prod/pg/master',
        hosts: ['orders.example.com'],
        port: 5432,
        tls: { mode: 'verify-ca', serverName: 'orders.internal' },
        manages: ['app_*'],
      },
      { secret: RDS_DB_SECRET, dbInstanceIdentifier: 'ledger-1' },
    ]);
    expect(mysql).toEqual([{ secret: `${arn(RDS_CLUSTER_SECRET)}-Xy12Zw`, dbClusterIdentifier: 'billing' }]);
    expect(heal).toEqual([...postgres, ...mysql]);
    expect(mastersJson(config, 'apikey')).toBe('[]');
  });

  it('writes rds-master bindings to the function of their engine only, in the ROTOR_RDS_MASTERS format', () => {
    // Prepare
    const config = parseDeployConfig(base, 'test.yml');

    // Assess
    expect(JSON.parse(rdsMastersJson(config, 'postgres'))).toEqual([
      { secret: 'prod/reports/master', dbInstanceIdentifier: 'reports' },
    ]);
    expect(JSON.parse(rdsMastersJson(config, 'mysql'))).toEqual([]);
    expect(JSON.parse(rdsMastersJson(config, 'heal'))).toEqual([
      { secret: 'prod/reports/master', dbInstanceIdentifier: 'reports' },
    ]);
  });

  it('defaults a binding’s TLS mode to verified TLS when it names only a CA or server name', () => {
    // Prepare
    const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
    const config = parseDeployConfig(
      { region: REGION, masters: [{ secret: 'm', engine: 'mysql', hosts: ['a', 'b'], tls: { ca: pem } }] },
      'test.yml',
    );

    // Assess
    expect(JSON.parse(mastersJson(config, 'mysql'))).toEqual([
      { secret: 'm', hosts: ['a', 'b'], tls: { mode: 'verify-full', ca: pem } },
    ]);
  });

  it.each([
    [
      'a binding without an endpoint',
      { secret: 'm', engine: 'postgres' },
      /masters\.0 \(m\): needs exactly one of host, hosts, dbInstanceIdentifier, dbClusterIdentifier/,
    ],
    [
      'a binding with two endpoints',
      { secret: 'm', engine: 'postgres', host: 'a.example.com', dbInstanceIdentifier: 'orders' },
      /masters\.0 \(m\): needs exactly one of .*, not host and dbInstanceIdentifier/,
    ],
    [
      'a binding without an engine',
      { secret: 'm', host: 'a.example.com' },
      /masters\.0\.engine \(m\): required: must be one of: postgres, aurora-postgresql, mysql/,
    ],
    [
      'a binding for the API-key engine',
      { secret: 'm', engine: 'apikey', host: 'a.example.com' },
      /masters\.0\.engine \(m\): must be one of/,
    ],
    [
      'a host with a path',
      { secret: 'm', engine: 'postgres', host: 'evil.example.com/x' },
      /masters\.0\.host \(m\): must be a host name or IP address/,
    ],
    [
      'an empty host list',
      { secret: 'm', engine: 'postgres', hosts: [] },
      /masters\.0\.hosts \(m\): must list at least one host/,
    ],
    [
      'a port out of range',
      { secret: 'm', engine: 'postgres', host: 'a', port: 70000 },
      /masters\.0\.port \(m\): must be a port number \(1 to 65535\)/,
    ],
    [
      'an unknown TLS mode',
      { secret: 'm', engine: 'postgres', host: 'a', tls: { mode: 'prefer' } },
      /masters\.0\.tls\.mode \(m\): must be one of: verify-full, verify-ca, disable/,
    ],
    [
      'a CA with TLS disabled',
      { secret: 'm', engine: 'postgres', host: 'a', tls: { mode: 'disable', serverName: 'x' } },
      /masters\.0\.tls \(m\): ca and serverName apply to verified TLS/,
    ],
    [
      'a CA that is not PEM',
      { secret: 'm', engine: 'postgres', host: 'a', tls: { ca: 'MIIB...' } },
      /masters\.0\.tls\.ca \(m\): must be PEM certificates/,
    ],
    [
      'a manages pattern with a space',
      { secret: 'm', engine: 'postgres', host: 'a', manages: ['app *'] },
      /masters\.0\.manages\.0 \(m\): must be a user name pattern without spaces/,
    ],
    [
      'a wildcard secret name',
      { secret: 'prod/*', engine: 'postgres', host: 'a' },
      /masters\.0\.secret \(prod\/\*\): must be a secret name .*rds!db-/,
    ],
    [
      'a master ARN in another region',
      {
        secret: 'arn:aws:secretsmanager:us-east-1:111122223333:secret:m-AbCdEf',
        engine: 'postgres',
        host: 'a',
      },
      /masters\.0\.secret \(arn:.*\): not in region eu-west-1 \(the ARN says us-east-1\)/,
    ],
  ])('refuses %s, naming the entry, field and expectation', (_name, master, message) => {
    // Act
    const text = refusal({ region: REGION, masters: [master] });

    // Assess
    expect(text).toMatch(message);
    expect(text).toContain('deploy/stages/test.yml');
  });

  it('refuses one master bound twice, under its name and its ARN', () => {
    // Act
    const text = refusal({
      region: REGION,
      masters: [
        { secret: 'prod/m', engine: 'postgres', host: 'a' },
        { secret: `${arn('prod/m')}-AbCdEf`, engine: 'postgres', host: 'b' },
      ],
    });

    // Assess
    expect(text).toMatch(/masters\.1 \(arn:.*prod\/m-AbCdEf\): listed twice/);
  });
});

describe('rds-master bindings in the stage file', () => {
  const secret = {
    id: 'prod/reports/master',
    engine: 'postgres',
    strategy: 'rds-master',
    schedule: 'rate(7 days)',
  };

  it('takes the engine from the secrets: entry when the binding names none', () => {
    // Act
    const config = parseDeployConfig(
      {
        region: REGION,
        secrets: [{ ...secret, engine: 'aurora-mysql' }],
        rdsMasters: [{ secret: 'prod/reports/master', dbClusterIdentifier: 'reports' }],
      },
      'test.yml',
    );

    // Assess
    expect(config.rdsMasters).toEqual([
      { secret: 'prod/reports/master', engine: 'aurora-mysql', dbClusterIdentifier: 'reports' },
    ]);
    expect(JSON.parse(rdsMastersJson(config, 'mysql'))).toEqual([
      { secret: 'prod/reports/master', dbClusterIdentifier: 'reports' },
    ]);
    expect(JSON.parse(rdsMastersJson(config, 'postgres'))).toEqual([]);
  });

  it.each([
    [
      'both an instance and a cluster',
      {
        secrets: [secret],
        rdsMasters: [{ secret: secret.id, dbInstanceIdentifier: 'a', dbClusterIdentifier: 'b' }],
      },
      /rdsMasters\.0 \(prod\/reports\/master\): needs exactly one of dbInstanceIdentifier, dbClusterIdentifier/,
    ],
    [
      'neither an instance nor a cluster',
      { secrets: [secret], rdsMasters: [{ secret: secret.id }] },
      /rdsMasters\.0 \(prod\/reports\/master\): needs exactly one of/,
    ],
    [
      'no engine for a secret not listed under secrets:',
      { rdsMasters: [{ secret: 'other', dbInstanceIdentifier: 'a' }] },
      /rdsMasters\.0\.engine \(other\): needed .*not listed under secrets:/,
    ],
    [
      'an engine that contradicts the secrets: entry',
      { secrets: [secret], rdsMasters: [{ secret: secret.id, engine: 'mysql', dbInstanceIdentifier: 'a' }] },
      /rdsMasters\.0\.engine \(prod\/reports\/master\): secrets: lists it with engine postgres/,
    ],
    [
      'a database that contradicts the secrets: entry',
      {
        secrets: [{ ...secret, dbInstanceIdentifier: 'reports' }],
        rdsMasters: [{ secret: secret.id, dbInstanceIdentifier: 'orders' }],
      },
      /rdsMasters\.0\.dbInstanceIdentifier \(prod\/reports\/master\): secrets: names reports for it/,
    ],
    [
      'a secret rotated with another strategy',
      {
        secrets: [{ ...secret, strategy: 'single-user' }],
        rdsMasters: [{ secret: secret.id, dbInstanceIdentifier: 'reports' }],
      },
      /rdsMasters\.0 \(prod\/reports\/master\): secrets: lists it with strategy single-user/,
    ],
    [
      'a secret RDS manages itself',
      { rdsMasters: [{ secret: RDS_DB_SECRET, engine: 'postgres', dbInstanceIdentifier: 'a' }] },
      /rdsMasters\.0\.secret \(rds!db-.*\): is managed by RDS/,
    ],
    [
      'an rds-master secret without a binding',
      { secrets: [{ ...secret, dbInstanceIdentifier: 'reports' }] },
      /secrets\.0 \(prod\/reports\/master\): strategy rds-master needs an rdsMasters entry/,
    ],
  ])('refuses %s, naming the entry and field', (_name, change, message) => {
    // Assess
    expect(refusal({ region: REGION, ...change })).toMatch(message);
  });
});

describe('related secrets and the adoption record', () => {
  it('accepts every form of secret reference, and IAM patterns match exactly the secret meant', () => {
    // Prepare: the secrets as AWS names them (6 random characters after the name)
    const cases: [string, string, string[]][] = [
      [
        'prod/pg/master',
        arn('prod/pg/master-AbC123'),
        [arn('prod/pg/master-x-AbC123'), arn('prod/pg/master')],
      ],
      [RDS_DB_SECRET, arn(`${RDS_DB_SECRET}-Zz9Yy8`), [arn(`${RDS_DB_SECRET}0-Zz9Yy8`)]],
      [arn(RDS_CLUSTER_SECRET), arn(`${RDS_CLUSTER_SECRET}-Qq1Ww2`), [arn(`${RDS_CLUSTER_SECRET}-Qq1Ww2-x`)]],
      [
        `${arn(RDS_CLUSTER_SECRET)}-Qq1Ww2`,
        arn(`${RDS_CLUSTER_SECRET}-Qq1Ww2`),
        [arn(`${RDS_CLUSTER_SECRET}-Qq1Ww3`)],
      ],
      [`${arn('prod/admin')}-AbCdEf`, arn('prod/admin-AbCdEf'), [arn('prod/admin-AbCdEg')]],
    ];
    for (const [reference, real, others] of cases) {
      // Act
      const resource = secretResource(reference);
      // Assess
      expect(iamMatches(resource, real), `${reference} → ${real}`).toBe(true);
      for (const other of others) expect(iamMatches(resource, other), `${reference} ↛ ${other}`).toBe(false);
    }
  });

  it('lets the API-key role read admin secrets only, and the database roles their masters only', () => {
    // Prepare
    const pgMaster = arn('prod/pg/master-AbC123');
    const rdsDbMaster = arn(`${RDS_DB_SECRET}-Zz9Yy8`);
    const rdsClusterMaster = arn(`${RDS_CLUSTER_SECRET}-Xy12Zw`);
    const legacy = arn('prod/mysql/legacy-Lg0000');
    const admin = arn('prod/payments/admin-AbCdEf');

    // Assess: who may read what
    const expected: Record<string, Record<string, boolean>> = {
      postgres: { pgMaster: true, rdsDbMaster: true, rdsClusterMaster: false, legacy: false, admin: false },
      mysql: { pgMaster: false, rdsDbMaster: false, rdsClusterMaster: true, legacy: true, admin: false },
      apikey: { pgMaster: false, rdsDbMaster: false, rdsClusterMaster: false, legacy: false, admin: true },
      heal: { pgMaster: true, rdsDbMaster: true, rdsClusterMaster: true, legacy: true, admin: true },
    };
    const secrets = { pgMaster, rdsDbMaster, rdsClusterMaster, legacy, admin };
    for (const [fn, row] of Object.entries(expected)) {
      const granted = Object.fromEntries(
        Object.entries(secrets).map(([label, secretArn]) => [label, canRead(base, fn, secretArn)]),
      );
      expect(granted, fn).toEqual(row);
    }
  });

  it('lets every function read the adoption record (GetSecretValue only), and none write it', () => {
    // Prepare
    const record = arn('ops/adoptions-Ad0pt1');
    const config = { ...base, adoptionsSecret: 'ops/adoptions' };
    for (const fn of ['postgres', 'mysql', 'apikey', 'heal']) {
      // Act
      const statement = roleStatements(config, fn).find((s) => s.Sid === 'ReadAdoptionRecord');
      // Assess
      expect(statement?.Action, fn).toBe('secretsmanager:GetSecretValue');
      expect(iamMatches(statement?.Resource, record), fn).toBe(true);
      const writers = roleStatements(config, fn).filter(
        (s) =>
          JSON.stringify(s.Action).includes('PutSecretValue') &&
          s.Condition === undefined &&
          iamMatches(s.Resource, record),
      );
      expect(writers, fn).toEqual([]);
    }
  });

  it.each([
    [
      'one list for every function (the old form)',
      { relatedSecrets: ['prod/m'] },
      /relatedSecrets: must name the function that may read each secret/,
    ],
    [
      'an admin secret that is also a database master',
      {
        masters: [{ secret: 'prod/m', engine: 'mysql', host: 'a' }],
        relatedSecrets: { apikey: [`${arn('prod/m')}-AbCdEf`] },
      },
      /relatedSecrets\.apikey\.0 \(.*prod\/m-AbCdEf\): also readable by a database function \(masters\.0 \(prod\/m\)\)/,
    ],
    [
      'a secret both a database function and the API-key function read',
      { relatedSecrets: { postgres: ['shared'], apikey: ['shared'] } },
      /relatedSecrets\.apikey\.0 \(shared\): also readable by a database function \(relatedSecrets\.postgres\.0\)/,
    ],
    ['an unknown function', { relatedSecrets: { redis: ['x'] } }, /relatedSecrets\.redis/],
    [
      'a rotated adoption record',
      {
        adoptionsSecret: 'ops/adoptions',
        secrets: [
          { id: 'ops/adoptions', engine: 'postgres', strategy: 'single-user', schedule: 'rate(30 days)' },
        ],
      },
      /adoptionsSecret \(ops\/adoptions\): must not be rotated by rotor/,
    ],
    [
      'an adoption record that is also a master',
      { adoptionsSecret: 'prod/m', masters: [{ secret: 'prod/m', engine: 'mysql', host: 'a' }] },
      /adoptionsSecret \(prod\/m\): must be a secret of its own, not a master or related secret/,
    ],
    [
      'a secret RDS manages attached to rotor’s rotation',
      {
        secrets: [
          { id: RDS_DB_SECRET, engine: 'postgres', strategy: 'single-user', schedule: 'rate(30 days)' },
        ],
      },
      /secrets\.0\.id \(rds!db-.*\): is managed by another service/,
    ],
    [
      'a provider pinning an admin secret the API-key function may not read',
      {
        relatedSecrets: { apikey: ['prod/payments/admin'] },
        apiKeyProviders: { dd: { preset: 'datadog', adminSecret: 'prod/other/admin' } },
      },
      /apiKeyProviders\.dd\.adminSecret \(prod\/other\/admin\): is not listed under relatedSecrets\.apikey/,
    ],
    [
      'a provider pinning a database master (which the API-key function may not read)',
      {
        masters: [{ secret: 'prod/m', engine: 'mysql', host: 'a' }],
        apiKeyProviders: { dd: { preset: 'datadog', adminSecrets: ['prod/m'] } },
      },
      /apiKeyProviders\.dd\.adminSecrets\.0 \(prod\/m\): is not listed under relatedSecrets\.apikey/,
    ],
    [
      'a provider pin that is not a secret id',
      {
        relatedSecrets: { apikey: ['prod/payments/admin'] },
        apiKeyProviders: { dd: { preset: 'datadog', adminSecret: ['prod/payments/admin'] } },
      },
      /apiKeyProviders\.dd\.adminSecret: must be a secret name, partial ARN or full ARN/,
    ],
  ])('refuses %s', (_name, change, message) => {
    // Assess
    expect(refusal({ region: REGION, ...change })).toMatch(message);
  });

  it.each([
    ['name', 'prod/payments/admin'],
    ['partial ARN', arn('prod/payments/admin')],
    ['full ARN', `${arn('prod/payments/admin')}-AbCdEf`],
  ])(
    'accepts a provider pinning, by %s, an admin secret listed under relatedSecrets.apikey',
    (_form, pin) => {
      // Act
      const parsed = parseDeployConfig(
        { ...base, apiKeyProviders: { payments: { preset: 'datadog', adminSecret: pin } } },
        'deploy/stages/test.yml',
      );
      // Assess
      expect(parsed.apiKeyProviders).toEqual({ payments: { preset: 'datadog', adminSecret: pin } });
    },
  );
});
