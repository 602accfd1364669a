/**
 * The `rotor` CLI with API keys: the reference provider over HTTP, described to the CLI the way
 * operators describe it to the function (ROTOR_APIKEY_PROVIDERS), the local stack and rotor's
 * real step machine.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiKeyProvider, startApiKeyProvider } from '../../local/apiKeyProvider.js';
import { createApiKeyRotator, keyTag } from '../../rotators/apikey/index.js';
import { skipApiKey } from '../apikey/support.js';
import { type RotationHarness, startRotationHarness } from '../support/rotation.js';
import { CliRunner, everySecretString, sensitiveValues } from './support.js';

// The cases run in order on one secret: preflight, a rotation, then what status says of it.
describe.skipIf(skipApiKey)('rotor CLI with API keys', () => {
  let provider: ApiKeyProvider;
  let h: RotationHarness;
  let cli: CliRunner;
  let name: string;

  beforeAll(async () => {
    provider = await startApiKeyProvider({ maxLiveKeys: 3 });
    // The operator pins the provider's admin secret (by name) in its description.
    const providers = { local: { ...provider.description, adminSecret: 'cli/apikey-admin' } };
    h = await startRotationHarness({ rotators: [createApiKeyRotator({ providers })] });
    // The CLI builds its rotators from the environment, like the function does.
    cli = new CliRunner(h.stack.endpoint, { env: { ROTOR_APIKEY_PROVIDERS: JSON.stringify(providers) } });
    const adminArn = await h.createSecret({ token: provider.adminToken }, 'cli/apikey-admin');
    const first = provider.keys.mint('app');
    name = 'cli/apikey';
    const arn = await h.createSecret(
      { engine: 'apikey', provider: 'local', adminSecretArn: adminArn, keyId: first.id, apiKey: first.value },
      name,
    );
    // rotor retires only keys named under the secret's tag (or adopted): the operator renames it.
    provider.keys.rename(first.id, `${keyTag(arn)}-app`);
    await cli.run(
      'attach',
      arn,
      '--function',
      'rotor-test',
      '--schedule',
      'rate(7 days)',
      '--no-rotate-immediately',
    );
    await h.stack.idle();
  });

  afterAll(async () => {
    await h?.close();
    await provider?.stop();
  });

  it("preflight runs the engine's checks: the admin credential lists keys, the key passes the probe, room for one more", async () => {
    // Act
    const result = await cli.run('preflight', name);

    // Assess
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/PASS {2}secret value +engine apikey, strategy keep-until-next-rotation/);
    expect(result.stdout).toMatch(/PASS {2}admin credential lists keys +1 live keys at local/);
    expect(result.stdout).toMatch(/PASS {2}current key passes the probe/);
    expect(result.stdout).toMatch(/PASS {2}room for a new key +1 of 3 live keys/);
  });

  it('rotate --wait mints a new key and follows the four steps to success', async () => {
    // Act
    const result = await cli.run('rotate', name, '--wait');

    // Assess
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/finishSecret +succeeded/);
    expect(result.stdout).toContain('rotation succeeded');
    expect(provider.keys.live()).toHaveLength(2);
  });

  it('status shows the engine and strategy and the last success', async () => {
    // Act
    const result = await cli.json<
      { name: string; engine: string; strategy: string; lastOutcome: { result: string } }[]
    >('status', '--prefix', 'cli/apikey', '--deep');

    // Assess
    expect(result.value).toEqual([
      expect.objectContaining({
        name,
        engine: 'apikey',
        strategy: 'keep-until-next-rotation',
        lastOutcome: expect.objectContaining({ result: 'succeeded' }),
      }),
    ]);
  });

  it('never prints a key or the admin token', async () => {
    // Prepare
    const sensitive = sensitiveValues(await everySecretString(h.sm));
    for (const key of provider.keys.all()) sensitive.add(key.value);
    sensitive.add(provider.adminToken);
    const output = cli.outputs.join('\n');

    // Act
    const leaked = [...sensitive].filter((value) => output.includes(value));

    // Assess
    expect(sensitive.size).toBeGreaterThanOrEqual(3);
    expect(leaked).toEqual([]);
  });
});
