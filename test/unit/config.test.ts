/** The one configuration module: environment → typed Config (pure logic). */
import { describe, expect, it } from 'vitest';
import { readCliConfig, readConfig } from '../../handlers/config.js';
import { ConfigurationError } from '../../rotators/errors.js';

describe('configuration from the environment', () => {
  it('has safe defaults', () => {
    // Act
    const config = readConfig({});
    // Assess
    expect(config).toMatchObject({
      eventBusName: 'default',
      eventSource: 'rotor',
      eventsEnabled: true,
      stepStartedEvents: false,
      metricsEnabled: true,
      logLevel: 'INFO',
      passwordPolicy: {},
      apiKeyProviders: {},
      apiKeyInlineHosts: [],
    });
  });

  it('publishes Rotation Step Started only when ROTOR_EVENTS_STEP_STARTED is on', () => {
    // Act
    const on = readConfig({ ROTOR_EVENTS_STEP_STARTED: 'on' });
    const other = readConfig({ ROTOR_EVENTS_STEP_STARTED: 'yes' });
    // Assess
    expect(on.stepStartedEvents).toBe(true);
    expect(other.stepStartedEvents).toBe(false);
  });

  it('reads where the runbook is published (ROTOR_RUNBOOK_URL), absent by default', () => {
    // Act
    const set = readConfig({ ROTOR_RUNBOOK_URL: 'https://example.com/rotor/RUNBOOK.md' });
    const unset = readConfig({});
    // Assess
    expect(set.runbookUrl).toBe('https://example.com/rotor/RUNBOOK.md');
    expect(unset.runbookUrl).toBeUndefined();
  });

  it('reads password policy overrides', () => {
    // Act
    const config = readConfig({ ROTOR_PASSWORD_LENGTH: '40', ROTOR_PASSWORD_EXCLUDE_CHARACTERS: '-._' });
    // Assess
    expect(config.passwordPolicy).toEqual({ length: 40, excludeCharacters: '-._' });
  });

  it.each([
    [{ ROTOR_PASSWORD_LENGTH: '8' }, /ROTOR_PASSWORD_LENGTH/],
    [{ ROTOR_PASSWORD_LENGTH: 'many' }, /ROTOR_PASSWORD_LENGTH/],
    [{ ROTOR_EVENT_SOURCE: 'aws.rotor' }, /ROTOR_EVENT_SOURCE/],
    [{ ROTOR_LOG_LEVEL: 'LOUD' }, /ROTOR_LOG_LEVEL/],
    [{ ROTOR_HEAL_MODE: 'fix' }, /ROTOR_HEAL_MODE must be "report" or "heal"/],
    [{ ROTOR_HEAL_MIN_AGE_MINUTES: 'an hour' }, /ROTOR_HEAL_MIN_AGE_MINUTES/],
    [{ ROTOR_APIKEY_PROVIDERS: '{acme: 1}' }, /ROTOR_APIKEY_PROVIDERS must be JSON/],
    [
      { ROTOR_APIKEY_PROVIDERS: '[{"baseUrl": "https://api.example.com"}]' },
      /ROTOR_APIKEY_PROVIDERS must be a JSON object/,
    ],
  ])('refuses %j with a ConfigurationError naming the variable', (env, message) => {
    // Act
    const act = () => readConfig(env);
    // Assess
    expect(act).toThrow(ConfigurationError);
    expect(act).toThrow(message);
  });

  it('reads API-key provider descriptions by name and the inline host allowlist', () => {
    // Act
    const config = readConfig({
      ROTOR_APIKEY_PROVIDERS: '{"acme": {"baseUrl": "https://api.example.com"}}',
      ROTOR_APIKEY_INLINE_HOSTS: ' api.example.com, keys.example.org ,',
    });
    // Assess
    expect(Object.keys(config.apiKeyProviders)).toEqual(['acme']);
    expect(config.apiKeyInlineHosts).toEqual(['api.example.com', 'keys.example.org']);
  });

  it("reads the heal function settings: which functions are rotor's, the mode, the minimum age", () => {
    // Act
    const defaults = readConfig({});
    const set = readConfig({
      ROTOR_HEAL_FUNCTION_PREFIX:
        'arn:aws:lambda:eu-west-1:123456789012:function:rotor-prod-, rotor-staging-',
      ROTOR_HEAL_MODE: 'heal',
      ROTOR_HEAL_MIN_AGE_MINUTES: '15',
    });
    // Assess
    expect(defaults).toMatchObject({ healFunctionPrefixes: [], healMode: 'report', healMinAgeMs: 3_600_000 });
    expect(set).toMatchObject({
      healFunctionPrefixes: ['arn:aws:lambda:eu-west-1:123456789012:function:rotor-prod-', 'rotor-staging-'],
      healMode: 'heal',
      healMinAgeMs: 900_000,
    });
  });
});

describe('CLI configuration from the environment', () => {
  it('takes the service endpoints, the specific variable before AWS_ENDPOINT_URL', () => {
    // Act
    const specific = readCliConfig({
      AWS_ENDPOINT_URL: 'http://shared:1',
      AWS_ENDPOINT_URL_SECRETS_MANAGER: 'http://sm:2',
    });
    const none = readCliConfig({});
    // Assess
    expect(specific).toMatchObject({
      secretsManagerEndpoint: 'http://sm:2',
      eventBridgeEndpoint: 'http://shared:1',
    });
    expect(none.secretsManagerEndpoint).toBeUndefined();
    expect(none.eventBridgeEndpoint).toBeUndefined();
  });

  it('turns colours off when NO_COLOR is set to anything but the empty string', () => {
    // Act
    const colours = [
      readCliConfig({}),
      readCliConfig({ NO_COLOR: '' }),
      readCliConfig({ NO_COLOR: '1' }),
    ].map((config) => config.color);
    // Assess
    expect(colours).toEqual([true, true, false]);
  });
});

describe('trust configuration (ROTOR_MASTERS, ROTOR_RDS_MASTERS, ROTOR_ADOPTIONS_SECRET)', () => {
  it('has no binding and the default adoption record when nothing is set', () => {
    // Act
    const config = readConfig({});
    // Assess
    expect(config.masters).toEqual([]);
    expect(config.rdsMasters).toEqual([]);
    expect(config.adoptionsSecret).toBe('rotor/adoptions');
  });

  it('reads master bindings by hosts, instance and cluster, with port, TLS and manages patterns', () => {
    // Prepare
    const masters = [
      {
        secret: 'prod/orders/master',
        hosts: ['db.example.com'],
        port: 6432,
        tls: { mode: 'verify-ca', serverName: 'db.internal' },
        manages: ['app_*'],
      },
      {
        secret: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:billing',
        dbInstanceIdentifier: 'billing',
      },
      { secret: 'rds!cluster-1', dbClusterIdentifier: 'orders-cluster' },
      { secret: 'legacy', host: 'legacy.example.com' },
    ];
    // Act
    const config = readConfig({
      ROTOR_MASTERS: JSON.stringify(masters),
      ROTOR_ADOPTIONS_SECRET: 'ops/adoptions',
    });
    // Assess
    expect(config.masters).toEqual([
      masters[0],
      masters[1],
      masters[2],
      { secret: 'legacy', hosts: ['legacy.example.com'] },
    ]);
    expect(config.adoptionsSecret).toBe('ops/adoptions');
  });

  it('reads rds-master bindings as a kind and an identifier', () => {
    // Act
    const config = readConfig({
      ROTOR_RDS_MASTERS: JSON.stringify([
        { secret: 'prod/orders/master', dbInstanceIdentifier: 'orders' },
        { secret: 'prod/billing/master', dbClusterIdentifier: 'billing-cluster' },
      ]),
    });
    // Assess
    expect(config.rdsMasters).toEqual([
      { secret: 'prod/orders/master', kind: 'instance', identifier: 'orders' },
      { secret: 'prod/billing/master', kind: 'cluster', identifier: 'billing-cluster' },
    ]);
  });

  it.each([
    ['ROTOR_MASTERS', '[{"secret": "m"', /ROTOR_MASTERS must be JSON/],
    ['ROTOR_MASTERS', '{"secret": "m"}', /ROTOR_MASTERS must be a JSON array/],
    ['ROTOR_MASTERS', '["m"]', /ROTOR_MASTERS, entry 0: must be a JSON object/],
    ['ROTOR_MASTERS', '[{"hosts": ["db"]}]', /ROTOR_MASTERS, entry 0: field "secret" must be the name/],
    ['ROTOR_MASTERS', '[{"secret": "m"}]', /ROTOR_MASTERS, entry 0: field "hosts" is required: exactly one/],
    [
      'ROTOR_MASTERS',
      '[{"secret": "a", "hosts": ["db"]}, {"secret": "m", "hosts": ["db"], "dbInstanceIdentifier": "orders"}]',
      /ROTOR_MASTERS, entry 1: field "dbInstanceIdentifier" must not be set together with hosts/,
    ],
    ['ROTOR_MASTERS', '[{"secret": "m", "hosts": []}]', /entry 0: field "hosts" must be a non-empty array/],
    [
      'ROTOR_MASTERS',
      '[{"secret": "m", "hosts": ["db"], "port": 0}]',
      /entry 0: field "port" must be a port/,
    ],
    [
      'ROTOR_MASTERS',
      '[{"secret": "m", "hosts": ["db"], "tls": {"mode": "prefer"}}]',
      /entry 0: field "tls.mode" must be one of verify-full, verify-ca, disable/,
    ],
    [
      'ROTOR_MASTERS',
      '[{"secret": "m", "hosts": ["db"], "tls": {"mode": "verify-ca", "ca": "not a pem"}}]',
      /entry 0: field "tls.ca" must be a PEM certificate/,
    ],
    [
      'ROTOR_MASTERS',
      '[{"secret": "m", "dbInstanceIdentifier": "no--double"}]',
      /entry 0: field "dbInstanceIdentifier" must be an RDS DB instance identifier/,
    ],
    [
      'ROTOR_MASTERS',
      '[{"secret": "m", "hosts": ["db"], "manage": ["a"]}]',
      /entry 0: field "manage" is not known/,
    ],
    [
      'ROTOR_MASTERS',
      '[{"secret": "m", "hosts": ["db"], "manages": "app_*"}]',
      /field "manages" must be a non-empty array/,
    ],
    [
      'ROTOR_RDS_MASTERS',
      '[{"secret": "s"}]',
      /ROTOR_RDS_MASTERS, entry 0: field "dbInstanceIdentifier" or dbClusterIdentifier is required/,
    ],
    [
      'ROTOR_RDS_MASTERS',
      '[{"secret": "s", "dbInstanceIdentifier": "a", "dbClusterIdentifier": "b"}]',
      /ROTOR_RDS_MASTERS, entry 0: field "dbInstanceIdentifier" must not be set together/,
    ],
    ['ROTOR_RDS_MASTERS', '[{"dbInstanceIdentifier": "a"}]', /ROTOR_RDS_MASTERS, entry 0: field "secret"/],
    [
      'ROTOR_RDS_MASTERS',
      '[{"secret": "s", "hosts": ["db"]}]',
      /ROTOR_RDS_MASTERS, entry 0: field "hosts" is not known/,
    ],
  ])(
    'refuses %s=%s with a ConfigurationError naming the variable, the entry and the field',
    (key, raw, message) => {
      // Act
      const act = () => readConfig({ [key]: raw });
      // Assess
      expect(act).toThrow(ConfigurationError);
      expect(act).toThrow(message);
    },
  );
});

describe('the trust configuration deploy writes', () => {
  it("parses every function's ROTOR_MASTERS / ROTOR_RDS_MASTERS of the example stage, entry for entry", async () => {
    // Prepare
    const { loadStage } = await import('../../deploy/stage.js');
    const stage = loadStage('deploy/stages/example.yml', { service: 'rotor', stage: 'example' });

    // Act
    const configs = (['postgres', 'mysql', 'heal'] as const).map((fn) =>
      readConfig({
        ROTOR_MASTERS: stage.config.mastersJson[fn],
        ROTOR_RDS_MASTERS: stage.config.rdsMastersJson[fn],
        ROTOR_ADOPTIONS_SECRET: stage.config.adoptionsSecret,
      }),
    );

    // Assess
    const heal = configs[2];
    expect(heal?.masters.length).toBe(stage.config.masters.length);
    expect(heal?.rdsMasters.length).toBe(stage.config.rdsMasters.length);
    expect(heal?.masters.length).toBeGreaterThan(0);
    for (const config of configs) expect(config.adoptionsSecret).toBe(stage.config.adoptionsSecret);
  });
});
