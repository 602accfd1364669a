/**
 * SCRAM-SHA-256 verifiers computed in the client (RFC 5802 / RFC 7677, PostgreSQL's format).
 *
 * rotor never sends a plaintext password to PostgreSQL: `ALTER ROLE ... PASSWORD` receives the
 * verifier `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`, which the server stores as
 * is. So the password is not in the server's statement log, in pg_stat_activity, or in an error
 * that quotes the statement; and what the server keeps is what it would have computed itself.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';

/** PostgreSQL's default (scram_iterations, PG 16+; fixed before). */
export const SCRAM_ITERATIONS = 4096;
/** PostgreSQL's SCRAM_DEFAULT_SALT_LEN. */
export const SCRAM_SALT_BYTES = 16;

const BASE64 = '[A-Za-z0-9+/]+={0,2}';
/** A verifier holds only these characters, so it can be written as a SQL literal without escaping. */
export const VERIFIER_PATTERN = new RegExp(`^SCRAM-SHA-256\\$\\d{1,7}:${BASE64}\\$${BASE64}:${BASE64}$`);

/**
 * Whether rotor can hash `password` so that every client derives the same key.
 *
 * SCRAM hashes SASLprep(password). SASLprep is the identity on printable ASCII, and PostgreSQL
 * (src/common/saslprep.c), libpq and node-postgres agree there; beyond ASCII, node-postgres
 * implements only part of SASLprep, so a verifier computed here could accept a password some
 * client computes differently. rotor's generated passwords are always printable ASCII.
 */
export function isScramSafe(password: string): boolean {
  return password.length > 0 && /^[\x20-\x7e]+$/.test(password);
}

/** SASLprep for the passwords rotor hashes (printable ASCII, where it is the identity). */
export function saslPrep(password: string): string {
  if (!isScramSafe(password)) {
    throw new RangeError('rotor hashes only printable ASCII passwords (SASLprep is the identity there)');
  }
  return password;
}

export interface VerifierOptions {
  /** Default: 16 random bytes. Fixed only by tests that compare with a known verifier. */
  salt?: Buffer;
  iterations?: number;
}

/** The SCRAM-SHA-256 verifier PostgreSQL stores for `password`. */
export function scramSha256Verifier(password: string, options: VerifierOptions = {}): string {
  const salt = options.salt ?? randomBytes(SCRAM_SALT_BYTES);
  const iterations = options.iterations ?? SCRAM_ITERATIONS;
  const salted = pbkdf2Sync(saslPrep(password), salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}
