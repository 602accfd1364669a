/**
 * A rehearsal for on-call, on the local stack: real databases and a real provider, and one secret
 * per common failure, so that every `rotor status` line, `rotor heal` answer, event and RUNBOOK.md
 * entry can be seen before the first real incident. `rotor local --rehearse` serves it.
 *
 * What it stages (secrets under `rehearse/`), each rotated by rotor's real step machine:
 * - `rehearse/healthy`: rotates fine, for contrast;
 * - `rehearse/wrong-password`: the user's password was changed on the server by hand (no version
 *   of the secret logs in): setSecret fails on authentication;
 * - `rehearse/probe-failure`: the probe query reads a table that does not exist: testSecret fails
 *   (SQLSTATE 42P01), the single-user password is put back;
 * - `rehearse/unreachable`: the secret points at a port where nothing listens: network;
 * - `rehearse/provider-5xx`: the API-key provider answers 503 to every key creation;
 * - `rehearse/stuck-pending`: an AWSPENDING staged by hand, which no rotation runs on (stuck once
 *   it is older than 30 s).
 *
 * Nothing here changes the stack itself: it is a client of it, like any other.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import {
  CreateSecretCommand,
  PutSecretValueCommand,
  RotateSecretCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { apikeyFunction, postgresFunction } from '../handlers/catalogue/index.js';
import { readConfig } from '../handlers/config.js';
import { createRotationHandler } from '../handlers/createHandler.js';
import { KeyNames } from '../rotators/apikey/index.js';
import { quoteIdentifier, quoteVerifier, scramSha256Verifier } from '../rotators/postgres/index.js';
import { type ApiKeyProvider, startApiKeyProvider } from './apiKeyProvider.js';
import { startPostgres, superuserClient } from './postgres.js';
import type { LocalStack } from './stack.js';

/** The functions the rehearsal's secrets rotate with (registered on the stack). */
export const REHEARSAL_FUNCTIONS = {
  postgres: 'rotor-rehearsal-postgres',
  apikey: 'rotor-rehearsal-apikey',
} as const;

export interface Rehearsal {
  /** The secrets staged, with the failure each rehearses. */
  readonly secrets: readonly { name: string; failure: string }[];
  /** What to print: the secrets and the commands to try. */
  readonly banner: string;
  /**
   * The provider descriptions the rehearsal's API-key function knows (`ROTOR_APIKEY_PROVIDERS` for
   * the CLI, so that it parses the API-key secret as the function does).
   */
  readonly apiKeyProviders: string;
  /** Stops the database and the provider. */
  close(): Promise<void>;
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no free port');
  return address.port;
}

const secret = () => randomBytes(24).toString('base64url');

/** Starts PostgreSQL (SCRAM) and the API-key provider, stages each failure, and waits until each rotation ended. */
export async function stageRehearsal(stack: LocalStack, prefix = 'rehearse'): Promise<Rehearsal> {
  const server = await startPostgres({ flavor: 'embedded' });
  const provider = await startApiKeyProvider();
  const close = async () => {
    await server.stop();
    await provider.stop();
  };
  try {
    const sm = new SecretsManagerClient(stack.clientConfig);
    const eb = new EventBridgeClient(stack.clientConfig);
    const { config, postgresFn, apikeyFn } = registerRehearsalFunctions(stack, sm, eb, provider, prefix);

    const admin = superuserClient(server);
    await admin.connect();
    const base = { engine: 'postgres', host: server.host, port: server.port, dbname: 'postgres', ssl: false };
    const create = async (name: string, value: Record<string, unknown>) =>
      (
        await sm.send(
          new CreateSecretCommand({ Name: `${prefix}/${name}`, SecretString: JSON.stringify(value) }),
        )
      ).ARN as string;
    /** A login role (created with a verifier: no plaintext reaches the server) and its secret. */
    const userSecret = async (name: string, extra: Record<string, unknown> = {}) => {
      const login = {
        username: `rehearse_${name.replaceAll('-', '_')}_${randomUUID().slice(0, 6)}`,
        password: secret(),
      };
      await admin.query(
        `CREATE ROLE ${quoteIdentifier(login.username)} LOGIN PASSWORD ${quoteVerifier(scramSha256Verifier(login.password))}`,
      );
      return { arn: await create(name, { ...base, ...login, ...extra }), login };
    };
    /** Rotation attached with a configuration test, then one rotation now. */
    const attachAndRotate = async (arn: string, fn: string, before?: () => Promise<void>) => {
      await sm.send(
        new RotateSecretCommand({
          SecretId: arn,
          RotationLambdaARN: fn,
          RotationRules: { ScheduleExpression: 'rate(30 days)' },
          RotateImmediately: false,
        }),
      );
      await stack.idle();
      await before?.();
      await sm.send(new RotateSecretCommand({ SecretId: arn }));
      await stack.idle();
    };

    const healthy = await userSecret('healthy');
    await attachAndRotate(healthy.arn, postgresFn);

    const wrong = await userSecret('wrong-password');
    await attachAndRotate(wrong.arn, postgresFn, async () => {
      await admin.query(
        `ALTER ROLE ${quoteIdentifier(wrong.login.username)} PASSWORD ${quoteVerifier(scramSha256Verifier(secret()))}`,
      );
    });

    // Its configuration test fails too (it runs the probe): status shows both.
    const probe = await userSecret('probe-failure', { probeQuery: 'SELECT 1 FROM rehearsal_missing_table' });
    await attachAndRotate(probe.arn, postgresFn);

    const unreachable = await userSecret('unreachable', { host: '127.0.0.1', port: await closedPort() });
    await sm.send(
      new RotateSecretCommand({
        SecretId: unreachable.arn,
        RotationLambdaARN: postgresFn,
        RotationRules: { ScheduleExpression: 'rate(30 days)' },
      }),
    );
    await stack.idle();

    const adminArn = await create('provider-admin', { token: provider.adminToken });
    // The first key carries the secret's tag in its name (the way keys are known as this
    // secret's), which needs the secret's ARN first: created empty, then given the key.
    const apikey = await create('provider-5xx', {});
    const key = provider.keys.mint(`${new KeyNames(apikey).prefix}first`);
    await sm.send(
      new PutSecretValueCommand({
        SecretId: apikey,
        SecretString: JSON.stringify({
          engine: 'apikey',
          provider: 'reference',
          adminSecretArn: adminArn,
          keyId: key.id,
          apiKey: key.value,
        }),
      }),
    );
    await attachAndRotate(apikey, apikeyFn, async () => {
      provider.faults.fail('create', 503, 1_000);
    });

    const stuck = await userSecret('stuck-pending');
    await attachAndRotate(stuck.arn, postgresFn);
    // The service's event times have whole seconds: stage after the rotation's last one.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    await sm.send(
      new PutSecretValueCommand({
        SecretId: stuck.arn,
        ClientRequestToken: randomUUID(),
        SecretString: JSON.stringify({ ...base, ...stuck.login, password: secret() }),
        VersionStages: ['AWSPENDING'],
      }),
    );
    await admin.end();
    sm.destroy();
    eb.destroy();

    const secrets = rehearsedFailures(prefix);
    const apiKeyProviders = JSON.stringify(config.apiKeyProviders);
    return { secrets, banner: rehearsalBanner(prefix, secrets, apiKeyProviders), apiKeyProviders, close };
  } catch (error) {
    await close().catch(() => undefined);
    throw error;
  }
}

/** The rehearsal's two rotation functions, with rotor's real handler, registered on the stack. */
function registerRehearsalFunctions(
  stack: LocalStack,
  sm: SecretsManagerClient,
  eb: EventBridgeClient,
  provider: ApiKeyProvider,
  prefix: string,
) {
  const config = {
    ...readConfig({ ROTOR_LOG_LEVEL: 'SILENT', ROTOR_METRICS: 'off' }),
    // The description pins its admin secret (created by stageRehearsal), as a stage file's entry would.
    apiKeyProviders: { reference: { ...provider.description, adminSecret: `${prefix}/provider-admin` } },
  };
  const postgresFn = stack.registerFunction(
    REHEARSAL_FUNCTIONS.postgres,
    createRotationHandler({
      rotators: postgresFunction.rotators,
      secretsManager: sm,
      eventBridge: eb,
      config,
    }),
  );
  const apikeyFn = stack.registerFunction(
    REHEARSAL_FUNCTIONS.apikey,
    createRotationHandler({
      rotators: apikeyFunction.rotators,
      secretsManager: sm,
      eventBridge: eb,
      config,
    }),
  );
  return { config, postgresFn, apikeyFn };
}

/** The secrets stageRehearsal stages, with the failure each rehearses. */
function rehearsedFailures(prefix: string): { name: string; failure: string }[] {
  return [
    { name: `${prefix}/healthy`, failure: 'none: rotates fine' },
    {
      name: `${prefix}/wrong-password`,
      failure: 'password changed on the server by hand (authentication)',
    },
    { name: `${prefix}/probe-failure`, failure: 'probe query on a missing table (SQLSTATE 42P01)' },
    { name: `${prefix}/unreachable`, failure: 'nothing listens at the host and port (network)' },
    { name: `${prefix}/provider-5xx`, failure: 'the API provider answers 503 (provider)' },
    { name: `${prefix}/stuck-pending`, failure: 'AWSPENDING staged by hand (stuck after 30 s)' },
  ];
}

function rehearsalBanner(
  prefix: string,
  secrets: readonly { name: string; failure: string }[],
  apiKeyProviders: string,
): string {
  const width = Math.max(...secrets.map((s) => s.name.length));
  return [
    'rehearsal staged (PostgreSQL with SCRAM and an API-key provider, on this machine):',
    ...secrets.map((s) => `  ${s.name.padEnd(width)}  ${s.failure}`),
    'for the CLI to read the API-key secret as the function does:',
    `  export ROTOR_APIKEY_PROVIDERS='${apiKeyProviders}'`,
    'try:',
    `  rotor status --prefix ${prefix}/`,
    `  rotor history ${prefix}/probe-failure`,
    `  rotor heal ${prefix}/wrong-password`,
    `  rotor preflight ${prefix}/unreachable`,
    `  rotor rotate ${prefix}/healthy --wait`,
    'each failure links its RUNBOOK.md entry.',
  ].join('\n');
}
