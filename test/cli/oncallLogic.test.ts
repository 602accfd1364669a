/** The CLI's pure on-call decisions: what is a problem, what a check's cause is, what a rotation fell back to. */
import { describe, expect, it } from 'vitest';
import { checkCause } from '../../cli/commands/preflight.js';
import {
  failureSentences,
  hasProblem,
  lastOutcome,
  lastRotationNotes,
  type SecretStatus,
} from '../../cli/commands/status.js';
import type { RotorEventRecord } from '../../cli/events.js';
import { rotationState } from '../../handlers/rotationState.js';

const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-AbCdEf';
const NOW = Date.parse('2026-06-15T12:00:00Z');
const TOKEN = 't'.repeat(36);

function status(fields: Partial<SecretStatus>): SecretStatus {
  return {
    name: 'prod/db',
    arn: ARN,
    rotationEnabled: true,
    overdue: { overdue: false, reason: 'on schedule' },
    state: 'healthy',
    stateReason: 'no rotation is pending',
    replicas: [],
    lastOutcome: null,
    ...fields,
  };
}

const event = (
  seconds: number,
  fields: Partial<RotorEventRecord>,
  versionId: string | null = TOKEN,
): RotorEventRecord => ({
  time: new Date(NOW + seconds * 1000),
  kind: 'step-succeeded',
  secretArn: ARN,
  ...(versionId === null ? {} : { versionId }),
  ...fields,
});

describe('what status counts as a problem', () => {
  it('counts failed and stuck rotations, not a running one, nor a failure healed since', () => {
    // Act
    const problems = [
      status({ state: 'failed' }),
      status({ state: 'stuck' }),
      status({ state: 'rotating' }),
      status({ state: 'healthy', lastOutcome: { result: 'healed', time: new Date(NOW).toISOString() } }),
    ].map(hasProblem);
    // Assess
    expect(problems).toEqual([true, true, false, false]);
  });

  it('counts a failed configuration test of a secret never rotated', () => {
    // Act
    const failed = hasProblem(
      status({ state: 'never-rotated', lastTest: { result: 'failed', time: new Date(NOW).toISOString() } }),
    );
    const passed = hasProblem(
      status({ state: 'never-rotated', lastTest: { result: 'passed', time: new Date(NOW).toISOString() } }),
    );
    // Assess
    expect([failed, passed]).toEqual([true, false]);
  });
});

describe('the last outcome', () => {
  it("tells a configuration test's outcome and an abandon by the service", () => {
    // Act
    const passed = lastOutcome([event(1, { kind: 'test-passed' }, null)]);
    const abandoned = lastOutcome([event(1, { kind: 'rotation-abandoned' }, null)]);
    // Assess
    expect(passed?.result).toBe('test-passed');
    expect(abandoned?.result).toBe('abandoned');
  });
});

describe('fallbacks and warnings of the last rotation', () => {
  it('shows a rotation that had to log in with AWSPREVIOUS, and its warnings', () => {
    // Act
    const notes = lastRotationNotes([
      event(1, { step: 'createSecret' }),
      event(2, { step: 'setSecret', fallback: 'AWSPREVIOUS' }),
      event(3, { step: 'testSecret', warnings: ['role drift'] }),
      event(4, { step: 'finishSecret' }),
    ]);
    // Assess
    expect(notes).toEqual({ versionId: TOKEN, fallback: 'AWSPREVIOUS', warnings: ['role drift'] });
  });

  it('is undefined when the last rotation reported nothing, even if an older one did', () => {
    // Act
    const notes = lastRotationNotes([
      event(1, { step: 'setSecret', fallback: 'AWSPREVIOUS', versionId: 'o'.repeat(36) }),
      event(2, { step: 'finishSecret', versionId: 'o'.repeat(36) }),
      event(3, { step: 'setSecret' }),
      event(4, { step: 'finishSecret' }),
    ]);
    // Assess
    expect(notes).toBeUndefined();
  });
});

describe('what the last failure said of AWSCURRENT', () => {
  it('carries currentVerified, rolledBack and a fallback of the failed rotation into the state and the last outcome', () => {
    // Prepare: setSecret fell back to AWSPREVIOUS, testSecret failed and was rolled back
    const events = [
      event(0, { step: 'createSecret' }),
      event(1, { step: 'setSecret', fallback: 'AWSPREVIOUS' }),
      event(2, {
        kind: 'step-failed',
        step: 'testSecret',
        attempt: 3,
        error: { name: 'VerificationFailedError' },
        currentVerified: false,
        rolledBack: true,
      }),
    ];

    // Act
    const state = rotationState({
      now: NOW + 3_600_000,
      rotationEnabled: true,
      functionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:rotor-postgres',
      stages: { current: ['AWSCURRENT'], [TOKEN]: ['AWSPENDING'] },
      events,
    });
    const outcome = lastOutcome(events);

    // Assess
    expect(state.state).toBe('failed');
    expect(state.failure).toMatchObject({
      currentVerified: false,
      rolledBack: true,
      fallback: 'AWSPREVIOUS',
    });
    expect(outcome).toMatchObject({ result: 'failed', currentVerified: false, rolledBack: true });
  });

  it('says each fact only when the event carries it, and warns for what needs a person', () => {
    // Act
    const verified = failureSentences({ currentVerified: true });
    const broken = failureSentences({ currentVerified: false, rolledBack: false, fallback: 'AWSPREVIOUS' });
    const unknown = failureSentences({});

    // Assess
    expect(verified).toEqual([
      {
        text: "after the failure, AWSCURRENT still passed the rotator's test (currentVerified: true)",
        warning: false,
      },
    ]);
    expect(broken.map((s) => s.warning)).toEqual([true, true, true]);
    expect(broken.map((s) => s.text).join(' | ')).toMatch(
      /did NOT pass.*currentVerified: false.*\| .*did not complete \(rolledBack: false\) \| .*logged in with AWSPREVIOUS/,
    );
    expect(unknown).toHaveLength(1);
    expect(unknown[0]?.text).toContain('was not checked');
    expect(JSON.stringify(unknown)).not.toMatch(/rolledBack|AWSPREVIOUS/);
  });
});

describe("a preflight check's cause", () => {
  it('is read from the check: probe, privilege, TLS, authentication, network', () => {
    // Act
    const causes = [
      { name: 'probe query', ok: false, detail: 'the probe query failed (SQLSTATE 42P01)' },
      { name: 'master privileges', ok: false, detail: 'role "m" lacks CREATEROLE' },
      { name: 'login', ok: false, detail: 'db:5432: TLS verification failed: the certificate has expired' },
      {
        name: 'login',
        ok: false,
        detail: 'db:5432: the server refused the login of role "a" (SQLSTATE 28P01)',
      },
      { name: 'login', ok: false, detail: 'db:5432: connection refused' },
      { name: 'login', ok: true, detail: 'role "a" logs in' },
    ].map(checkCause);
    // Assess
    expect(causes).toEqual(['probe-query', 'privilege', 'tls', 'authentication', 'network', undefined]);
  });
});
