import { VerificationFailedError } from '../errors.js';
import type { Rotator } from '../types.js';
import type { FakeTarget } from './client.js';
import { type FakeSecret, parseFakeSecret } from './secret.js';

/**
 * A single-user rotator for an in-memory target. It follows the same promises as the real ones,
 * so the step machine's suites exercise the protocol without a database.
 */
export function createFakeRotator(targets: ReadonlyMap<string, FakeTarget>) {
  const target = (secret: FakeSecret): FakeTarget => {
    const found = targets.get(secret.target);
    if (found === undefined) throw new VerificationFailedError(`no fake target named "${secret.target}"`);
    return found;
  };
  return {
    engines: ['fake'],
    /** Generates a password; nothing else. */
    createPendingChangesNothing: true,
    parse: ({ value, label }) => parseFakeSecret(value, label),
    strategy: () => 'single-user',
    async createPending({ currentValue, generatePassword }) {
      return { pending: { ...currentValue, password: generatePassword() } };
    },
    async apply({ current, pending }) {
      const t = target(current);
      // Already applied (a replay after the change): nothing to do.
      try {
        t.login(pending.username, pending.password);
        return;
      } catch {}
      t.login(current.username, current.password);
      t.setPassword(pending.username, pending.password);
    },
    async test({ pending }) {
      if (pending.breakTest === true) throw new VerificationFailedError('probe failed (breakTest is set)');
      target(pending).login(pending.username, pending.password);
      return undefined;
    },
    /** Single user: the only password was replaced; put the current one back. */
    async rollback({ current, pending }) {
      const t = target(current);
      try {
        t.login(current.username, current.password);
        return; // Nothing applied, or already rolled back.
      } catch {}
      t.login(pending.username, pending.password);
      t.setPassword(current.username, current.password);
    },
    /** Nothing to retire for a single user; recorded so tests can see the hook ran (and ran again). */
    async finish({ current }) {
      target(current).changes.push(`finish ${current.username}`);
    },
  } satisfies Rotator<FakeSecret>;
}
