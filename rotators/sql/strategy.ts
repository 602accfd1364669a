/**
 * A rotation strategy as an object: the parts of the rotator contract (./../types.ts) that differ
 * by strategy. An engine keeps a `Record<Strategy, StrategyImpl>` and dispatches once per request
 * (`dispatchStrategies`); no engine method asks for the strategy again afterwards.
 */
import type {
  ApplyRequest,
  ApplyResponse,
  CreatePendingRequest,
  PreflightCheck,
  PreflightRequest,
  RollbackRequest,
  TestRequest,
  TestResponse,
} from '../types.js';

export interface StrategyImpl<S> {
  /** The pending value's fields that differ from AWSCURRENT's besides the new password (e.g. the username). */
  createPending(request: CreatePendingRequest<S>, password: string): Promise<Record<string, unknown>>;
  // biome-ignore lint/suspicious/noConfusingVoidType: an apply that returns nothing stays valid.
  apply(request: ApplyRequest<S>): Promise<ApplyResponse | void>;
  test(request: TestRequest<S>): Promise<TestResponse | undefined>;
  // biome-ignore lint/suspicious/noConfusingVoidType: a rollback that restores returns nothing.
  rollback(request: RollbackRequest<S>): Promise<void | 'not-applicable'>;
  /** The strategy's own preflight lines, after the engine's common ones. */
  preflight(request: PreflightRequest<S>): Promise<readonly PreflightCheck[]>;
}

/** A strategy that never touches the credential in use has nothing to roll back. */
export const notApplicable = async (): Promise<'not-applicable'> => 'not-applicable';
