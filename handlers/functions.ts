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
import type { RDSClient } from '@aws-sdk/client-rds';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { AnyRotator } from '../rotators/types.js';
import type { Config } from './config.js';
import type { Discovery } from './versions.js';

/** Every rotation strategy a secret may name (the stage schema's list, in this order). */
export const STRATEGIES = [
  'single-user',
  'alternating-users',
  'dual-password',
  'rds-master',
  'api-key',
] as const;

export type StrategyName = (typeof STRATEGIES)[number];

/** What one rotation function is, as data (no driver is imported here: deploy and the CLI read it). */
export interface RotationFunctionEntry {
  /** The engines its rotators claim (the contract test checks them against the rotators). */
  readonly engines: readonly string[];
  /** The strategies its engines implement (the stage schema refuses the others). */
  readonly strategies: readonly StrategyName[];
  /** `rds`: secret values are enriched by RDS endpoint discovery before they are parsed. */
  readonly discovery: 'rds' | 'none';
}

/**
 * The function catalogue: rotor's rotation functions by key, what they rotate and how. The wiring
 * (which rotator objects, which discovery) is in handlers/catalogue/, one file per function, so
 * each Lambda bundle carries only its own driver.
 */
export const ROTATION_FUNCTIONS = {
  postgres: {
    engines: ['postgres', 'aurora-postgresql'],
    strategies: ['single-user', 'alternating-users', 'rds-master'],
    discovery: 'rds',
  },
  mysql: {
    engines: ['mysql', 'aurora-mysql', 'mariadb'],
    strategies: ['single-user', 'alternating-users', 'dual-password', 'rds-master'],
    discovery: 'rds',
  },
  apikey: { engines: ['apikey'], strategies: ['api-key'], discovery: 'none' },
} as const satisfies Record<string, RotationFunctionEntry>;

export type RotationFunctionKey = keyof typeof ROTATION_FUNCTIONS;

/** The rotation functions' keys, in the catalogue's order. */
export const ROTATION_FUNCTION_KEYS = Object.keys(ROTATION_FUNCTIONS) as RotationFunctionKey[];

/** Engines by the function that rotates them (deploy/config.ts, the stage schema, uses this too). */
export const FUNCTION_ENGINES: {
  readonly [K in RotationFunctionKey]: (typeof ROTATION_FUNCTIONS)[K]['engines'];
} = {
  postgres: ROTATION_FUNCTIONS.postgres.engines,
  mysql: ROTATION_FUNCTIONS.mysql.engines,
  apikey: ROTATION_FUNCTIONS.apikey.engines,
};

/**
 * How one rotation function is composed: its rotators and its discovery. One module per function
 * (handlers/catalogue/<key>.ts) builds it; the Lambda entries (lambda/), the heal function, the
 * CLI, the local stack and the demo all take it from there.
 */
export interface FunctionWiring {
  readonly key: RotationFunctionKey;
  /** Its rotators, built from the configuration (the API-key providers come from it). */
  readonly rotators: (config: Pick<Config, 'apiKeyProviders' | 'apiKeyInlineHosts'>) => readonly AnyRotator[];
  /** Its endpoint discovery, given the RDS client to use (built on first use otherwise). */
  readonly discovery?: (rds?: RDSClient) => (secretsManager: SecretsManagerClient) => Discovery;
}

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
