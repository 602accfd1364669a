/**
 * The bundles themselves rotate: each function is built exactly as `osls package` builds it
 * (serverless.yml's esbuild options: minified, CommonJS, ES-module entry points of the SDK), loaded
 * from the bundle file, configured only through its environment as Lambda would configure it,
 * and registered with the local stack. A bundling option that breaks a dependency fails here.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection } from 'mysql2/promise';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleFunction, readServerlessFunctions } from '../../deploy/bundle.js';
import { type ApiKeyProvider, startApiKeyProvider } from '../../local/apiKeyProvider.js';
import { connectAdmin, MACHINE_HOST, MACHINE_PORT, type MysqlAdmin, uniqueName } from '../../local/mysql.js';
import { type LocalPostgres, startPostgres } from '../../local/postgres.js';
import type { RotationFunction } from '../../local/stack.js';
import { keyTag } from '../../rotators/apikey/index.js';
import { skipEngine } from '../support/engines.js';
import { type RotationHarness, startRotationHarness } from '../support/rotation.js';

const ROOT = join(import.meta.dirname, '..', '..');
/** The API-key provider's admin secret, by name. */
const APIKEY_ADMIN = `bundle/apikey-admin-${randomUUID()}`;
const skip = (engine: string) => skipEngine(engine);

let dir: string;
let h: RotationHarness;
let provider: ApiKeyProvider;
let server: LocalPostgres | undefined;
let admin: MysqlAdmin | undefined;
const account = { user: uniqueName('rt_bundle_'), host: '%' };
const bundles: Record<string, RotationFunction> = {};

beforeAll(async () => {
  // Prepare: the local stack, a provider, and the function environment Lambda would set.
  h = await startRotationHarness({ rotators: [] });
  provider = await startApiKeyProvider();
  Object.assign(process.env, {
    ...h.stack.env,
    ROTOR_LOG_LEVEL: 'SILENT',
    ROTOR_METRICS: 'off',
    // The description pins its admin secret, as the stage file's apiKeyProviders entry would.
    ROTOR_APIKEY_PROVIDERS: JSON.stringify({
      reference: { ...provider.description, adminSecret: APIKEY_ADMIN },
    }),
  });
  dir = await mkdtemp(join(tmpdir(), 'rotor-bundles-'));
  const config = await readServerlessFunctions(ROOT);
  const load = createRequire(import.meta.url);
  for (const fn of ['postgres', 'mysql', 'apikey']) {
    const outfile = join(dir, `${fn}.js`);
    await bundleFunction(ROOT, config, config.functions[fn] as string, outfile);
    bundles[fn] = (load(outfile) as { handler: RotationFunction }).handler;
    h.stack.registerFunction(`bundle-${fn}`, bundles[fn] as RotationFunction);
  }
  if (!skip('postgres')) server = await startPostgres({ flavor: 'embedded' });
  if (!skip('mysql')) admin = await connectAdmin();
}, 120_000);

afterAll(async () => {
  await h?.close();
  await provider?.stop();
  await server?.stop();
  await admin?.drop(account);
  await admin?.close();
  await rm(dir, { recursive: true, force: true });
});

async function rotateWith(fn: string, arn: string) {
  await h.rotate(arn, { functionArn: h.stack.functionArn(`bundle-${fn}`) });
  return h.stack.rotations.history.filter((r) => r.secretArn === arn).at(-1);
}

describe('the bundled functions', () => {
  it.skipIf(skip('apikey'))('apikey: mints, verifies and promotes a key', async () => {
    // Prepare
    const adminArn = await h.createSecret({ token: provider.adminToken }, APIKEY_ADMIN);
    const first = provider.keys.mint('first');
    const arn = await h.createSecret({
      engine: 'apikey',
      provider: 'reference',
      adminSecretArn: adminArn,
      keyId: first.id,
      apiKey: first.value,
    });
    // rotor retires only keys named under the secret's tag (or adopted): the operator renames it.
    provider.keys.rename(first.id, `${keyTag(arn)}-first`);
    // Act
    const rotation = await rotateWith('apikey', arn);
    // Assess
    expect(rotation?.status).toBe('succeeded');
    const current = await h.value(arn);
    expect(current.keyId).not.toBe(first.id);
    expect(provider.keys.accepts(current.apiKey as string)).toBe(true);
  });

  it.skipIf(skip('postgres'))('postgres: rotates a single-user secret on a SCRAM server', async () => {
    // Prepare
    const db = server as LocalPostgres;
    const superuser = new pg.Client({
      host: db.host,
      port: db.port,
      user: db.superuser.username,
      password: db.superuser.password,
      database: 'postgres',
    });
    await superuser.connect();
    const password = randomUUID();
    await superuser.query(`CREATE ROLE bundle_app LOGIN PASSWORD ${pg.escapeLiteral(password)}`);
    await superuser.end();
    const arn = await h.createSecret({
      engine: 'postgres',
      host: db.host,
      port: db.port,
      username: 'bundle_app',
      password,
      ssl: false,
    });
    // Act
    const rotation = await rotateWith('postgres', arn);
    // Assess
    expect(rotation?.status).toBe('succeeded');
    const current = await h.value(arn);
    const client = new pg.Client({
      host: db.host,
      port: db.port,
      user: 'bundle_app',
      password: current.password as string,
      database: 'postgres',
    });
    client.on('error', () => undefined);
    await client.connect();
    const { rows } = await client.query<{ u: string }>('SELECT session_user AS u');
    await client.end();
    expect(rows[0]?.u).toBe('bundle_app');
  });

  it.skipIf(skip('mysql'))('mysql: rotates a single-user secret on MariaDB', async () => {
    // Prepare
    const password = `Pw-${randomUUID()}`;
    await (admin as MysqlAdmin).createAccount(account, password);
    const arn = await h.createSecret({
      engine: 'mariadb',
      host: MACHINE_HOST,
      port: MACHINE_PORT,
      username: account.user,
      password,
      ssl: false,
    });
    // Act
    const rotation = await rotateWith('mysql', arn);
    // Assess
    expect(rotation?.status).toBe('succeeded');
    const current = await h.value(arn);
    const connection = await createConnection({
      host: MACHINE_HOST,
      port: MACHINE_PORT,
      user: account.user,
      password: current.password as string,
    });
    const [rows] = await connection.query('SELECT CURRENT_USER() AS me');
    await connection.end();
    expect((rows as { me: string }[])[0]?.me).toBe(`${account.user}@%`);
  });
});
