/**
 * MariaDB for tests and local runs: an administrator connection to the machine's server (root over
 * the unix socket, which needs no password), helpers that create and drop uniquely named test
 * accounts (with password hashes, so that no plaintext reaches the server's logs even in setup),
 * and a throwaway `mariadbd` with TLS certificates made by openssl, for TLS tests.
 *
 * The rotator never uses any of this: rotations log in over TCP with real passwords.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type Connection, createConnection, type RowDataPacket } from 'mysql2/promise';
import { type Account, nativePasswordHash, quoteAccount, quoteIdentifier } from '../rotators/mysql/index.js';

const run = promisify(execFile);

export const MACHINE_SOCKET = '/run/mysqld/mysqld.sock';
export const MACHINE_HOST = '127.0.0.1';
export const MACHINE_PORT = 3306;

/** An administrator session (root over a unix socket). */
export interface MysqlAdmin {
  query<T = Record<string, unknown>>(sql: string): Promise<T[]>;
  /** Creates an account whose password is given as a hash; `grants` are run with `{account}` replaced. */
  createAccount(account: Account, password: string, grants?: readonly string[]): Promise<void>;
  /** The account's authentication JSON (mysql.global_priv), or undefined when it does not exist. */
  globalPriv(account: Account): Promise<Record<string, unknown> | undefined>;
  /** SHOW GRANTS lines of an account, with the password hash MariaDB prints removed. */
  grants(account: Account): Promise<string[]>;
  /** Drops accounts and roles if they exist; never throws. */
  drop(...accounts: readonly (Account | string)[]): Promise<void>;
  close(): Promise<void>;
}

export async function connectAdmin(socketPath = MACHINE_SOCKET, password?: string): Promise<MysqlAdmin> {
  const connection: Connection = await createConnection({
    socketPath,
    user: 'root',
    ...(password === undefined ? {} : { password }),
    charset: 'utf8mb4_general_ci',
    dateStrings: true,
  });
  connection.on('error', () => undefined);
  // Tests may switch the server's default sql_mode; the literals below assume backslash escapes.
  await connection.query("SET SESSION sql_mode = REPLACE(@@SESSION.sql_mode, 'NO_BACKSLASH_ESCAPES', '')");
  const query = async <T>(sql: string): Promise<T[]> => {
    const [rows] = await connection.query(sql);
    return (Array.isArray(rows) ? rows : []) as T[];
  };
  const literal = (value: string) => `'${value.replaceAll('\\', '\\\\').replaceAll("'", "''")}'`;
  return {
    query,
    async createAccount(account, password, grants = []) {
      await query(
        `CREATE USER ${quoteAccount(account)} IDENTIFIED BY PASSWORD '${nativePasswordHash(password)}'`,
      );
      for (const grant of grants) await query(grant.replaceAll('{account}', quoteAccount(account)));
    },
    async globalPriv(account) {
      const rows = await query<RowDataPacket>(
        `SELECT Priv FROM mysql.global_priv WHERE User = ${literal(account.user)} AND Host = ${literal(account.host)}`,
      );
      const priv = rows[0]?.Priv;
      if (priv === undefined) return undefined;
      // mysql2 parses the column (MariaDB declares it JSON) or returns its text.
      return (typeof priv === 'string' ? JSON.parse(priv) : priv) as Record<string, unknown>;
    },
    async grants(account) {
      const rows = await query<RowDataPacket>(`SHOW GRANTS FOR ${quoteAccount(account)}`);
      return rows
        .map((row) => String(Object.values(row)[0]))
        .map((line) => line.replace(/ IDENTIFIED (BY PASSWORD|VIA) .*?(?= REQUIRE | WITH |$)/, ''));
    },
    async drop(...accounts) {
      for (const account of accounts) {
        const name = typeof account === 'string' ? quoteIdentifier(account) : quoteAccount(account);
        await query(`DROP USER IF EXISTS ${name}`).catch(() => undefined);
        if (typeof account === 'string') await query(`DROP ROLE IF EXISTS ${name}`).catch(() => undefined);
      }
    },
    async close() {
      await connection.end().catch(() => connection.destroy());
    },
  };
}

/** A name no other test run uses: `prefix` plus 8 hex digits. */
export function uniqueName(prefix: string): string {
  return `${prefix}${randomBytes(4).toString('hex')}`;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** PEM files of a test CA and a server certificate it signed. */
export interface TestCertificates {
  dir: string;
  caPem: string;
  caFile: string;
  certFile: string;
  keyFile: string;
}

/** The key type of test certificates: RSA 2048 (the default) or ECDSA P-256 (RDS's ECC CAs sign with ECDSA). */
export type TestKeyType = 'rsa' | 'ecdsa';

/**
 * Makes a CA and a server certificate for `names` (DNS names and IP addresses as subjectAltName)
 * with openssl, in a fresh temporary directory.
 */
export async function makeCertificates(
  names: readonly string[],
  keyType: TestKeyType = 'rsa',
): Promise<TestCertificates> {
  const newkey =
    keyType === 'rsa' ? ['-newkey', 'rsa:2048'] : ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'];
  const dir = await mkdtemp(join(tmpdir(), 'rotor-mysql-tls-'));
  const file = (name: string) => join(dir, name);
  const san = names.map((name) => (/^[\d.]+$/.test(name) ? `IP:${name}` : `DNS:${name}`)).join(',');
  await writeFile(file('ext.cnf'), `subjectAltName=${san}\n`);
  await run('openssl', [
    'req',
    '-x509',
    ...newkey,
    '-nodes',
    '-keyout',
    file('ca.key'),
    '-out',
    file('ca.pem'),
    '-days',
    '2',
    '-subj',
    '/CN=rotor test CA',
  ]);
  await run('openssl', [
    'req',
    ...newkey,
    '-nodes',
    '-keyout',
    file('server.key'),
    '-out',
    file('server.csr'),
    '-subj',
    `/CN=${names[0] ?? 'localhost'}`,
  ]);
  await run('openssl', [
    'x509',
    '-req',
    '-in',
    file('server.csr'),
    '-CA',
    file('ca.pem'),
    '-CAkey',
    file('ca.key'),
    '-CAcreateserial',
    '-out',
    file('server.pem'),
    '-days',
    '2',
    '-extfile',
    file('ext.cnf'),
  ]);
  return {
    dir,
    caPem: await readFile(file('ca.pem'), 'utf8'),
    caFile: file('ca.pem'),
    certFile: file('server.pem'),
    keyFile: file('server.key'),
  };
}

export interface ThrowawayMariadb {
  host: string;
  port: number;
  socket: string;
  admin: MysqlAdmin;
  stop(): Promise<void>;
}

/**
 * Starts a private `mariadbd` (own data directory, port and socket) and returns an administrator
 * session on it. With `tls`, the server offers TLS with those certificates; `requireTls` makes it
 * refuse plaintext (require_secure_transport).
 */
export async function startThrowawayMariadb(
  options: { tls?: TestCertificates; requireTls?: boolean } = {},
): Promise<ThrowawayMariadb> {
  const dir = await mkdtemp(join(tmpdir(), 'rotor-mariadb-'));
  const data = join(dir, 'data');
  const socket = join(dir, 'mysqld.sock');
  await run('mariadb-install-db', [
    '--no-defaults',
    `--datadir=${data}`,
    '--auth-root-authentication-method=normal',
    '--user=root',
    '--skip-test-db',
  ]);
  const port = await freePort();
  const args = [
    '--no-defaults',
    `--datadir=${data}`,
    '--user=root',
    `--port=${port}`,
    '--bind-address=127.0.0.1',
    `--socket=${socket}`,
    `--pid-file=${join(dir, 'mysqld.pid')}`,
    `--log-error=${join(dir, 'error.log')}`,
    '--skip-log-bin',
    '--innodb-buffer-pool-size=16M',
    '--skip-name-resolve',
    ...(options.tls
      ? [
          `--ssl-cert=${options.tls.certFile}`,
          `--ssl-key=${options.tls.keyFile}`,
          `--ssl-ca=${options.tls.caFile}`,
        ]
      : []),
    ...(options.requireTls ? ['--require-secure-transport=ON'] : []),
  ];
  const child = spawn('/usr/sbin/mariadbd', args, { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let admin: MysqlAdmin | undefined;
  for (let attempt = 0; attempt < 100 && admin === undefined; attempt++) {
    if (child.exitCode !== null) break;
    admin = await connectAdmin(socket).catch(async () => {
      await new Promise((resolve) => setTimeout(resolve, 100));
      return undefined;
    });
  }
  if (admin === undefined) {
    child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
    throw new Error('the throwaway mariadbd did not start');
  }
  const ready = admin;
  return {
    host: '127.0.0.1',
    port,
    socket,
    admin: ready,
    async stop() {
      await ready.close();
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
