export { type ConnectPostgres, connectPostgres, type PgSession } from './client.js';
export { createPostgresRotator, type PostgresRotatorOptions, postgresRotator } from './rotator.js';
/** Hashing and quoting, for code that seeds roles itself (the local stack's fake RDS, the demo). */
export { scramSha256Verifier } from './scram.js';
export type { PostgresLogin, PostgresSecret, Strategy } from './secret.js';
export { quoteIdentifier, quoteVerifier } from './sql.js';
