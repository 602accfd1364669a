/**
 * The reliability lab: real servers, the local AWS stack, rotor's real step machine with rotators
 * whose drivers pass through the crash injector, and the leak canary watching all of it.
 *
 * - PostgreSQL 17 (embedded, SCRAM, every statement logged) with a CREATEROLE managing role;
 * - a throwaway MariaDB 10.11 (its own data directory, so the suite can list every account and
 *   turn the general log on without disturbing other suites) with a managing account;
 * - API-key providers: one reference provider per secret (the live-key limit is per provider),
 *   behind one rotator entry that switches to the provider of the secret under test.
 *
 * Rotations run through `RotateSecret` with a function of the lab's own, `rotor-reliability`,
 * which calls rotor's handler; `around` lets a test wrap each invocation (crash checks, gates,
 * step timings).
 */
import { randomUUID } from 'node:crypto';
import {
  CreateSecretCommand,
  GetSecretValueCommand,
  ListSecretVersionIdsCommand,
  PutSecretValueCommand,
  RotateSecretCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import type { Config } from '../../../handlers/config.js';
import { type ApiKeyProvider, startApiKeyProvider } from '../../../local/apiKeyProvider.js';
import { startThrowawayMariadb, type ThrowawayMariadb } from '../../../local/mysql.js';
import type { RotationEvent } from '../../../local/stack.js';
import { type ApiKeySecret, createApiKeyRotator, type Fetch } from '../../../rotators/apikey/index.js';
import type { Step } from '../../../rotators/errors.js';
import { connectMysql, createMysqlRotator } from '../../../rotators/mysql/index.js';
import { connectPostgres, createPostgresRotator } from '../../../rotators/postgres/index.js';
import type { AnyRotator, Rotator } from '../../../rotators/types.js';
import { TestServer } from '../../postgres/support.js';
import { skipEngine } from '../../support/engines.js';
import { type RotationHarness, startRotationHarness } from '../../support/rotation.js';
import { Canary } from './canary.js';
import { Injector } from './injector.js';

export type Value = Record<string, unknown>;

/** Wraps one invocation of rotor by the stack. */
export type Around = (event: RotationEvent, run: () => Promise<unknown>) => Promise<unknown>;

/** The engines a file needs; the others are not started. */
export interface LabOptions {
  postgres: boolean;
  mariadb: boolean;
  apikey: boolean;
  /** Overrides of rotor's configuration (the password policy, say). */
  config?: Partial<Config>;
}

/** How much longer to run the load and crash suites: ROTOR_RELIABILITY_SCALE (default 1). */
export const SCALE = (() => {
  const raw = Number(process.env.ROTOR_RELIABILITY_SCALE ?? '1');
  return Number.isFinite(raw) && raw > 0 ? raw : 1;
})();

export const skip = {
  postgres: skipEngine('postgres'),
  mariadb: skipEngine('mysql', 'mariadb'),
  apikey: skipEngine('apikey'),
};

/** Adds the canary's eye to a rotator: every generated password and pending value is a needle. */
function watched<S>(rotator: Rotator<S>, canary: Canary): Rotator<S> {
  return {
    ...rotator,
    async createPending(request) {
      const response = await rotator.createPending({
        ...request,
        generatePassword: () => {
          const password = request.generatePassword();
          canary.secret(password, 'generated password');
          return password;
        },
      });
      canary.secretString(JSON.stringify(response.pending), 'pending value');
      return response;
    },
  };
}

/** The MariaDB of the lab: a private server, a test database, a managing account. */
export class MariadbBed {
  readonly database = 'rel_db';
  readonly master = { username: 'rel_master', password: `M-${randomUUID()}` };
  #generalLog: { general: number; output: string } | undefined;

  private constructor(readonly server: ThrowawayMariadb) {}

  static async start(): Promise<MariadbBed> {
    const bed = new MariadbBed(await startThrowawayMariadb());
    const { admin } = bed.server;
    await admin.query(`CREATE DATABASE \`${bed.database}\``);
    await admin.createAccount({ user: bed.master.username, host: '%' }, bed.master.password, [
      'GRANT CREATE USER ON *.* TO {account}',
      'GRANT SELECT ON mysql.* TO {account}',
      `GRANT SELECT, INSERT, UPDATE, DELETE ON \`${bed.database}\`.* TO {account} WITH GRANT OPTION`,
      // A global grant held WITH GRANT OPTION: copying the account's `GRANT USAGE ON *.*` line needs it.
      'GRANT RELOAD, PROCESS ON *.* TO {account} WITH GRANT OPTION',
      // rotor's catalogue of the clones it makes (rotators/mysql/README.md).
      'GRANT CREATE, SELECT, INSERT, UPDATE ON `rotor`.* TO {account}',
    ]);
    // The general log records every statement the server receives, for the leak canary.
    const [saved] = await admin.query<{ general: number; output: string }>(
      'SELECT @@GLOBAL.general_log AS general, @@GLOBAL.log_output AS output',
    );
    bed.#generalLog = saved;
    await admin.query("SET GLOBAL log_output = 'TABLE'");
    await admin.query('SET GLOBAL general_log = ON');
    return bed;
  }

  get host(): string {
    return this.server.host;
  }

  get port(): number {
    return this.server.port;
  }

  /** Every statement the general log holds, then the log restored to how it was. */
  async statementLog(): Promise<string> {
    const rows = await this.server.admin.query<{ text: string }>(
      'SELECT CONVERT(argument USING utf8mb4) AS text FROM mysql.general_log',
    );
    const saved = this.#generalLog;
    if (saved !== undefined) {
      await this.server.admin.query(`SET GLOBAL general_log = ${Number(saved.general) === 1 ? 'ON' : 'OFF'}`);
      await this.server.admin.query(`SET GLOBAL log_output = '${saved.output}'`);
      this.#generalLog = undefined;
    }
    return rows.map((row) => String(row.text)).join('\n');
  }

  /** Every account on the server, `user@host`, sorted. */
  async accounts(): Promise<string[]> {
    const rows = await this.server.admin.query<{ account: string }>(
      "SELECT CONCAT(User, '@', Host) AS account FROM mysql.user ORDER BY 1",
    );
    return rows.map((row) => String(row.account));
  }

  /** Everything about every account that a rotation could change (authentication, grants), by account. */
  async snapshot(): Promise<Record<string, string>> {
    const rows = await this.server.admin.query<{ User: string; Host: string; Priv: string }>(
      'SELECT User, Host, CONVERT(Priv USING utf8mb4) AS Priv FROM mysql.global_priv ORDER BY User, Host',
    );
    const accounts: Record<string, string> = {};
    for (const row of rows) {
      // Some built-in accounts (root@<machine name> under skip-name-resolve) have no grants to show.
      const grants = await this.server.admin
        .grants({ user: row.User, host: row.Host })
        .catch((error: Error) => [`(SHOW GRANTS failed: ${error.message})`]);
      // Sorted: MariaDB lists database-level grants in no stable order (creating a database, such
      // as rotor's catalogue, can reorder them).
      accounts[`${row.User}@${row.Host}`] = JSON.stringify({ priv: row.Priv, grants: [...grants].sort() });
    }
    return accounts;
  }

  stop(): Promise<void> {
    return this.server.stop();
  }
}

/**
 * API keys: one rotator entry for the `apikey` engine that delegates to the rotator of the
 * provider under test (each secret gets its own provider, since the live-key limit is per provider).
 */
export class ApiKeyBed {
  readonly providers: ApiKeyProvider[] = [];
  readonly #registered = new Map<ApiKeyProvider, Record<string, unknown>>();

  /** `provider`'s description as registered under `local`: with its admin secret pinned. */
  registered(provider: ApiKeyProvider | undefined): Record<string, unknown> {
    return (provider === undefined ? undefined : this.#registered.get(provider)) ?? {};
  }
  #target: Rotator<ApiKeySecret> | undefined;
  readonly rotator: Rotator<ApiKeySecret>;

  constructor(
    private readonly fetch: Fetch,
    private readonly canary: Canary,
  ) {
    const target = (): Rotator<ApiKeySecret> => {
      if (this.#target === undefined) throw new Error('no API-key provider started in this test');
      return this.#target;
    };
    this.rotator = {
      engines: ['apikey'],
      parse: (request) => target().parse(request),
      strategy: (secret) => target().strategy(secret),
      createPending: (request) => target().createPending(request),
      apply: (request) => target().apply(request),
      test: (request) => target().test(request),
      finish: (request) => target().finish?.(request) ?? Promise.resolve(),
    };
  }

  /** Makes `rotator` the one that handles `apikey` secrets from now on. */
  use(rotator: Rotator<ApiKeySecret>): void {
    this.#target = rotator;
  }

  /**
   * A new provider, registered under the name `local` with a rotator whose calls pass through
   * the injector, and its admin secret stored in the lab's Secrets Manager.
   */
  async provider(
    lab: Lab,
    options: { maxLiveKeys?: number; inlineProviderHosts?: readonly string[] } = {},
  ): Promise<{ provider: ApiKeyProvider; adminSecretArn: string }> {
    const provider = await startApiKeyProvider({ maxLiveKeys: options.maxLiveKeys ?? 2 });
    this.providers.push(provider);
    this.canary.secret(provider.adminToken, 'provider admin token');
    const adminSecretArn = await lab.createSecret(
      { token: provider.adminToken },
      `rel/apikey-admin-${randomUUID()}`,
    );
    // The operator pins the admin secret in the provider description.
    const registered = { ...provider.description, adminSecret: adminSecretArn };
    this.#registered.set(provider, registered);
    this.use(
      createApiKeyRotator({
        providers: { local: registered },
        fetch: this.fetch,
        // Retries are immediate: the suites count outcomes, never time them.
        sleep: async () => undefined,
        ...(options.inlineProviderHosts === undefined
          ? {}
          : { inlineProviderHosts: options.inlineProviderHosts }),
      }),
    );
    return { provider, adminSecretArn };
  }

  async stop(): Promise<void> {
    for (const provider of this.providers) {
      for (const key of provider.keys.all()) this.canary.secret(key.value, 'API key');
      await provider.stop();
    }
  }
}

export class Lab {
  readonly canary = new Canary();
  readonly injector = new Injector();
  /** rotor's own function in the stack: the rotator handler wrapped by `around`. */
  readonly functionName = 'rotor-reliability';
  around: Around | undefined;
  harness!: RotationHarness;
  functionArn!: string;
  pg: TestServer | undefined;
  pgMasterArn: string | undefined;
  maria: MariadbBed | undefined;
  mariaMasterArn: string | undefined;
  keys: ApiKeyBed | undefined;
  /** An application's Secrets Manager client (separate from rotor's). */
  app!: SecretsManagerClient;
  #collected = false;

  static async start(options: LabOptions): Promise<Lab> {
    const lab = new Lab();
    lab.canary.capture();
    const rotators: AnyRotator[] = [];
    if (options.postgres) {
      lab.pg = await TestServer.start('embedded');
      lab.canary.secret(lab.pg.server.superuser.password, 'PostgreSQL superuser password');
      rotators.push(
        watched(createPostgresRotator({ connect: lab.injector.postgres(connectPostgres) }), lab.canary),
      );
    }
    if (options.mariadb) {
      lab.maria = await MariadbBed.start();
      rotators.push(watched(createMysqlRotator({ connect: lab.injector.mysql(connectMysql) }), lab.canary));
    }
    if (options.apikey) {
      lab.keys = new ApiKeyBed(
        lab.injector.fetch((url, init) => globalThis.fetch(url, init)),
        lab.canary,
      );
      rotators.push(watched(lab.keys.rotator, lab.canary));
    }
    lab.harness = await startRotationHarness({
      rotators,
      // Logs at their most talkative and metrics on: the canary reads all of it.
      config: { logLevel: 'DEBUG', metricsEnabled: true, ...options.config },
    });
    lab.app = new SecretsManagerClient(lab.harness.stack.clientConfig);
    lab.functionArn = lab.harness.stack.registerFunction(lab.functionName, async (event, context) => {
      lab.canary.secret(event.RotationToken, 'RotationToken');
      const run = () => lab.harness.handler(event, context);
      return lab.around === undefined ? run() : lab.around(event, run);
    });
    // A dead Lambda writes nothing more: Secrets Manager writes of a crashed invocation fail.
    for (const operation of ['PutSecretValue', 'UpdateSecretVersionStage']) {
      lab.harness.stack.secretsManager.injectFault(operation, {
        match: () => lab.injector.dead,
        times: Number.MAX_SAFE_INTEGER,
        error: { type: 'AccessDeniedException', message: 'the Lambda is dead (injected)', status: 400 },
      });
    }
    if (lab.pg !== undefined) {
      // Masters name their own endpoint (and TLS): where a master's credential goes is never
      // decided by a rotated secret.
      lab.pgMasterArn = await lab.createSecret(
        {
          ...(JSON.parse(lab.pg.masterSecret) as Value),
          host: lab.pg.server.host,
          port: lab.pg.server.port,
          ssl: false,
        },
        `rel/pg-master-${randomUUID()}`,
      );
    }
    if (lab.maria !== undefined) {
      lab.mariaMasterArn = await lab.createSecret(
        // The master secret names its own endpoint: nothing else decides where a master logs in.
        {
          username: lab.maria.master.username,
          password: lab.maria.master.password,
          host: lab.maria.host,
          port: lab.maria.port,
          ssl: false,
        },
        `rel/mariadb-master-${randomUUID()}`,
      );
    }
    return lab;
  }

  get stack() {
    return this.harness.stack;
  }

  get sm(): SecretsManagerClient {
    return this.harness.sm;
  }

  createSecret(value: Value | string, name = `rel/${randomUUID()}`): Promise<string> {
    return typeof value === 'string'
      ? this.harness.sm
          .send(new CreateSecretCommand({ Name: name, SecretString: value }))
          .then((out) => out.ARN as string)
      : this.harness.createSecret(value, name);
  }

  /** RotateSecret with rotor (the lab's function), then waits until every rotation settled. */
  async rotate(arn: string, token: string = randomUUID()): Promise<string> {
    await this.harness.sm.send(
      new RotateSecretCommand({
        SecretId: arn,
        ClientRequestToken: token,
        RotationLambdaARN: this.functionArn,
        RotationRules: { AutomaticallyAfterDays: 30 },
      }),
    );
    await this.stack.idle();
    return token;
  }

  /** The latest rotation record of a secret and token. */
  record(arn: string, token: string) {
    return this.stack.rotations.history.findLast((r) => r.secretArn === arn && r.token === token);
  }

  /**
   * Stages an empty AWSPENDING version the way RotateSecret does, with a function that does
   * nothing (its attempts fail and leave the token staged), for steps invoked one by one.
   */
  async stage(arn: string): Promise<string> {
    const hold = this.stack.registerFunction('rel-hold', async () => undefined);
    const token = randomUUID();
    await this.harness.sm.send(
      new RotateSecretCommand({
        SecretId: arn,
        ClientRequestToken: token,
        RotationLambdaARN: hold,
        RotationRules: { AutomaticallyAfterDays: 30 },
      }),
    );
    await this.stack.idle();
    return token;
  }

  /** Invokes one step of rotor directly, as Secrets Manager does. */
  invoke(step: Step, arn: string, token: string) {
    return this.harness.invoke(step, arn, token);
  }

  /** Stores a value as AWSPENDING under a staged token, as someone could by hand. */
  async putPending(arn: string, token: string, value: Value | string): Promise<void> {
    await this.harness.sm.send(
      new PutSecretValueCommand({
        SecretId: arn,
        ClientRequestToken: token,
        SecretString: typeof value === 'string' ? value : JSON.stringify(value),
        VersionStages: ['AWSPENDING'],
      }),
    );
  }

  labels(arn: string): Promise<Record<string, string>> {
    return this.harness.labels(arn);
  }

  value(arn: string, stage = 'AWSCURRENT'): Promise<Value> {
    return this.harness.value(arn, stage);
  }

  /** The value stored under a version, or undefined while it has none. */
  async version(arn: string, versionId: string): Promise<string | undefined> {
    try {
      const out = await this.harness.sm.send(
        new GetSecretValueCommand({ SecretId: arn, VersionId: versionId }),
      );
      return out.SecretString;
    } catch (error) {
      if ((error as Error).name === 'ResourceNotFoundException') return undefined;
      throw error;
    }
  }

  /** Version ids of a secret that hold a value, deprecated ones included. */
  async versionIds(arn: string): Promise<string[]> {
    const out = await this.harness.sm.send(
      new ListSecretVersionIdsCommand({ SecretId: arn, IncludeDeprecated: true }),
    );
    return (out.Versions ?? []).map((version) => version.VersionId as string);
  }

  /** Hands the canary everything the lab holds: secrets, tokens, events, history, server logs. */
  async collect(): Promise<void> {
    if (this.#collected) return;
    this.#collected = true;
    await this.stack.idle();
    this.canary.collect(this.harness, 'local stack');
    if (this.pg !== undefined) {
      this.canary.haystack('PostgreSQL statement log (log_statement=all)', this.pg.server.serverLog());
    }
    if (this.maria !== undefined) {
      this.canary.secret(this.maria.master.password, 'MariaDB managing password');
      this.canary.haystack('MariaDB general log', await this.maria.statementLog());
    }
    await this.keys?.stop();
    this.canary.release();
  }

  async stop(): Promise<void> {
    await this.collect().catch(() => undefined);
    this.canary.release();
    this.app?.destroy();
    await this.harness?.close();
    await this.pg?.stop();
    await this.maria?.stop();
  }
}
