/**
 * The database plumbing both SQL engines share, written once: login attempts (a refusal is an
 * answer, anything else an error), which stored version logs in (AWSCURRENT, AWSPENDING,
 * AWSPREVIOUS), proof of possession, the probe query, and the managing user's secret, endpoint
 * binding (`bindMaster`, ../trust.ts) and session. Engines supply only what differs: how to open
 * a session, what counts as proof on their protocol, and their statements.
 *
 * Every refused login counts towards the server's lockout policies (MySQL's
 * FAILED_LOGIN_ATTEMPTS, MariaDB's max_password_errors, PAM or LDAP behind PostgreSQL): the
 * cascades below try the version that usually works first, and each password once.
 */
import {
  AuthenticationFailedError,
  DeadlineExceededError,
  InternalError,
  InvalidSecretError,
  RotorError,
  safeCause,
  TargetUnreachableError,
  VerificationFailedError,
} from '../errors.js';
import type { TlsSettings } from '../tls.js';
import {
  authorizeActingFor,
  bindMaster,
  type Endpoint,
  type MasterBinding,
  type MasterSecretFields,
} from '../trust.js';
import type { RequestBase } from '../types.js';

export type Timing = Pick<RequestBase, 'signal' | 'deadline'>;

/** Which of the secret's own stored credentials proved possession during this step. */
export type Proof = 'AWSCURRENT' | 'AWSPREVIOUS';

/** Which stored version a login used. */
export type Used = 'AWSCURRENT' | 'AWSPENDING' | 'AWSPREVIOUS';

export interface Closable {
  close(): Promise<void>;
}

/**
 * A driver loaded on its first use rather than at import: the heal function carries every engine,
 * and a cold start should not evaluate a driver the invocation may never use. A failed load is an
 * InternalError naming the driver (its cause reduced to name and code), and is not kept: the next
 * connection loads again.
 */
export function lazyDriver<T>(name: string, load: () => Promise<T>): () => Promise<T> {
  let driver: Promise<T> | undefined;
  return () => {
    driver ??= load().catch((error: unknown) => {
      driver = undefined;
      const cause = safeCause(error);
      throw new InternalError(`the database driver ${name} could not be loaded (${cause.name})`, { cause });
    });
    return driver;
  };
}

/** Opens a session, or returns undefined when the server refuses the credentials (and only then). */
export async function attemptLogin<S>(open: () => Promise<S>): Promise<S | undefined> {
  try {
    return await open();
  } catch (error) {
    if (error instanceof AuthenticationFailedError) return undefined;
    throw error;
  }
}

/** Whether a login works (false only when refused); the session is closed again. */
export async function logsIn<S extends Closable>(
  open: () => Promise<S>,
  check: (session: S) => boolean | Promise<boolean> = () => true,
): Promise<boolean> {
  const session = await attemptLogin(open);
  if (session === undefined) return false;
  try {
    return await check(session);
  } finally {
    await session.close();
  }
}

/**
 * The first stored version, in the order given, whose password logs in (each password tried once;
 * `eligible` skips versions of another account). Only refusals fall through: a network error
 * stops at once.
 */
export async function firstLogin<V extends { password: string }, S>(
  candidates: readonly (readonly [Used, () => Promise<V | undefined>])[],
  eligible: (value: V) => boolean,
  open: (value: V) => Promise<S>,
): Promise<{ session: S; used: Used; value: V } | undefined> {
  const tried = new Set<string>();
  for (const [used, read] of candidates) {
    const value = await read();
    if (value === undefined || tried.has(value.password) || !eligible(value)) continue;
    tried.add(value.password);
    const session = await attemptLogin(() => open(value));
    if (session !== undefined) return { session, used, value };
  }
  return undefined;
}

/**
 * Proof of possession: which of the secret's own stored credentials (AWSCURRENT, else
 * AWSPREVIOUS) logs in now, during this step, as one of the accounts it may stand for.
 * `eligible` says whether a version may be tried at all (one of those accounts, the same server);
 * `proves` logs in with it and says whether the server checked it (engine rules).
 */
export async function proveOwnAccount<V>(input: {
  current: V;
  previous: (() => Promise<V | undefined>) | undefined;
  eligible: (value: V, label: Proof) => boolean;
  proves: (value: V, label: Proof) => Promise<boolean>;
}): Promise<Proof | undefined> {
  const candidates: [Proof, () => Promise<V | undefined>][] = [
    ['AWSCURRENT', async () => input.current],
    ['AWSPREVIOUS', input.previous ?? (async () => undefined)],
  ];
  for (const [label, read] of candidates) {
    const value = await read();
    if (value === undefined || !input.eligible(value, label)) continue;
    if (await input.proves(value, label)) return label;
  }
  return undefined;
}

/**
 * Before a master (or RDS) acts for `users`: each is allowed by the binding's `manages` (default:
 * `own`, the secret's own account and its clone), and the rotation proved it holds one of `own`,
 * or an operator adopted one of them (adopting an account adopts its pair). Throws
 * UnmanagedUserError / UnprovenUserError (../trust.ts); changes nothing.
 */
export async function authorizeFor(input: {
  request: Pick<RequestBase, 'adopted'>;
  actor: string;
  binding?: MasterBinding | undefined;
  users: readonly string[];
  own: readonly string[];
  provenBy: Proof | undefined;
}): Promise<void> {
  const { own, provenBy } = input;
  const adopted = provenBy === undefined ? await input.request.adopted() : [];
  const adoptedPair = own.some((user) => adopted.includes(user)) ? [...adopted, ...own] : adopted;
  for (const user of new Set(input.users)) {
    authorizeActingFor({
      user,
      own,
      ...(input.binding === undefined ? {} : { binding: input.binding }),
      ...(provenBy === undefined ? {} : { provenBy }),
      adopted: adoptedPair,
      actor: input.actor,
    });
  }
}

/** The managing user's credential as its secret says, and where it may log in. */
export interface MasterAccess<M> {
  master: M;
  endpoint: Endpoint & { tls: TlsSettings };
  binding?: MasterBinding;
  /** The `masterarn` (for messages). */
  secretId: string;
}

/**
 * The managing user's secret and where its credential may go, decided before any connection: the
 * master secret's own host / port / TLS keys (`tlsServerName` included) or its binding, never the
 * rotated secret's, whose host and port must be that endpoint (MasterBindingError otherwise).
 */
export async function masterAccess<M extends MasterSecretFields>(input: {
  secret: { masterarn?: string | undefined; host: string; port: number; strategy: string };
  fetchMaster: RequestBase['fetchMaster'];
  parse: (text: string) => M;
  defaultPort: number;
}): Promise<MasterAccess<M>> {
  const { secret } = input;
  if (secret.masterarn === undefined) {
    throw new InvalidSecretError('masterarn', `is required by the ${secret.strategy} strategy`, 'AWSCURRENT');
  }
  const bound = await bindMaster({
    fetchMaster: input.fetchMaster,
    masterSecretId: secret.masterarn,
    parse: input.parse,
    rotated: { host: secret.host, port: secret.port },
    defaultPort: input.defaultPort,
  });
  return { ...bound, secretId: secret.masterarn };
}

/** The actor named in trust errors for a master. */
export const masterActor = (access: Pick<MasterAccess<unknown>, 'secretId'>) =>
  `the managing user of master secret ${access.secretId}`;

/** Logs in as the managing user; a refusal says so (its secret, not the rotated one, is wrong). */
export async function openMasterSession<S>(open: () => Promise<S>, username: string): Promise<S> {
  try {
    return await open();
  } catch (error) {
    if (error instanceof AuthenticationFailedError) {
      throw new AuthenticationFailedError(
        `the managing user "${username}" (masterarn) could not log in: ${error.detail}`,
        { cause: error },
      );
    }
    throw error;
  }
}

/**
 * The configured probe, in a read-only transaction that is always ended. A failure of the query is
 * a VerificationFailedError; a lost connection or the deadline stays what it is (retryable).
 */
export async function runProbe(steps: {
  begin(): Promise<unknown>;
  run(): Promise<unknown>;
  end(): Promise<unknown>;
}): Promise<void> {
  await steps.begin();
  try {
    await steps.run();
  } catch (error) {
    if (error instanceof TargetUnreachableError || error instanceof DeadlineExceededError) throw error;
    const detail = error instanceof RotorError ? error.detail : 'unexpected error';
    throw new VerificationFailedError(`the probe query failed: ${detail}`, {
      ...(error instanceof RotorError ? { cause: error } : {}),
    });
  } finally {
    await steps.end().catch(() => undefined);
  }
}

/** A preflight detail for an error: its safe detail, never a message that could quote a value. */
export function errorDetail(error: unknown): string {
  return error instanceof RotorError
    ? error.detail
    : `unexpected ${error instanceof Error ? error.name : typeof error}`;
}
