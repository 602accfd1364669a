export type { Connect, ConnectOptions, MysqlSession } from './client.js';
export { connectMysql } from './client.js';
export { createMysqlRotator, type MysqlRotatorOptions, mysqlRotator } from './rotator.js';
export type { MysqlLogin, MysqlSecret, Strategy } from './secret.js';
/** Hashing and quoting, for code that seeds accounts itself (the local stack's fake RDS). */
export { type Account, nativePasswordHash, quoteAccount, quoteIdentifier } from './sql.js';
