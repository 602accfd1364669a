/**
 * rotor's rotation functions as the local stack runs them: the catalogue's functions (handlers/catalogue/),
 * with SDK clients pointed at the stack, keyed by the function names serverless.yml deploys
 * (`rotor-local-postgres`, ...). A secret whose `RotationLambdaARN` names one of them rotates
 * against the local stack exactly as it would in AWS.
 */
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { RDSClient } from '@aws-sdk/client-rds';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CATALOGUE } from '../handlers/catalogue/index.js';
import { type Config, readConfig } from '../handlers/config.js';
import { createRotationHandler, wiringOptions } from '../handlers/createHandler.js';
import {
  ENGINES_TAG,
  enginesTagValue,
  FUNCTION_ENGINES,
  ROTATION_FUNCTION_KEYS,
  type RotationFunctionKey,
} from '../handlers/functions.js';
import type { LocalStack, RotationFunction } from './stack.js';

/** Function names, as `serverless deploy --stage local` would name them. */
export const LOCAL_FUNCTIONS = {
  postgres: 'rotor-local-postgres',
  mysql: 'rotor-local-mysql',
  apikey: 'rotor-local-apikey',
} as const satisfies Record<RotationFunctionKey, string>;

/** Each local function's Lambda tags, as deploy sets them: `rotor:engines` (register with these). */
export const LOCAL_FUNCTION_TAGS: Readonly<Record<string, Readonly<Record<string, string>>>> =
  Object.fromEntries(
    ROTATION_FUNCTION_KEYS.map((key) => [
      LOCAL_FUNCTIONS[key],
      { [ENGINES_TAG]: enginesTagValue(FUNCTION_ENGINES[key]) },
    ]),
  );

export interface LocalFunctionOptions {
  /**
   * Configuration overrides (the environment is read otherwise), e.g. the trust bindings a stage
   * file writes: `masters` (where each master secret may log in), `rdsMasters` (which secret may
   * reset which RDS database's master password), `adoptionsSecret`. The environment's
   * ROTOR_MASTERS / ROTOR_RDS_MASTERS / ROTOR_ADOPTIONS_SECRET work too, as in a deployment.
   */
  config?: Partial<Config>;
  /** The RDS client for endpoint discovery (a local RDS, say). */
  rds?: RDSClient;
}

export async function defaultFunctions(
  stack: LocalStack,
  options: LocalFunctionOptions = {},
): Promise<Record<string, RotationFunction>> {
  const config: Config = { ...readConfig(), ...options.config };
  const secretsManager = new SecretsManagerClient(stack.clientConfig);
  const eventBridge = new EventBridgeClient(stack.clientConfig);
  return Object.fromEntries(
    ROTATION_FUNCTION_KEYS.map((key): [string, RotationFunction] => [
      LOCAL_FUNCTIONS[key],
      createRotationHandler({
        ...wiringOptions(CATALOGUE[key], options.rds),
        secretsManager,
        eventBridge,
        config,
      }),
    ]),
  );
}
