import { createConnection } from 'mysql2/promise';
import { connectAdmin, MACHINE_HOST, MACHINE_PORT, type MysqlAdmin, uniqueName } from '../../local/mysql.js';
import {
  type Account,
  CREATE_CATALOGUE_TABLE,
  recordClone,
  type ServerInfo,
} from '../../rotators/mysql/sql.js';
import { newPassword, rotatorRequest, skipEngine } from '../support/engines.js';

/** The admin session's quoting (backslash escapes on: see local/mysql.ts). */
const ADMIN_SERVER: ServerInfo = { flavour: 'mariadb', version: [10, 11, 0], noBackslashEscapes: false };

/** The suites run unless ROTOR_TEST_ENGINES is set and lists neither mysql nor mariadb. */
export const skipMysql = skipEngine('mysql', 'mariadb');

export const MASTER_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:rotor/mysql-master-AbCdEf';

export { newPassword, rotatorRequest };

export interface LoginTarget {
  host?: string;
  port?: number;
  username: string;
  password: string;
}

/** CURRENT_USER() after logging in over TCP without TLS, or `undefined` when the login is refused. */
export async function loginAs(target: LoginTarget): Promise<string | undefined> {
  let connection: Awaited<ReturnType<typeof createConnection>>;
  try {
    connection = await createConnection({
      host: target.host ?? MACHINE_HOST,
      port: target.port ?? MACHINE_PORT,
      user: target.username,
      password: target.password,
      charset: 'utf8mb4_general_ci',
    });
  } catch (error) {
    // MariaDB answers a refused login with 1045, and now and then (about 3% of logins as an account
    // that does not exist) with 1698 ER_ACCESS_DENIED_NO_PASSWORD_ERROR.
    const errno = (error as { errno?: number }).errno;
    if (errno === 1045 || errno === 1698) return undefined;
    throw error;
  }
  try {
    const [rows] = await connection.query('SELECT CURRENT_USER() AS me');
    return String((rows as { me: string }[])[0]?.me);
  } finally {
    await connection.end();
  }
}

/** Whether a secret value's credentials log in as its account. */
export async function logsInAsAccount(value: Record<string, unknown>): Promise<boolean> {
  const username = String(value.username);
  const me = await loginAs({
    host: String(value.host),
    port: Number(value.port ?? MACHINE_PORT),
    username,
    password: String(value.password),
  });
  return me === `${username}@${String(value.accountHost ?? '%')}`;
}

export interface AccountSpec {
  /** Default: a unique `rt_` name. */
  user?: string;
  /** Default `%`. */
  host?: string;
  /** Statements with `{account}` for the account and `{db}` for the test database. */
  grants?: readonly string[];
}

/**
 * The machine's MariaDB, prepared for one test file: a test database, a managing account, and a
 * record of every account and role made, dropped by `cleanup`.
 */
export class MariadbTestBed {
  readonly database = uniqueName('rotor_db_');
  readonly master = { username: uniqueName('rt_master_'), password: newPassword() };
  readonly accounts: (Account | string)[] = [];

  private constructor(readonly admin: MysqlAdmin) {}

  /**
   * `masterGrants`: what the managing account holds besides CREATE USER and SELECT on mysql.*:
   * by default the application privileges the suites use, WITH GRANT OPTION.
   */
  static async start(): Promise<MariadbTestBed> {
    const bed = new MariadbTestBed(await connectAdmin());
    await bed.admin.query(`CREATE DATABASE \`${bed.database}\``);
    const master = { user: bed.master.username, host: '%' };
    bed.accounts.push(master);
    await bed.admin.createAccount(master, bed.master.password, [
      'GRANT CREATE USER ON *.* TO {account}',
      'GRANT SELECT ON mysql.* TO {account}',
      `GRANT SELECT, INSERT, UPDATE, DELETE ON \`${bed.database}\`.* TO {account} WITH GRANT OPTION`,
      'GRANT RELOAD, PROCESS ON *.* TO {account} WITH GRANT OPTION',
      // rotor's catalogue of clones (rotators/mysql/README.md).
      'GRANT CREATE, SELECT, INSERT, UPDATE ON `rotor`.* TO {account}',
    ]);
    return bed;
  }

  /**
   * The managing account's secret value (what `masterarn` points at), with its own endpoint and
   * TLS keys: nothing else decides where a master logs in.
   */
  masterSecret(extra: Record<string, unknown> = {}): string {
    return JSON.stringify({
      username: this.master.username,
      password: this.master.password,
      host: MACHINE_HOST,
      port: MACHINE_PORT,
      ssl: false,
      ...extra,
    });
  }

  /** A master secret value for another managing account, bound to the machine's server like the bed's. */
  masterSecretAs(username: string, password: string, extra: Record<string, unknown> = {}): string {
    return JSON.stringify({
      username,
      password,
      host: MACHINE_HOST,
      port: MACHINE_PORT,
      ssl: false,
      ...extra,
    });
  }

  /** Records `clone` as `owner`'s in rotor's catalogue, as rotor's master does when it makes a clone. */
  async recordClone(clone: Account, owner: Account): Promise<void> {
    await this.admin.query('CREATE DATABASE IF NOT EXISTS `rotor`');
    await this.admin.query(CREATE_CATALOGUE_TABLE);
    await this.admin.query(recordClone(ADMIN_SERVER, clone, owner));
  }

  /** The owner rotor's catalogue records for `clone`, as `user@host`, or undefined. */
  async catalogued(clone: Account): Promise<string | undefined> {
    const rows = await this.admin
      .query<{ owner: string }>(
        `SELECT CONCAT(owner_user, '@', owner_host) AS owner FROM rotor.accounts WHERE user = '${clone.user}' AND host = '${clone.host}'`,
      )
      .catch(() => []);
    return rows[0]?.owner;
  }

  related(): Record<string, string> {
    return { [MASTER_ARN]: this.masterSecret() };
  }

  /** Creates an account (and records its clone for cleanup); returns its account and password. */
  async account(spec: AccountSpec = {}): Promise<{ account: Account; password: string }> {
    const account = { user: spec.user ?? uniqueName('rt_'), host: spec.host ?? '%' };
    const password = newPassword();
    this.accounts.push(account, { user: `${account.user}_clone`, host: account.host });
    const grants = (spec.grants ?? ['GRANT SELECT ON `{db}`.* TO {account}']).map((grant) =>
      grant.replaceAll('{db}', this.database),
    );
    await this.admin.createAccount(account, password, grants);
    return { account, password };
  }

  /** A secret value for a new account. */
  async secret(
    extra: Record<string, unknown> = {},
    spec: AccountSpec = {},
  ): Promise<Record<string, unknown>> {
    const { account, password } = await this.account(spec);
    return {
      engine: 'mariadb',
      host: MACHINE_HOST,
      port: MACHINE_PORT,
      username: account.user,
      password,
      ...(account.host === '%' ? {} : { accountHost: account.host }),
      dbname: this.database,
      ssl: false,
      ...extra,
    };
  }

  /** A role (dropped by cleanup). */
  async role(grants: readonly string[] = []): Promise<string> {
    const role = uniqueName('rt_role_');
    this.accounts.push(role);
    await this.admin.query(`CREATE ROLE \`${role}\``);
    for (const grant of grants) {
      await this.admin.query(grant.replaceAll('{role}', `\`${role}\``).replaceAll('{db}', this.database));
    }
    return role;
  }

  async cleanup(): Promise<void> {
    const users = this.accounts.filter((a): a is Account => typeof a !== 'string').map((a) => a.user);
    if (users.length > 0) {
      const list = users.map((user) => `'${user.replaceAll('\\', '\\\\').replaceAll("'", "''")}'`).join(', ');
      await this.admin.query(`DELETE FROM rotor.accounts WHERE user IN (${list})`).catch(() => undefined);
    }
    await this.admin.drop(...this.accounts);
    await this.admin.query(`DROP DATABASE IF EXISTS \`${this.database}\``).catch(() => undefined);
    await this.admin.close();
  }
}

/** What `work` rejects with (`undefined` when it resolves), captured at once so no rejection goes unhandled. */
export function rejection(work: Promise<unknown>): Promise<unknown> {
  return work.then(
    () => undefined,
    (error: unknown) => error,
  );
}
