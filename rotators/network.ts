/** Classifies the network failures every engine's driver can report, without quoting them. */
import { DeadlineExceededError, type RotorError, safeCause, TargetUnreachableError } from './errors.js';

const TLS_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'ERR_SSL_WRONG_VERSION_NUMBER',
  'EPROTO',
]);

/**
 * A TargetUnreachableError (or DeadlineExceededError) for a network-level failure, or `undefined`
 * when the error is something else (an authentication or SQL error the engine classifies).
 * `target` names what was dialled, e.g. `PostgreSQL at db.example.com:5432`.
 */
export function classifyNetworkError(
  error: unknown,
  target: string,
  signal?: AbortSignal,
): RotorError | undefined {
  const cause = safeCause(error);
  const code = 'code' in cause ? cause.code : undefined;
  const message = error instanceof Error ? error.message : '';
  if (signal?.aborted || cause.name === 'AbortError' || cause.name === 'TimeoutError') {
    return new DeadlineExceededError(`${target}: no answer before the Lambda deadline`);
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return new TargetUnreachableError('dns', `${target}: host name does not resolve (${code})`, { cause });
  }
  if (code === 'ECONNREFUSED') {
    return new TargetUnreachableError('refused', `${target}: connection refused`, { cause });
  }
  if (code === 'ETIMEDOUT' || code === 'ESOCKETTIMEDOUT' || /timeout/i.test(message)) {
    return new TargetUnreachableError('timeout', `${target}: connection timed out`, { cause });
  }
  if (
    (code !== undefined && TLS_CODES.has(code)) ||
    /does not support SSL|SSL|TLS|certificate/i.test(message)
  ) {
    return new TargetUnreachableError(
      'tls',
      `${target}: TLS handshake failed (${code ?? 'the server refused or failed TLS'}); set tlsMode or tlsCa, plaintext is never used silently`,
      { cause },
    );
  }
  if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH') {
    return new TargetUnreachableError('network', `${target}: network error (${code})`, { cause });
  }
  return undefined;
}
