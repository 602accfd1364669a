/** The one configuration module: environment → typed Config (pure logic). */
import { describe, expect, it } from 'vitest';
import { readConfig } from '../../handlers/config.js';
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
      metricsEnabled: true,
      logLevel: 'INFO',
      passwordPolicy: {},
      apiKeyProviders: {},
      apiKeyInlineHosts: [],
    });
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
});
