/**
 * What the step machine hands every rotator method, and what it does once a pending value is
 * AWSCURRENT: shared with the healer, so that a rotation finished by `rotor heal` (or the heal
 * function) gets the same request fields and the same finish path as one finished by finishSecret.
 */
import type { Step } from '../rotators/errors.js';
import type { RequestBase } from '../rotators/types.js';
import type { SecretsStore } from './secrets.js';
import type { Loaded, VersionReader } from './versions.js';

/** Where a rotator request comes from: one step of one rotation (or the healer acting for one). */
export interface RequestContext {
  readonly signal: AbortSignal;
  /** Epoch milliseconds by which the rotator's method must have returned. */
  readonly deadline: number;
  /** The rotation's token (the pending version id). */
  readonly token: string;
  readonly step: Step;
  readonly secretArn: string;
  /** Reads related secrets, masters and the adoption record for the rotator. */
  readonly reader: VersionReader;
}

/** The request fields every rotator method gets; `loaded` carries the RDS port when there is one. */
export function rotatorRequest(
  context: RequestContext,
  loaded?: Pick<Loaded, 'managedDatabase'>,
): RequestBase {
  const { reader, secretArn } = context;
  const managedDatabase = loaded?.managedDatabase;
  return {
    signal: context.signal,
    deadline: context.deadline,
    token: context.token,
    step: context.step,
    fetchRelated: reader.fetchRelated,
    fetchRelatedSecret: reader.fetchRelatedSecret,
    fetchMaster: reader.fetchMaster,
    secretArn,
    adopted: () => reader.adopted(secretArn),
    ...(managedDatabase === undefined ? {} : { managedDatabase }),
  };
}

/**
 * After promotion: runs the rotator's finish hook (idempotent by contract: it runs again when
 * finishSecret is replayed) and forgets what this container kept of the rotation.
 */
export async function finishPromoted(
  store: SecretsStore,
  context: RequestContext,
  promoted: Loaded,
  previous: () => Promise<unknown>,
): Promise<void> {
  const { rotator } = promoted;
  if (rotator.finish !== undefined) {
    await rotator.finish({ ...rotatorRequest(context, promoted), current: promoted.value, previous });
  }
  // The rotation is over: its versions need not stay in this container's memory.
  store.cache.forgetSecret(context.secretArn);
  store.forgetRelated(context.token);
}
