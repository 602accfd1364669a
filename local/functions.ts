/**
 * The rotation functions `npm run local` registers on the stack.
 *
 * The lead wires rotor's Lambda handlers (handlers/) here, keyed by function name, so that a
 * secret whose `RotationLambdaARN` names one of them rotates against the local stack exactly
 * as it would in AWS. The stack is passed so a function can build SDK clients from
 * `stack.clientConfig` instead of reading the environment.
 */
import type { LocalStack, RotationFunction } from './stack.js';

export async function defaultFunctions(_stack?: LocalStack): Promise<Record<string, RotationFunction>> {
  return {};
}
