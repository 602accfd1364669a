/**
 * `npm run local`: the command serves the stack, prints the endpoints and the export lines,
 * and stops cleanly on SIGINT.
 */
import { spawn } from 'node:child_process';
import { ListSecretsCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { describe, expect, it } from 'vitest';
import { rotationFlags, serveLocalStack } from '../../local/main.js';

describe('npm run local', () => {
  it('prints the endpoints and export lines, serves, and exits 0 on SIGINT', async () => {
    // Prepare
    const child = spawn(process.execPath, ['--import', 'tsx', 'local/main.ts', '--port', '0'], {
      cwd: new URL('../..', import.meta.url),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const endpoint = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no banner in time:\n${output}`)), 20_000);
      child.stdout.on('data', () => {
        const match = /export AWS_ENDPOINT_URL_SECRETS_MANAGER=(\S+)/.exec(output);
        if (match?.[1] !== undefined) {
          clearTimeout(timer);
          resolve(match[1]);
        }
      });
    });

    // Act
    const sm = new SecretsManagerClient({
      endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'rotor-local', secretAccessKey: 'rotor-local' },
    });
    const listed = await sm.send(new ListSecretsCommand({}));
    sm.destroy();
    child.kill('SIGINT');
    const code = await exited;

    // Assess
    expect(listed.SecretList).toEqual([]);
    expect(output).toContain(`export AWS_ENDPOINT_URL_EVENTBRIDGE=${endpoint}`);
    expect(output).toContain('export AWS_REGION=us-east-1');
    expect(output).toContain(`${endpoint}/_rotor/events`);
    expect(code).toBe(0);
  });
});

describe('npm run local: the settings that rest on inference', () => {
  it.each([
    [
      ['3', '20', 'copy-of-current'],
      { attempts: 3, backoffMs: 20, configurationTestPending: 'copy-of-current' },
    ],
    [[undefined, undefined, 'empty'], { configurationTestPending: 'empty' }],
    [[undefined, undefined, undefined], {}],
    [['0', undefined, undefined], undefined],
    [[undefined, '-1', undefined], undefined],
    [[undefined, undefined, 'copy'], undefined],
  ] as const)('reads --attempts --backoff-ms --config-test-pending %j', (flags, expected) => {
    // Act
    const settings = rotationFlags(
      ...(flags as [string | undefined, string | undefined, string | undefined]),
    );

    // Assess
    expect(settings).toEqual(expected);
  });

  it('serves the stack with them', async () => {
    // Act
    const { stack } = await serveLocalStack({
      port: 0,
      host: '127.0.0.1',
      region: 'us-east-1',
      scheduleSeconds: 0,
      rotation: { attempts: 1, configurationTestPending: 'empty' },
    });
    const pending = stack.rotations.configurationTestPending;
    await stack.stop();

    // Assess
    expect(pending).toBe('empty');
  });
});
