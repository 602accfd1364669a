/**
 * Trust boundaries shared by every engine: where a master credential may be sent, for which users
 * a master may act, and how rotor names the accounts it creates.
 *
 * The rule behind all of it: a value read from a rotated secret may be hostile (its writer is not
 * necessarily trusted with the master). What decides where a master credential goes, which account
 * is changed or which key is revoked comes from something that writer cannot change: the master
 * secret itself, a binding in the stage file, RDS, or the target's own catalogue. Each refusal is a
 * `TrustBoundaryError` (./errors.ts); SECURITY.md maps each rule to the test that proves it.
 */
import { createHash } from 'node:crypto';
import { MasterBindingError, UnmanagedUserError, UnprovenUserError } from './errors.js';
import type { TlsSettings } from './tls.js';

/**
 * Where a master credential may be used, decided outside the rotated secret: by the stage file
 * (`masters:` entries, passed to the functions as configuration) or by RDS (a master secret RDS
 * manages is tagged with its instance or cluster; its endpoints are read from the RDS API).
 */
export interface MasterBinding {
  /** What decided it, for messages: `stage file` or `RDS`. */
  readonly source: 'stage file' | 'RDS';
  /** Host names the master credential may be sent to (compared case-insensitively). Never empty. */
  readonly hosts: readonly string[];
  /** The port; absent: the master secret's port, else the engine's default. */
  readonly port?: number;
  /** TLS for the master's connections; absent: the master secret's own TLS keys, else verified TLS. */
  readonly tls?: TlsSettings;
  /**
   * Patterns (`*` any run of characters, `?` one) of the users this master may act for. Absent:
   * only the rotated secret's own user and its clone (and then only with proof of possession).
   */
  readonly manages?: readonly string[];
}

/** A master secret's value and its binding, as `fetchMaster` returns them. */
export interface MasterCredential {
  /** The secret's AWSCURRENT SecretString (already registered for redaction). */
  readonly value: string;
  readonly binding?: MasterBinding;
}

// ---------------------------------------------------------------------------------------------
// Secret ids as Secrets Manager resolves them (pure: callers pass the ARNs Secrets Manager answered)

/** The name in a full secret ARN (`arn:aws:secretsmanager:<region>:<account>:secret:<name>-AbCdEf`). */
export function nameFromArn(arn: string): string | undefined {
  return /^arn:[\w-]+:secretsmanager:[^:]*:[^:]*:secret:(.+)-[A-Za-z0-9]{6}$/.exec(arn)?.[1];
}

/** Region and account of a secret ARN. */
export function homeOf(arn: string): string | undefined {
  return /^arn:[\w-]+:secretsmanager:([^:]*):([^:]*):secret:/.exec(arn)?.slice(1, 3).join(':');
}

/**
 * Whether `configured` (a name, partial ARN or full ARN) names `secret`. `secret.arn` is the full
 * ARN Secrets Manager answered; its name is derived from it when not given. A name resolves, as
 * in Secrets Manager, in the caller's own account and region: when `home` (an ARN of the
 * deployment's, e.g. the rotated secret's) is given, a secret of another account or region with
 * the same name is not named by it.
 */
export function namesSecret(
  configured: string,
  secret: { arn: string; name?: string },
  home?: string,
): boolean {
  if (configured.startsWith('arn:')) {
    if (configured === secret.arn) return true;
    // A partial ARN: the full one without `-` and its 6 random characters.
    return /-[A-Za-z0-9]{6}$/.test(secret.arn) && configured === secret.arn.slice(0, -7);
  }
  const name = secret.name ?? nameFromArn(secret.arn) ?? secret.arn;
  if (configured !== name) return false;
  const where = home === undefined ? undefined : homeOf(home);
  return where === undefined || homeOf(secret.arn) === undefined || homeOf(secret.arn) === where;
}

/**
 * Whether the secret id `reference`, as a secret's writer wrote it (a name, partial ARN or full
 * ARN), names the secret `configured` names, judged without reading either: an identical id; or
 * the same secret in another form, where a name resolves in `home`'s account and region (the
 * rotated secret's ARN). A full ARN compared with a name or partial ARN is taken at its face
 * (name and 6 random characters); where the function can, it checks again against the ARN Secrets
 * Manager answered (`namesSecret`).
 */
export function refersToSecret(reference: string, configured: string, home?: string): boolean {
  if (reference === configured) return true;
  const where = home === undefined ? undefined : homeOf(home);
  const inHome = (arn: string) => where === undefined || homeOf(arn) === where;
  const refIsArn = reference.startsWith('arn:');
  const confIsArn = configured.startsWith('arn:');
  if (refIsArn && nameFromArn(reference) !== undefined && namesSecret(configured, { arn: reference }, home))
    return true;
  if (confIsArn && nameFromArn(configured) !== undefined && namesSecret(reference, { arn: configured }, home))
    return true;
  // A name and a partial ARN (the ARN without its random characters) of the same secret.
  const partialName = (arn: string) => /^arn:[\w-]+:secretsmanager:[^:]*:[^:]*:secret:(.+)$/.exec(arn)?.[1];
  if (refIsArn && !confIsArn) return partialName(reference) === configured && inHome(reference);
  if (confIsArn && !refIsArn) return partialName(configured) === reference && inHome(configured);
  return false;
}

/** A host and port a connection dials. */
export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

export interface MasterEndpointInput {
  /** ARN or name of the master secret, for messages. */
  readonly masterSecretId: string;
  /** What the master secret itself says (its own fields: trusted, its writer owns the master). */
  readonly master: { readonly host?: string; readonly port?: number; readonly tls?: TlsSettings };
  readonly binding?: MasterBinding;
  /** The rotated secret's endpoint (writer-controlled). */
  readonly rotated: Endpoint;
  /** The engine's default port. */
  readonly defaultPort: number;
}

const sameHost = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

/**
 * Decides where and how the master logs in, before any connection is made with its credential:
 * - a binding decides the hosts and port (a master secret's own host must be one of them);
 * - else the master secret's own host and port;
 * - else nothing decides, and nothing is sent (MasterBindingError).
 * The rotated secret's host and port must be that endpoint: a writer cannot point the master
 * elsewhere. TLS comes from the binding, else the master secret's own keys, else verified TLS:
 * never from the rotated secret.
 */
export function bindMasterEndpoint(input: MasterEndpointInput): Endpoint & { tls: TlsSettings } {
  const { binding, master, rotated, masterSecretId } = input;
  const tls: TlsSettings = binding?.tls ?? master.tls ?? { mode: 'verify-full' };
  if (binding !== undefined) {
    if (binding.hosts.length === 0) {
      throw new MasterBindingError(
        `the ${binding.source} binding of master secret ${masterSecretId} names no host`,
      );
    }
    if (master.host !== undefined && !binding.hosts.some((host) => sameHost(host, master.host as string))) {
      throw new MasterBindingError(
        `master secret ${masterSecretId} names host "${master.host}", which its ${binding.source} binding does not list`,
      );
    }
    const port = binding.port ?? master.port ?? input.defaultPort;
    if (!binding.hosts.some((host) => sameHost(host, rotated.host))) {
      throw new MasterBindingError(
        `the secret's host "${rotated.host}" is not an endpoint the ${binding.source} binds master secret ${masterSecretId} to (${binding.hosts.join(', ')}): the master's credential is not sent there`,
      );
    }
    if (rotated.port !== port) {
      throw new MasterBindingError(
        `the secret's port ${rotated.port} is not the port ${port} the ${binding.source} binds master secret ${masterSecretId} to`,
      );
    }
    return { host: rotated.host, port, tls };
  }
  if (master.host === undefined) {
    throw new MasterBindingError(
      `master secret ${masterSecretId} names no host and no binding names one: add "host" to the master secret, or a "masters" entry to the stage file (an RDS-managed master is bound by RDS)`,
    );
  }
  const port = master.port ?? input.defaultPort;
  if (!sameHost(master.host, rotated.host) || rotated.port !== port) {
    throw new MasterBindingError(
      `the secret's endpoint ${rotated.host}:${rotated.port} is not master secret ${masterSecretId}'s endpoint ${master.host}:${port}: the master's credential is not sent elsewhere`,
    );
  }
  return { host: master.host, port, tls };
}

/** Whether `name` matches a pattern: `*` any run of characters, `?` exactly one; case-sensitive. */
export function matchesPattern(name: string, pattern: string): boolean {
  const source = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${source}$`, 'su').test(name);
}

export interface ActingForInput {
  /** The account the master (or RDS) would change. */
  readonly user: string;
  /** The rotated secret's own accounts: its user and that user's clone (the default allow-list). */
  readonly own: readonly string[];
  /** The master's binding (its `manages` patterns narrow or widen who it may act for). */
  readonly binding?: MasterBinding;
  /**
   * Which of the secret's own stored credentials logged in as `user` (or as the other account of
   * its pair) during this rotation, if any.
   */
  readonly provenBy?: 'AWSCURRENT' | 'AWSPREVIOUS';
  /** Users an operator adopted for this secret (`await request.adopted()`; only needed without proof). */
  readonly adopted: readonly string[];
  /** For messages: which master secret (or `the RDS API`). */
  readonly actor: string;
}

/**
 * Before a master acts for a user (creating or re-passwording a clone, setting a password in
 * recovery, resetting an RDS master password): the user is allowed by the binding's `manages`
 * patterns (default: the secret's own user and clone), and the rotation proved it holds that
 * user's credential, or an operator adopted the user. Throws UnmanagedUserError or
 * UnprovenUserError otherwise; changes nothing either way.
 */
export function authorizeActingFor(input: ActingForInput): void {
  const { user, binding, actor } = input;
  const allowed =
    binding?.manages === undefined
      ? input.own.includes(user)
      : binding.manages.some((pattern) => matchesPattern(user, pattern));
  if (!allowed) {
    throw new UnmanagedUserError(
      binding?.manages === undefined
        ? `${actor} may act only for the secret's own user and its clone, not for "${user}"`
        : `${actor} may not act for "${user}": the ${binding.source} binding's manages patterns (${binding.manages.join(', ')}) do not match it`,
    );
  }
  if (input.provenBy === undefined && !input.adopted.includes(user)) {
    throw new UnprovenUserError(
      `${actor} would act for "${user}", but neither AWSCURRENT nor AWSPREVIOUS of this secret logged in as it during this rotation: nothing proves the secret's writer holds that account (an operator can adopt it with rotor attach --adopt)`,
    );
  }
}

/** The suffix of alternate accounts. */
export const CLONE_SUFFIX = '_clone';

/** Cuts `text` to at most `maxBytes` bytes of UTF-8 without splitting a character. */
export function truncateUtf8(text: string, maxBytes: number): string {
  let bytes = 0;
  let end = 0;
  for (const char of text) {
    const size = Buffer.byteLength(char, 'utf8');
    if (bytes + size > maxBytes) break;
    bytes += size;
    end += char.length;
  }
  return text.slice(0, end);
}

/**
 * The name of `owner`'s alternate account, at most `maxBytes` bytes (PostgreSQL 63, MySQL 32,
 * MariaDB 80). `<owner>_clone` when it fits; else the owner's name is cut and a short hash of the
 * full name keeps two owners with the same prefix apart: `<cut>_<8 hex>_clone`. Deterministic.
 */
export function cloneName(owner: string, maxBytes: number): string {
  const plain = `${owner}${CLONE_SUFFIX}`;
  if (Buffer.byteLength(plain, 'utf8') <= maxBytes) return plain;
  const hash = createHash('sha256').update(owner, 'utf8').digest('hex').slice(0, 8);
  const tail = `_${hash}${CLONE_SUFFIX}`;
  return `${truncateUtf8(owner, maxBytes - tail.length)}${tail}`;
}

/** What an engine's parser makes of a master secret: at least its own endpoint fields. */
export interface MasterSecretFields {
  readonly host?: string | undefined;
  readonly port?: number | undefined;
  readonly tls?: TlsSettings | undefined;
}

/**
 * The one way an engine reaches its master: reads the master secret and its binding
 * (`fetchMaster`), parses it with the engine's parser, and decides with `bindMasterEndpoint` where
 * and over which TLS its credential may go, before any connection is made.
 */
export async function bindMaster<M extends MasterSecretFields>(input: {
  readonly fetchMaster: (secretId: string) => Promise<MasterCredential>;
  readonly masterSecretId: string;
  readonly parse: (text: string) => M;
  readonly rotated: Endpoint;
  readonly defaultPort: number;
}): Promise<{ master: M; endpoint: Endpoint & { tls: TlsSettings }; binding?: MasterBinding }> {
  const { value, binding } = await input.fetchMaster(input.masterSecretId);
  const master = input.parse(value);
  const endpoint = bindMasterEndpoint({
    masterSecretId: input.masterSecretId,
    master: {
      ...(master.host === undefined ? {} : { host: master.host }),
      ...(master.port === undefined ? {} : { port: master.port }),
      ...(master.tls === undefined ? {} : { tls: master.tls }),
    },
    ...(binding === undefined ? {} : { binding }),
    rotated: input.rotated,
    defaultPort: input.defaultPort,
  });
  return { master, endpoint, ...(binding === undefined ? {} : { binding }) };
}
