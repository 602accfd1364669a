/**
 * The CLI's conventions: help with examples and exit codes, usage errors, AWS errors that say what
 * to do, colours only where they belong, `rotor local`, and the real executable.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import {
  CancelRotateSecretCommand,
  ListSecretsCommand,
  RotateSecretCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../cli/main.js';
import { FakeTarget } from '../../rotators/fake/client.js';
import { createFakeRotator } from '../../rotators/fake/index.js';
import { type RotationHarness, startRotationHarness } from '../support/rotation.js';
import { CliRunner, captured } from './support.js';

const ESC = String.fromCharCode(27);
const COMMANDS = ['attach', 'status', 'rotate', 'preflight', 'heal', 'replicate', 'history', 'local'];

async function offline(...argv: string[]) {
  const stdout = captured();
  const stderr = captured();
  const code = await run(argv, { stdout, stderr });
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}

describe('rotor CLI conventions', () => {
  const targets = new Map<string, FakeTarget>();
  let h: RotationHarness;
  let cli: CliRunner;

  beforeAll(async () => {
    h = await startRotationHarness({ rotators: [createFakeRotator(targets)] });
    cli = new CliRunner(h.stack.endpoint, { rotators: [createFakeRotator(targets)] });
  });

  afterAll(async () => {
    await h.close();
  });

  async function fakeSecret(name = `usage/${randomUUID()}`) {
    const target = new FakeTarget();
    target.addAccount('app', `initial-${randomUUID()}`);
    const password = [...(target.accounts.get('app') ?? [])][0] as string;
    // Not the secret's name: a fake secret's target is not a descriptive field, so it is redacted.
    const targetName = `target-${randomUUID()}`;
    targets.set(targetName, target);
    const arn = await h.createSecret({ engine: 'fake', target: targetName, username: 'app', password }, name);
    // Rotated by rotor's function (rotation configured, nothing rotated yet): what status lists.
    await h.rotate(arn, { rotateImmediately: false });
    return { arn, name };
  }

  it('--help lists every command and documents the exit codes (exit 0)', async () => {
    // Act
    const result = await offline('--help');

    // Assess
    expect(result.code).toBe(0);
    for (const command of COMMANDS) expect(result.stdout).toMatch(new RegExp(`^ {2}${command} `, 'm'));
    expect(result.stdout).toMatch(/0 +ok/);
    expect(result.stdout).toMatch(/1 +the operation found a failure/);
    expect(result.stdout).toMatch(/2 +bad usage or input/);
    expect(result.stdout).toMatch(/3 +AWS or network error/);
  });

  it.each(COMMANDS)('%s --help shows usage and examples', async (command) => {
    // Act
    const result = await offline(command, '--help');

    // Assess
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`Usage: rotor ${command}`);
    expect(result.stdout).toContain(`Examples:\n  $ rotor ${command}`);
  });

  it.each(COMMANDS)('%s --help lists --endpoint, --region and --profile', async (command) => {
    // Act
    const result = await offline(command, '--help');

    // Assess
    for (const option of ['--endpoint <url>', '--region <region>', '--profile <name>']) {
      expect(result.stdout).toContain(option);
    }
  });

  it.each([
    ['rotate', '--timeout <duration>', 'a bare number is seconds (deprecated'],
    ['preflight', '--timeout <duration>', 'a bare number is seconds (deprecated'],
    ['attach', '--timeout <duration>', 'a bare number is seconds (deprecated'],
    ['heal', '--min-age <duration>', 'a bare number is minutes, deprecated'],
  ])('%s takes %s with units, and says a bare number is deprecated', async (command, option, note) => {
    // Act
    const result = await offline(command, '--help');

    // Assess
    expect(result.stdout).toContain(option);
    expect(result.stdout.replace(/\s+/g, ' ')).toContain(note);
  });

  it('explains that replicas keep rotating on the primary', async () => {
    // Act
    const result = await offline('replicate', '--help');

    // Assess
    expect(result.stdout.replaceAll(/\s+/g, ' ')).toContain('Rotation stays on the primary');
  });

  it.each([
    ['an unknown command', ['frobnicate'], /unknown command 'frobnicate'/],
    ['an unknown option', ['status', '--colour'], /unknown option '--colour'/],
    ['a missing argument', ['heal'], /missing required argument 'secret'/],
    [
      'a missing required option',
      ['attach', 'x', '--schedule', 'rate(1 days)'],
      /attach needs --function and --schedule \(or --adopt\)/,
    ],
    [
      '--function without --schedule',
      ['attach', 'x', '--function', 'f'],
      /attach --function needs --schedule/,
    ],
    ['a bad duration', ['heal', 'x', '--min-age', 'soon'], /expected a duration such as 90s/],
    [
      'a bad --timeout',
      ['rotate', 'x', '--timeout', 'soon'],
      /--timeout must be a duration from 1s to 86400s, such as 90s, 5m or 1h/,
    ],
    [
      'a --timeout over its limit',
      ['preflight', 'x', '--timeout', '2h'],
      /--timeout must be a duration from 1s to 600s/,
    ],
    ['a bad schedule', ['attach', 'x', '--function', 'f', '--schedule', 'monthly'], /rate\(N days\)/],
    [
      'a bad window',
      ['attach', 'x', '--function', 'f', '--schedule', 'rate(1 days)', '--window', '30h'],
      /1h to 24h/,
    ],
    [
      'a window with a leading zero (as the stage file and Secrets Manager read it)',
      ['attach', 'x', '--function', 'f', '--schedule', 'rate(1 days)', '--window', '04h'],
      /1h to 24h/,
    ],
    [
      'a schedule Secrets Manager refuses (minutes not 0, a year)',
      ['attach', 'x', '--function', 'f', '--schedule', 'cron(30 22 ? * SUN 2027)'],
      /cron minutes must be 0, not "30"/,
    ],
    [
      'a window passing midnight UTC',
      ['attach', 'x', '--function', 'f', '--schedule', 'cron(0 22 * * ? *)', '--window', '4h'],
      /--window 4h: the window opening at 22:00 UTC would pass midnight/,
    ],
    [
      'a window longer than an hourly rate',
      ['attach', 'x', '--function', 'f', '--schedule', 'rate(6 hours)', '--window', '8h'],
      /longer than the 6 hours between rotations/,
    ],
  ])('exits 2 on %s, saying what is wrong', async (_what, argv, message) => {
    // Act
    const result = await offline(...argv);

    // Assess
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
  });

  it('exits 2 for a secret that does not exist, saying to check the name and region', async () => {
    // Act
    const result = await cli.run('history', 'no/such/secret');

    // Assess
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('secret no/such/secret was not found');
    expect(result.stderr).toContain('check the name or ARN, and --region');
  });

  it('exits 3 when AWS denies a call, naming the permission to grant', async () => {
    // Prepare
    const { name } = await fakeSecret();
    h.stack.secretsManager.injectFault('DescribeSecret', {
      error: { type: 'AccessDeniedException', message: 'not authorized', status: 400 },
    });

    // Act
    const result = await cli.run('history', name);

    // Assess
    expect(result.code).toBe(3);
    expect(result.stderr).toContain(`AWS denied secretsmanager:DescribeSecret on ${name}`);
    expect(result.stderr).toContain("allow secretsmanager:DescribeSecret in the caller's IAM policy");
  });

  it('--json of replicate parses, like every read command', async () => {
    // Prepare
    const { name } = await fakeSecret();

    // Act
    const result = await cli.json<{ secret: string; replicas: { region: string; status: string }[] }>(
      'replicate',
      name,
      '--regions',
      'ap-south-1',
    );

    // Assess
    expect(result.code).toBe(0);
    expect(result.value).toMatchObject({
      secret: name,
      replicas: [{ region: 'ap-south-1', status: 'InSync' }],
    });
  });

  describe('colours', () => {
    async function statusOn(isTTY: boolean, env: Record<string, string> = {}) {
      const stdout = captured(isTTY);
      const code = await run(['status', '--all', '--prefix', 'colours/', '--endpoint', h.stack.endpoint], {
        stdout,
        stderr: captured(),
        env,
        rotators: [createFakeRotator(targets)],
      });
      return { code, text: stdout.text() };
    }

    beforeAll(async () => {
      await fakeSecret('colours/one');
    });

    it('are used on a terminal', async () => {
      // Act
      const result = await statusOn(true);
      // Assess
      expect(result.text).toContain(`${ESC}[1mNAME`);
    });

    it('are never used with NO_COLOR set', async () => {
      // Act
      const result = await statusOn(true, { NO_COLOR: '1' });
      // Assess
      expect(result.text).toContain('NAME');
      expect(result.text).not.toContain(ESC);
    });

    it('are never used when the output is not a terminal', async () => {
      // Act
      const result = await statusOn(false);
      // Assess
      expect(result.text).toContain('colours/one');
      expect(result.text).not.toContain(ESC);
    });
  });

  it('rotor local serves the local stack until stopped, then exits 0', async () => {
    // Prepare
    const controller = new AbortController();
    const stdout = captured();
    const running = run(['local', '--port', '0', '--schedule-seconds', '0'], {
      stdout,
      stderr: captured(),
      signal: controller.signal,
    });
    let endpoint: string | undefined;
    for (let i = 0; i < 500 && endpoint === undefined; i++) {
      endpoint = /export AWS_ENDPOINT_URL_SECRETS_MANAGER=(\S+)/.exec(stdout.text())?.[1];
      if (endpoint === undefined) await new Promise((resolve) => setTimeout(resolve, 20));
    }

    // Act
    if (endpoint === undefined) throw new Error(`no banner:\n${stdout.text()}`);
    const sm = new SecretsManagerClient({
      endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'rotor-local', secretAccessKey: 'rotor-local' },
    });
    const listed = await sm.send(new ListSecretsCommand({}));
    sm.destroy();
    controller.abort();
    const code = await running;

    // Assess
    expect(listed.SecretList).toEqual([]);
    expect(stdout.text()).toContain('rotor local AWS stack on http://127.0.0.1:');
    expect(stdout.text()).toContain('function:rotor-local-postgres');
    expect(code).toBe(0);
  });

  it('the rotor executable runs, and finds the stack through AWS_ENDPOINT_URL_SECRETS_MANAGER', async () => {
    // Prepare: a secret of an engine the executable knows (nothing connects to its host).
    const name = 'usage/binary';
    await h.createSecret(
      { engine: 'postgres', host: 'db.invalid', username: 'app', password: `pw-${randomUUID()}`, ssl: false },
      name,
    );
    // Rotation by a rotor function (known by its name), then turned off: listed with --all.
    await h.sm.send(
      new RotateSecretCommand({
        SecretId: name,
        RotationLambdaARN: h.stack.registerFunction('rotor-binary-postgres', async () => undefined),
        RotationRules: { ScheduleExpression: 'rate(30 days)' },
        RotateImmediately: false,
      }),
    );
    await h.stack.idle();
    await h.sm.send(new CancelRotateSecretCommand({ SecretId: name }));
    const child = spawn(
      process.execPath,
      ['cli/rotor.mjs', 'status', '--all', '--deep', '--prefix', 'usage/binary', '--json'],
      {
        cwd: new URL('../..', import.meta.url),
        env: { ...process.env, ...h.stack.env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });

    // Act
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));

    // Assess
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(JSON.parse(stdout)).toEqual([
      expect.objectContaining({ name, engine: 'postgres', strategy: 'single-user', rotationEnabled: false }),
    ]);
  });
});
