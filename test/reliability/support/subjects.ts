/**
 * The engines and strategies the reliability suites prove, behind one shape: make a fresh account
 * (or key) and its secret, tell whether a secret value logs in, list what the secret is spread over
 * on the target (roles, accounts, live keys) and what the strategy documents it should be.
 */
import pg from 'pg';
import type { ApiKeyProvider } from '../../../local/apiKeyProvider.js';
import { keyTag } from '../../../rotators/apikey/index.js';
import { nativePasswordHash, quoteAccount } from '../../../rotators/mysql/sql.js';
import { loginAs } from '../../mysql/support.js';
import { newPassword, uniqueName } from '../../postgres/support.js';
import type { Lab, Value } from './lab.js';

export type Engine = 'postgres' | 'mariadb' | 'apikey';

/** One secret made for a test. */
export interface Instance {
  readonly arn: string;
  /** Its value before any rotation. */
  readonly initial: Value;
  /** The account's (or first key's) name: what the secret's footprint is found by. */
  readonly base: string;
  /** API keys: the provider this secret's keys live at. */
  readonly provider?: ApiKeyProvider;
}

export interface Subject {
  readonly engine: Engine;
  readonly strategy: string;
  /** e.g. `PostgreSQL single-user`. */
  readonly name: string;
  /**
   * Whether the credentials in AWSCURRENT log in at every instant of a rotation. False only for
   * single-user: from setSecret's password change until finishSecret promotes the new value,
   * only AWSPENDING's password works.
   */
  readonly zeroDowntime: boolean;
  /** Whether AWSPREVIOUS still logs in after a rotation (the overlap the strategy promises). */
  readonly previousStaysValid: boolean;
  /** `maxLiveKeys`: API keys only, the provider's live-key limit (default 2). */
  create(lab: Lab, options?: { maxLiveKeys?: number }): Promise<Instance>;
  /** Whether a secret value's credentials log in as its account (false only for a refusal). */
  logsIn(lab: Lab, instance: Instance, value: Value): Promise<boolean>;
  /** The roles, accounts or live keys the secret is spread over now, sorted. */
  identities(lab: Lab, instance: Instance): Promise<string[]>;
  /** What the strategy documents they should be, given AWSCURRENT and AWSPREVIOUS, sorted. */
  documented(instance: Instance, current: Value, previous: Value | undefined): string[];
  /** A new working credential made by hand (an operator), as the value they would put. */
  byHand(lab: Lab, instance: Instance, current: Value): Promise<Value>;
  /**
   * Everything on the target a rotation could change, by identity: every role or account of the
   * server (authentication, attributes, memberships, grants), or every key of the provider.
   */
  targetState(lab: Lab, instance: Instance): Promise<Record<string, string>>;
}

function need<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`the lab was started without ${what}`);
  return value;
}

const sorted = (items: readonly unknown[]) => [...new Set(items.map(String))].sort();

function postgres(strategy: 'single-user' | 'alternating-users'): Subject {
  const alternating = strategy === 'alternating-users';
  return {
    engine: 'postgres',
    strategy,
    name: `PostgreSQL ${strategy}`,
    zeroDowntime: alternating,
    previousStaysValid: alternating,
    async create(lab) {
      const db = need(lab.pg, 'PostgreSQL');
      const base = uniqueName('rel');
      const password = newPassword();
      lab.canary.secret(password, 'initial password');
      await db.createUser(base, password);
      const initial = db.secret(base, password, alternating ? { masterarn: lab.pgMasterArn } : {});
      return { arn: await lab.createSecret(initial), initial, base };
    },
    logsIn: (lab, _instance, value) => need(lab.pg, 'PostgreSQL').canLogin(value.username, value.password),
    async identities(lab, instance) {
      const rows = await need(lab.pg, 'PostgreSQL').sql<{ rolname: string }>(
        'SELECT rolname FROM pg_roles WHERE starts_with(rolname, $1) ORDER BY 1',
        [instance.base],
      );
      return rows.map((row) => row.rolname);
    },
    documented: (instance, current, previous) =>
      sorted(
        alternating
          ? [instance.base, current.username, previous?.username ?? instance.base]
          : [instance.base],
      ),
    async byHand(lab, _instance, current) {
      const password = newPassword();
      lab.canary.secret(password, 'password set by hand');
      await need(lab.pg, 'PostgreSQL').sql(
        `ALTER ROLE ${pg.escapeIdentifier(String(current.username))} PASSWORD ${pg.escapeLiteral(password)}`,
      );
      return { ...current, password };
    },
    async targetState(lab) {
      const rows = await need(lab.pg, 'PostgreSQL').sql<{ rolname: string }>(
        `SELECT a.rolname, a.rolpassword, a.rolsuper, a.rolcreaterole, a.rolcanlogin, a.rolinherit,
           (SELECT array_agg(m.roleid::regrole::text || ':' || m.admin_option ORDER BY 1)
              FROM pg_auth_members m WHERE m.member = a.oid) AS member_of,
           (SELECT array_agg(s.setconfig::text ORDER BY 1) FROM pg_db_role_setting s WHERE s.setrole = a.oid) AS settings
         FROM pg_authid a ORDER BY a.rolname`,
      );
      return Object.fromEntries(rows.map((row) => [row.rolname, JSON.stringify(row)]));
    },
  };
}

function mariadb(strategy: 'single-user' | 'dual-password' | 'alternating-users'): Subject {
  const alternating = strategy === 'alternating-users';
  return {
    engine: 'mariadb',
    strategy,
    name: `MariaDB ${strategy}`,
    zeroDowntime: strategy !== 'single-user',
    previousStaysValid: strategy !== 'single-user',
    async create(lab) {
      const bed = need(lab.maria, 'MariaDB');
      const base = uniqueName('rel');
      const password = newPassword();
      lab.canary.secret(password, 'initial password');
      await bed.server.admin.createAccount({ user: base, host: '%' }, password, [
        `GRANT SELECT ON \`${bed.database}\`.* TO {account}`,
      ]);
      const initial: Value = {
        engine: 'mariadb',
        host: bed.host,
        port: bed.port,
        username: base,
        password,
        dbname: bed.database,
        ssl: false,
        ...(strategy === 'single-user' ? {} : { masterarn: lab.mariaMasterArn }),
        ...(strategy === 'dual-password' ? { strategy } : {}),
      };
      return { arn: await lab.createSecret(initial), initial, base };
    },
    async logsIn(lab, _instance, value) {
      const bed = need(lab.maria, 'MariaDB');
      const username = String(value.username);
      const me = await loginAs({
        host: bed.host,
        port: bed.port,
        username,
        password: String(value.password),
      });
      return me === `${username}@%`;
    },
    async identities(lab, instance) {
      const accounts = await need(lab.maria, 'MariaDB').accounts();
      return accounts.filter((account) => account.startsWith(instance.base));
    },
    documented: (instance, current, previous) =>
      sorted(
        (alternating
          ? [instance.base, current.username, previous?.username ?? instance.base]
          : [instance.base]
        ).map((user) => `${String(user)}@%`),
      ),
    async byHand(lab, _instance, current) {
      const password = newPassword();
      lab.canary.secret(password, 'password set by hand');
      const account = quoteAccount({ user: String(current.username), host: '%' });
      await need(lab.maria, 'MariaDB').server.admin.query(
        `ALTER USER ${account} IDENTIFIED BY PASSWORD '${nativePasswordHash(password)}'`,
      );
      return { ...current, password };
    },
    targetState: (lab) => need(lab.maria, 'MariaDB').snapshot(),
  };
}

function apikey(gracePolicy: 'until-next-rotation' | 'none'): Subject {
  const grace = gracePolicy !== 'none';
  return {
    engine: 'apikey',
    strategy: grace ? 'keep-until-next-rotation' : 'revoke-at-finish',
    name: `API key ${grace ? 'keep-until-next-rotation' : 'revoke-at-finish'}`,
    zeroDowntime: true,
    previousStaysValid: grace,
    async create(lab, options = {}) {
      const { provider, adminSecretArn } = await need(lab.keys, 'API keys').provider(lab, options);
      const first = provider.keys.mint('app');
      lab.canary.secret(first.value, 'API key');
      const initial: Value = {
        engine: 'apikey',
        provider: 'local',
        adminSecretArn,
        keyId: first.id,
        apiKey: first.value,
        ...(grace ? {} : { gracePolicy }),
      };
      const arn = await lab.createSecret(initial);
      // rotor retires only keys named under the secret's tag (or adopted): the operator renames it.
      provider.keys.rename(first.id, `${keyTag(arn)}-app`);
      return { arn, initial, base: first.id, provider };
    },
    async logsIn(_lab, instance, value) {
      const provider = need(instance.provider, 'a provider');
      const response = await fetch(`${provider.url}/v1/whoami`, {
        headers: { 'x-api-key': String(value.apiKey) },
      });
      await response.text();
      if (response.status !== 200 && response.status !== 401) {
        throw new Error(`the provider answered ${response.status} to a login`);
      }
      return response.status === 200;
    },
    async identities(_lab, instance) {
      return sorted(
        need(instance.provider, 'a provider')
          .keys.live()
          .map((key) => key.id),
      );
    },
    documented: (_instance, current, previous) =>
      sorted(grace && previous !== undefined ? [current.keyId, previous.keyId] : [current.keyId]),
    async byHand(lab, instance, current) {
      // Made by hand under the secret's tag, so that a later rotation may retire it.
      const key = need(instance.provider, 'a provider').keys.mint(`${keyTag(instance.arn)}-by-hand`);
      lab.canary.secret(key.value, 'API key');
      // As rotor does, the replaced key is recorded, so that the next rotation can retire it.
      return { ...current, keyId: key.id, apiKey: key.value, previousKeyId: current.keyId };
    },
    async targetState(_lab, instance) {
      const keys = need(instance.provider, 'a provider').keys.all();
      return Object.fromEntries(
        keys.map((key) => [
          key.id,
          JSON.stringify({ name: key.name, active: key.active, revoked: key.revokedAt }),
        ]),
      );
    },
  };
}

export const SUBJECTS = {
  postgres: [postgres('single-user'), postgres('alternating-users')],
  mariadb: [mariadb('single-user'), mariadb('dual-password'), mariadb('alternating-users')],
  apikey: [apikey('until-next-rotation'), apikey('none')],
} as const satisfies Record<Engine, readonly Subject[]>;
