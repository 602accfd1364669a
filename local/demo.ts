/**
 * `npm start`: rotor end to end on this machine, nothing leaving it.
 *
 * Starts the local AWS stack (Secrets Manager + EventBridge), embedded PostgreSQL with SCRAM
 * authentication, the reference API-key provider and, when the machine has one, MariaDB; stores
 * secrets for real accounts; attaches rotation to them with RotateSecret (a configuration test);
 * rotates each a few times through RotateSecret with every strategy, printing each step as it
 * runs; proves after every rotation that AWSCURRENT logs in and that retired credentials do not;
 * prints the events rotor emitted. Exits 0 only if every check held.
 *
 * Master users are bound as a deployment binds them: the functions' configuration names, for each
 * master secret, the endpoint its credential may be used on (the stage file's `masters:`, which
 * deploy writes to ROTOR_MASTERS). A rotated secret never decides where a master logs in.
 */
import { randomBytes } from 'node:crypto';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import {
  CreateSecretCommand,
  GetSecretValueCommand,
  RotateSecretCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { createConnection } from 'mysql2/promise';
import pg from 'pg';
import { CATALOGUE } from '../handlers/catalogue/index.js';
import { type Config, type MasterEntry, readConfig } from '../handlers/config.js';
import { createRotationHandler, type RotationHandler } from '../handlers/createHandler.js';
import {
  ENGINES_TAG,
  enginesTagValue,
  FUNCTION_ENGINES,
  ROTATION_FUNCTION_KEYS,
  type RotationFunctionKey,
} from '../handlers/functions.js';
import { keyTag } from '../rotators/apikey/index.js';
import {
  quoteIdentifier as quoteIdent,
  quoteVerifier,
  scramSha256Verifier,
} from '../rotators/postgres/index.js';
import { type ApiKeyProvider, startApiKeyProvider } from './apiKeyProvider.js';
import { connectAdmin, MACHINE_HOST, MACHINE_PORT, type MysqlAdmin } from './mysql.js';
import { type LocalPostgres, startPostgres, superuserClient } from './postgres.js';
import { type LocalStack, startLocalStack } from './stack.js';

const tty = process.stdout.isTTY && !process.env.NO_COLOR;
const paint = (code: number) => (text: string) => (tty ? `\u001b[${code}m${text}\u001b[0m` : text);
const green = paint(32);
const red = paint(31);
const dim = paint(2);
const bold = paint(1);

let failures = 0;
function check(ok: boolean, what: string, detail = ''): void {
  if (!ok) failures++;
  console.log(`    ${ok ? green('✓') : red('✗')} ${what}${detail ? dim(` (${detail})`) : ''}`);
}

/** Wraps a handler so that each step prints as it runs, with its duration and outcome. */
function narrated(handler: RotationHandler): RotationHandler {
  return async (event, context) => {
    const step = String((event as { Step?: unknown }).Step);
    const started = performance.now();
    try {
      const outcome = await handler(event, context);
      const ms = (performance.now() - started).toFixed(0).padStart(5);
      console.log(
        `      ${step.padEnd(13)} ${green('✓')} ${ms} ms${outcome.result === 'noop' ? dim(' (already done)') : ''}`,
      );
      return outcome;
    } catch (error) {
      const ms = (performance.now() - started).toFixed(0).padStart(5);
      console.log(`      ${step.padEnd(13)} ${red('✗')} ${ms} ms ${dim((error as Error).name)}`);
      throw error;
    }
  };
}

interface Demo {
  stack: LocalStack;
  sm: SecretsManagerClient;
  functions: Record<string, string>;
  /** The functions' configuration: bindings are added as the demo's servers come up. */
  config: Config;
}

/** Binds a master secret to its endpoint in the functions' configuration (a stage file's `masters:`). */
function bindMaster(demo: Demo, entry: MasterEntry): void {
  demo.config.masters.push(entry);
  const where = `${entry.hosts?.join(', ')}:${entry.port}`;
  console.log(
    dim(
      `  stage file: masters: [{secret: ${entry.secret}, host: ${where}, tls: ${entry.tls?.mode ?? 'verify-full'}}] (ROTOR_MASTERS)`,
    ),
  );
}

async function setUp(providers: Record<string, unknown>): Promise<Demo> {
  const stack = await startLocalStack({ rotation: { backoffMs: 200 } });
  const sm = new SecretsManagerClient(stack.clientConfig);
  const eb = new EventBridgeClient(stack.clientConfig);
  const config: Config = {
    ...readConfig({ ROTOR_LOG_LEVEL: 'SILENT', ROTOR_METRICS: 'off' }),
    apiKeyProviders: providers,
  };
  // The catalogue's rotators (no RDS discovery: the demo's databases are not RDS's).
  const register = (key: RotationFunctionKey) =>
    stack.registerFunction(
      `rotor-demo-${key}`,
      narrated(
        createRotationHandler({
          rotators: CATALOGUE[key].rotators,
          secretsManager: sm,
          eventBridge: eb,
          config,
        }),
      ),
      // As deploy tags rotor's functions: the engines it rotates.
      { [ENGINES_TAG]: enginesTagValue(FUNCTION_ENGINES[key]) },
    );
  return {
    stack,
    sm,
    config,
    functions: Object.fromEntries(ROTATION_FUNCTION_KEYS.map((key) => [key, register(key)])),
  };
}

async function createSecret(demo: Demo, name: string, value: Record<string, unknown>): Promise<string> {
  const out = await demo.sm.send(
    new CreateSecretCommand({ Name: name, SecretString: JSON.stringify(value) }),
  );
  return out.ARN as string;
}

async function value(demo: Demo, arn: string, stage = 'AWSCURRENT'): Promise<Record<string, unknown>> {
  const out = await demo.sm.send(new GetSecretValueCommand({ SecretId: arn, VersionStage: stage }));
  return JSON.parse(out.SecretString ?? '{}') as Record<string, unknown>;
}

/** Attaches rotation without rotating: Secrets Manager runs testSecret as a configuration test. */
async function attach(demo: Demo, arn: string, fn: string): Promise<void> {
  console.log(`    attach: RotateSecret rate(30 days), RotateImmediately=false (configuration test)`);
  await demo.sm.send(
    new RotateSecretCommand({
      SecretId: arn,
      RotationLambdaARN: fn,
      RotationRules: { ScheduleExpression: 'rate(30 days)', Duration: '4h' },
      RotateImmediately: false,
    }),
  );
  await demo.stack.idle();
  const test = demo.stack.rotations.history.filter((r) => r.secretArn === arn).at(-1);
  check(test?.status === 'succeeded', 'configuration test passed');
}

async function rotate(demo: Demo, arn: string, round: number): Promise<boolean> {
  const out = await demo.sm.send(new RotateSecretCommand({ SecretId: arn }));
  console.log(`    rotation ${round} ${dim(`(version ${String(out.VersionId).slice(0, 8)})`)}`);
  await demo.stack.idle();
  const record = demo.stack.rotations.history.filter((r) => r.secretArn === arn).at(-1);
  check(record?.status === 'succeeded', `RotateSecret ${record?.status ?? 'unknown'}`);
  return record?.status === 'succeeded';
}

// ---------------------------------------------------------------- PostgreSQL

async function postgresLogin(server: LocalPostgres, username: string, password: string): Promise<string> {
  const client = new pg.Client({
    host: server.host,
    port: server.port,
    user: username,
    password,
    database: 'postgres',
  });
  try {
    await client.connect();
    const result = await client.query<{ u: string }>('SELECT session_user AS u');
    return `logged in as ${result.rows[0]?.u}`;
  } catch (error) {
    return `refused: ${(error as { code?: string }).code ?? (error as Error).name}`;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function postgresDemo(demo: Demo): Promise<void> {
  console.log(bold('\nPostgreSQL'));
  const server = await startPostgres({ flavor: 'embedded' });
  console.log(
    dim(
      `  embedded PostgreSQL ${server.version} on ${server.host}:${server.port}, SCRAM-SHA-256 authentication`,
    ),
  );
  try {
    const admin = superuserClient(server);
    await admin.connect();
    const secret = (length = 24) => randomBytes(length).toString('base64url');
    const single = { username: 'orders_app', password: secret() };
    const alternating = { username: 'billing_app', password: secret() };
    const master = { username: 'rotor_admin', password: secret() };
    // The demo's own accounts, created with verifiers too: no plaintext password reaches the server.
    const role = (login: { username: string; password: string }, extra = '') =>
      `CREATE ROLE ${quoteIdent(login.username)} LOGIN ${extra} PASSWORD ${quoteVerifier(scramSha256Verifier(login.password))}`;
    await admin.query(role(single));
    await admin.query(role(alternating));
    await admin.query(role(master, 'CREATEROLE'));
    await admin.query(
      `GRANT ${quoteIdent(alternating.username)} TO ${quoteIdent(master.username)} WITH ADMIN OPTION`,
    );
    await admin.end();

    const base = { engine: 'postgres', host: server.host, port: server.port, dbname: 'postgres', ssl: false };
    const masterArn = await createSecret(demo, 'demo/postgres/master', { ...base, ...master });
    // The local server has no TLS: the binding says so explicitly (never the rotated secret).
    bindMaster(demo, {
      secret: 'demo/postgres/master',
      hosts: [server.host],
      port: server.port,
      tls: { mode: 'disable' },
    });

    console.log(`  ${bold('single-user')} secret demo/postgres/orders (user changes its own password)`);
    const singleArn = await createSecret(demo, 'demo/postgres/orders', { ...base, ...single });
    await attach(demo, singleArn, demo.functions.postgres as string);
    let retired = single.password;
    for (let round = 1; round <= 2; round++) {
      if (!(await rotate(demo, singleArn, round))) continue;
      const current = await value(demo, singleArn);
      const login = await postgresLogin(server, single.username, current.password as string);
      check(login.startsWith('logged in'), 'AWSCURRENT logs in', login);
      const old = await postgresLogin(server, single.username, retired);
      check(old.startsWith('refused'), 'the retired password is refused', old);
      retired = current.password as string;
    }

    console.log(
      `  ${bold('alternating-users')} secret demo/postgres/billing (two users take turns; managed by demo/postgres/master)`,
    );
    const altArn = await createSecret(demo, 'demo/postgres/billing', {
      ...base,
      ...alternating,
      masterarn: masterArn,
    });
    await attach(demo, altArn, demo.functions.postgres as string);
    const history: Record<string, unknown>[] = [{ ...alternating }];
    for (let round = 1; round <= 3; round++) {
      if (!(await rotate(demo, altArn, round))) continue;
      const current = await value(demo, altArn);
      const previous = await value(demo, altArn, 'AWSPREVIOUS');
      history.push(current);
      const login = await postgresLogin(server, current.username as string, current.password as string);
      check(login.startsWith('logged in'), `AWSCURRENT (${current.username}) logs in`, login);
      const overlap = await postgresLogin(server, previous.username as string, previous.password as string);
      check(
        overlap.startsWith('logged in'),
        `AWSPREVIOUS (${previous.username}) still logs in: zero-downtime overlap`,
        overlap,
      );
      const twoBack = history.at(-3);
      if (twoBack) {
        const old = await postgresLogin(server, twoBack.username as string, twoBack.password as string);
        check(
          old.startsWith('refused'),
          `the credential retired two rotations ago (${twoBack.username}) is refused`,
          old,
        );
      }
    }
  } finally {
    await server.stop();
  }
}

// ---------------------------------------------------------------- MySQL / MariaDB

async function mysqlLogin(username: string, password: string): Promise<string> {
  try {
    const connection = await createConnection({
      host: MACHINE_HOST,
      port: MACHINE_PORT,
      user: username,
      password,
    });
    const [rows] = await connection.query('SELECT CURRENT_USER() AS me');
    await connection.end();
    return `logged in as ${(rows as { me: string }[])[0]?.me}`;
  } catch (error) {
    return `refused: ${(error as { code?: string }).code ?? (error as Error).name}`;
  }
}

async function mysqlDemo(demo: Demo): Promise<void> {
  console.log(bold('\nMySQL / MariaDB'));
  let admin: MysqlAdmin;
  try {
    admin = await connectAdmin();
  } catch (error) {
    console.log(
      `  ${bold('skipped MySQL')}: no MariaDB/MySQL server reachable as root on this machine (${(error as { code?: string }).code ?? (error as Error).name})`,
    );
    return;
  }
  const [version] = await admin.query<{ v: string }>('SELECT VERSION() AS v');
  console.log(dim(`  the machine's server ${version?.v} on ${MACHINE_HOST}:${MACHINE_PORT}`));
  const suffix = randomBytes(3).toString('hex');
  const app = { username: `demo_app_${suffix}`, password: randomBytes(18).toString('base64url') };
  const master = { username: `demo_rotor_${suffix}`, password: randomBytes(18).toString('base64url') };
  const appAccount = { user: app.username, host: '%' };
  const masterAccount = { user: master.username, host: '%' };
  try {
    await admin.createAccount(appAccount, app.password, ['GRANT SELECT ON mysql.db TO {account}']);
    await admin.createAccount(masterAccount, master.password, [
      'GRANT CREATE USER ON *.* TO {account} WITH GRANT OPTION',
      'GRANT SELECT ON mysql.* TO {account}',
    ]);
    const base = { engine: 'mariadb', host: MACHINE_HOST, port: MACHINE_PORT, ssl: false };
    const masterArn = await createSecret(demo, `demo/mysql/master-${suffix}`, { ...base, ...master });
    bindMaster(demo, {
      secret: `demo/mysql/master-${suffix}`,
      hosts: [MACHINE_HOST],
      port: MACHINE_PORT,
      tls: { mode: 'disable' },
    });
    console.log(
      `  ${bold('dual-password')} secret demo/mysql/app (one account, old and new password both valid during the overlap)`,
    );
    const arn = await createSecret(demo, `demo/mysql/app-${suffix}`, {
      ...base,
      ...app,
      strategy: 'dual-password',
      masterarn: masterArn,
    });
    await attach(demo, arn, demo.functions.mysql as string);
    const passwords = [app.password];
    for (let round = 1; round <= 2; round++) {
      if (!(await rotate(demo, arn, round))) continue;
      const current = await value(demo, arn);
      passwords.push(current.password as string);
      check(
        (await mysqlLogin(app.username, current.password as string)).startsWith('logged in'),
        'AWSCURRENT logs in',
      );
      const previous = passwords.at(-2) as string;
      const overlap = await mysqlLogin(app.username, previous);
      check(
        overlap.startsWith('logged in'),
        'the previous password still logs in: zero-downtime overlap',
        overlap,
      );
      const twoBack = passwords.at(-3);
      if (twoBack) {
        const old = await mysqlLogin(app.username, twoBack);
        check(old.startsWith('refused'), 'the password from two rotations ago is refused', old);
      }
    }
  } finally {
    await admin.drop(appAccount, masterAccount, { user: `${app.username}_clone`, host: '%' });
    await admin.close();
  }
}

// ---------------------------------------------------------------- API keys

async function apiKeyDemo(demo: Demo, provider: ApiKeyProvider): Promise<void> {
  console.log(bold('\nAPI keys'));
  console.log(dim(`  reference provider on ${provider.url} (at most 2 live keys)`));
  const first = provider.keys.mint('hand-made-first-key');
  const adminArn = await createSecret(demo, 'demo/apikey/admin', { token: provider.adminToken });
  console.log(dim('  stage file: apiKeyProviders: {reference: {..., adminSecret: demo/apikey/admin}}'));
  console.log(
    `  ${bold('keep-until-next-rotation')} secret demo/apikey/payments (the previous key stays valid as a grace period)`,
  );
  const arn = await createSecret(demo, 'demo/apikey/payments', {
    engine: 'apikey',
    provider: 'reference',
    adminSecretArn: adminArn,
    keyId: first.id,
    apiKey: first.value,
  });
  // rotor retires only keys the provider names under the secret's tag (or that an operator adopted):
  // the operator renames the hand-made key accordingly.
  provider.keys.rename(first.id, `${keyTag(arn)}-hand-made-first-key`);
  await attach(demo, arn, demo.functions.apikey as string);
  const keys = [first.value];
  for (let round = 1; round <= 3; round++) {
    if (!(await rotate(demo, arn, round))) continue;
    const current = await value(demo, arn);
    keys.push(current.apiKey as string);
    check(provider.keys.accepts(current.apiKey as string), 'AWSCURRENT key is accepted by the provider');
    check(provider.keys.accepts(keys.at(-2) as string), 'the previous key is still accepted (grace period)');
    const twoBack = keys.at(-3);
    if (twoBack) check(!provider.keys.accepts(twoBack), 'the key from two rotations ago is revoked');
    check(provider.keys.live().length <= 2, `live keys at the provider: ${provider.keys.live().length}`);
  }
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  console.log(bold('rotor demo: rotating real credentials against a local AWS stack'));
  const provider = await startApiKeyProvider();
  // The provider description pins its admin secret (a stage file's apiKeyProviders entry with
  // adminSecret): a secret naming any other admin secret is refused before it is read.
  const demo = await setUp({ reference: { ...provider.description, adminSecret: 'demo/apikey/admin' } });
  console.log(dim(`  local Secrets Manager + EventBridge on ${demo.stack.endpoint}`));
  try {
    await postgresDemo(demo);
    await mysqlDemo(demo);
    await apiKeyDemo(demo, provider);
    const events = demo.stack.eventBridge.events.filter((event) => event.source === 'rotor');
    const counts = new Map<string, number>();
    for (const event of events) counts.set(event.detailType, (counts.get(event.detailType) ?? 0) + 1);
    console.log(bold('\nEvents rotor emitted to EventBridge'));
    for (const [type, count] of counts) console.log(`    ${type.padEnd(26)} ${String(count).padStart(4)}`);
    const sample = events.find((event) => event.detailType === 'Rotation Step Succeeded');
    if (sample) console.log(dim(`  e.g. ${sample.detail}`));
    const leaked = events.some((event) => /"password"|"apiKey"/.test(event.detail));
    check(!leaked, 'no event carries a credential field');
  } finally {
    await demo.stack.stop();
    await provider.stop();
  }
  console.log(
    failures === 0 ? green(bold('\nAll checks passed.')) : red(bold(`\n${failures} check(s) failed.`)),
  );
  process.exitCode = failures === 0 ? 0 : 1;
}

main().catch((error: unknown) => {
  console.error(red(`demo failed: ${(error as Error).stack ?? String(error)}`));
  process.exitCode = 1;
});
