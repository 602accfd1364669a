/**
 * The fake rotator's "driver": an in-memory credential store standing in for a database, with
 * switches to make it fail. Tests and the step machine's suites use it; nothing ships it.
 */
import { AuthenticationFailedError, TargetUnreachableError } from '../errors.js';

/**
 * `leakInError`: a careless driver that quotes the password it was given in its error message —
 * what the step machine's redaction must catch.
 */
export type FakeFault = 'unreachable' | 'failApply' | 'leakInError';

export class FakeTarget {
  /** username → passwords that log in. */
  readonly accounts = new Map<string, Set<string>>();
  /** Every change made, in order, for assertions (no values: just what happened). */
  readonly changes: string[] = [];
  readonly faults = new Set<FakeFault>();
  logins = 0;

  addAccount(username: string, password: string): void {
    this.accounts.set(username, new Set([password]));
  }

  login(username: string, password: string): void {
    this.logins++;
    if (this.faults.has('unreachable'))
      throw new TargetUnreachableError('refused', 'fake target refused the connection');
    if (this.faults.has('leakInError')) {
      throw new AuthenticationFailedError(`fake target rejected "${username}" with password ${password}`);
    }
    if (!this.accounts.get(username)?.has(password)) {
      throw new AuthenticationFailedError(`fake target rejected the login of "${username}"`);
    }
  }

  /** Replaces the account's password (single-user rotation). */
  setPassword(username: string, password: string): void {
    if (this.faults.has('failApply'))
      throw new TargetUnreachableError('network', 'fake target dropped the change');
    this.accounts.set(username, new Set([password]));
    this.changes.push(`set ${username}`);
  }
}
