/** The one rotation state model: each state from the facts that make it, and the edges between them. */
import { describe, expect, it } from 'vitest';
import {
  lastConfigurationTest,
  rotationState,
  type StateEvent,
  type StateFacts,
} from '../../handlers/rotationState.js';

const NOW = Date.parse('2026-06-15T12:00:00Z');
const FN = 'arn:aws:lambda:eu-west-1:123456789012:function:rotor-prod-postgres';
const CUR = 'c'.repeat(36);
const NEW = 'n'.repeat(36);
const OLD = 'o'.repeat(36);

const ago = (seconds: number) => new Date(NOW - seconds * 1000);

function facts(overrides: Partial<StateFacts> = {}): StateFacts {
  return {
    now: NOW,
    rotationEnabled: true,
    functionArn: FN,
    lastRotated: ago(30 * 86_400),
    stages: { [CUR]: ['AWSCURRENT'], [OLD]: ['AWSPREVIOUS'] },
    events: [],
    ...overrides,
  };
}

/** A rotation pending on NEW, created `seconds` ago. */
function pendingFor(seconds: number, events: StateEvent[] = []): Partial<StateFacts> {
  return {
    stages: { [CUR]: ['AWSCURRENT'], [NEW]: ['AWSPENDING'], [OLD]: ['AWSPREVIOUS'] },
    pendingCreated: ago(seconds),
    events,
  };
}

const step = (
  seconds: number,
  kind: StateEvent['kind'],
  stepName: string,
  extra: Partial<StateEvent> = {},
): StateEvent => ({ time: ago(seconds), kind, versionId: NEW, step: stepName, attempt: 1, ...extra });

const service = (seconds: number, kind: StateEvent['kind'], note?: string): StateEvent => ({
  time: ago(seconds),
  kind,
  ...(note === undefined ? {} : { note }),
});

describe('rotation state', () => {
  it('is healthy when no rotation is pending and one has completed', () => {
    // Act
    const state = rotationState(facts());
    // Assess
    expect(state).toMatchObject({ state: 'healthy', healable: false, currentVersionId: CUR });
  });

  it('is healthy when AWSPENDING stayed on the version that became AWSCURRENT', () => {
    // Act
    const state = rotationState(facts({ stages: { [CUR]: ['AWSCURRENT', 'AWSPENDING'] } }));
    // Assess
    expect(state.state).toBe('healthy');
    expect(state.pendingVersionId).toBeUndefined();
  });

  it('is never-rotated when rotation is configured and none completed, and tells the configuration test outcome', () => {
    // Prepare
    const events = [
      service(20, 'test-started'),
      { ...step(19, 'step-succeeded', 'testSecret'), versionId: 't'.repeat(36) },
      service(18, 'test-passed'),
    ];

    // Act
    const state = rotationState(facts({ lastRotated: undefined, stages: { [CUR]: ['AWSCURRENT'] }, events }));

    // Assess
    expect(state.state).toBe('never-rotated');
    expect(state.lastTest).toMatchObject({ result: 'passed' });
    expect(state.reason).toContain('the configuration test passed');
  });

  it('is not-rotor without a rotation function, with a function known not to be rotor’s, or with rotation disabled', () => {
    // Act
    const none = rotationState(facts({ functionArn: undefined }));
    const other = rotationState(facts({ rotorFunction: false }));
    const disabled = rotationState(facts({ rotationEnabled: false }));
    // Assess
    expect([none.state, other.state, disabled.state]).toEqual(['not-rotor', 'not-rotor', 'not-rotor']);
    expect(other.reason).toContain('not one of rotor');
    expect(disabled.reason).toBe('rotation is disabled');
  });

  it('is rotating while a configuration test runs (10 s in, nothing reported yet): not stuck', () => {
    // Act
    const state = rotationState(
      facts({ ...pendingFor(10, [service(10, 'test-started')]), lastRotated: undefined }),
    );
    // Assess
    expect(state).toMatchObject({ state: 'rotating', healable: false, pendingKind: 'test' });
    expect(state.reason).toContain('the configuration test started 10 s ago');
  });

  it('is rotating while a step runs', () => {
    // Act
    const state = rotationState(
      facts(pendingFor(5, [step(4, 'step-succeeded', 'createSecret'), step(3, 'step-started', 'setSecret')])),
    );
    // Assess
    expect(state.state).toBe('rotating');
    expect(state.reason).toContain('setSecret of the rotation is running');
  });

  it("is rotating when a step failed a moment ago: Secrets Manager's retry is due", () => {
    // Act
    const state = rotationState(
      facts(
        pendingFor(30, [step(20, 'step-failed', 'setSecret', { error: { name: 'TargetUnreachableError' } })]),
      ),
    );
    // Assess
    expect(state.state).toBe('rotating');
    expect(state.reason).toContain("Secrets Manager's retry is due");
  });

  it('is failed when the service gave up, with the failing step, error and attempts, and is healable', () => {
    // Prepare
    const events = [
      step(55, 'step-succeeded', 'createSecret'),
      step(50, 'step-failed', 'testSecret', { attempt: 1, error: { name: 'VerificationFailedError' } }),
      step(30, 'step-failed', 'testSecret', { attempt: 3, error: { name: 'VerificationFailedError' } }),
      service(
        29,
        'rotation-failed',
        'Rotation failed in step testSecret after 3 attempts: VerificationFailedError',
      ),
    ];

    // Act
    const state = rotationState(facts(pendingFor(60, events)));

    // Assess
    expect(state).toMatchObject({
      state: 'failed',
      healable: true,
      pendingVersionId: NEW,
      failure: { step: 'testSecret', error: 'VerificationFailedError', attempts: 3, evidence: 'service' },
    });
    expect(state.reason).toContain(
      'the rotation failed in testSecret (VerificationFailedError) after 3 attempts',
    );
  });

  it('reads the step and error from the service alone when the function died before it could report', () => {
    // Prepare
    const events = [
      step(40, 'step-succeeded', 'createSecret'),
      service(30, 'rotation-failed', 'Rotation failed in step setSecret after 3 attempts: Error'),
    ];

    // Act
    const state = rotationState(facts(pendingFor(60, events)));

    // Assess
    expect(state.state).toBe('failed');
    expect(state.failure).toMatchObject({ step: 'setSecret', error: 'Error', attempts: 3 });
  });

  it('is failed when a step failed and no retry came within the time retries take (AWS: no service event in the logs)', () => {
    // Act
    const state = rotationState(
      facts(
        pendingFor(600, [
          step(300, 'step-failed', 'setSecret', { error: { name: 'AuthenticationFailedError' } }),
        ]),
      ),
    );
    // Assess
    expect(state).toMatchObject({ state: 'failed', healable: true, failure: { evidence: 'silence' } });
    expect(state.reason).toContain('no retry came in the 5 min since');
  });

  it("ignores a failure of an earlier rotation: the service's token-less events count from the pending version's creation", () => {
    // Act
    const state = rotationState(
      facts(
        pendingFor(10, [
          service(3600, 'rotation-failed', 'Rotation failed in step setSecret after 3 attempts'),
        ]),
      ),
    );
    // Assess
    expect(state.state).toBe('rotating');
  });

  it("stays failed after a heal reported on it: a heal's event is not activity of the rotation", () => {
    // Act
    const state = rotationState(
      facts(
        pendingFor(60, [
          service(30, 'rotation-failed', 'Rotation failed in step setSecret after 3 attempts'),
          { time: ago(1), kind: 'heal-needed', versionId: NEW },
        ]),
      ),
    );
    // Assess
    expect(state.state).toBe('failed');
  });

  it('is rotating again when the service reattempts a failed rotation with the same token', () => {
    // Act
    const state = rotationState(
      facts(
        pendingFor(7200, [
          service(3600, 'rotation-failed', 'Rotation failed in step setSecret after 3 attempts'),
          service(5, 'rotation-started'),
        ]),
      ),
    );
    // Assess
    expect(state.state).toBe('rotating');
  });

  it('is stuck when AWSPENDING is old, nothing runs and no failure is on record', () => {
    // Act
    const state = rotationState(facts(pendingFor(2 * 3600)));
    // Assess
    expect(state).toMatchObject({ state: 'stuck', healable: true, pendingAgeSeconds: 7200 });
    expect(state.reason).toContain('no activity for 2 h');
  });

  it('is stuck at once when the service events are visible and no rotation ever started on the pending version', () => {
    // Act
    const visible = rotationState(facts({ ...pendingFor(60), serviceEventsVisible: true }));
    const fresh = rotationState(facts({ ...pendingFor(5), serviceEventsVisible: true }));
    const logsOnly = rotationState(facts(pendingFor(60)));
    // Assess
    expect(visible.state).toBe('stuck');
    expect(visible.reason).toContain('no rotation ever started');
    expect(fresh.state).toBe('rotating');
    expect(logsOnly.state).toBe('rotating');
  });

  it('is stuck when a step started long ago and never reported (the function died)', () => {
    // Act
    const state = rotationState(facts(pendingFor(3000, [step(1000, 'step-started', 'setSecret')])));
    // Assess
    expect(state.state).toBe('stuck');
    expect(state.reason).toContain('never reported');
  });

  it('honours the quiet window it is given (heal --min-age)', () => {
    // Act
    const young = rotationState(facts({ ...pendingFor(600), timing: { quietMs: 300_000 } }));
    const def = rotationState(facts(pendingFor(600)));
    // Assess
    expect(young.state).toBe('stuck');
    expect(def.state).toBe('rotating');
  });

  it('is stuck when AWSPENDING is left and rotation was disabled: nothing will finish it', () => {
    // Act
    const state = rotationState(facts({ ...pendingFor(5), rotationEnabled: false }));
    // Assess
    expect(state.state).toBe('stuck');
  });
});

describe('the configuration test', () => {
  it('is recognised from rotor’s events alone: a token that only ran testSecret', () => {
    // Act
    const outcome = lastConfigurationTest([
      { time: ago(100), kind: 'step-succeeded', versionId: OLD, step: 'createSecret' },
      {
        time: ago(10),
        kind: 'step-failed',
        versionId: NEW,
        step: 'testSecret',
        error: { name: 'AuthenticationFailedError' },
      },
    ]);
    // Assess
    expect(outcome).toEqual({
      result: 'failed',
      time: ago(10).toISOString(),
      versionId: NEW,
      error: 'AuthenticationFailedError',
    });
  });

  it('is undefined when no test ran', () => {
    // Act
    const outcome = lastConfigurationTest([
      { time: ago(10), kind: 'step-succeeded', versionId: NEW, step: 'createSecret' },
      { time: ago(9), kind: 'step-succeeded', versionId: NEW, step: 'testSecret' },
    ]);
    // Assess
    expect(outcome).toBeUndefined();
  });
});
