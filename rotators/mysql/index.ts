export type { Connect, ConnectOptions, MysqlSession } from './client.js';
export { connectMysql } from './client.js';
export { createMysqlRotator, type MysqlRotatorOptions, mysqlRotator } from './rotator.js';
export type { MysqlLogin, MysqlSecret, Strategy } from './secret.js';
