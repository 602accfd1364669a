/**
 * On-call scenarios of issue 16 on the local stack with a real PostgreSQL (SCRAM): rotations made
 * to fail (a probe on a missing table, a refused connection, a manual put-secret-value) or caught
 * while running (a configuration test, a rotation just attached). `status`, `rotate --wait`,
 * `history` and `heal` must tell the same state, and name the cause.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { PutSecretValueCommand, RotateSecretCommand } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES_TAG, enginesTagValue } from '../../handlers/functions.js';
import type { RotationEvent } from '../../local/stack.js';
import { postgresRotator } from '../../rotators/postgres/index.js';
import { newPassword, skipPostgres, TestServer, uniqueName } from '../postgres/support.js';
import { type RotationHarness, startRotationHarness } from '../support/rotation.js';
import { CliRunner, everySecretString, sensitiveValues } from './support.js';

/** Holds the gated rotation function's steps until opened. */
class Gate {
  #open!: () => void;
  readonly opened = new Promise<void>((resolve) => {
    this.#open = resolve;
  });
  open(): void {
    this.#open();
  }
}

/** A port on this machine where nothing listens. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.skipIf(skipPostgres)('on-call: one state, named causes (PostgreSQL on the local stack)', () => {
  let db: TestServer;
  let h: RotationHarness;
  let cli: CliRunner;
  let gate = new Gate();
  const passwords = new Set<string>();
  beforeAll(async () => {
    db = await TestServer.start('embedded');
    h = await startRotationHarness({ rotators: [postgresRotator] });
    cli = new CliRunner(h.stack.endpoint);
    // rotor's function behind a gate: a rotation (or test) that is running for as long as the test wants.
    // Tagged as deploy tags rotor's functions (status lists only secrets rotor's functions rotate).
    h.stack.registerFunction(
      'rotor-gated',
      async (event: RotationEvent, context) => {
        await gate.opened;
        return h.handler(event, context);
      },
      { [ENGINES_TAG]: enginesTagValue(postgresRotator.engines) },
    );
  });

  afterAll(async () => {
    gate.open();
    await h?.stack.idle();
    await h?.close();
    await db?.stop();
  });

  async function userSecret(extra: Record<string, unknown> = {}) {
    const prefix = `oncall-${randomUUID().slice(0, 8)}`;
    const username = uniqueName('oncall');
    const password = newPassword();
    passwords.add(password);
    await db.createUser(username, password);
    const name = `${prefix}/${username}`;
    const arn = await h.createSecret(db.secret(username, password, extra), name);
    return { arn, name, prefix, username, password };
  }

  /** Rotation configured to `functionName` with a configuration test only (nothing rotated yet). */
  async function configure(arn: string, functionName = 'rotor-test'): Promise<string> {
    const out = await h.sm.send(
      new RotateSecretCommand({
        SecretId: arn,
        RotationLambdaARN: h.stack.functionArn(functionName),
        RotationRules: { ScheduleExpression: 'rate(30 days)' },
        RotateImmediately: false,
      }),
    );
    return out.VersionId as string;
  }

  it('a configuration test 10 s into its run is rotating (exit 0), not stuck; once passed, status and history show it', async () => {
    // Prepare
    gate = new Gate();
    const { arn, name, prefix } = await userSecret();
    const token = await configure(arn, 'rotor-gated');
    await sleep(50);

    // Act
    const during = await cli.json<{ state: string; stateReason: string }[]>('status', '--prefix', prefix);
    const healDuring = await cli.json<{ decision: string; state: string }>('heal', name);
    gate.open();
    await h.stack.idle();
    const after = await cli.json<{ state: string; lastTest?: { result: string }; lastOutcome: unknown }[]>(
      'status',
      '--prefix',
      prefix,
    );
    const table = await cli.run('status', '--prefix', prefix);
    const history = await cli.run('history', name);

    // Assess
    expect(during.code).toBe(0);
    expect(during.value[0]).toMatchObject({ state: 'rotating' });
    expect(during.value[0]?.stateReason).toContain('the configuration test started');
    expect(healDuring.code).toBe(0);
    expect(healDuring.value).toMatchObject({ decision: 'in-progress', state: 'rotating' });
    expect(after.code).toBe(0);
    expect(after.value[0]).toMatchObject({
      state: 'never-rotated',
      lastTest: { result: 'passed' },
      lastOutcome: expect.objectContaining({ result: 'test-passed' }),
    });
    expect(table.stdout).toMatch(new RegExp(`^${name} .* never rotated, test passed `, 'm'));
    expect(table.stdout).toContain(`${name}: configuration test passed`);
    expect(history.stdout).toContain(`${token}  configuration test (its temporary version is gone)`);
    expect(history.stdout).toMatch(/testSecret {2}succeeded/);
    expect(history.stdout).toContain('configuration test passed');
  });

  it('rotate --wait right after attach follows the rotation attach started, instead of calling it stuck', async () => {
    // Prepare
    gate = new Gate();
    const { arn, name, username } = await userSecret();
    await h.sm.send(
      new RotateSecretCommand({
        SecretId: arn,
        RotationLambdaARN: h.stack.functionArn('rotor-gated'),
        RotationRules: { ScheduleExpression: 'rate(30 days)' },
      }),
    );
    await sleep(50);

    // Act
    const refused = await cli.run('rotate', name);
    const waiting = cli.run('rotate', name, '--wait', '--timeout', '60');
    await sleep(200);
    gate.open();
    const result = await waiting;

    // Assess
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("a previous rotation isn't complete: a rotation is already running");
    expect(refused.stderr).not.toContain('stuck');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`a rotation of ${name} is already running`);
    expect(result.stdout).not.toContain('stuck');
    expect(result.stdout).toContain('rotation succeeded');
    expect(await db.canLogin(username, (await h.value(arn)).password)).toBe(true);
  });

  it('a probe on a missing table: rotate --wait fails naming the probe and SQLSTATE 42P01 in words; status, history and heal agree it failed; heal acts without --force and exits 1 (a person must look)', async () => {
    // Prepare
    const { arn, name, prefix, username, password } = await userSecret({
      probeQuery: `SELECT 1 FROM ${uniqueName('missing_table')}`,
    });
    await configure(arn);
    await h.stack.idle();

    // Act
    const rotate = await cli.run('rotate', name, '--wait');
    const status = await cli.json<
      { state: string; failure?: { step?: string; error?: string; runbook?: string } }[]
    >('status', '--prefix', prefix);
    const history = await cli.json<{ state: { state: string } }>('history', name);
    const heal = await cli.run('heal', name);
    const healJson = await cli.json<{ state: string; decision: string; currentCause?: string }>('heal', name);
    const preflight = await cli.run('preflight', name);

    // Assess
    expect(rotate.code).toBe(1);
    expect(rotate.stdout).toMatch(
      /testSecret +FAILED .*probe query: VerificationFailedError: .*SQLSTATE 42P01: undefined table/,
    );
    expect(rotate.stdout).toContain('runbook: RUNBOOK.md#verificationfailederror');
    expect(status.code).toBe(1);
    expect(status.value[0]).toMatchObject({
      state: 'failed',
      failure: {
        step: 'testSecret',
        error: 'VerificationFailedError',
        runbook: 'RUNBOOK.md#verificationfailederror',
      },
    });
    expect(history.value.state.state).toBe('failed');
    expect(heal.code).toBe(1);
    expect(heal.stdout).toContain('state     failed');
    expect(heal.stdout).toContain('decision  manual');
    expect(heal.stdout).toContain('SQLSTATE 42P01: undefined table');
    expect(heal.stdout).toContain('the password is not the problem');
    expect(heal.stdout).toContain('(cause: probe query)');
    expect(heal.stdout).not.toContain('in progress');
    expect(healJson.value).toMatchObject({
      state: 'failed',
      decision: 'manual',
      currentCause: 'probe-query',
      cause: 'probe-query',
    });
    // An operator looking with `rotor heal` publishes nothing (the heal function's report pages).
    expect(
      h
        .rotorEvents()
        .filter((event) => event.detailType === 'Rotation Heal Needed' && event.detail.secretArn === arn),
    ).toEqual([]);
    expect(preflight.code).toBe(1);
    expect(preflight.stdout).toMatch(/PASS {2}login /);
    expect(preflight.stdout).toMatch(
      /FAIL {2}test \(as testSecret\) +probe query \(VerificationFailedError\): .*SQLSTATE 42P01: undefined table/,
    );
    // Single-user: the failed test put the password back; AWSCURRENT still logs in.
    expect(await db.canLogin(username, password)).toBe(true);
  });

  it('a refused connection reads differently from a missing probe table: network, credentials not tested', async () => {
    // Prepare
    const { arn, name } = await userSecret({ host: '127.0.0.1', port: await closedPort() });
    await configure(arn);
    await h.stack.idle();

    // Act
    const rotate = await cli.run('rotate', name, '--wait');
    const heal = await cli.json<{ state: string; decision: string; currentCause?: string; reason: string }>(
      'heal',
      name,
    );
    const healText = await cli.run('heal', name);
    const preflight = await cli.json<{ checks: { name: string; ok: boolean; cause?: string }[] }>(
      'preflight',
      name,
    );

    // Assess
    expect(rotate.code).toBe(1);
    expect(rotate.stdout).toMatch(/FAILED .*network: TargetUnreachableError/);
    expect(rotate.stdout).not.toContain('probe query');
    expect(heal.code).toBe(1);
    expect(heal.value).toMatchObject({ state: 'failed', currentCause: 'network' });
    expect(heal.value.reason).toContain('the credentials were not tested');
    expect(healText.stdout).toContain('(cause: network)');
    expect(healText.stdout).not.toContain('the password is not the problem');
    expect(preflight.code).toBe(1);
    expect(preflight.value.checks.filter((check) => !check.ok && check.name !== 'no stuck rotation')).toEqual(
      expect.arrayContaining([expect.objectContaining({ cause: 'network' })]),
    );
    expect(preflight.value.checks.filter((check) => check.cause === 'probe-query')).toEqual([]);
  });

  it('a manual put-secret-value during a rotation is reported as what it is: abandoned, AWSCURRENT changed', async () => {
    // Prepare
    gate = new Gate();
    const { arn, name, username, password } = await userSecret();
    await configure(arn);
    await h.stack.idle();
    await h.sm
      .send(new RotateSecretCommand({ SecretId: arn, RotationLambdaARN: h.stack.functionArn('rotor-gated') }))
      .catch(() => undefined);
    // The rotation above runs behind the gate; `rotate --wait` follows it.
    const waiting = cli.run('rotate', name, '--wait', '--timeout', '60');
    await sleep(200);

    // Act
    await h.sm.send(
      new PutSecretValueCommand({
        SecretId: arn,
        SecretString: JSON.stringify(db.secret(username, password)),
      }),
    );
    const result = await waiting;
    gate.open();
    await h.stack.idle();
    const history = await cli.run('history', name);
    const status = await cli.json<{ state: string }[]>('status', '--prefix', name.split('/')[0] as string);

    // Assess
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('was abandoned: someone put a new AWSCURRENT by hand');
    expect(result.stdout).toContain('AWSCURRENT changed');
    expect(history.stdout).toContain('rotation ABANDONED: AWSCURRENT was put by hand');
    expect(status.value[0]?.state).toBe('never-rotated');
  });

  it('a password changed on the server by hand: the rotation fails in setSecret on authentication, and heal names it', async () => {
    // Prepare
    const { arn, name, username } = await userSecret();
    await configure(arn);
    await h.stack.idle();
    const elsewhere = newPassword();
    passwords.add(elsewhere);
    await db.sql(`ALTER ROLE ${username} PASSWORD '${elsewhere}'`);

    // Act
    const rotate = await cli.run('rotate', name, '--wait');
    const heal = await cli.json<{ state: string; decision: string; currentCause?: string; reason: string }>(
      'heal',
      name,
    );

    // Assess
    expect(rotate.code).toBe(1);
    expect(rotate.stdout).toMatch(
      /setSecret +FAILED .*authentication: AuthenticationFailedError: .*none of AWSCURRENT, AWSPENDING, AWSPREVIOUS/,
    );
    expect(rotate.stdout).toContain('runbook: RUNBOOK.md#authenticationfailederror');
    expect(heal.code).toBe(1);
    expect(heal.value).toMatchObject({ state: 'failed', decision: 'manual', currentCause: 'authentication' });
    expect(heal.value.reason).toContain('set a known password on the target');
  });

  it('an AWSPENDING staged by hand, which no rotation started on, is stuck for status and heal alike', async () => {
    // Prepare: staged by hand; the CLI looks two minutes later.
    const { arn, name, prefix, username } = await userSecret();
    await configure(arn);
    await h.stack.idle();
    // The service's event times have whole seconds: stage after the test's last one.
    await sleep(1_100);
    const token = randomUUID();
    await h.sm.send(
      new PutSecretValueCommand({
        SecretId: arn,
        ClientRequestToken: token,
        SecretString: JSON.stringify(db.secret(username, newPassword())),
        VersionStages: ['AWSPENDING'],
      }),
    );
    const later = new CliRunner(h.stack.endpoint, { now: () => Date.now() + 120_000 });

    // Act
    const status = await later.json<{ state: string; stateReason: string }[]>('status', '--prefix', prefix);
    const heal = await later.json<{ state: string; decision: string }>('heal', name);
    cli.outputs.push(...later.outputs);

    // Assess
    expect(status.code).toBe(1);
    expect(status.value[0]).toMatchObject({ state: 'stuck' });
    expect(status.value[0]?.stateReason).toContain('no rotation ever started');
    expect(heal.code).toBe(1);
    expect(heal.value).toMatchObject({ state: 'stuck', decision: 'abandon' });
    expect((await h.labels(arn)).AWSPENDING).toBe(token);
  });

  it('no output above contains a password', async () => {
    // Prepare
    const sensitive = sensitiveValues(await everySecretString(h.sm));
    for (const password of passwords) sensitive.add(password);

    // Act
    const output = cli.outputs.join('\n');

    // Assess
    expect(cli.outputs.length).toBeGreaterThan(15);
    expect([...sensitive].filter((value) => output.includes(value))).toEqual([]);
  });
});
