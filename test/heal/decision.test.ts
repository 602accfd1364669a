/**
 * The healer's decision as a pure function (handlers/healDecision.ts): a table of what the healer
 * may find, and what it decides, without any server. The gathering and acting are tested on the
 * local stack in healer.test.ts.
 */
import { describe, expect, it } from 'vitest';
import {
  type CredentialCheck,
  decideHeal,
  type HealFacts,
  needsCredentials,
  type PendingFacts,
} from '../../handlers/healDecision.js';
import type { RotationState } from '../../handlers/rotationState.js';

const ARN = 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:app-AbCdEf';
const works: CredentialCheck = { ok: true };
const refused: CredentialCheck = {
  ok: false,
  error: 'authentication (AuthenticationFailedError): password authentication failed',
  cause: 'authentication',
};
const probe: CredentialCheck = {
  ok: false,
  error: 'probe query (VerificationFailedError): relation "t" does not exist',
  cause: 'probe-query',
};
const unreachable: CredentialCheck = {
  ok: false,
  error: 'network (TargetUnreachableError): connection refused',
  cause: 'network',
};
const tested = (check: CredentialCheck): PendingFacts => ({ kind: 'tested', check });

function state(name: RotationState['state'], extra: Partial<RotationState> = {}): RotationState {
  return { state: name, reason: `it is ${name}`, healable: name === 'failed' || name === 'stuck', ...extra };
}

function facts(extra: Partial<HealFacts>): HealFacts {
  return {
    secretArn: ARN,
    currentVersionId: 'v-current',
    pendingVersionId: 'v-pending',
    state: state('failed'),
    force: false,
    ...extra,
  };
}

describe('the heal decision', () => {
  it.each<[string, Partial<HealFacts>, string, RegExp]>([
    [
      'AWSPENDING absent',
      { pendingVersionId: undefined as never, state: state('healthy') },
      'healthy',
      /no rotation is stuck/,
    ],
    [
      'AWSPENDING on AWSCURRENT',
      { pendingVersionId: 'v-current', state: state('healthy') },
      'healthy',
      /absent or on AWSCURRENT/,
    ],
    ['a rotation running', { state: state('rotating') }, 'in-progress', /wait for it to end/],
    ['no AWSCURRENT', { currentVersionId: undefined as never }, 'manual', /has no AWSCURRENT version/],
    [
      'pending works',
      { current: refused, pending: tested(works) },
      'roll-forward',
      /\(and no longer the current one\): promoting/,
    ],
    [
      'both work',
      { current: works, pending: tested(works) },
      'roll-forward',
      /accepts the pending credential: promoting/,
    ],
    [
      'pending fails, current works',
      { current: works, pending: tested(refused) },
      'abandon',
      /clearing AWSPENDING/,
    ],
    [
      'pending empty, current works',
      { current: works, pending: { kind: 'empty' } },
      'abandon',
      /createSecret never stored a value/,
    ],
    [
      'pending unusable, current works',
      { current: works, pending: { kind: 'unusable', message: 'bad engine' } },
      'abandon',
      /not usable \(bad engine\)/,
    ],
    [
      'pending empty, current fails',
      { current: unreachable, pending: { kind: 'empty' } },
      'manual',
      /current credential fails too: network/,
    ],
    ['neither works', { current: refused, pending: tested(refused) }, 'manual', /Neither credential passes/],
    [
      'pending logs in but fails the probe',
      { current: refused, pending: tested(probe) },
      'manual',
      /already holds the pending password/,
    ],
  ])('%s: %s', (_name, given, decision, reason) => {
    // Act
    const report = decideHeal(facts(given));

    // Assess
    expect(report.decision).toBe(decision);
    expect(report.reason).toMatch(reason);
    expect(report.acted).toBe(false);
  });

  it('judges a running rotation when forced', () => {
    // Act
    const report = decideHeal(
      facts({ state: state('rotating'), force: true, current: works, pending: tested(refused) }),
    );

    // Assess
    expect(report.decision).toBe('abandon');
  });

  it('names the cause to fix first: the credential that got furthest', () => {
    // Act
    const report = decideHeal(facts({ current: refused, pending: tested(probe) }));

    // Assess
    expect(report).toMatchObject({
      cause: 'probe-query',
      pendingCause: 'probe-query',
      currentCause: 'authentication',
    });
  });

  it("says so when the failure's currentVerified and the healer's test disagree, and keeps both", () => {
    // Prepare
    const failure = {
      time: '2026-12-08T03:00:00.000Z',
      evidence: 'silence',
      currentVerified: false,
    } as const;

    // Act
    const disagree = decideHeal(
      facts({ state: state('failed', { failure }), current: works, pending: tested(refused) }),
    );
    const agree = decideHeal(
      facts({
        state: state('failed', { failure: { ...failure, currentVerified: true } }),
        current: works,
        pending: tested(refused),
      }),
    );
    const otherWay = decideHeal(
      facts({
        state: state('failed', { failure: { ...failure, currentVerified: true } }),
        current: refused,
        pending: tested(refused),
      }),
    );

    // Assess
    expect(disagree.failure?.currentVerified).toBe(false);
    expect(disagree.currentWorks).toBe(true);
    expect(disagree.reason).toContain(
      "The failure's event of 2026-12-08T03:00:00.000Z said AWSCURRENT did not pass the rotator's test after the failure, currentVerified: false; it does now.",
    );
    expect(agree.reason).not.toContain('currentVerified');
    expect(otherWay.reason).toContain('currentVerified: true; it does not now.');
  });

  it('asks for the credentials to be tested only when the decision needs them', () => {
    // Assess
    expect(needsCredentials(facts({}))).toBe(true);
    expect(needsCredentials(facts({ state: state('rotating') }))).toBe(false);
    expect(needsCredentials(facts({ state: state('rotating'), force: true }))).toBe(true);
    expect(needsCredentials(facts({ pendingVersionId: 'v-current' }))).toBe(false);
    expect(needsCredentials(facts({ currentVersionId: undefined as never }))).toBe(false);
  });
});
