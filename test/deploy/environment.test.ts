/**
 * Lambda's 4 KB limit on a function's environment (deploy/environment.ts, pure logic): API-key
 * provider descriptions and master bindings travel there, so packaging refuses an environment
 * Lambda would refuse at deploy, naming the stage-file key to shorten.
 */
import { describe, expect, it } from 'vitest';
import { environmentProblem, environmentSize, LAMBDA_ENVIRONMENT_LIMIT } from '../../deploy/environment.js';
import { providerDescription } from './providers.js';

const base = {
  ROTOR_EVENT_BUS: 'default',
  ROTOR_EVENT_SOURCE: 'rotor',
  POWERTOOLS_SERVICE_NAME: 'rotor-prod',
  ROTOR_ADOPTIONS_SECRET: 'rotor/adoptions',
};

const providers = (count: number) =>
  JSON.stringify(
    Object.fromEntries(Array.from({ length: count }, (_, i) => [`p${i}`, providerDescription(i)])),
  );

describe("Lambda's environment limit", () => {
  it('accepts a few provider descriptions', () => {
    // Prepare
    const variables = { ...base, ROTOR_APIKEY_PROVIDERS: providers(3) };

    // Assess
    expect(environmentSize(variables)).toBeLessThan(LAMBDA_ENVIRONMENT_LIMIT);
    expect(environmentProblem('rotor-prod-apikey', variables)).toBeUndefined();
  });

  it('refuses the environment once the descriptions pass 4 KB, naming the function and the stage key', () => {
    // Prepare
    const variables = { ...base, ROTOR_APIKEY_PROVIDERS: providers(8) };

    // Act
    const problem = environmentProblem('rotor-prod-apikey', variables);

    // Assess
    expect(environmentSize(variables)).toBeGreaterThan(LAMBDA_ENVIRONMENT_LIMIT);
    expect(problem).toMatch(
      /^apiKeyProviders: the rotor-prod-apikey function's environment would be \d+ bytes, over Lambda's 4096-byte limit \(largest: ROTOR_APIKEY_PROVIDERS \(stage file: apiKeyProviders\) \d+ bytes/,
    );
  });

  it('counts bytes, not characters', () => {
    // Prepare: 2,100 two-byte characters are 4,200 bytes
    const variables = { NOTE: 'é'.repeat(2100) };

    // Assess
    expect(environmentProblem('f', variables)).toMatch(/would be 42\d\d bytes/);
  });
});
