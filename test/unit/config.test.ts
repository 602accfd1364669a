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
