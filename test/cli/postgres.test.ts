/**
 * The `rotor` CLI end to end: the local AWS stack, rotor's real step machine as the rotation
 * function, an embedded PostgreSQL 17 with SCRAM logins, and the CLI driven in-process.
 */
import { randomUUID } from 'node:crypto';
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  RotateSecretCommand,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES_TAG } from '../../handlers/functions.js';
import type { RotationEvent } from '../../local/stack.js';
import { postgresRotator } from '../../rotators/postgres/index.js';
import { newPassword, skipPostgres, TestServer, uniqueName } from '../postgres/support.js';
import { type RotationHarness, startRotationHarness } from '../support/rotation.js';
import { CliRunner, everySecretString, sensitiveValues } from './support.js';

const DAY = 86_400_000;

describe.skipIf(skipPostgres)('rotor CLI with PostgreSQL on the local stack', () => {
  let db: TestServer;
  let h: RotationHarness;
  let cli: CliRunner;
  let masterArn: string;
  let weakMasterArn: string;
  /** The local stack's clock runs this far from the real one (the overdue case moves it). */
  let clockOffsetMs = 0;
  /** Every password set up by hand in this file (beside what the stack holds). */
  const passwords = new Set<string>();

  beforeAll(async () => {
    db = await TestServer.start('embedded');
    h = await startRotationHarness({
      rotators: [postgresRotator],
      stack: {
        clock: () => new Date(Date.now() + clockOffsetMs),
        // A refused RotateSecret must not start a background retry behind the test's back.
        rotation: { reattemptStuck: false },
      },
    });
    cli = new CliRunner(h.stack.endpoint);
    // Masters name their own endpoint and TLS: a rotated secret never decides where they log in.
    const endpoint = { host: db.server.host, port: db.server.port, ssl: false };
    masterArn = await h.createSecret(
      { ...JSON.parse(db.masterSecret), ...endpoint },
      uniqueName('cli_master'),
    );
    passwords.add(db.master.password);
    // A managing role without CREATEROLE: it cannot manage the clone.
    const weak = { username: uniqueName('weak_master'), password: newPassword() };
    passwords.add(weak.password);
    await db.sql(`CREATE ROLE ${weak.username} LOGIN PASSWORD '${weak.password}'`);
    weakMasterArn = await h.createSecret({ ...weak, ...endpoint }, uniqueName('cli_weak_master'));

    // Rotation functions that die part-way, as a Lambda can: how rotations get stuck.
    const dying = (name: string, dieAt: RotationEvent['Step']) =>
      h.stack.registerFunction(
        name,
        async (event: RotationEvent, context) => {
          if (event.Step === dieAt) throw new Error(`the Lambda died before ${dieAt}`);
          return h.handler(event, context);
        },
        { [ENGINES_TAG]: 'postgres' },
      );
    dying('rotor-dies-at-test', 'testSecret');
    dying('rotor-dies-at-set', 'setSecret');
  });

  afterAll(async () => {
    await h?.close();
    await db?.stop();
  });

  /** A login role on the server and its secret in the stack, named under `prefix`. */
  async function userSecret(prefix: string, extra: Record<string, unknown> = {}) {
    const username = uniqueName('cli');
    const password = newPassword();
    passwords.add(password);
    await db.createUser(username, password);
    const value = db.secret(username, password, extra);
    const arn = await h.createSecret(value, `${prefix}/${username}`);
    return { arn, name: `${prefix}/${username}`, username, password, value };
  }

  /** Rotation configured to `functionName`, run once, left as it ended. */
  async function rotateWith(arn: string, functionName: string): Promise<string> {
    const out = await h.sm.send(
      new RotateSecretCommand({
        SecretId: arn,
        RotationLambdaARN: h.stack.functionArn(functionName),
        RotationRules: { ScheduleExpression: 'rate(30 days)' },
      }),
    );
    await h.stack.idle();
    return out.VersionId as string;
  }

  async function describeSecret(arn: string) {
    return h.sm.send(new DescribeSecretCommand({ SecretId: arn }));
  }

  const prefix = () => `cli-${randomUUID().slice(0, 8)}`;

  describe('attach', () => {
    it('attaches rotation (function name expanded, schedule, window) and the first rotation runs', async () => {
      // Prepare
      const { arn, name, username, password } = await userSecret(prefix());

      // Act
      const result = await cli.run(
        'attach',
        name,
        '--function',
        'rotor-test',
        '--schedule',
        'rate(30 days)',
        '--window',
        '4h',
      );
      await h.stack.idle();

      // Assess
      expect(result.code).toBe(0);
      expect(result.stdout).toContain(`attached ${name}: ${h.functionArn} on rate(30 days), window 4h`);
      const secret = await describeSecret(arn);
      expect(secret.RotationEnabled).toBe(true);
      expect(secret.RotationLambdaARN).toBe(h.functionArn);
      expect(secret.RotationRules).toMatchObject({ ScheduleExpression: 'rate(30 days)', Duration: '4h' });
      const current = await h.value(arn);
      expect(current.password).not.toBe(password);
      expect(await db.canLogin(username, current.password)).toBe(true);
      expect(await db.canLogin(username, password)).toBe(false);
    });

    it('refuses a MySQL secret for a PostgreSQL function (its rotor:engines tag), exit 2, and changes nothing', async () => {
      // Prepare
      const name = `${prefix()}/mysql-app`;
      const arn = await h.createSecret(
        { engine: 'mysql', host: '127.0.0.1', port: 3306, username: 'app', password: newPassword() },
        name,
      );
      h.stack.secretsManager.resetCalls();

      // Act
      const result = await cli.run('attach', name, '--function', 'rotor-test', '--schedule', 'rate(30 days)');

      // Assess
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(`refused ${name}:`);
      expect(result.stderr).toContain(
        'rotates postgres, aurora-postgresql (its rotor:engines tag), not mysql',
      );
      expect(result.stderr).toContain('nothing was changed');
      expect((await describeSecret(arn)).RotationEnabled).not.toBe(true);
      expect(h.stack.secretsManager.calls.RotateSecret).toBeUndefined();
    });

    it("knows an untagged function by rotor's naming convention (rotor-<stage>-postgres) and refuses a mismatch even with --skip-preflight", async () => {
      // Prepare
      h.stack.registerFunction('rotor-untagged-postgres', h.handler);
      const name = `${prefix()}/mysql-app`;
      const arn = await h.createSecret(
        { engine: 'mysql', host: '127.0.0.1', port: 3306, username: 'app', password: newPassword() },
        name,
      );

      // Act
      const result = await cli.run(
        'attach',
        name,
        '--function',
        'rotor-untagged-postgres',
        '--schedule',
        'rate(30 days)',
        '--skip-preflight',
        '--json',
      );

      // Assess
      expect(result.code).toBe(2);
      const [out] = JSON.parse(result.stdout) as [{ attached: boolean; refused: { reason: string } }];
      expect(out.attached).toBe(false);
      expect(out.refused.reason).toContain('rotates postgres, aurora-postgresql (its name), not mysql');
      expect((await describeSecret(arn)).RotationEnabled).not.toBe(true);
    });

    it('refuses a function whose engines it cannot tell (no tag, no rotor name), naming the tag to set', async () => {
      // Prepare
      h.stack.registerFunction('someone-elses-rotator', h.handler);
      const { arn, name } = await userSecret(prefix());

      // Act
      const result = await cli.run(
        'attach',
        name,
        '--function',
        'someone-elses-rotator',
        '--schedule',
        'rate(30 days)',
      );

      // Assess
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('has no rotor:engines tag');
      expect((await describeSecret(arn)).RotationEnabled).not.toBe(true);
    });

    it('preflight fails "function rotates this engine" for a secret already configured to the wrong function', async () => {
      // Prepare
      const name = `${prefix()}/mysql-app`;
      const arn = await h.createSecret(
        { engine: 'mysql', host: '127.0.0.1', port: 3306, username: 'app', password: newPassword() },
        name,
      );
      await h.sm.send(
        new RotateSecretCommand({
          SecretId: arn,
          RotationLambdaARN: h.stack.registerFunction('rotor-never-runs', async () => undefined, {
            [ENGINES_TAG]: 'postgres',
          }),
          RotationRules: { ScheduleExpression: 'rate(30 days)' },
          RotateImmediately: false,
        }),
      );
      await h.stack.idle();

      // Act
      const result = await cli.run('preflight', name);

      // Assess
      expect(result.code).toBe(1);
      expect(result.stdout).toMatch(
        /FAIL {2}function rotates this engine +\S+ rotates postgres \(its rotor:engines tag\), not mysql/,
      );
    });

    it('refuses to replace another rotation function without --replace, and replaces it with --replace', async () => {
      // Prepare
      const { arn, name } = await userSecret(prefix());
      const other = h.stack.registerFunction('rotor-other-postgres', h.handler);
      await rotateWith(arn, 'rotor-other-postgres');
      h.stack.secretsManager.resetCalls();

      // Act
      const refused = await cli.run(
        'attach',
        name,
        '--function',
        'rotor-test',
        '--schedule',
        'rate(30 days)',
      );

      // Assess
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain(`it is already rotated by ${other}: add --replace`);
      expect(h.stack.secretsManager.calls.RotateSecret).toBeUndefined();
      expect((await describeSecret(arn)).RotationLambdaARN).toBe(other);

      // Act
      const replaced = await cli.run(
        'attach',
        name,
        '--function',
        'rotor-test',
        '--schedule',
        'rate(30 days)',
        '--replace',
      );
      await h.stack.idle();

      // Assess
      expect(replaced.code).toBe(0);
      expect((await describeSecret(arn)).RotationLambdaARN).toBe(h.functionArn);
    });

    it.each([
      ['y', 0, 'rotor-test'],
      ['n', 2, 'rotor-asked-postgres'],
    ])(
      'asks on a terminal before replacing another function: answer %s, exit %i',
      async (answer, code, after) => {
        // Prepare
        const { arn, name } = await userSecret(prefix());
        h.stack.registerFunction('rotor-asked-postgres', h.handler);
        await rotateWith(arn, 'rotor-asked-postgres');
        const questions: string[] = [];
        const terminal = new CliRunner(h.stack.endpoint, {
          ask: async (question) => {
            questions.push(question);
            return answer;
          },
        });

        // Act
        const result = await terminal.run(
          'attach',
          name,
          '--function',
          'rotor-test',
          '--schedule',
          'rate(30 days)',
        );
        await h.stack.idle();

        // Assess
        expect(result.code).toBe(code);
        expect(questions).toEqual([
          `${name} is rotated by ${h.stack.functionArn('rotor-asked-postgres')}: replace it with ${h.functionArn}? [y/N] `,
        ]);
        expect((await describeSecret(arn)).RotationLambdaARN).toBe(h.stack.functionArn(after));
      },
    );

    it('re-attaches to the same function without --replace (a new schedule)', async () => {
      // Prepare
      const { arn, name } = await userSecret(prefix());
      await rotateWith(arn, 'rotor-test');

      // Act
      const result = await cli.run('attach', name, '--function', 'rotor-test', '--schedule', 'rate(7 days)');
      await h.stack.idle();

      // Assess
      expect(result.code).toBe(0);
      expect((await describeSecret(arn)).RotationRules?.ScheduleExpression).toBe('rate(7 days)');
    });

    it('refuses a secret whose value does not parse, naming the field, and changes nothing', async () => {
      // Prepare
      const { arn, name } = await userSecret(prefix(), { port: 'not-a-port' });
      h.stack.secretsManager.resetCalls();

      // Act
      const result = await cli.run('attach', name, '--function', 'rotor-test', '--schedule', 'rate(30 days)');

      // Assess
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('field "port"');
      expect(result.stderr).toContain('nothing was changed');
      expect((await describeSecret(arn)).RotationEnabled).not.toBe(true);
      expect(h.stack.secretsManager.calls.RotateSecret).toBeUndefined();
    });

    it('refuses a secret whose preflight fails (master without CREATEROLE), and changes nothing', async () => {
      // Prepare
      const { arn, name } = await userSecret(prefix(), {
        strategy: 'alternating-users',
        masterarn: weakMasterArn,
      });

      // Act
      const result = await cli.run('attach', name, '--function', 'rotor-test', '--schedule', 'rate(30 days)');

      // Assess
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`refused ${name}: preflight failed`);
      expect(result.stdout).toMatch(/FAIL {2}master privileges +role "weak_master_\w+" lacks CREATEROLE/);
      expect((await describeSecret(arn)).RotationEnabled).not.toBe(true);
    });

    it('with --no-rotate-immediately, only tests the configuration: the password stays', async () => {
      // Prepare
      const { arn, name, password } = await userSecret(prefix());

      // Act
      const result = await cli.run(
        'attach',
        name,
        '--function',
        'rotor-test',
        '--schedule',
        'rate(7 days)',
        '--no-rotate-immediately',
      );
      await h.stack.idle();

      // Assess
      expect(result.code).toBe(0);
      expect(result.stdout).toContain('configuration test started');
      expect((await h.value(arn)).password).toBe(password);
      expect((await describeSecret(arn)).RotationEnabled).toBe(true);
    });
  });

  describe('attach waits for the configuration test', () => {
    it('prints that the configuration test passed and exits 0 for a working secret', async () => {
      // Prepare
      const { arn, name, password } = await userSecret(prefix());

      // Act
      const result = await cli.run(
        'attach',
        name,
        '--function',
        'rotor-test',
        '--schedule',
        'rate(30 days)',
        '--no-rotate-immediately',
      );

      // Assess
      expect(result.code).toBe(0);
      expect(result.stdout).toContain('configuration test started');
      expect(result.stdout).toMatch(/testSecret +succeeded/);
      expect(result.stdout).toContain(`configuration test passed in `);
      expect((await h.value(arn)).password).toBe(password);
    });

    it('prints that the first rotation succeeded and exits 0 (RotateImmediately)', async () => {
      // Prepare
      const { arn, name, username } = await userSecret(prefix());

      // Act
      const result = await cli.run('attach', name, '--function', 'rotor-test', '--schedule', 'rate(30 days)');

      // Assess: the rotation had ended when attach returned.
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(/finishSecret +succeeded/);
      const labels = await h.labels(arn);
      expect(result.stdout).toContain(`first rotation succeeded in `);
      expect(result.stdout).toContain(`version ${labels.AWSCURRENT} of ${name} is AWSCURRENT`);
      expect(await db.canLogin(username, (await h.value(arn)).password)).toBe(true);
    });

    it('prints the failing step, error, cause and runbook when the probe query fails, exits 1, and status and history agree', async () => {
      // Prepare: the probe fails (division by zero); preflight would refuse it, so it is skipped.
      const p = prefix();
      const { name, username, password } = await userSecret(p, { probeQuery: 'SELECT 1/0' });

      // Act
      const result = await cli.run(
        'attach',
        name,
        '--function',
        'rotor-test',
        '--schedule',
        'rate(30 days)',
        '--no-rotate-immediately',
        '--skip-preflight',
      );
      const status = await cli.run('status', '--prefix', p);
      const history = await cli.run('history', name);

      // Assess
      expect(result.code).toBe(1);
      expect(result.stdout).toMatch(/testSecret +FAILED .*probe query: VerificationFailedError/);
      expect(result.stdout).toContain('configuration test FAILED after');
      expect(result.stdout).toContain('  step:    testSecret');
      expect(result.stdout).toContain('  error:   VerificationFailedError');
      expect(result.stdout).toContain('  cause:   probe query');
      expect(result.stdout).toContain('  runbook: RUNBOOK.md#verificationfailederror');
      expect(status.code).toBe(1);
      expect(status.stdout).toContain(`${name}: configuration test failed`);
      expect(status.stdout).toContain('VerificationFailedError');
      expect(history.stdout).toContain('configuration test (its temporary version is gone)');
      expect(history.stdout).toContain('configuration test FAILED');
      expect(await db.canLogin(username, password)).toBe(true);
    });

    it('exits 1 with the authentication cause when the password is wrong on the server, and status agrees', async () => {
      // Prepare: the server's password differs from the secret's.
      const p = prefix();
      const { name, username } = await userSecret(p);
      const serverPassword = newPassword();
      passwords.add(serverPassword);
      await db.sql(`ALTER ROLE ${username} PASSWORD '${serverPassword}'`);

      // Act
      const result = await cli.json<
        [{ attached: boolean; wait: { for: string; outcome: string; failure?: Record<string, string> } }]
      >(
        'attach',
        name,
        '--function',
        'rotor-test',
        '--schedule',
        'rate(30 days)',
        '--no-rotate-immediately',
        '--skip-preflight',
      );
      const status = await cli.json<Array<{ name: string; lastTest?: { result: string; error?: string } }>>(
        'status',
        '--prefix',
        p,
      );

      // Assess
      expect(result.code).toBe(1);
      const [attached] = result.value;
      expect(attached.attached).toBe(true);
      expect(attached.wait).toMatchObject({
        for: 'configuration-test',
        outcome: 'failed',
        failure: {
          step: 'testSecret',
          error: 'AuthenticationFailedError',
          cause: 'authentication',
          runbook: 'RUNBOOK.md#authenticationfailederror',
        },
      });
      expect(status.code).toBe(1);
      const row = status.value.find((entry) => entry.name === name);
      expect(row?.lastTest).toMatchObject({ result: 'failed', error: 'AuthenticationFailedError' });
    });

    it('exits 1 when the first rotation fails, naming the failing step and error', async () => {
      // Prepare: a function that dies before setSecret on every attempt.
      const { arn, name } = await userSecret(prefix());

      // Act
      const result = await cli.run(
        'attach',
        name,
        '--function',
        'rotor-dies-at-set',
        '--schedule',
        'rate(30 days)',
      );

      // Assess
      expect(result.code).toBe(1);
      expect(result.stdout).toContain('first rotation FAILED after');
      expect(result.stdout).toContain('  step:    setSecret');
      // The function died outside rotor's handler (a bare Error): the service's event has the entry.
      expect(result.stdout).toContain('  runbook: RUNBOOK.md#rotationfailed');
      const labels = await h.labels(arn);
      expect(labels.AWSPENDING).not.toBe(labels.AWSCURRENT);
    });

    it('--timeout bounds the wait: a test still running then exits 1 and says so', async () => {
      // Prepare: a function whose testSecret takes 3 s.
      const { name } = await userSecret(prefix());
      h.stack.registerFunction(
        'rotor-slow-postgres',
        async (event: RotationEvent, context) => {
          if (event.Step === 'testSecret') await new Promise((resolve) => setTimeout(resolve, 3_000));
          return h.handler(event, context);
        },
        { [ENGINES_TAG]: 'postgres' },
      );

      // Act
      const started = Date.now();
      const result = await cli.run(
        'attach',
        name,
        '--function',
        'rotor-slow-postgres',
        '--schedule',
        'rate(30 days)',
        '--no-rotate-immediately',
        '--timeout',
        '1s',
      );
      const took = Date.now() - started;
      await h.stack.idle();

      // Assess
      expect(result.code).toBe(1);
      expect(result.stdout).toContain('configuration test still running after');
      expect(took).toBeLessThan(3_000);
    });

    it('says the outcome is unknown, and exits 1, when the test ended but no event tells how', async () => {
      // Prepare: the CLI's clock runs 40 days ahead of the stack's (the stack's events fall outside
      // the window attach reads, as logs that never arrive) and, once the configuration test has
      // had 5 s of real time to end (it takes well under one), 10 s further each time it is read,
      // so that the minute attach allows for late events passes quickly. Ticking from the start
      // would let a slow test look stuck while it still runs.
      const { name } = await userSecret(prefix());
      let ticks = 0;
      const started = Date.now();
      const ahead = new CliRunner(h.stack.endpoint, {
        now: () => Date.now() + 40 * DAY + (Date.now() - started > 5_000 ? 10_000 * ticks++ : 0),
      });

      // Act
      const result = await ahead.run(
        'attach',
        name,
        '--function',
        'rotor-test',
        '--schedule',
        'rate(30 days)',
        '--no-rotate-immediately',
        '--skip-preflight',
      );
      await h.stack.idle();

      // Assess
      expect(result.code).toBe(1);
      expect(result.stdout).toContain('configuration test outcome unknown');
      expect(result.stdout).toContain('no event tells its outcome');
      expect(result.stdout).not.toContain('configuration test passed');
    });

    it('--no-wait returns once attached, without the outcome', async () => {
      // Prepare
      const { name } = await userSecret(prefix());

      // Act
      const result = await cli.json<[{ attached: boolean; versionId: string; wait?: unknown }]>(
        'attach',
        name,
        '--function',
        'rotor-test',
        '--schedule',
        'rate(30 days)',
        '--no-rotate-immediately',
        '--no-wait',
      );
      await h.stack.idle();

      // Assess
      expect(result.code).toBe(0);
      expect(result.value[0].attached).toBe(true);
      expect(result.value[0].versionId).toMatch(/^[0-9a-f-]{36}$/);
      expect(result.value[0].wait).toBeUndefined();
    });
  });

  describe('preflight', () => {
    it('passes for an attached single-user secret: one line per check', async () => {
      // Prepare
      const { arn, name } = await userSecret(prefix());
      await rotateWith(arn, 'rotor-test');

      // Act
      const result = await cli.run('preflight', name);

      // Assess
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(
        /PASS {2}rotation configured +rotated by .*rotor-test on rate\(30 days\)/,
      );
      expect(result.stdout).toMatch(/PASS {2}no stuck rotation/);
      expect(result.stdout).toMatch(/PASS {2}secret value +engine postgres, strategy single-user/);
      expect(result.stdout).toMatch(/PASS {2}login +role "cli_\w+" logs in/);
      expect(result.stdout).toContain('all checks passed');
    });

    it('passes for alternating users whose master may manage the pair (master read through Secrets Manager)', async () => {
      // Prepare
      const { arn, name } = await userSecret(prefix(), { masterarn: masterArn });
      await rotateWith(arn, 'rotor-test');

      // Act
      const result = await cli.json<{ ok: boolean; checks: { name: string; ok: boolean }[] }>(
        'preflight',
        name,
      );

      // Assess
      expect(result.code).toBe(0);
      expect(result.value.ok).toBe(true);
      expect(result.value.checks.map((check) => check.name)).toEqual(
        expect.arrayContaining(['master secret', 'master login', 'master privileges']),
      );
    });

    it('fails for a master without CREATEROLE, saying how to fix it, and exits 1', async () => {
      // Prepare
      const { name } = await userSecret(prefix(), {
        strategy: 'alternating-users',
        masterarn: weakMasterArn,
      });

      // Act
      const result = await cli.run('preflight', name);

      // Assess
      expect(result.code).toBe(1);
      expect(result.stdout).toMatch(/FAIL {2}master privileges +role "weak_master_\w+" lacks CREATEROLE/);
      expect(result.stdout).toMatch(/fix: ALTER ROLE "weak_master_\w+" CREATEROLE/);
      expect(result.stdout).toMatch(/FAIL {2}rotation configured/);
    });

    it('--json lists every check with ok, detail and fix', async () => {
      // Prepare
      const { name } = await userSecret(prefix(), {
        strategy: 'alternating-users',
        masterarn: weakMasterArn,
      });

      // Act
      const result = await cli.json<{
        ok: boolean;
        secret: { name: string };
        checks: Record<string, unknown>[];
      }>('preflight', name);

      // Assess
      expect(result.code).toBe(1);
      expect(result.value.ok).toBe(false);
      expect(result.value.secret.name).toBe(name);
      expect(result.value.checks).toContainEqual(
        expect.objectContaining({
          name: 'master privileges',
          ok: false,
          fix: expect.stringContaining('CREATEROLE'),
        }),
      );
    });
  });

  describe('rotate', () => {
    it('--wait follows a rotation step by step with durations and ends with success', async () => {
      // Prepare
      const { arn, name, username } = await userSecret(prefix());
      await rotateWith(arn, 'rotor-test');

      // Act
      const result = await cli.run('rotate', name, '--wait');

      // Assess
      expect(result.code).toBe(0);
      for (const step of ['createSecret', 'setSecret', 'testSecret', 'finishSecret']) {
        expect(result.stdout).toMatch(new RegExp(`${step} +succeeded +\\d+ ms +attempt 1`));
      }
      const labels = await h.labels(arn);
      expect(result.stdout).toContain(`rotation succeeded in`);
      expect(result.stdout).toContain(`version ${labels.AWSCURRENT} is AWSCURRENT`);
      expect(await db.canLogin(username, (await h.value(arn)).password)).toBe(true);
    });

    it('--follow resumes watching a rotation already running, to its end, without starting another', async () => {
      // Prepare: a rotation held before its first step, started by someone else.
      const { arn, name, username } = await userSecret(prefix());
      let release: () => void = () => undefined;
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      const held = h.stack.registerFunction(
        'rotor-held-postgres',
        async (event: RotationEvent, context) => {
          await gate;
          return h.handler(event, context);
        },
        { [ENGINES_TAG]: 'postgres' },
      );
      const started = await h.sm.send(
        new RotateSecretCommand({
          SecretId: arn,
          RotationLambdaARN: held,
          RotationRules: { ScheduleExpression: 'rate(30 days)' },
        }),
      );
      h.stack.secretsManager.resetCalls();

      // Act
      const following = cli.run('rotate', name, '--follow', '--timeout', '1m');
      setTimeout(release, 200);
      const result = await following;
      await h.stack.idle();

      // Assess
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toContain(
        `following the rotation of ${name} with ${held}: version ${started.VersionId}`,
      );
      expect(result.stdout).toMatch(/finishSecret +succeeded/);
      expect(result.stdout).toContain(`version ${started.VersionId} is AWSCURRENT`);
      expect(h.stack.secretsManager.calls.RotateSecret).toBeUndefined();
      expect(await db.canLogin(username, (await h.value(arn)).password)).toBe(true);
    });

    it('--follow says so when no rotation is running', async () => {
      // Prepare
      const { arn, name } = await userSecret(prefix());
      await rotateWith(arn, 'rotor-test');

      // Act
      const result = await cli.json<{ outcome: string }>('rotate', name, '--follow');

      // Assess
      expect(result.code).toBe(0);
      expect(result.value.outcome).toBe('none');
    });

    it('--wait exits 1 when the rotation fails, shows the failing step with its cause, and says AWSPENDING is left', async () => {
      // Prepare: the probe fails, so testSecret fails on every attempt (and rolls the password back).
      const { arn, name, username, password } = await userSecret(prefix(), { probeQuery: 'SELECT 1/0' });
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
      const result = await cli.run('rotate', name, '--wait');

      // Assess
      expect(result.code).toBe(1);
      expect(result.stdout).toMatch(
        /testSecret +FAILED +\d+ ms +attempt 3 +probe query: VerificationFailedError/,
      );
      expect(result.stdout).toContain('rotation failed after');
      expect(result.stdout).toContain('runbook: RUNBOOK.md#verificationfailederror');
      const labels = await h.labels(arn);
      expect(result.stdout).toContain(`AWSPENDING is left on version ${labels.AWSPENDING}`);
      expect(await db.canLogin(username, password)).toBe(true);
    });

    it('--wait --json reports the outcome and every step', async () => {
      // Prepare
      const { arn, name } = await userSecret(prefix());
      await rotateWith(arn, 'rotor-test');

      // Act
      const result = await cli.json<{ outcome: string; steps: { step: string; result: string }[] }>(
        'rotate',
        name,
        '--wait',
      );

      // Assess
      expect(result.code).toBe(0);
      expect(result.value.outcome).toBe('succeeded');
      expect(result.value.steps.map((step) => `${step.step}:${step.result}`)).toEqual([
        'createSecret:succeeded',
        'setSecret:succeeded',
        'testSecret:succeeded',
        'finishSecret:succeeded',
      ]);
    });

    it('is refused with exit 1 and a pointer to heal while a rotation is stuck', async () => {
      // Prepare
      const { arn, name } = await userSecret(prefix());
      await rotateWith(arn, 'rotor-dies-at-set');

      // Act
      const result = await cli.run('rotate', name, '--wait');

      // Assess
      expect(result.code).toBe(1);
      expect(result.stderr).toContain("isn't complete");
      expect(result.stderr).toContain(`rotor heal ${name}`);
    });

    it('exits 2 when the secret has no rotation, saying to attach it first', async () => {
      // Prepare
      const { name } = await userSecret(prefix());

      // Act
      const result = await cli.run('rotate', name);

      // Assess
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(`rotor attach ${name}`);
    });
  });

  describe('heal', () => {
    it('explains a roll-forward without --yes and changes nothing (exit 1)', async () => {
      // Prepare: the Lambda died after setSecret changed the password: only AWSPENDING logs in.
      const { arn, name } = await userSecret(prefix());
      const token = await rotateWith(arn, 'rotor-dies-at-test');
      const labels = await h.labels(arn);

      // Act
      const result = await cli.run('heal', name, '--min-age', '0s');

      // Assess
      expect(result.code).toBe(1);
      expect(result.stdout).toContain('decision  roll-forward');
      expect(result.stdout).toContain(`pending   version ${token}`);
      expect(result.stdout).toMatch(
        /current +version \S+: fails: authentication \(AuthenticationFailedError\)/,
      );
      expect(result.stdout).toContain('Nothing was changed: run again with --yes');
      expect(await h.labels(arn)).toEqual(labels);
    });

    it('rolls forward with --yes: the pending version becomes AWSCURRENT and rotation can run again', async () => {
      // Prepare
      const { arn, name, username } = await userSecret(prefix());
      const token = await rotateWith(arn, 'rotor-dies-at-test');

      // Act
      const result = await cli.run('heal', name, '--yes', '--force');

      // Assess
      expect(result.code).toBe(0);
      expect(result.stdout).toContain(`done: promoted version ${token} to AWSCURRENT`);
      const labels = await h.labels(arn);
      expect(labels.AWSCURRENT).toBe(token);
      expect(labels.AWSPENDING === undefined || labels.AWSPENDING === token).toBe(true);
      expect(await db.canLogin(username, (await h.value(arn)).password)).toBe(true);
      await rotateWith(arn, 'rotor-test');
      expect((await h.labels(arn)).AWSCURRENT).not.toBe(token);
    });

    it('explains an abandon without --yes (the pending password was never applied) and changes nothing', async () => {
      // Prepare
      const { arn, name } = await userSecret(prefix());
      const token = await rotateWith(arn, 'rotor-dies-at-set');
      const labels = await h.labels(arn);

      // Act
      const result = await cli.run('heal', name, '--force');

      // Assess
      expect(result.code).toBe(1);
      expect(result.stdout).toContain('decision  abandon');
      expect(result.stdout).toContain(`would clear AWSPENDING from version ${token}`);
      expect(await h.labels(arn)).toEqual(labels);
    });

    it('abandons with --yes: AWSPENDING is cleared and AWSCURRENT still logs in', async () => {
      // Prepare
      const { arn, name, username, password } = await userSecret(prefix());
      const token = await rotateWith(arn, 'rotor-dies-at-set');

      // Act
      const result = await cli.run('heal', name, '--yes', '--min-age', '0m');

      // Assess
      expect(result.code).toBe(0);
      expect(result.stdout).toContain(`done: cleared AWSPENDING from version ${token}`);
      const labels = await h.labels(arn);
      expect(labels.AWSPENDING).toBeUndefined();
      expect(labels.AWSCURRENT).not.toBe(token);
      expect(await db.canLogin(username, password)).toBe(true);
    });

    it('heals a rotation Secrets Manager gave up on at once, however young, without --force', async () => {
      // Prepare
      const { arn, name } = await userSecret(prefix());
      const token = await rotateWith(arn, 'rotor-dies-at-set');

      // Act
      const result = await cli.json<{ decision: string; acted: boolean; state: string }>(
        'heal',
        name,
        '--yes',
      );

      // Assess
      expect(result.code).toBe(0);
      expect(result.value).toMatchObject({ state: 'failed', decision: 'abandon', acted: true });
      expect((await h.labels(arn)).AWSPENDING).toBeUndefined();
      expect(Object.keys(await h.labels(arn))).not.toContain(token);
    });
  });

  describe('status', () => {
    it('shows a row per secret with engine, strategy, dates and the last outcome', async () => {
      // Prepare
      const p = prefix();
      const { arn, name } = await userSecret(p);
      await rotateWith(arn, 'rotor-test');

      // Act
      const result = await cli.run('status', '--prefix', p, '--deep');

      // Assess
      expect(result.code).toBe(0);
      const [header, row] = result.stdout.split('\n');
      expect(header).toMatch(
        /^NAME +ENGINE +STRATEGY +ENABLED +LAST ROTATED +NEXT ROTATION +OVERDUE +STATE +REPLICAS +LAST OUTCOME$/,
      );
      expect(row).toMatch(
        new RegExp(
          `^${name} +postgres +single-user +yes +\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\dZ +\\d{4}-.* +no +healthy +- +succeeded `,
        ),
      );
    });

    it("lists only secrets rotor's functions rotate, reads no value without --deep, and an unrelated non-JSON secret fails nothing", async () => {
      // Prepare
      const p = prefix();
      const { arn, name } = await userSecret(p);
      await rotateWith(arn, 'rotor-test');
      await h.sm.send(new CreateSecretCommand({ Name: `${p}/plain-text`, SecretString: 'not json at all' }));
      const foreign = `${p}/rotated-by-someone-else`;
      await h.sm.send(new CreateSecretCommand({ Name: foreign, SecretString: 'not json either' }));
      await h.sm.send(
        new RotateSecretCommand({
          SecretId: foreign,
          RotationLambdaARN: h.stack.registerFunction('someone-elses-rotation', async () => undefined),
          RotationRules: { ScheduleExpression: 'rate(30 days)' },
          RotateImmediately: false,
        }),
      );
      await h.stack.idle();
      h.stack.secretsManager.resetCalls();

      // Act
      const listed = await cli.json<{ name: string; engine?: string }[]>('status', '--all', '--prefix', p);
      const reads = h.stack.secretsManager.calls.GetSecretValue;
      const deep = await cli.json<{ name: string; engine?: string }[]>(
        'status',
        '--all',
        '--deep',
        '--prefix',
        p,
      );

      // Assess
      expect(listed.code).toBe(0);
      expect(listed.value.map((row) => row.name)).toEqual([name]);
      expect(listed.value[0]?.engine).toBeUndefined();
      expect(reads).toBeUndefined();
      expect(deep.code).toBe(0);
      expect(deep.value).toEqual([expect.objectContaining({ name, engine: 'postgres' })]);
    });

    it('marks a secret whose next rotation date has passed as overdue, and exits 1', async () => {
      // Prepare: rotation attached 40 days ago (by the stack's clock) on a 30-day schedule.
      const p = prefix();
      const { name } = await userSecret(p);
      clockOffsetMs = -40 * DAY;
      try {
        await cli.run(
          'attach',
          name,
          '--function',
          'rotor-test',
          '--schedule',
          'rate(30 days)',
          '--no-rotate-immediately',
          // The stack's clock is 40 days behind the CLI's: its events fall outside the wait's window.
          '--no-wait',
        );
        await h.stack.idle();
      } finally {
        clockOffsetMs = 0;
      }

      // Act
      const result = await cli.run('status', '--prefix', p);

      // Assess
      expect(result.code).toBe(1);
      expect(result.stdout).toMatch(new RegExp(`^${name} .* OVERDUE `, 'm'));
      expect(result.stdout).toContain(`${name}: overdue: the next rotation was due`);
    });

    it('shows a failed rotation with its step, and exits 1', async () => {
      // Prepare
      const p = prefix();
      const { arn, name } = await userSecret(p);
      const token = await rotateWith(arn, 'rotor-dies-at-set');

      // Act
      const result = await cli.run('status', '--prefix', p);

      // Assess
      expect(result.code).toBe(1);
      expect(result.stdout).toMatch(
        new RegExp(`^${name} .* no +failed in setSecret \\(Error\\) .* failed .*setSecret`, 'm'),
      );
      expect(result.stdout).toContain(
        `${name}: failed: the rotation failed in setSecret (Error) after 3 attempts: Secrets Manager gave up; AWSPENDING is left on version ${token}: see \`rotor heal ${name}\``,
      );
    });

    it('--json gives every field for scripts', async () => {
      // Prepare
      const p = prefix();
      const { arn, name } = await userSecret(p);
      const token = await rotateWith(arn, 'rotor-dies-at-set');

      // Act
      const result = await cli.json<Record<string, unknown>[]>('status', '--prefix', p, '--deep');

      // Assess
      expect(result.code).toBe(1);
      expect(result.value).toEqual([
        expect.objectContaining({
          name,
          arn,
          engine: 'postgres',
          strategy: 'single-user',
          rotationEnabled: true,
          function: h.stack.functionArn('rotor-dies-at-set'),
          schedule: 'rate(30 days)',
          overdue: { overdue: false, reason: 'on schedule' },
          state: 'failed',
          failure: expect.objectContaining({ step: 'setSecret', attempts: 3, evidence: 'service' }),
          stuckPending: { versionId: token, ageSeconds: expect.any(Number) },
          replicas: [],
          // The Lambda died before the step machine could log the step: only the service's RotationFailed tells.
          lastOutcome: expect.objectContaining({
            result: 'failed',
            error: expect.stringContaining('setSecret'),
          }),
        }),
      ]);
    });
  });

  describe('replicate', () => {
    it('replicates to other regions, and status shows the replicas', async () => {
      // Prepare
      const p = prefix();
      const { arn, name } = await userSecret(p);
      await rotateWith(arn, 'rotor-test');

      // Act
      const result = await cli.run('replicate', name, '--regions', 'eu-west-1,us-west-2');
      const status = await cli.json<{ replicas: { region: string; status: string }[] }[]>(
        'status',
        '--prefix',
        p,
      );

      // Assess
      expect(result.code).toBe(0);
      expect(result.stdout).toContain('rotation stays on the primary');
      expect(result.stdout).toMatch(/^eu-west-1 +InSync/m);
      expect(result.stdout).toMatch(/^us-west-2 +InSync/m);
      expect((await describeSecret(arn)).ReplicationStatus?.map((r) => r.Region)).toEqual([
        'eu-west-1',
        'us-west-2',
      ]);
      expect(status.value[0]?.replicas).toEqual([
        { region: 'eu-west-1', status: 'InSync', message: 'Replication succeeded' },
        { region: 'us-west-2', status: 'InSync', message: 'Replication succeeded' },
      ]);
    });

    it('refuses a region that is not one (exit 2) before calling AWS', async () => {
      // Prepare
      const { name } = await userSecret(prefix());
      h.stack.secretsManager.resetCalls();

      // Act
      const result = await cli.run('replicate', name, '--regions', 'eu-west-1,mars');

      // Assess
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('"mars" is not one');
      expect(h.stack.secretsManager.calls.ReplicateSecretToRegions).toBeUndefined();
    });
  });

  describe('history', () => {
    it("lists versions with labels and dates, and each rotation's steps under its version", async () => {
      // Prepare
      const { arn, name } = await userSecret(prefix());
      await rotateWith(arn, 'rotor-test');
      const labels = await h.labels(arn);

      // Act
      const result = await cli.run('history', name);

      // Assess
      expect(result.code).toBe(0);
      const lines = result.stdout.split('\n');
      const current = lines.findIndex((line) => line.includes(`${labels.AWSCURRENT}  AWSCURRENT`));
      const previous = lines.findIndex((line) => line.includes(`${labels.AWSPREVIOUS}  AWSPREVIOUS`));
      expect(current).toBeGreaterThan(0);
      expect(previous).toBeGreaterThan(current);
      const steps = lines.slice(current + 1, previous).join('\n');
      for (const step of ['createSecret', 'setSecret', 'testSecret', 'finishSecret']) {
        expect(steps).toMatch(new RegExp(`${step}  succeeded  \\d+ ms  attempt 1`));
      }
      expect(steps).toContain('rotation succeeded');
    });

    it('--json gives each version its labels, dates and events', async () => {
      // Prepare
      const { arn, name } = await userSecret(prefix());
      const token = await rotateWith(arn, 'rotor-dies-at-set');

      // Act
      const result = await cli.json<{
        versions: {
          versionId: string;
          labels: string[];
          created: string;
          events: { kind: string; step?: string }[];
        }[];
        otherEvents: { kind: string }[];
      }>('history', name);

      // Assess
      expect(result.code).toBe(0);
      const pending = result.value.versions.find((version) => version.versionId === token);
      expect(pending?.labels).toEqual(['AWSPENDING']);
      expect(pending?.created).toMatch(/^\d{4}-\d\d-\d\dT/);
      // Each attempt's createSecret ran; the Lambda then died in setSecret before it could log.
      expect(pending?.events.map((event) => `${event.kind}:${event.step}`)).toEqual([
        'step-succeeded:createSecret',
        'step-succeeded:createSecret',
        'step-succeeded:createSecret',
      ]);
      expect(result.value.otherEvents.map((event) => event.kind)).toEqual([
        'rotation-started',
        'rotation-failed',
      ]);
    });
  });

  describe('secrets never printed', () => {
    it('no output of any command above contains a password of any version of any secret', async () => {
      // Prepare
      const sensitive = sensitiveValues(await everySecretString(h.sm));
      for (const password of passwords) sensitive.add(password);
      const output = cli.outputs.join('\n');

      // Act
      const leaked = [...sensitive].filter((value) => output.includes(value));

      // Assess
      expect(cli.outputs.length).toBeGreaterThan(40);
      expect(sensitive.size).toBeGreaterThan(40);
      expect(leaked).toEqual([]);
    });
  });
});
