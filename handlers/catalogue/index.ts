/**
 * The composition root: every rotation function's wiring by key (handlers/functions.ts holds the
 * same catalogue as data). Importing this module brings every driver: the heal function, the CLI,
 * the local stack and the demo do; a Lambda entry imports only its own function's module.
 */
import type { AnyRotator } from '../../rotators/types.js';
import type { Config } from '../config.js';
import type { FunctionWiring, RotationFunctionKey } from '../functions.js';
import { apikeyFunction } from './apikey.js';
import { mysqlFunction } from './mysql.js';
import { postgresFunction } from './postgres.js';

export const CATALOGUE: Readonly<Record<RotationFunctionKey, FunctionWiring>> = {
  postgres: postgresFunction,
  mysql: mysqlFunction,
  apikey: apikeyFunction,
};

/** Every engine rotor ships, configured from the configuration (the heal function, the CLI). */
export function allRotators(config: Pick<Config, 'apiKeyProviders' | 'apiKeyInlineHosts'>): AnyRotator[] {
  return Object.values(CATALOGUE).flatMap((wiring) => [...wiring.rotators(config)]);
}

export { apikeyFunction, mysqlFunction, postgresFunction };
