/**
 * The slice of a MySQL connection the rotator uses, declared here so that the rotator depends on
 * this and not on the driver (client.ts is the only file that imports mysql2), and so that unit
 * tests can record the statements of flows no local server runs (MySQL 8).
 */
import type { TlsSettings } from '../tls.js';
import type { Account, ServerInfo } from './sql.js';

export type Row = Readonly<Record<string, unknown>>;

export interface ConnectOptions {
  host: string;
  port: number;
  user: string;
  password: string;
  /** Database to open (proves the account can use it). */
  database?: string;
  tls: TlsSettings;
  /** Aborts the connection (and any statement in flight). */
  signal: AbortSignal;
  /** Epoch milliseconds: bounds the connect and every statement. */
  deadline: number;
}

/** One open connection. Every failure is thrown as a RotorError that quotes no SQL and no secret. */
export interface MysqlSession {
  readonly server: ServerInfo;
  /** `CURRENT_USER()`: the account the server matched the login to. */
  readonly account: Account;
  /**
   * Runs one statement. `what` says what it does ("change the password of 'app'@'%'") for error
   * messages, which never quote the statement itself.
   */
  query(sql: string, what: string): Promise<Row[]>;
  /** Closes the connection; never throws. */
  close(): Promise<void>;
}

export type Connect = (options: ConnectOptions) => Promise<MysqlSession>;
