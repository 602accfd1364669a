/**
 * The on-call rehearsal (`rotor local --rehearse`): each staged failure shows as the state and the
 * cause it rehearses, in `status` and `heal`, with rotor's real step machine, a real PostgreSQL
 * (SCRAM) and the reference API-key provider.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Rehearsal, stageRehearsal } from '../../local/rehearsal.js';
import { type LocalStack, startLocalStack } from '../../local/stack.js';
import { skipPostgres } from '../postgres/support.js';
import { CliRunner } from './support.js';

describe.skipIf(skipPostgres)('rotor local --rehearse', () => {
  let stack: LocalStack;
  let rehearsal: Rehearsal;
  let cli: CliRunner;

  beforeAll(async () => {
    stack = await startLocalStack({ rotation: { backoffMs: 0 } });
    rehearsal = await stageRehearsal(stack);
    // Two minutes on: the AWSPENDING staged by hand is past the service's start grace.
    cli = new CliRunner(stack.endpoint, {
      now: () => Date.now() + 120_000,
      env: { ROTOR_APIKEY_PROVIDERS: rehearsal.apiKeyProviders },
    });
  });

  afterAll(async () => {
    await stack?.stop();
    await rehearsal?.close();
  });

  it('stages each failure as the state it rehearses, with its step and error', async () => {
    // Act
    const status = await cli.json<
      { name: string; state: string; failure?: { step?: string; error?: string; runbook?: string } }[]
    >('status', '--prefix', 'rehearse/');

    // Assess
    expect(status.code).toBe(1);
    const by = new Map(status.value.map((row) => [row.name, row]));
    expect(by.get('rehearse/healthy')?.state).toBe('healthy');
    expect(by.get('rehearse/wrong-password')).toMatchObject({
      state: 'failed',
      failure: { step: 'setSecret', error: 'AuthenticationFailedError' },
    });
    expect(by.get('rehearse/probe-failure')).toMatchObject({
      state: 'failed',
      failure: {
        step: 'testSecret',
        error: 'VerificationFailedError',
        runbook: 'RUNBOOK.md#verificationfailederror',
      },
    });
    expect(by.get('rehearse/unreachable')).toMatchObject({
      state: 'failed',
      failure: { error: 'TargetUnreachableError' },
    });
    expect(by.get('rehearse/provider-5xx')).toMatchObject({
      state: 'failed',
      failure: { error: 'ProviderError' },
    });
    expect(by.get('rehearse/stuck-pending')?.state).toBe('stuck');
    expect(rehearsal.banner).toContain('rotor status --prefix rehearse/');
    expect(rehearsal.banner).toContain("export ROTOR_APIKEY_PROVIDERS='");
    // The provider's admin token (`adm_...`) lives in the admin secret only.
    expect(rehearsal.banner).not.toContain('adm_');
  });

  it('heal names each cause differently', async () => {
    // Act
    const causes = [];
    for (const name of ['wrong-password', 'probe-failure', 'unreachable']) {
      const heal = await cli.json<{ state: string; decision: string; currentCause?: string }>(
        'heal',
        `rehearse/${name}`,
      );
      causes.push(`${heal.value.state}:${heal.value.decision}:${heal.value.currentCause}`);
    }

    // Assess
    expect(causes).toEqual([
      'failed:manual:authentication',
      'failed:manual:probe-query',
      'failed:manual:network',
    ]);
  });
});
