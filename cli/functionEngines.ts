/**
 * Which engines a rotation function rotates, as `rotor attach` and `rotor preflight` learn it
 * before touching anything: the function's Lambda tag `rotor:engines` (GetFunction, which the
 * caller needs `lambda:GetFunction` for), else rotor's naming convention
 * (`<service>-<stage>-<postgres|mysql|apikey>`, handlers/functions.ts) when the tag is absent or
 * GetFunction is denied. A function that says neither has unknown engines, and is refused.
 */
import { GetFunctionCommand } from '@aws-sdk/client-lambda';
import { ENGINES_TAG, enginesByName, parseEnginesTag } from '../handlers/functions.js';
import { AwsCallError, safeCause } from '../rotators/errors.js';
import { optional } from '../rotators/optional.js';
import type { PreflightCheck } from '../rotators/types.js';
import { type AwsContext, awsFailure } from './aws.js';

export interface FunctionEngines {
  /** The engines, or undefined when neither the tag nor the name says. */
  readonly engines: readonly string[] | undefined;
  /** Where they came from, for messages. */
  readonly source: 'tag' | 'name' | 'unknown';
  /** Why the tag could not be read, when GetFunction failed (denied, say). */
  readonly note?: string;
}

/** Each invocation's answers, by function: one GetFunction per function per command, however many secrets. */
const known = new WeakMap<AwsContext, Map<string, Promise<FunctionEngines>>>();

/**
 * Reads a function's engines (see the module comment), once per function for an AWS context (one
 * CLI invocation): `status`, and `attach` of several secrets, ask about one function many times.
 * Throws when the function does not exist.
 */
export function functionEngines(context: AwsContext, functionArn: string): Promise<FunctionEngines> {
  let byFunction = known.get(context);
  if (byFunction === undefined) {
    byFunction = new Map();
    known.set(context, byFunction);
  }
  let found = byFunction.get(functionArn);
  if (found === undefined) {
    found = readFunctionEngines(context, functionArn);
    byFunction.set(functionArn, found);
  }
  return found;
}

async function readFunctionEngines(context: AwsContext, functionArn: string): Promise<FunctionEngines> {
  let note: string | undefined;
  try {
    const out = await context.lambda().send(new GetFunctionCommand({ FunctionName: functionArn }));
    const tag = out.Tags?.[ENGINES_TAG];
    if (tag !== undefined && parseEnginesTag(tag).length > 0) {
      return { engines: parseEnginesTag(tag), source: 'tag' };
    }
  } catch (error) {
    if ((error as { name?: string }).name === 'ResourceNotFoundException') {
      throw new AwsCallError(
        `rotation function ${functionArn} was not found in ${context.where}: check --function and --region`,
        { cause: safeCause(error) },
      );
    }
    // Denied or unreachable: the naming convention still tells rotor's own functions apart.
    note = awsFailure(error, 'lambda:GetFunction', undefined, context.where).message;
  }
  const byName = enginesByName(functionArn);
  return byName === undefined
    ? { engines: undefined, source: 'unknown', ...optional('note', note) }
    : { engines: byName, source: 'name', ...optional('note', note) };
}

/** The name of the check below: attach refuses a secret that fails it, whatever the flags. */
export const ENGINE_CHECK = 'function rotates this engine';

/** The check "the function rotates this engine", for preflight and attach. */
export function engineCheck(functionArn: string, engine: string, found: FunctionEngines): PreflightCheck {
  const name = ENGINE_CHECK;
  if (found.engines === undefined) {
    return {
      name,
      ok: false,
      detail: `cannot tell which engines ${functionArn} rotates: it has no ${ENGINES_TAG} tag${found.note === undefined ? '' : ` (${found.note})`} and its name does not end in -postgres, -mysql or -apikey`,
      fix: `Use one of rotor's rotation functions, or tag it ${ENGINES_TAG}=<engines separated by spaces>`,
    };
  }
  const from = found.source === 'tag' ? `its ${ENGINES_TAG} tag` : 'its name';
  if (!found.engines.includes(engine)) {
    return {
      name,
      ok: false,
      detail: `${functionArn} rotates ${found.engines.join(', ')} (${from}), not ${engine}: its rotation would fail with UnknownEngineError`,
      fix: `Use the function for ${engine} (rotor-<stage>-${engine.includes('postgres') ? 'postgres' : engine === 'apikey' ? 'apikey' : 'mysql'})`,
    };
  }
  return { name, ok: true, detail: `${engine} is among ${found.engines.join(', ')} (${from})` };
}
