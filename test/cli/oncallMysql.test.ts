/**
 * Causes named with MySQL / MariaDB: a probe on a missing table reads as the probe query with the
 * error number in words (1146), not as a credential problem; status, heal and rotate agree.
 */
import { RotateSecretCommand } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mysqlRotator } from '../../rotators/mysql/index.js';
import { MariadbTestBed, skipMysql } from '../mysql/support.js';
import { type RotationHarness, startRotationHarness } from '../support/rotation.js';
import { CliRunner, everySecretString, sensitiveValues } from './support.js';

describe.skipIf(skipMysql)('on-call with MySQL (MariaDB): causes named', () => {
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

  it('a probe on a missing table: error 1146 in words, cause probe query, in rotate, heal and preflight', async () => {
    // Prepare
    const value = await bed.secret({ probeQuery: 'SELECT 1 FROM rotor_oncall_missing_table' });
    const name = `oncall-mysql/${String(value.username)}`;
    const arn = await h.createSecret(value, name);
    await h.sm.send(
      new RotateSecretCommand({
        SecretId: arn,
        RotationLambdaARN: h.functionArn,
        RotationRules: { ScheduleExpression: 'rate(30 days)' },
        RotateImmediately: false,
      }),
    );
    await h.stack.idle();

    // Act
    const rotate = await cli.run('rotate', name, '--wait');
    const heal = await cli.json<{
      state: string;
      decision: string;
      cause?: string;
      currentError?: string;
      reason: string;
    }>('heal', name);
    const healText = await cli.run('heal', name);
    const preflight = await cli.run('preflight', name);

    // Assess
    expect(rotate.code).toBe(1);
    expect(rotate.stdout).toMatch(
      /testSecret +FAILED .*probe query: VerificationFailedError: .*error 1146: table does not exist/,
    );
    expect(heal.code).toBe(1);
    // Single-user: the failed test put AWSCURRENT's password back; AWSCURRENT logs in and fails the
    // probe. The probe is what to fix, not a password.
    expect(heal.value).toMatchObject({ state: 'failed', decision: 'manual', cause: 'probe-query' });
    expect(heal.value.currentError).toContain('error 1146: table does not exist');
    expect(heal.value.reason).toContain('the password is not the problem');
    expect(healText.stdout).toContain('(cause: probe query)');
    expect(preflight.code).toBe(1);
    expect(preflight.stdout).toMatch(
      /FAIL {2}test \(as testSecret\) +probe query \(VerificationFailedError\): .*error 1146: table does not exist/,
    );
  });

  it('never prints a password', async () => {
    // Prepare
    const sensitive = sensitiveValues(await everySecretString(h.sm));

    // Act
    const output = cli.outputs.join('\n');

    // Assess
    expect(sensitive.size).toBeGreaterThanOrEqual(1);
    expect([...sensitive].filter((secret) => output.includes(secret))).toEqual([]);
  });
});
