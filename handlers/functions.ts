/**
 * Which engines each of rotor's rotation functions rotates, and how a deployed function says so:
 * the Lambda tag `rotor:engines` (engine names separated by spaces, e.g. `postgres
 * aurora-postgresql`), set by deploy (serverless.yml) and by the local stack for its functions.
 * `rotor attach` and `rotor preflight` read it (Lambda GetFunction) to refuse a secret whose
 * engine the function does not rotate, before anything changes.
 *
 * Fallback when a function has no tag (or the caller may not read it): rotor's function naming
 * convention, `<service>-<stage>-<function key>` (`rotor-prod-postgres`): the last `-` part names
 * the function key below. A name that follows neither leaves the engines unknown.
 */

/** Engines by the function that rotates them (deploy/config.ts, the stage schema, uses this too). */
export const FUNCTION_ENGINES = {
  postgres: ['postgres', 'aurora-postgresql'],
  mysql: ['mysql', 'aurora-mysql', 'mariadb'],
  apikey: ['apikey'],
} as const;

export type RotationFunctionKey = keyof typeof FUNCTION_ENGINES;

/** The Lambda tag naming a function's engines. */
export const ENGINES_TAG = 'rotor:engines';

/** The tag's value for a list of engines. */
export function enginesTagValue(engines: readonly string[]): string {
  return engines.join(' ');
}

/** The engines a tag value names (spaces, commas or `+` between them). */
export function parseEnginesTag(value: string): string[] {
  return value.split(/[\s,+]+/).filter((engine) => engine !== '');
}

/** `arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]` → `<name>`; a name stays. */
function nameOf(functionArnOrName: string): string {
  const parts = functionArnOrName.split(':');
  return functionArnOrName.startsWith('arn:') ? (parts[6] ?? functionArnOrName) : functionArnOrName;
}

/** The engines rotor's naming convention gives a function name or ARN, or undefined. */
export function enginesByName(functionArnOrName: string): readonly string[] | undefined {
  const key = nameOf(functionArnOrName).split('-').at(-1);
  return key !== undefined && Object.hasOwn(FUNCTION_ENGINES, key)
    ? FUNCTION_ENGINES[key as RotationFunctionKey]
    : undefined;
}
