/**
 * The one place that decides what state a secret's rotation is in. `rotor status`, `rotor rotate
 * --wait`, `rotor history`, `rotor heal` and the scheduled heal function all ask `rotationState()`,
 * so that they never disagree.
 *
 * It is pure: callers gather the facts (DescribeSecret, the pending version's creation date, rotor's
 * events and the service's rotation events, the clock) and pass them in.
 *
 * States:
 * - `healthy`: no rotation pending (AWSPENDING absent or on AWSCURRENT) and one has completed;
 * - `never-rotated`: no rotation pending and none ever completed (a configuration test may have run);
 * - `rotating`: AWSPENDING is on a new version and a step is running, the next step is due, or a
 *   step failed and Secrets Manager's retry is due;
 * - `failed`: Secrets Manager gave up (its `RotationFailed` / `TestRotationFailed`), or a step failed
 *   and no retry came within the time the service's retries take; carries the step and error;
 * - `stuck`: AWSPENDING is on a new version, nothing runs, and no failure is on record (the function
 *   died without reporting, events are gone, labels were changed by hand);
 * - `not-rotor`: no rotation function, a function that is not rotor's, or rotation disabled.
 *
 * `failed` and `stuck` are healable (`healable: true`): `rotor heal` acts on them without `--force`.
 */

/** What happened, as rotor's events and the service's CloudTrail events tell it. */
export type RotationEventKind =
  /** rotor: a step began (EventBridge only: the logs have outcomes only). */
  | 'step-started'
  | 'step-succeeded'
  | 'step-failed'
  /** rotor: finishSecret promoted the new version. */
  | 'rotation-succeeded'
  /** The service: a rotation (or its retry) began. */
  | 'rotation-started'
  /** The service gave the rotation up after its retries. */
  | 'rotation-failed'
  /** The service dropped AWSPENDING because someone put a new AWSCURRENT by hand. */
  | 'rotation-abandoned'
  /** The service: the configuration test (RotateImmediately=false) began, passed, failed. */
  | 'test-started'
  | 'test-passed'
  | 'test-failed'
  | 'healed'
  | 'heal-needed';

/** The fields of an event the state depends on (cli/events.ts's records have them all). */
export interface StateEvent {
  readonly time: Date;
  readonly kind: RotationEventKind;
  /** The rotation's token; absent on the service's events, which do not carry it. */
  readonly versionId?: string;
  readonly step?: string;
  readonly attempt?: number;
  readonly error?: { readonly name: string; readonly message?: string };
  /** Free text of the service's event (its reason). */
  readonly note?: string;
  /** A failed setSecret / testSecret: whether AWSCURRENT passed the rotator's test after the failure. */
  readonly currentVerified?: boolean;
  /** A failed single-user testSecret: whether the server's password was put back to AWSCURRENT's. */
  readonly rolledBack?: boolean;
  /** A step that had to log in with another label (`AWSPREVIOUS`). */
  readonly fallback?: string;
}

export type RotationStateName = 'healthy' | 'rotating' | 'failed' | 'stuck' | 'never-rotated' | 'not-rotor';

export interface StateTiming {
  /**
   * After a failed step, Secrets Manager retries the whole rotation within seconds: a failed step
   * with no activity for this long is a rotation the service gave up. Default 2 min.
   */
  readonly retrySettleMs?: number;
  /** A step that began and has not reported for this long is not running any more. Default 15 min (Lambda's maximum timeout). */
  readonly stepMaxMs?: number;
  /**
   * A pending version with no sign of life (no event) for this long is stuck rather than rotating:
   * `rotor heal --min-age`, the heal function's minimum age. Default 60 min.
   */
  readonly quietMs?: number;
}

export const DEFAULT_TIMING: Required<StateTiming> = {
  retrySettleMs: 120_000,
  stepMaxMs: 900_000,
  quietMs: 3_600_000,
};

export interface StateFacts {
  /** Epoch milliseconds. */
  readonly now: number;
  readonly rotationEnabled: boolean;
  /** The rotation function, when the secret names one. */
  readonly functionArn?: string | undefined;
  /** Whether that function is rotor's; unknown (undefined) counts as rotor's. */
  readonly rotorFunction?: boolean | undefined;
  readonly lastRotated?: Date | undefined;
  /** DescribeSecret's VersionIdsToStages. */
  readonly stages: Readonly<Record<string, readonly string[] | undefined>>;
  /** When the AWSPENDING version was created (ListSecretVersionIds), when known. */
  readonly pendingCreated?: Date | undefined;
  /** rotor's and the service's events of this secret, in any order. */
  readonly events: readonly StateEvent[];
  /**
   * Whether `events` include the service's own rotation events (EventBridge, the local stack); the
   * function's logs alone do not. When they do, an AWSPENDING no rotation ever started on is stuck
   * at once: someone staged it by hand.
   */
  readonly serviceEventsVisible?: boolean | undefined;
  readonly timing?: StateTiming;
}

export interface RotationFailure {
  /** The failing step, when known. */
  readonly step?: string;
  /** The error's name (links to RUNBOOK.md). */
  readonly error?: string;
  readonly message?: string;
  readonly attempts?: number;
  /** When it was seen to fail (ISO). */
  readonly time: string;
  /** `service`: Secrets Manager said so; `silence`: a failed step and no retry since. */
  readonly evidence: 'service' | 'silence';
  /** What the last failed step's event said: whether AWSCURRENT passed the rotator's test after it. */
  readonly currentVerified?: boolean;
  /** Whether that step put the server's password back to AWSCURRENT's (single-user). */
  readonly rolledBack?: boolean;
  /** A step of this rotation had to log in with this label (`AWSPREVIOUS`): AWSCURRENT's did not. */
  readonly fallback?: string;
}

export interface TestOutcome {
  readonly result: 'running' | 'passed' | 'failed';
  readonly time: string;
  readonly versionId?: string;
  readonly error?: string;
}

export interface RotationState {
  readonly state: RotationStateName;
  /** One sentence an operator can act on. */
  readonly reason: string;
  /** Whether `rotor heal` (and the heal function) may act without `--force`. */
  readonly healable: boolean;
  readonly currentVersionId?: string;
  /** AWSPENDING's version when it is not AWSCURRENT's. */
  readonly pendingVersionId?: string;
  readonly pendingAgeSeconds?: number;
  /** What the pending version is for: a rotation or a configuration test. */
  readonly pendingKind?: 'rotation' | 'test';
  /** `failed`: why. */
  readonly failure?: RotationFailure;
  /** The latest configuration test, when the events tell of one. */
  readonly lastTest?: TestOutcome;
  /** When the last thing happened to the pending version (ISO), for `rotating` and `stuck`. */
  readonly lastActivity?: string;
}

const CURRENT = 'AWSCURRENT';
const PENDING = 'AWSPENDING';
/** A token-less service event up to this much before the pending version was made is still its own. */
const SKEW_MS = 1_000;
/** The service starts a rotation within moments of creating its version; after this, none is coming. */
const START_GRACE_MS = 30_000;

const SERVICE_KINDS = new Set<RotationEventKind>([
  'rotation-started',
  'rotation-failed',
  'rotation-abandoned',
  'test-started',
  'test-passed',
  'test-failed',
]);

function holderOf(stages: StateFacts['stages'], label: string): string | undefined {
  return Object.entries(stages).find(([, labels]) => labels?.includes(label))?.[0];
}

function seconds(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172_800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86_400)} days`;
}

/** The step and attempt count the service's free-text reason names (`... in step setSecret after 3 attempts ...`). */
function fromNote(note: string | undefined): { step?: string; attempts?: number; error?: string } {
  if (note === undefined) return {};
  const step = /\bstep (createSecret|setSecret|testSecret|finishSecret)\b/.exec(note)?.[1];
  const attempts = /\bafter (\d+) attempts?\b/.exec(note)?.[1];
  const error = /:\s*([A-Z][\w.]*)\s*$/.exec(note)?.[1];
  return {
    ...(step === undefined ? {} : { step }),
    ...(attempts === undefined ? {} : { attempts: Number(attempts) }),
    ...(error === undefined ? {} : { error }),
  };
}

/** What a failed step's event said of AWSCURRENT, and a fallback a step of the rotation needed. */
function stepFacts(
  failed: StateEvent | undefined,
  fallback: string | undefined,
): Pick<RotationFailure, 'currentVerified' | 'rolledBack' | 'fallback'> {
  return {
    ...(failed?.currentVerified === undefined ? {} : { currentVerified: failed.currentVerified }),
    ...(failed?.rolledBack === undefined ? {} : { rolledBack: failed.rolledBack }),
    ...(fallback === undefined ? {} : { fallback }),
  };
}

/** Tokens whose events are a configuration test: testSecret only, never createSecret. */
export function testTokens(events: readonly StateEvent[]): Set<string> {
  const steps = new Map<string, Set<string>>();
  for (const event of events) {
    if (event.versionId === undefined || event.step === undefined) continue;
    const set = steps.get(event.versionId) ?? new Set<string>();
    set.add(event.step);
    steps.set(event.versionId, set);
  }
  return new Set(
    [...steps].filter(([, set]) => set.size === 1 && set.has('testSecret')).map(([token]) => token),
  );
}

/** The latest configuration test: the service's test events, or a token that only ever ran testSecret. */
export function lastConfigurationTest(events: readonly StateEvent[]): TestOutcome | undefined {
  const tests = testTokens(events);
  let latest: TestOutcome | undefined;
  const consider = (outcome: TestOutcome) => {
    if (latest === undefined || Date.parse(outcome.time) >= Date.parse(latest.time)) latest = outcome;
  };
  for (const event of events) {
    const time = event.time.toISOString();
    if (event.kind === 'test-started') consider({ result: 'running', time });
    else if (event.kind === 'test-passed') consider({ result: 'passed', time });
    else if (event.kind === 'test-failed') {
      const error = fromNote(event.note).error;
      consider({ result: 'failed', time, ...(error === undefined ? {} : { error }) });
    } else if (event.versionId !== undefined && tests.has(event.versionId)) {
      const versionId = event.versionId;
      if (event.kind === 'step-started') consider({ result: 'running', time, versionId });
      else if (event.kind === 'step-succeeded') consider({ result: 'passed', time, versionId });
      else if (event.kind === 'step-failed') {
        consider({
          result: 'failed',
          time,
          versionId,
          ...(event.error === undefined ? {} : { error: event.error.name }),
        });
      }
    }
  }
  return latest;
}

/** A failure: from the last failed step's event, else from the service's free-text reason. */
function failureOf(
  evidence: RotationFailure['evidence'],
  time: Date,
  note: string | undefined,
  lastStepFailure: StateEvent | undefined,
  attempts: number,
  fallback: string | undefined,
): RotationFailure {
  const fromService = fromNote(note);
  const step = lastStepFailure?.step ?? fromService.step;
  const error = lastStepFailure?.error?.name ?? fromService.error;
  const count = fromService.attempts ?? (attempts > 0 ? attempts : undefined);
  return {
    ...(step === undefined ? {} : { step }),
    ...(error === undefined ? {} : { error }),
    ...(lastStepFailure?.error?.message === undefined ? {} : { message: lastStepFailure.error.message }),
    ...(count === undefined ? {} : { attempts: count }),
    time: time.toISOString(),
    evidence,
    ...stepFacts(lastStepFailure, fallback),
  };
}

/** `the rotation failed in setSecret (AuthenticationFailedError) after 3 attempts`. */
function describeFailure(what: string, f: RotationFailure): string {
  return `${what} failed${f.step === undefined ? '' : ` in ${f.step}`}${f.error === undefined ? '' : ` (${f.error})`}${f.attempts === undefined ? '' : ` after ${f.attempts} attempt${f.attempts === 1 ? '' : 's'}`}`;
}

/** The states with no rotation of its own pending: not rotor's, disabled, never rotated, healthy. */
function settledState(
  facts: StateFacts,
  events: readonly StateEvent[],
  base: Pick<RotationState, 'currentVersionId' | 'lastTest'>,
  lastTest: TestOutcome | undefined,
): RotationState {
  if (facts.functionArn === undefined || facts.rotorFunction === false) {
    return {
      ...base,
      state: 'not-rotor',
      healable: false,
      reason:
        facts.functionArn === undefined
          ? 'no rotation function is configured'
          : `rotated by ${facts.functionArn}, which is not one of rotor's functions`,
    };
  }
  if (!facts.rotationEnabled) {
    return { ...base, state: 'not-rotor', healable: false, reason: 'rotation is disabled' };
  }
  const rotated =
    facts.lastRotated !== undefined || events.some((event) => event.kind === 'rotation-succeeded');
  if (!rotated) {
    const test =
      lastTest === undefined
        ? ''
        : lastTest.result === 'running'
          ? '; a configuration test is running'
          : `; the configuration test ${lastTest.result}${lastTest.error === undefined ? '' : ` (${lastTest.error})`}`;
    return {
      ...base,
      state: 'never-rotated',
      healable: false,
      reason: `rotation is configured but has never completed${test}`,
    };
  }
  return { ...base, state: 'healthy', healable: false, reason: 'no rotation is pending' };
}

/** The rotation state of one secret. */
export function rotationState(facts: StateFacts): RotationState {
  const timing = { ...DEFAULT_TIMING, ...facts.timing };
  const events = [...facts.events].sort((a, b) => a.time.getTime() - b.time.getTime());
  const currentId = holderOf(facts.stages, CURRENT);
  const pendingHolder = holderOf(facts.stages, PENDING);
  const pendingId = pendingHolder !== undefined && pendingHolder !== currentId ? pendingHolder : undefined;
  const lastTest = lastConfigurationTest(events);
  const base = {
    ...(currentId === undefined ? {} : { currentVersionId: currentId }),
    ...(lastTest === undefined ? {} : { lastTest }),
  };

  if (pendingId === undefined || facts.functionArn === undefined || facts.rotorFunction === false) {
    return settledState(facts, events, base, lastTest);
  }

  // AWSPENDING sits on a version of its own: a rotation (or test) running, failed, or stuck.
  const created = facts.pendingCreated?.getTime();
  // A heal's report names the version too, but it is a judgement about the rotation, not activity of it.
  const ownEvents = events.filter((event) => {
    if (event.kind === 'healed' || event.kind === 'heal-needed') return false;
    if (event.versionId !== undefined) return event.versionId === pendingId;
    return (
      SERVICE_KINDS.has(event.kind) && created !== undefined && event.time.getTime() >= created - SKEW_MS
    );
  });
  // The service says which it runs; rotor's events alone: a test only ever runs testSecret.
  const serviceSays = ownEvents.findLast((event) => event.versionId === undefined);
  const pendingKind: 'rotation' | 'test' =
    serviceSays !== undefined
      ? serviceSays.kind.startsWith('test-')
        ? 'test'
        : 'rotation'
      : testTokens(events).has(pendingId)
        ? 'test'
        : 'rotation';
  const what = pendingKind === 'test' ? 'the configuration test' : 'the rotation';
  const lastTime = Math.max(created ?? Number.NEGATIVE_INFINITY, ...ownEvents.map((e) => e.time.getTime()));
  const pending = {
    ...base,
    pendingVersionId: pendingId,
    pendingKind,
    ...(created === undefined ? {} : { pendingAgeSeconds: Math.round((facts.now - created) / 1000) }),
    ...(Number.isFinite(lastTime) ? { lastActivity: new Date(lastTime).toISOString() } : {}),
  };

  const failedAt = ownEvents.findLastIndex(
    (event) => event.kind === 'rotation-failed' || event.kind === 'test-failed',
  );
  // Events after the service's failure mean it tried again (a reattempt with the same token).
  const after = failedAt < 0 ? ownEvents : ownEvents.slice(failedAt + 1);
  const lastStepFailure = ownEvents.findLast((event) => event.kind === 'step-failed');
  const attempts = Math.max(0, ...ownEvents.map((event) => event.attempt ?? 0));
  const fallback = ownEvents.findLast((event) => event.fallback !== undefined)?.fallback;
  const failure = (evidence: RotationFailure['evidence'], time: Date, note?: string) =>
    failureOf(evidence, time, note, lastStepFailure, attempts, fallback);
  const failedWords = (f: RotationFailure) => describeFailure(what, f);

  const stoppedBy = ownEvents[failedAt];
  if (stoppedBy !== undefined && after.length === 0) {
    const f = failure('service', stoppedBy.time, stoppedBy.note);
    return {
      ...pending,
      state: 'failed',
      healable: true,
      failure: f,
      reason: `${failedWords(f)}: Secrets Manager gave up; AWSPENDING is left on version ${pendingId}`,
    };
  }

  const last = after.at(-1);
  const since = facts.now - lastTime;
  if (last?.kind === 'step-failed') {
    const quiet = facts.now - last.time.getTime();
    if (quiet <= timing.retrySettleMs) {
      return {
        ...pending,
        state: 'rotating',
        healable: false,
        reason: `${last.step ?? 'a step'} failed on attempt ${last.attempt ?? '?'} ${seconds(quiet)} ago (${last.error?.name ?? 'error'}): Secrets Manager's retry is due`,
      };
    }
    const f = failure('silence', last.time);
    return {
      ...pending,
      state: 'failed',
      healable: true,
      failure: f,
      reason: `${failedWords(f)}: no retry came in the ${seconds(quiet)} since; AWSPENDING is left on version ${pendingId}`,
    };
  }
  if (last?.kind === 'step-started') {
    if (since <= timing.stepMaxMs) {
      return {
        ...pending,
        state: 'rotating',
        healable: false,
        reason: `${last.step ?? 'a step'} of ${what} is running (attempt ${last.attempt ?? '?'}, started ${seconds(since)} ago)`,
      };
    }
    return {
      ...pending,
      state: 'stuck',
      healable: true,
      reason: `${last.step ?? 'a step'} of ${what} started ${seconds(since)} ago and never reported: the function died or timed out; AWSPENDING is left on version ${pendingId}`,
    };
  }
  if (!facts.rotationEnabled) {
    return {
      ...pending,
      state: 'stuck',
      healable: true,
      reason: `rotation is disabled with AWSPENDING left on version ${pendingId}: nothing will finish it`,
    };
  }
  const startedByService = ownEvents.some(
    (event) => event.kind === 'rotation-started' || event.kind === 'test-started',
  );
  if (
    facts.serviceEventsVisible === true &&
    !startedByService &&
    ownEvents.length === 0 &&
    created !== undefined &&
    facts.now - created > START_GRACE_MS
  ) {
    return {
      ...pending,
      state: 'stuck',
      healable: true,
      reason: `AWSPENDING is on version ${pendingId}, which no rotation ever started on (staged by hand?): nothing will finish it`,
    };
  }
  if (Number.isFinite(since) && since <= timing.quietMs) {
    const doing =
      last === undefined || last.kind === 'rotation-started' || last.kind === 'test-started'
        ? `${what} started ${seconds(since)} ago`
        : `${last.step ?? 'a step'} ${last.kind === 'step-succeeded' ? 'succeeded' : 'ran'} ${seconds(since)} ago; the next step is due`;
    return { ...pending, state: 'rotating', healable: false, reason: doing };
  }
  return {
    ...pending,
    state: 'stuck',
    healable: true,
    reason: `AWSPENDING is left on version ${pendingId}${Number.isFinite(since) ? ` with no activity for ${seconds(since)}` : ''} and no failure on record: nothing is finishing it`,
  };
}
