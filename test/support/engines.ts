/** What every engine's tests share: the ROTOR_TEST_ENGINES filter, passwords and rotator requests. */
import { randomUUID } from 'node:crypto';
import { generatePassword, resolvePolicy } from '../../handlers/password.js';
import type { Step } from '../../rotators/errors.js';
import type { RequestBase } from '../../rotators/types.js';

/**
 * Whether ROTOR_TEST_ENGINES (a comma or space list) is set and lists none of `names`: the suites of
 * those engines then skip themselves.
 */
export function skipEngine(...names: readonly string[]): boolean {
  const engines = process.env.ROTOR_TEST_ENGINES;
  if (engines === undefined) return false;
  const listed = engines.split(/[\s,]+/);
  return !names.some((name) => listed.includes(name));
}

/** A password as the step machine generates them. */
export function newPassword(): string {
  return generatePassword(resolvePolicy());
}

/** A request for calling a rotator directly, with related secrets served from `related`. */
export function rotatorRequest(step: Step, related: Readonly<Record<string, string>> = {}): RequestBase {
  const fetchRelated = async (id: string) => {
    const value = related[id];
    if (value === undefined) throw new Error(`no related secret ${id} in this test`);
    return value;
  };
  return {
    signal: AbortSignal.timeout(30_000),
    deadline: Date.now() + 30_000,
    token: randomUUID(),
    step,
    secretArn: TEST_SECRET_ARN,
    adopted: async () => [],
    fetchRelated,
    fetchMaster: async (id) => ({ value: await fetchRelated(id) }),
  };
}

/** The ARN rotator requests built by tests carry. */
export const TEST_SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:rotor/test-AbCdEf';
