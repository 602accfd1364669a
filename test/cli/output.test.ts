/**
 * Output habits operators bring from other tools: `-o/--output json|table` (the AWS CLI's) besides
 * `--json`, `-y` for `--yes`, FORCE_COLOR, and stdout that holds nothing but the JSON when a script
 * runs rotor from a checkout.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { delimiter, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../cli/main.js';
import { FakeTarget } from '../../rotators/fake/client.js';
import { createFakeRotator } from '../../rotators/fake/index.js';
import { type RotationHarness, startRotationHarness } from '../support/rotation.js';
import { CliRunner, captured } from './support.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ESC = String.fromCharCode(27);
const NOW = Date.parse('2026-12-01T12:00:00Z');

describe('rotor output conventions', () => {
  const targets = new Map<string, FakeTarget>();
  const prefix = `output-${randomUUID()}/`;
  let h: RotationHarness;
  let cli: CliRunner;

  beforeAll(async () => {
    h = await startRotationHarness({ rotators: [createFakeRotator(targets)] });
    cli = new CliRunner(h.stack.endpoint, { rotators: [createFakeRotator(targets)], now: () => NOW });
    await fakeSecret(`${prefix}one`);
  });

  afterAll(async () => {
    await h.close();
  });

  async function fakeSecret(name: string) {
    const target = new FakeTarget();
    const password = `initial-${randomUUID()}`;
    target.addAccount('app', password);
    const targetName = `target-${randomUUID()}`;
    targets.set(targetName, target);
    const arn = await h.createSecret({ engine: 'fake', target: targetName, username: 'app', password }, name);
    // Rotated by rotor's function (rotation configured, nothing rotated yet): what status lists.
    await h.rotate(arn, { rotateImmediately: false });
    return { arn, name };
  }

  describe('-o, --output', () => {
    it.each([
      ['--output', 'json'],
      ['-o', 'json'],
    ])('%s json prints what --json prints', async (flag, format) => {
      // Prepare
      const expected = await cli.run('status', '--all', '--prefix', prefix, '--json');

      // Act
      const result = await cli.run('status', '--all', '--prefix', prefix, flag, format);

      // Assess
      expect(result).toEqual(expected);
      expect(JSON.parse(result.stdout)).toEqual([expect.objectContaining({ name: `${prefix}one` })]);
    });

    it('--output table prints the table, as without the option', async () => {
      // Prepare
      const expected = await cli.run('status', '--all', '--prefix', prefix);

      // Act
      const result = await cli.run('status', '--all', '--prefix', prefix, '--output', 'table');

      // Assess
      expect(result).toEqual(expected);
      expect(result.stdout).toMatch(/^NAME +/);
    });

    it('is offered by every command that has --json', async () => {
      // Act
      const helps = await Promise.all(
        ['attach', 'status', 'rotate', 'preflight', 'heal', 'replicate', 'history'].map(async (command) => {
          const stdout = captured();
          await run([command, '--help'], { stdout, stderr: captured() });
          return stdout.text();
        }),
      );

      // Assess
      for (const help of helps) {
        expect(help).toContain('--json');
        expect(help).toContain('-o, --output <format>');
      }
    });

    it.each([
      ['an unknown format', ['--output', 'yaml'], /Allowed choices are json, table/],
      ['--json with --output table', ['--json', '--output', 'table'], /--json and --output table/],
    ])('exits 2 on %s, saying what is wrong', async (_what, flags, message) => {
      // Act
      const result = await cli.run('status', '--all', '--prefix', prefix, ...flags);

      // Assess
      expect(result.code).toBe(2);
      expect(result.stdout).toBe('');
      expect(result.stderr).toMatch(message);
    });
  });

  it('-y carries out the heal decision, as --yes does', async () => {
    // Prepare: a rotation that staged AWSPENDING and never applied it.
    const { arn, name } = await fakeSecret(`${prefix}stuck-${randomUUID()}`);
    const token = await h.stagePending(arn);
    expect((await h.labels(arn)).AWSPENDING).toBe(token);

    // Act
    const result = await cli.run('heal', name, '-y', '--force');

    // Assess
    expect(result.code, result.stderr).toBe(0);
    expect((await h.labels(arn)).AWSPENDING).toBeUndefined();
  });

  describe('FORCE_COLOR', () => {
    async function statusWith(isTTY: boolean, env: Record<string, string>) {
      const stdout = captured(isTTY);
      const code = await run(['status', '--all', '--prefix', prefix, '--endpoint', h.stack.endpoint], {
        stdout,
        stderr: captured(),
        env,
        rotators: [createFakeRotator(targets)],
      });
      return { code, text: stdout.text() };
    }

    it.each(['1', '', 'true', '3'])('FORCE_COLOR=%j paints output that is not a terminal', async (value) => {
      // Act
      const result = await statusWith(false, { FORCE_COLOR: value });

      // Assess
      expect(result.text).toContain(`${ESC}[1mNAME`);
    });

    it.each(['0', 'false'])('FORCE_COLOR=%s turns colours off on a terminal', async (value) => {
      // Act
      const result = await statusWith(true, { FORCE_COLOR: value });

      // Assess
      expect(result.text).toContain('NAME');
      expect(result.text).not.toContain(ESC);
    });

    it('NO_COLOR wins over FORCE_COLOR', async () => {
      // Act
      const result = await statusWith(true, { FORCE_COLOR: '1', NO_COLOR: '1' });

      // Assess
      expect(result.text).toContain('NAME');
      expect(result.text).not.toContain(ESC);
    });

    it('never paints JSON', async () => {
      // Act
      const stdout = captured(true);
      await run(['history', `${prefix}one`, '--json', '--endpoint', h.stack.endpoint], {
        stdout,
        stderr: captured(true),
        env: { FORCE_COLOR: '1' },
        rotators: [createFakeRotator(targets)],
      });

      // Assess
      expect(stdout.text()).not.toContain(ESC);
      expect(JSON.parse(stdout.text())).toMatchObject({ secret: `${prefix}one` });
    });
  });

  describe('from a checkout, stdout holds nothing but the JSON', () => {
    function shell(file: string, args: readonly string[]): Promise<{ code: number; stdout: string }> {
      const env: NodeJS.ProcessEnv = {};
      for (const [name, value] of Object.entries(process.env)) {
        if (!/^(npm_|aws_)/i.test(name)) env[name] = value;
      }
      // Colours forced: they may not reach the JSON either.
      Object.assign(env, h.stack.env, {
        PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}`,
        FORCE_COLOR: '1',
      });
      return new Promise((resolve) => {
        execFile(file, args, { cwd: ROOT, env, timeout: 45_000 }, (error, stdout) => {
          resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout });
        });
      });
    }

    it.each([
      ['npx rotor', 'npx', ['rotor']],
      ['npm run -s rotor --', 'npm', ['run', '-s', 'rotor', '--']],
    ])('%s history <secret> --json', async (_how, file, args) => {
      // Act
      const result = await shell(file, [...args, 'history', `${prefix}one`, '--json']);

      // Assess
      expect(result.code).toBe(0);
      expect(result.stdout.startsWith('{')).toBe(true);
      expect(JSON.parse(result.stdout)).toMatchObject({ secret: `${prefix}one` });
    });

    it('the executable reads FORCE_COLOR from its environment: colours into a pipe', async () => {
      // Act
      const result = await shell('npx', ['rotor', 'history', `${prefix}one`]);

      // Assess
      expect(result.code).toBe(0);
      expect(result.stdout).toContain(`history of ${prefix}one`);
      expect(result.stdout).toContain(`${ESC}[1m`);
    });
  });
});
