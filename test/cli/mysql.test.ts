/**
 * The `rotor` CLI with MySQL: the machine's MariaDB with real password logins, the local stack and
 * rotor's real step machine.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mysqlRotator } from '../../rotators/mysql/index.js';
import { logsInAsAccount, MariadbTestBed, skipMysql } from '../mysql/support.js';
import { type RotationHarness, startRotationHarness } from '../support/rotation.js';
import { CliRunner, everySecretString, sensitiveValues } from './support.js';

describe.skipIf(skipMysql)('rotor CLI with MySQL (MariaDB)', () => {
  let bed: MariadbTestBed;
  let h: RotationHarness;
  let cli: CliRunner;

  beforeAll(async () => {
    bed = await MariadbTestBed.start();
    h = await startRotationHarness({ rotators: [mysqlRotator] });
    cli = new CliRunner(h.stack.endpoint);
  });

  afterAll(async () => {
    await h?.close();
    await bed?.cleanup();
  });

  async function attached(extra: Record<string, unknown> = {}) {
    const value = await bed.secret(extra);
    const name = `cli-mysql/${String(value.username)}`;
    const arn = await h.createSecret(value, name);
    const attach = await cli.run(
      'attach',
      name,
      '--function',
      'rotor-test',
      '--schedule',
      'rate(30 days)',
      '--no-rotate-immediately',
    );
    await h.stack.idle();
    return { arn, name, value, attach };
  }

  it('attaches after a passing preflight, and preflight passes on its own', async () => {
    // Prepare
    const { name, attach } = await attached();

    // Act
    const result = await cli.run('preflight', name);

    // Assess
    expect(attach.code).toBe(0);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/PASS {2}secret value +engine mariadb, strategy single-user/);
    expect(result.stdout).toContain('all checks passed');
  });

  it('rotate --wait follows a single-user rotation to success; the new password logs in', async () => {
    // Prepare
    const { arn, name, value } = await attached();

    // Act
    const result = await cli.run('rotate', name, '--wait');

    // Assess
    expect(result.code).toBe(0);
    for (const step of ['createSecret', 'setSecret', 'testSecret', 'finishSecret']) {
      expect(result.stdout).toMatch(new RegExp(`${step} +succeeded`));
    }
    expect(await logsInAsAccount(await h.value(arn))).toBe(true);
    expect(await logsInAsAccount(value)).toBe(false);
  });

  it('never prints a password', async () => {
    // Prepare
    const sensitive = sensitiveValues(await everySecretString(h.sm));
    const output = cli.outputs.join('\n');

    // Act
    const leaked = [...sensitive].filter((secret) => output.includes(secret));

    // Assess
    expect(sensitive.size).toBeGreaterThanOrEqual(3);
    expect(leaked).toEqual([]);
  });
});
