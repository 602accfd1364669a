/**
 * What the step machine reports about AWSCURRENT, end to end: a rotation that needed AWSPREVIOUS
 * (`status`, `history`), and whether AWSCURRENT passed its test after a failure (`history`), on the
 * local stack with a real PostgreSQL (SCRAM).
 */
import { randomUUID } from 'node:crypto';
import { PutSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresRotator } from '../../rotators/postgres/index.js';
import { newPassword, skipPostgres, TestServer, uniqueName } from '../postgres/support.js';
import { type RotationHarness, startRotationHarness } from '../support/rotation.js';
import { CliRunner } from './support.js';

describe.skipIf(skipPostgres)('a rotation that had to log in with AWSPREVIOUS (PostgreSQL)', () => {
  let db: TestServer;
  let h: RotationHarness;
  let cli: CliRunner;

  beforeAll(async () => {
    db = await TestServer.start('embedded');
    h = await startRotationHarness({ rotators: [postgresRotator] });
    cli = new CliRunner(h.stack.endpoint);
  });

  afterAll(async () => {
    await h?.close();
    await db?.stop();
  });

  it('status and history warn that the last rotation logged in with AWSPREVIOUS', async () => {
    // Prepare: the server has the first password; AWSCURRENT was replaced without the database.
    const prefix = `fallback-${randomUUID().slice(0, 8)}`;
    const username = uniqueName('fallback');
    const password = newPassword();
    await db.createUser(username, password);
    const name = `${prefix}/${username}`;
    const first = db.secret(username, password);
    const arn = await h.createSecret(first, name);
    const replaced = newPassword();
    await h.sm.send(
      new PutSecretValueCommand({
        SecretId: arn,
        SecretString: JSON.stringify({ ...first, password: replaced }),
      }),
    );
    await h.rotate(arn);
    const rotated = String((await h.value(arn)).password);
    // Act
    const status = await cli.json<{ state: string; lastRotationNotes?: { fallback?: string } }[]>(
      'status',
      '--prefix',
      prefix,
    );
    const table = await cli.run('status', '--prefix', prefix);
    const history = await cli.run('history', name);
    // Assess
    expect(status.value[0]).toMatchObject({
      state: 'healthy',
      lastRotationNotes: { fallback: 'AWSPREVIOUS' },
    });
    expect(table.stdout).toContain('the last rotation logged in with AWSPREVIOUS');
    expect(history.stdout).toContain('WARNING: logged in with AWSPREVIOUS');
    for (const output of [
      JSON.stringify(status.value),
      table.stdout,
      table.stderr,
      history.stdout,
      history.stderr,
    ]) {
      for (const secret of [password, replaced, rotated]) expect(output).not.toContain(secret);
    }
  });

  it('history says whether AWSCURRENT still passed its test after a failed step', async () => {
    // Prepare: AWSCURRENT's password is wrong on the server, and there is no AWSPREVIOUS.
    const username = uniqueName('wrongcur');
    const serverPassword = newPassword();
    await db.createUser(username, serverPassword);
    const name = `wrongcur-${randomUUID().slice(0, 8)}/${username}`;
    const arn = await h.createSecret(db.secret(username, newPassword()), name);
    await h.rotate(arn);
    // Act
    const history = await cli.run('history', name);
    // Assess
    expect(history.stdout).toMatch(/setSecret {2}FAILED.*AWSCURRENT FAILS its test too/);
    expect(history.stdout).not.toContain('AWSCURRENT still passes its test');
  });
});
