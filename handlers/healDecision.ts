/**
 * The healer's judgement, as a pure function of what it found (handlers/heal.ts gathers the facts
 * and carries the decision out): roll forward when the target already accepts the pending
 * credential, abandon when it does not but the current one works, leave it to a person when
 * neither works, and touch nothing while a rotation runs or when nothing is stuck.
 */
import { CAUSE_FIX, type CauseClass } from '../rotators/causes.js';
import type { RotationFailure, RotationState, RotationStateName } from './rotationState.js';

export type HealDecision =
  /** No AWSPENDING, or AWSPENDING on the AWSCURRENT version: nothing is stuck. */
  | 'healthy'
  /** The rotation state is `rotating`: a step runs or a retry is due (or, with no events, AWSPENDING is younger than the minimum age). */
  | 'in-progress'
  /** The target accepts the pending credential: promote it to AWSCURRENT. */
  | 'roll-forward'
  /** The pending credential is empty or does not work, the current one does: clear AWSPENDING. */
  | 'abandon'
  /** Neither credential works: a person must look. Nothing is changed. */
  | 'manual';

export interface HealReport {
  secretArn: string;
  decision: HealDecision;
  /** Why, in a sentence an operator can act on. */
  reason: string;
  pendingVersionId?: string;
  currentVersionId?: string;
  /** The rotation state the decision rests on (handlers/rotationState.ts). */
  state: RotationStateName;
  /** `failed`: the failing step and error (and what its event said of AWSCURRENT). */
  failure?: RotationFailure;
  /** Whether the pending / current credential passed the rotator's test (when tried). */
  pendingWorks?: boolean;
  currentWorks?: boolean;
  /** Why a credential failed: `<class> (<error name>): <message>`, codes in words. */
  pendingError?: string;
  currentError?: string;
  /** The class of each failure's cause (network, TLS, authentication, privilege, probe query, ...). */
  pendingCause?: CauseClass;
  currentCause?: CauseClass;
  /** `manual`: the cause to fix first (of the credential that got furthest), with what to do in `reason`. */
  cause?: CauseClass;
  /** Age of the stuck pending version, in seconds. */
  pendingAgeSeconds?: number;
  /** Whether the decision was carried out. */
  acted: boolean;
}

/** The outcome of the rotator's (non-mutating) test of one credential. */
export interface CredentialCheck {
  ok: boolean;
  /** `<class> (<error name>): <message>`, when it failed. */
  error?: string;
  cause?: CauseClass;
}

/** What the pending version holds, as far as the healer could tell. */
export type PendingFacts =
  /** createSecret never stored a value. */
  | { readonly kind: 'empty' }
  /** A value that does not parse for the engine (or names another database). */
  | { readonly kind: 'unusable'; readonly message: string }
  /** A value that parses: the outcome of its test. */
  | { readonly kind: 'tested'; readonly check: CredentialCheck };

/** Everything the decision rests on. */
export interface HealFacts {
  readonly secretArn: string;
  readonly currentVersionId?: string;
  /** AWSPENDING's version, wherever it is (on AWSCURRENT's version: nothing is stuck). */
  readonly pendingVersionId?: string;
  readonly state: RotationState;
  /** Judge even a rotation that looks like it is running. */
  readonly force: boolean;
  /** The credentials' tests: gathered only when `needsCredentials` says so. */
  readonly current?: CredentialCheck;
  readonly pending?: PendingFacts;
}

/** Causes that happen after a successful login: the credential itself works. */
const LOGGED_IN = new Set<CauseClass>(['probe-query', 'privilege']);

/** Of two failures, the one to fix first: a failure after login beats a refused login. */
export function decisiveCause(pending: CauseClass | undefined, current: CauseClass | undefined): CauseClass {
  for (const cause of ['security', 'probe-query', 'privilege', 'configuration'] as const) {
    if (pending === cause || current === cause) return cause;
  }
  return current ?? pending ?? 'internal';
}

/** Whether AWSPENDING sits on a version of its own (a rotation that has not finished). */
export function isStuck(facts: Pick<HealFacts, 'pendingVersionId' | 'currentVersionId'>): boolean {
  return facts.pendingVersionId !== undefined && facts.pendingVersionId !== facts.currentVersionId;
}

/** Whether the decision needs the credentials tested (the gathering step tests them only then). */
export function needsCredentials(facts: Omit<HealFacts, 'current' | 'pending'>): boolean {
  return (
    isStuck(facts) &&
    (facts.force || facts.state.state !== 'rotating') &&
    facts.currentVersionId !== undefined
  );
}

/**
 * What the failure's own event said of AWSCURRENT (`currentVerified`, tested by the step machine
 * right after the failure), when the healer's test now says otherwise: both are reported, never
 * one silently over the other.
 */
function disagreement(failure: RotationFailure | undefined, current: CredentialCheck): string {
  const verified = failure?.currentVerified;
  if (verified === undefined || verified === current.ok) return '';
  return verified
    ? ` (The failure's event of ${failure?.time} said AWSCURRENT passed the rotator's test after the failure, currentVerified: true; it does not now.)`
    : ` (The failure's event of ${failure?.time} said AWSCURRENT did not pass the rotator's test after the failure, currentVerified: false; it does now.)`;
}

/** The decision, with the report's facts; `acted` is false (carrying it out is the caller's). */
export function decideHeal(facts: HealFacts): HealReport {
  const { state, pendingVersionId: pendingId, currentVersionId: currentId } = facts;
  const base = {
    secretArn: facts.secretArn,
    state: state.state,
    ...(state.failure === undefined ? {} : { failure: state.failure }),
    ...(pendingId ? { pendingVersionId: pendingId } : {}),
    ...(currentId ? { currentVersionId: currentId } : {}),
    acted: false,
  };
  if (!isStuck(facts)) {
    return {
      ...base,
      decision: 'healthy',
      reason: `no rotation is stuck: AWSPENDING is absent or on AWSCURRENT (${state.state}: ${state.reason})`,
    };
  }
  const withAge = {
    ...base,
    ...(state.pendingAgeSeconds === undefined ? {} : { pendingAgeSeconds: state.pendingAgeSeconds }),
  };
  if (!facts.force && state.state === 'rotating') {
    return {
      ...withAge,
      decision: 'in-progress',
      reason: `${state.reason}: a rotation is running; wait for it to end (or use --force)`,
    };
  }
  const why = state.state === 'failed' || state.state === 'stuck' ? `${state.reason}. ` : '';
  const current = facts.current;
  if (currentId === undefined || current === undefined) {
    return { ...withAge, decision: 'manual', reason: `${why}The secret has no AWSCURRENT version` };
  }
  const said = disagreement(state.failure, current);
  const currentFacts = {
    ...withAge,
    currentWorks: current.ok,
    ...(current.error ? { currentError: current.error } : {}),
    ...(current.cause ? { currentCause: current.cause } : {}),
  };
  const pending = facts.pending ?? { kind: 'empty' };
  if (pending.kind !== 'tested') {
    const unusable =
      pending.kind === 'empty'
        ? 'createSecret never stored a value, so nothing was applied to the target'
        : `the pending value is not usable (${pending.message})`;
    return current.ok
      ? {
          ...currentFacts,
          decision: 'abandon',
          reason: `${why}${unusable}; the current credential works${said}`,
        }
      : {
          ...currentFacts,
          decision: 'manual',
          cause: current.cause ?? 'internal',
          reason: `${why}${unusable}, and the current credential fails too: ${current.error}. What to do: ${CAUSE_FIX[current.cause ?? 'internal']}${said}`,
        };
  }
  return decideTested(why, said, currentFacts, pending.check, current);
}

/** Both credentials were tested: which works decides. */
function decideTested(
  why: string,
  said: string,
  currentFacts: Omit<HealReport, 'decision' | 'reason'>,
  pending: CredentialCheck,
  current: CredentialCheck,
): HealReport {
  const checks = {
    ...currentFacts,
    pendingWorks: pending.ok,
    ...(pending.error ? { pendingError: pending.error } : {}),
    ...(pending.cause ? { pendingCause: pending.cause } : {}),
  };
  if (pending.ok) {
    return {
      ...checks,
      decision: 'roll-forward',
      reason: `${why}The target accepts the pending credential${current.ok ? '' : ' (and no longer the current one)'}: promoting it finishes the rotation${said}`,
    };
  }
  if (current.ok) {
    return {
      ...checks,
      decision: 'abandon',
      reason: `${why}The pending credential does not work (${pending.error}) and the current one does: clearing AWSPENDING lets rotation start afresh${said}`,
    };
  }
  // Neither passes. The credential that got furthest names what to fix first: one that logs in
  // and then fails the probe (or a privilege) is not a password problem, whatever the other says.
  const cause = decisiveCause(pending.cause, current.cause);
  const holdsPending =
    pending.cause !== undefined && LOGGED_IN.has(pending.cause) && current.cause === 'authentication'
      ? ' The target already holds the pending password (it logs in): once that is fixed, heal rolls forward.'
      : '';
  return {
    ...checks,
    cause,
    decision: 'manual',
    reason: `${why}Neither credential passes the rotator's test (pending: ${pending.error}; current: ${current.error}); nothing was changed. What to do: ${CAUSE_FIX[cause]}.${holdsPending}${said}`,
  };
}
