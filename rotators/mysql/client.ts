/**
 * The only file that imports the driver (mysql2). It opens one connection per call, bounded by the
 * request's deadline and signal, with TLS verified unless the secret says plaintext, and turns
 * every driver error into a RotorError before anything else sees it.
 *
 * No replayable credential leaves without verified TLS: on a plaintext connection the
 * authentication plugins that would send the password itself (`mysql_clear_password`, MariaDB's
 * PAM `dialog`) or encrypt it with an RSA key the server sends (`sha256_password`, and
 * `caching_sha2_password`'s full authentication) are replaced by ones that refuse with
 * InsecureAuthenticationError before sending anything. What is left on plaintext is the
 * challenge-response of `mysql_native_password` and `caching_sha2_password`'s fast path: a server
 * learns nothing it can log in with. (test/security/mysqlAuth.test.ts proves it with a fake server.)
 */
import { createHash } from 'node:crypto';
import { isIP, connect as netConnect } from 'node:net';
import { type AuthPlugin, type Connection, createConnection } from 'mysql2';
import { DeadlineExceededError, InsecureAuthenticationError } from '../errors.js';
import { driverSslOptions, type TlsSettings } from '../tls.js';
import { classifyMysqlError } from './classify.js';
import type { Connect, ConnectOptions, MysqlSession, Row } from './session.js';
import {
  describeServer,
  formatAccount,
  parseCurrentUser,
  parseServerVersion,
  SESSION_INFO,
  type ServerInfo,
} from './sql.js';

/** Longest wait for a connection, whatever the deadline: a silent host should fail fast enough to retry. */
const MAX_CONNECT_MS = 10_000;

/** Whether the connection's server is authenticated by its certificate (any mode but `disable`). */
export function isVerifiedTls(settings: TlsSettings): boolean {
  return settings.mode !== 'disable';
}

/** Plugins whose client part sends the password itself. */
const CLEARTEXT_PLUGINS = ['mysql_clear_password', 'dialog'] as const;

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest();

/** caching_sha2_password's scramble response: SHA256(p) XOR SHA256(SHA256(SHA256(p)) + scramble). */
function cachingSha2Token(password: string, scramble: Buffer): Buffer {
  if (password === '') return Buffer.alloc(0);
  const stage1 = sha256(Buffer.from(password, 'utf8'));
  const stage3 = sha256(Buffer.concat([sha256(stage1), scramble]));
  return Buffer.from(stage1.map((byte, i) => byte ^ (stage3[i] as number)));
}

const FAST_AUTH_SUCCESS = 3;
const PERFORM_FULL_AUTHENTICATION = 4;

/**
 * The authentication plugins of a connection without verified TLS: every plugin that would put the
 * password (or the password encrypted with a key the server chose) on the wire refuses instead.
 * A refusal rejects the plugin's promise: mysql2 then fails the handshake with that error, and
 * nothing was written for it.
 */
function plaintextAuthPlugins(target: string, who: string): Record<string, AuthPlugin> {
  const refuse = (plugin: string, how: string) =>
    new InsecureAuthenticationError(
      `${target}: the server asked ${who} to authenticate with ${plugin}, which ${how}, on a connection without verified TLS; nothing was sent (enable TLS: remove ssl false / tlsMode "disable")`,
    );
  const refusing =
    (plugin: string, how: string): AuthPlugin =>
    () =>
    () =>
      Promise.reject<Buffer>(refuse(plugin, how));
  const plugins: Record<string, AuthPlugin> = {
    sha256_password: refusing(
      'sha256_password',
      'sends the password in cleartext or encrypted with an RSA key the server sends',
    ),
    caching_sha2_password: ({ connection }) => {
      let scrambled = false;
      return (data) => {
        // The first call carries the scramble; later ones the server's AuthMoreData status.
        if (!scrambled) {
          scrambled = true;
          const password = String((connection.config as { password?: unknown }).password ?? '');
          return cachingSha2Token(password, data.subarray(0, 20));
        }
        if (data.length === 1 && data[0] === FAST_AUTH_SUCCESS) return null;
        if (data.length === 1 && data[0] === PERFORM_FULL_AUTHENTICATION) {
          return Promise.reject<Buffer>(
            refuse(
              'caching_sha2_password full authentication',
              'sends the password encrypted with an RSA key the server itself sends (or in cleartext)',
            ),
          );
        }
        return Promise.reject<Buffer>(
          refuse('caching_sha2_password', 'answered with data rotor does not expect'),
        );
      };
    },
  };
  for (const plugin of CLEARTEXT_PLUGINS) {
    plugins[plugin] = refusing(plugin, 'sends the password in cleartext');
  }
  return plugins;
}

function remaining(deadline: number): number {
  return deadline - Date.now();
}

export const connectMysql: Connect = async (options: ConnectOptions): Promise<MysqlSession> => {
  const { host, port, signal, deadline } = options;
  // The flavour is known once logged in; until then the target is named neutrally.
  const target = `MySQL/MariaDB at ${host}:${port}`;
  const who = `'${options.user}'`;
  if (signal.aborted || remaining(deadline) <= 0) {
    throw new DeadlineExceededError(`${target}: no time left to connect before the Lambda deadline`);
  }
  const ssl = driverSslOptions(options.tls);
  // mysql2 verifies the certificate against (and sends SNI for) the host it is given. To verify
  // another name (tlsServerName: a tunnel, a proxy), it is given that name and dials the real host
  // through its stream option.
  const serverName = options.tls.mode !== 'disable' ? options.tls.serverName : undefined;
  const nameHost = serverName !== undefined && serverName !== host ? serverName : undefined;
  const dial = () => {
    const socket = netConnect({ host, port });
    socket.setNoDelay(true);
    // For an IP address mysql2 sends no servername, and Node then checks the certificate against
    // the socket's `_host`, which net leaves null for IP addresses: the check falls back to the
    // name "localhost", and any certificate for localhost would pass for every IP. Naming the
    // address makes Node check the certificate's IP entries. (test/mysql/tls.test.ts guards it.)
    if (nameHost === undefined && isIP(host) !== 0) (socket as unknown as { _host: string })._host = host;
    return socket;
  };
  let connection: Connection;
  try {
    connection = createConnection({
      host: nameHost ?? host,
      port,
      user: options.user,
      password: options.password,
      ...(options.database === undefined ? {} : { database: options.database }),
      ...(ssl === undefined ? {} : { ssl }),
      ...(isVerifiedTls(options.tls) ? {} : { authPlugins: plaintextAuthPlugins(target, who) }),
      stream: dial,
      connectTimeout: Math.max(1, Math.min(MAX_CONNECT_MS, remaining(deadline))),
      // Never send a file a server asks for (LOAD DATA LOCAL), never more than one statement.
      flags: ['-LOCAL_FILES', '-MULTI_STATEMENTS'],
      multipleStatements: false,
      dateStrings: true,
      supportBigNumbers: true,
      bigNumberStrings: true,
      charset: 'utf8mb4_general_ci',
    });
  } catch (error) {
    throw classifyMysqlError(error, { target, who, phase: 'login', signal });
  }
  // Errors after the handshake surface through the command that was running; an idle connection
  // that breaks must not crash the process with an unhandled 'error' event.
  connection.on('error', () => undefined);
  const abort = () => connection.destroy();
  signal.addEventListener('abort', abort, { once: true });
  const release = () => signal.removeEventListener('abort', abort);

  /**
   * Settles with the driver's callback or with the abort, whichever comes first: mysql2 never
   * calls back a handshake or a query whose connection was destroyed.
   */
  const untilAborted = <T>(work: (callback: (error: unknown, value?: T) => void) => void): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const onAbort = () =>
        reject(new DeadlineExceededError(`${target}: no answer before the Lambda deadline`));
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      work((error, value) => {
        signal.removeEventListener('abort', onAbort);
        if (error) reject(error);
        else resolve(value as T);
      });
    });

  const run = (sql: string): Promise<Row[]> => {
    const timeout = remaining(deadline);
    if (timeout <= 0) {
      return Promise.reject(
        new DeadlineExceededError(`${target}: no time left for a statement before the Lambda deadline`),
      );
    }
    return untilAborted<Row[]>((done) =>
      connection.query({ sql, timeout }, (error, rows) =>
        done(error, Array.isArray(rows) ? (rows as Row[]) : []),
      ),
    );
  };

  const close = async (): Promise<void> => {
    release();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        connection.destroy();
        resolve();
      }, 1_000);
      connection.end(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  };

  let server: ServerInfo;
  let account: MysqlSession['account'];
  try {
    await untilAborted<void>((done) => connection.connect((error) => done(error)));
  } catch (error) {
    release();
    connection.destroy();
    throw classifyMysqlError(error, { target, who, phase: 'login', signal });
  }
  try {
    const [info] = await run(SESSION_INFO);
    const parsed = parseServerVersion(String(info?.version ?? ''));
    if (parsed === undefined) throw new TypeError('unrecognised server version');
    server = { ...parsed, noBackslashEscapes: /NO_BACKSLASH_ESCAPES/i.test(String(info?.sqlMode ?? '')) };
    account = parseCurrentUser(String(info?.currentUser ?? ''));
  } catch (error) {
    await close();
    throw classifyMysqlError(error, {
      target,
      who,
      phase: 'statement',
      what: 'read the server version',
      signal,
    });
  }
  const named = `${describeServer(server)} at ${host}:${port}`;
  const whoAmI = formatAccount(account);
  return {
    server,
    account,
    async query(sql, what) {
      try {
        return await run(sql);
      } catch (error) {
        throw classifyMysqlError(error, { target: named, who: whoAmI, phase: 'statement', what, signal });
      }
    },
    close,
  };
};
