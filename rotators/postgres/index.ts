export { type ConnectPostgres, connectPostgres, type PgSession } from './client.js';
export { createPostgresRotator, type PostgresRotatorOptions, postgresRotator } from './rotator.js';
export type { PostgresLogin, PostgresSecret, Strategy } from './secret.js';
