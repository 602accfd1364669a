/**
 * Hostile input: a table of malformed and malicious events, secret values, usernames, passwords
 * and provider descriptions. Each is refused with a typed error (the RotorError subclass, and the
 * field where there is one) and changes nothing: the staging labels, the pending version, every
 * role or account of the database server, every key of the provider are as they were. Inputs that
 * look dangerous but are legitimate (quotes in an account name, every printable character in a
 * password) must rotate, touching nothing but their own accounts.
 *
 * The whole file runs with a password policy that draws from all 94 printable ASCII characters.
 *
 * Passwords, decided per engine:
 * - PostgreSQL: any AWSCURRENT password without NUL rotates (quotes, backslashes, non-ASCII), since
 *   it is only ever used to log in; rotor computes SCRAM verifiers itself and so refuses a pending
 *   password beyond printable ASCII (InvalidSecretError on "password": clients disagree on
 *   SASLprep there), and NUL anywhere.
 * - MariaDB: any password without NUL rotates (only its hash reaches the server); NUL is refused.
 * - API keys: the provider mints the values; an apiKey over 8192 characters is refused.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import { createApiKeyRotator } from '../../rotators/apikey/index.js';
import { ConfigurationError, type Step } from '../../rotators/errors.js';
import { type Lab, skip, type Value } from './support/lab.js';
import { type Instance, SUBJECTS, type Subject } from './support/subjects.js';
import { describeNoLeaks, itEach, useLab } from './support/suite.js';

const OPTIONS = {
  postgres: !skip.postgres,
  mariadb: !skip.mariadb,
  apikey: !skip.apikey,
  // Every printable ASCII character may appear in a generated password.
  config: { passwordPolicy: { excludeCharacters: '' } },
};

const STEPS: readonly Step[] = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'];
const [pgSingle, pgAlternating] = SUBJECTS.postgres;
const [mariaSingle, mariaDual, mariaAlternating] = SUBJECTS.mariadb;
const [keyGrace] = SUBJECTS.apikey;

/** Every printable ASCII character but letters and digits. */
const SPECIALS = ' !"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~';

interface Refusal {
  /** The RotorError subclass. */
  readonly error: string;
  /** The offending field, where the error names one. */
  readonly field?: string;
}

interface EventTarget {
  readonly arn: string;
  readonly token: string;
  readonly previous: string;
  readonly unrelatedArn: string;
}

interface EventCase {
  readonly name: string;
  readonly event: (target: EventTarget) => unknown;
  readonly refusal: Refusal;
}

interface ValueCase {
  readonly name: string;
  readonly subject: Subject;
  /** AWSCURRENT as stored, made from a valid value for a real account. */
  readonly current?: (valid: Value, context: CaseContext) => Value | string;
  /** A value put as AWSPENDING by hand, made from AWSCURRENT. */
  readonly pending?: (current: Value, context: CaseContext) => Value | string;
  /** The step that must refuse; the ones before it must succeed. Default createSecret. */
  readonly at?: Step;
  /** Changes to the function before the case runs (API keys: another rotator). */
  readonly prepare?: (context: CaseContext) => Promise<void>;
  readonly refusal: Refusal;
}

interface CaseContext {
  readonly lab: Lab;
  readonly instance: Instance;
  /** Another secret, holding a username and password: not what any secret should point at. */
  readonly unrelatedArn: string;
}

function caught(work: Promise<unknown>): Promise<Error & Record<string, unknown>> {
  return work.then(
    () => {
      throw new Error('expected a refusal, the call succeeded');
    },
    (error: unknown) => error as Error & Record<string, unknown>,
  );
}

/** A long value of one repeated letter: each case its own letter, so none contains another. */
const big = (length: number, letter: string) => letter.repeat(length);

// ---------------------------------------------------------------------------------------------
// The corpus

const EVENTS: readonly EventCase[] = [
  { name: 'the event is null', event: () => null, refusal: { error: 'InvalidEventError', field: '(event)' } },
  {
    name: 'the event is a string',
    event: () => 'createSecret',
    refusal: { error: 'InvalidEventError', field: '(event)' },
  },
  {
    name: 'the event is an array',
    event: ({ arn, token }) => ['createSecret', arn, token],
    refusal: { error: 'InvalidEventError', field: 'Step' },
  },
  {
    name: 'Step is missing',
    event: ({ arn, token }) => ({ SecretId: arn, ClientRequestToken: token }),
    refusal: { error: 'InvalidEventError', field: 'Step' },
  },
  {
    name: 'Step is unknown ("rotateEverything")',
    event: ({ arn, token }) => ({ Step: 'rotateEverything', SecretId: arn, ClientRequestToken: token }),
    refusal: { error: 'InvalidEventError', field: 'Step' },
  },
  {
    name: 'Step in another case ("CreateSecret")',
    event: ({ arn, token }) => ({ Step: 'CreateSecret', SecretId: arn, ClientRequestToken: token }),
    refusal: { error: 'InvalidEventError', field: 'Step' },
  },
  {
    name: 'Step with a trailing space',
    event: ({ arn, token }) => ({ Step: 'createSecret ', SecretId: arn, ClientRequestToken: token }),
    refusal: { error: 'InvalidEventError', field: 'Step' },
  },
  {
    name: 'Step is a number',
    event: ({ arn, token }) => ({ Step: 1, SecretId: arn, ClientRequestToken: token }),
    refusal: { error: 'InvalidEventError', field: 'Step' },
  },
  {
    name: 'the fields hidden under "__proto__"',
    event: ({ arn, token }) =>
      JSON.parse(
        JSON.stringify({ ['__proto__']: { Step: 'createSecret', SecretId: arn, ClientRequestToken: token } }),
      ),
    refusal: { error: 'InvalidEventError', field: 'Step' },
  },
  {
    name: 'SecretId is missing',
    event: ({ token }) => ({ Step: 'createSecret', ClientRequestToken: token }),
    refusal: { error: 'InvalidEventError', field: 'SecretId' },
  },
  {
    name: 'SecretId is empty',
    event: ({ token }) => ({ Step: 'createSecret', SecretId: '', ClientRequestToken: token }),
    refusal: { error: 'InvalidEventError', field: 'SecretId' },
  },
  {
    name: 'SecretId is 1 MiB long',
    event: ({ token }) => ({ Step: 'createSecret', SecretId: big(1 << 20, 's'), ClientRequestToken: token }),
    refusal: { error: 'InvalidEventError', field: 'SecretId' },
  },
  {
    name: 'SecretId is an object',
    event: ({ arn, token }) => ({ Step: 'createSecret', SecretId: { arn }, ClientRequestToken: token }),
    refusal: { error: 'InvalidEventError', field: 'SecretId' },
  },
  {
    name: 'ClientRequestToken is missing',
    event: ({ arn }) => ({ Step: 'createSecret', SecretId: arn }),
    refusal: { error: 'InvalidEventError', field: 'ClientRequestToken' },
  },
  {
    name: 'ClientRequestToken is too short',
    event: ({ arn }) => ({ Step: 'createSecret', SecretId: arn, ClientRequestToken: 'abc' }),
    refusal: { error: 'InvalidEventError', field: 'ClientRequestToken' },
  },
  {
    name: 'ClientRequestToken is 65 characters long',
    event: ({ arn }) => ({ Step: 'createSecret', SecretId: arn, ClientRequestToken: 'a'.repeat(65) }),
    refusal: { error: 'InvalidEventError', field: 'ClientRequestToken' },
  },
  {
    name: 'ClientRequestToken carries a path ("../../")',
    event: ({ arn, token }) => ({
      Step: 'createSecret',
      SecretId: arn,
      ClientRequestToken: `../../${token}`,
    }),
    refusal: { error: 'InvalidEventError', field: 'ClientRequestToken' },
  },
  {
    name: 'ClientRequestToken carries SQL',
    event: ({ arn }) => ({
      Step: 'createSecret',
      SecretId: arn,
      ClientRequestToken: "x'; DROP ROLE postgres; -- 0123456789abcdef",
    }),
    refusal: { error: 'InvalidEventError', field: 'ClientRequestToken' },
  },
  {
    name: 'RotationToken is an object',
    event: ({ arn, token }) => ({
      Step: 'createSecret',
      SecretId: arn,
      ClientRequestToken: token,
      RotationToken: { forged: true },
    }),
    refusal: { error: 'InvalidEventError', field: 'RotationToken' },
  },
  {
    name: 'a ClientRequestToken not staged on the secret',
    event: ({ arn }) => ({ Step: 'setSecret', SecretId: arn, ClientRequestToken: randomUUID() }),
    refusal: { error: 'StageConflictError' },
  },
  {
    name: 'the ClientRequestToken of AWSPREVIOUS',
    event: ({ arn, previous }) => ({ Step: 'setSecret', SecretId: arn, ClientRequestToken: previous }),
    refusal: { error: 'StageConflictError' },
  },
  {
    name: 'finishSecret before createSecret stored a value',
    event: ({ arn, token }) => ({ Step: 'finishSecret', SecretId: arn, ClientRequestToken: token }),
    refusal: { error: 'VersionNotFoundError' },
  },
  {
    name: 'a SecretId that does not exist',
    event: ({ token }) => ({
      Step: 'createSecret',
      SecretId: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:nobody-AbCdEf',
      ClientRequestToken: token,
    }),
    refusal: { error: 'AwsCallError' },
  },
  {
    name: 'the SecretId of another secret, never set up for rotation',
    event: ({ unrelatedArn, token }) => ({
      Step: 'createSecret',
      SecretId: unrelatedArn,
      ClientRequestToken: token,
    }),
    refusal: { error: 'RotationNotEnabledError' },
  },
];

/** AWSCURRENT cases that every database engine refuses in its schema. */
function databaseValueCases(subject: Subject): ValueCase[] {
  const invalid = (field: string) => ({ error: 'InvalidSecretError', field });
  const current = (change: (valid: Value) => Value | string) => change;
  return [
    {
      name: 'not JSON',
      subject,
      current: current(() => 'password=hunter2-hunter2'),
      refusal: invalid('(json)'),
    },
    {
      name: 'a JSON array',
      subject,
      current: current((v) => JSON.stringify([v])),
      refusal: invalid('(json)'),
    },
    {
      name: 'a JSON string',
      subject,
      current: current(() => '"a JSON string where an object belongs"'),
      refusal: invalid('(json)'),
    },
    { name: 'JSON null', subject, current: current(() => 'null'), refusal: invalid('(json)') },
    {
      name: 'engine missing',
      subject,
      current: current(({ engine: _, ...v }) => v),
      refusal: invalid('engine'),
    },
    {
      name: 'engine a number',
      subject,
      current: current((v) => ({ ...v, engine: 5 })),
      refusal: invalid('engine'),
    },
    {
      name: 'engine "oracle"',
      subject,
      current: current((v) => ({ ...v, engine: 'oracle' })),
      refusal: { error: 'UnknownEngineError' },
    },
    { name: 'host missing', subject, current: current(({ host: _, ...v }) => v), refusal: invalid('host') },
    {
      name: 'host carrying SQL and a shell command',
      subject,
      current: current((v) => ({ ...v, host: "db'; DROP ROLE postgres; --$(rm -rf /)" })),
      refusal: invalid('host'),
    },
    {
      name: 'host of 60 000 characters',
      subject,
      current: current((v) => ({ ...v, host: big(60_000, 'h') })),
      refusal: invalid('host'),
    },
    {
      name: 'port 70000',
      subject,
      current: current((v) => ({ ...v, port: 70_000 })),
      refusal: invalid('port'),
    },
    {
      name: 'port carrying SQL',
      subject,
      current: current((v) => ({ ...v, port: '5432; DROP ROLE postgres' })),
      refusal: invalid('port'),
    },
    { name: 'port -1', subject, current: current((v) => ({ ...v, port: -1 })), refusal: invalid('port') },
    {
      name: 'username a number',
      subject,
      current: current((v) => ({ ...v, username: 42 })),
      refusal: invalid('username'),
    },
    {
      name: 'username empty',
      subject,
      current: current((v) => ({ ...v, username: '' })),
      refusal: invalid('username'),
    },
    {
      name: 'username with a NUL character',
      subject,
      current: current((v) => ({ ...v, username: `${String(v.username)}\0; DROP ROLE postgres` })),
      refusal: invalid('username'),
    },
    {
      name: 'username of 60 000 characters',
      subject,
      current: current((v) => ({ ...v, username: big(60_000, 'u') })),
      refusal: invalid('username'),
    },
    {
      name: 'password missing',
      subject,
      current: current(({ password: _, ...v }) => v),
      refusal: invalid('password'),
    },
    {
      name: 'password a number',
      subject,
      current: current((v) => ({ ...v, password: 12345678 })),
      refusal: invalid('password'),
    },
    {
      name: 'password with a NUL character',
      subject,
      current: current((v) => ({ ...v, password: `${String(v.password)}\0tail` })),
      refusal: invalid('password'),
    },
    {
      name: 'strategy unknown',
      subject,
      current: current((v) => ({ ...v, strategy: 'rotate-everything' })),
      refusal: invalid('strategy'),
    },
    {
      name: 'alternating-users without masterarn',
      subject,
      current: current(({ masterarn: _, ...v }) => ({ ...v, strategy: 'alternating-users' })),
      refusal: invalid('masterarn'),
    },
    {
      name: 'masterarn empty',
      subject,
      current: current((v) => ({ ...v, masterarn: '' })),
      refusal: invalid('masterarn'),
    },
    {
      name: 'probeQuery of 20 000 characters',
      subject,
      current: current((v) => ({ ...v, probeQuery: `SELECT 1 ${'-'.repeat(20_000)}` })),
      refusal: invalid('probeQuery'),
    },
    {
      name: 'tlsMode "off"',
      subject,
      current: current((v) => ({ ...v, tlsMode: 'off' })),
      refusal: invalid('tlsMode'),
    },
    {
      name: 'tlsCa that is not a certificate',
      subject,
      current: current((v) => ({ ...v, tlsCa: 'trust me' })),
      refusal: invalid('tlsCa'),
    },
  ];
}

const POSTGRES_VALUES: readonly ValueCase[] = [
  ...databaseValueCases(pgSingle).map((c) => ({ ...c, name: `PostgreSQL AWSCURRENT: ${c.name}` })),
  {
    name: 'PostgreSQL AWSCURRENT: username of 64 bytes (PostgreSQL would cut it to another role)',
    subject: pgSingle,
    current: (v) => ({ ...v, username: 'é'.repeat(32) }),
    refusal: { error: 'InvalidSecretError', field: 'username' },
  },
  {
    name: 'PostgreSQL AWSCURRENT: dbname of 64 bytes',
    subject: pgSingle,
    current: (v) => ({ ...v, dbname: 'd'.repeat(64) }),
    refusal: { error: 'InvalidSecretError', field: 'dbname' },
  },
  {
    name: 'PostgreSQL AWSPENDING: not JSON',
    subject: pgSingle,
    pending: () => 'not json at all, a password maybe',
    refusal: { error: 'InvalidSecretError', field: '(json)' },
  },
  {
    name: 'PostgreSQL AWSPENDING: engine "mariadb" while AWSCURRENT says postgres',
    subject: pgSingle,
    pending: (c) => ({ ...c, engine: 'mariadb' }),
    refusal: { error: 'InvalidSecretError', field: 'engine' },
  },
  {
    name: 'PostgreSQL AWSPENDING: another host',
    subject: pgSingle,
    pending: (c) => ({ ...c, host: 'attacker.example.com' }),
    refusal: { error: 'InvalidSecretError', field: 'host' },
  },
  {
    name: 'PostgreSQL AWSPENDING: another port',
    subject: pgSingle,
    pending: (c) => ({ ...c, port: 1 }),
    refusal: { error: 'InvalidSecretError', field: 'port' },
  },
  {
    name: 'PostgreSQL AWSPENDING: strategy changed to alternating-users',
    subject: pgSingle,
    pending: (c) => ({ ...c, strategy: 'alternating-users', masterarn: 'rel/anything' }),
    refusal: { error: 'InvalidSecretError', field: 'strategy' },
  },
  {
    name: 'PostgreSQL AWSPENDING: single-user, but another role (the superuser)',
    subject: pgSingle,
    pending: (c) => ({ ...c, username: 'postgres' }),
    refusal: { error: 'InvalidSecretError', field: 'username' },
  },
  {
    name: 'PostgreSQL AWSPENDING: alternating-users, but not the partner role (the managing role)',
    subject: pgAlternating,
    pending: (c) => ({ ...c, username: 'rotor_master' }),
    refusal: { error: 'InvalidSecretError', field: 'username' },
  },
  {
    name: 'PostgreSQL AWSPENDING: a password beyond ASCII (clients disagree on its SCRAM hash)',
    subject: pgSingle,
    pending: (c) => ({ ...c, password: 'pässwörd-ünïcode-1234567890' }),
    refusal: { error: 'InvalidSecretError', field: 'password' },
  },
  {
    name: 'PostgreSQL AWSPENDING: a password with a NUL character',
    subject: pgSingle,
    pending: (c) => ({ ...c, password: 'abc\0def-ghijklmnop' }),
    refusal: { error: 'InvalidSecretError', field: 'password' },
  },
  {
    name: "PostgreSQL username built for SQL injection (x'; DROP ROLE postgres; --), no such role",
    subject: pgSingle,
    current: (v) => ({ ...v, username: "x'; DROP ROLE postgres; --" }),
    at: 'setSecret',
    refusal: { error: 'AuthenticationFailedError' },
  },
  {
    name: 'PostgreSQL username built for SQL injection with backslashes, no such role',
    subject: pgSingle,
    current: (v) => ({ ...v, username: "x\\'; DROP ROLE postgres; --\\" }),
    at: 'setSecret',
    refusal: { error: 'AuthenticationFailedError' },
  },
  {
    name: 'PostgreSQL alternating-users: username built for SQL injection (x"; DROP ROLE rotor_master; --), no such role',
    subject: pgAlternating,
    current: (v) => ({ ...v, username: 'x"; DROP ROLE rotor_master; --' }),
    at: 'setSecret',
    // The managing role acts only for a role AWSCURRENT logs in as: no such role proves nothing.
    refusal: { error: 'UnprovenUserError' },
  },
];

const MARIADB_VALUES: readonly ValueCase[] = [
  ...databaseValueCases(mariaSingle).map((c) => ({ ...c, name: `MariaDB AWSCURRENT: ${c.name}` })),
  {
    name: 'MariaDB AWSCURRENT: accountHost with an @',
    subject: mariaSingle,
    current: (v) => ({ ...v, accountHost: "%'@'%" }),
    refusal: { error: 'InvalidSecretError', field: 'accountHost' },
  },
  {
    name: 'MariaDB AWSCURRENT: username of 129 characters',
    subject: mariaSingle,
    current: (v) => ({ ...v, username: big(129, 'n') }),
    refusal: { error: 'InvalidSecretError', field: 'username' },
  },
  {
    name: 'MariaDB AWSCURRENT: username with a character outside the Basic Multilingual Plane',
    subject: mariaSingle,
    current: (v) => ({ ...v, username: 'app🔑' }),
    refusal: { error: 'InvalidSecretError', field: 'username' },
  },
  {
    name: 'MariaDB AWSCURRENT: a probeQuery that writes',
    subject: mariaSingle,
    current: (v) => ({ ...v, probeQuery: 'DELETE FROM mysql.user' }),
    refusal: { error: 'InvalidSecretError', field: 'probeQuery' },
  },
  {
    name: 'MariaDB AWSCURRENT: a probeQuery that writes a file',
    subject: mariaSingle,
    current: (v) => ({ ...v, probeQuery: "SELECT 1 INTO OUTFILE '/tmp/rotor-owned'" }),
    refusal: { error: 'InvalidSecretError', field: 'probeQuery' },
  },
  {
    name: 'MariaDB AWSCURRENT: a probeQuery with an executable comment',
    subject: mariaSingle,
    current: (v) => ({ ...v, probeQuery: 'SELECT 1 /*!50000 , SLEEP(100) */' }),
    refusal: { error: 'InvalidSecretError', field: 'probeQuery' },
  },
  {
    name: 'MariaDB AWSCURRENT: tlsServerName an IP address',
    subject: mariaSingle,
    current: (v) => ({ ...v, tlsServerName: '10.0.0.1' }),
    refusal: { error: 'InvalidSecretError', field: 'tlsServerName' },
  },
  {
    name: 'MariaDB AWSPENDING: another host',
    subject: mariaSingle,
    pending: (c) => ({ ...c, host: 'attacker.example.com' }),
    refusal: { error: 'InvalidSecretError', field: 'host' },
  },
  {
    name: 'MariaDB AWSPENDING: single-user, but another account host',
    subject: mariaSingle,
    pending: (c) => ({ ...c, accountHost: 'localhost' }),
    refusal: { error: 'InvalidSecretError', field: 'accountHost' },
  },
  {
    name: 'MariaDB AWSPENDING: dual-password, but another account (the managing one)',
    subject: mariaDual,
    pending: (c) => ({ ...c, username: 'rel_master' }),
    refusal: { error: 'InvalidSecretError', field: 'username' },
  },
  {
    name: 'MariaDB AWSPENDING: alternating-users, but the managing account',
    subject: mariaAlternating,
    pending: (c) => ({ ...c, username: 'rel_master' }),
    refusal: { error: 'InvalidSecretError', field: 'username' },
  },
  {
    name: 'MariaDB AWSPENDING: alternating-users, but another port',
    subject: mariaAlternating,
    pending: (c) => ({ ...c, username: `${String(c.username)}_clone`, port: 1 }),
    refusal: { error: 'InvalidSecretError', field: 'port' },
  },
  {
    name: 'MariaDB AWSPENDING: engine "postgres" while AWSCURRENT says mariadb',
    subject: mariaSingle,
    pending: (c) => ({ ...c, engine: 'postgres' }),
    refusal: { error: 'InvalidSecretError', field: 'engine' },
  },
  {
    name: "MariaDB username built for SQL injection (x'; DROP USER rel_master; --), no such account",
    subject: mariaSingle,
    current: (v) => ({ ...v, username: "x'; DROP USER rel_master; --" }),
    at: 'setSecret',
    refusal: { error: 'AuthenticationFailedError' },
  },
  {
    name: 'MariaDB dual-password: username built for SQL injection with backslashes, no such account',
    subject: mariaDual,
    current: (v) => ({ ...v, username: "x\\'; SET PASSWORD FOR rel_master = ''; --" }),
    at: 'setSecret',
    // The managing user acts only for an account AWSCURRENT logs in as: no such account proves nothing.
    refusal: { error: 'UnprovenUserError' },
  },
  {
    name: 'MariaDB alternating-users: username built for SQL injection with backticks, no such account',
    subject: mariaAlternating,
    current: (v) => ({ ...v, username: 'x`; DROP DATABASE rel_db; --' }),
    at: 'setSecret',
    // The managing user acts only for an account AWSCURRENT logs in as: no such account proves nothing.
    refusal: { error: 'UnprovenUserError' },
  },
];

/** A provider description kept in the secret, aimed somewhere it must not go. */
function inline(change: (description: Record<string, unknown>) => Record<string, unknown>) {
  return (valid: Value, { instance }: CaseContext): Value => ({
    ...valid,
    provider: change(structuredClone(instance.provider?.description ?? {})),
  });
}

/**
 * Lets this function accept inline descriptions for api.example.com (port 443) and the local
 * provider (its host and port: an entry without a port admits only the scheme's default).
 */
async function allowInline({ lab, instance }: CaseContext): Promise<void> {
  const local =
    instance.provider === undefined ? [] : [new URL(String(instance.provider.description.baseUrl)).host];
  lab.keys?.use(
    createApiKeyRotator({
      providers: { local: lab.keys?.registered(instance.provider) ?? {} },
      inlineProviderHosts: ['api.example.com', ...local],
      fetch: lab.injector.fetch((url, init) => globalThis.fetch(url, init)),
      sleep: async () => undefined,
    }),
  );
}

function request(description: Record<string, unknown>, name: string): Record<string, unknown> {
  return description[name] as Record<string, unknown>;
}

const APIKEY_VALUES: readonly ValueCase[] = [
  {
    name: 'API key AWSCURRENT: provider a name this function does not know',
    subject: keyGrace,
    current: (v) => ({ ...v, provider: 'evil' }),
    refusal: { error: 'InvalidSecretError', field: 'provider' },
  },
  {
    name: 'API key AWSCURRENT: provider an array',
    subject: keyGrace,
    current: (v) => ({ ...v, provider: ['local'] }),
    refusal: { error: 'InvalidSecretError', field: 'provider' },
  },
  {
    name: 'API key AWSCURRENT: gracePolicy "1y"',
    subject: keyGrace,
    current: (v) => ({ ...v, gracePolicy: '1y' }),
    refusal: { error: 'InvalidSecretError', field: 'gracePolicy' },
  },
  {
    name: 'API key AWSCURRENT: keyNamePrefix with a slash',
    subject: keyGrace,
    current: (v) => ({ ...v, keyNamePrefix: '../admin/' }),
    refusal: { error: 'InvalidSecretError', field: 'keyNamePrefix' },
  },
  {
    name: 'API key AWSCURRENT: apiKey of 9000 characters',
    subject: keyGrace,
    current: (v) => ({ ...v, apiKey: big(9000, 'k') }),
    refusal: { error: 'InvalidSecretError', field: 'apiKey' },
  },
  {
    name: 'API key AWSCURRENT: keyCreatedAt not a timestamp',
    subject: keyGrace,
    current: (v) => ({ ...v, keyCreatedAt: 'yesterday' }),
    refusal: { error: 'InvalidSecretError', field: 'keyCreatedAt' },
  },
  {
    name: 'API key AWSCURRENT: adminSecretArn empty',
    subject: keyGrace,
    current: (v) => ({ ...v, adminSecretArn: '' }),
    refusal: { error: 'InvalidSecretError', field: 'adminSecretArn' },
  },
  {
    name: 'API key AWSCURRENT: an inline provider description, which this function does not accept',
    subject: keyGrace,
    current: inline((d) => d),
    refusal: { error: 'InvalidSecretError', field: 'provider' },
  },
  {
    name: 'API key: an inline description pointing at a host the function does not allow',
    subject: keyGrace,
    prepare: allowInline,
    current: inline((d) => ({ ...d, baseUrl: 'https://evil.example.net/v1' })),
    refusal: { error: 'InvalidSecretError', field: 'provider.baseUrl' },
  },
  {
    name: 'API key: an inline description on an allowed host but another port',
    subject: keyGrace,
    prepare: allowInline,
    current: inline((d) => ({ ...d, baseUrl: 'https://api.example.com:8443/v1' })),
    refusal: { error: 'InvalidSecretError', field: 'provider.baseUrl' },
  },
  {
    name: 'API key: an inline description in plain http to a remote host',
    subject: keyGrace,
    prepare: allowInline,
    current: inline((d) => ({ ...d, baseUrl: 'http://api.example.com/v1' })),
    refusal: { error: 'InvalidSecretError', field: 'provider.baseUrl' },
  },
  {
    name: 'API key: an inline description with credentials in the URL',
    subject: keyGrace,
    prepare: allowInline,
    current: inline((d) => ({ ...d, baseUrl: 'https://admin:hunter2-hunter2@api.example.com/v1' })),
    refusal: { error: 'InvalidSecretError', field: 'provider.baseUrl' },
  },
  {
    name: 'API key: an inline description with a query string in the base URL',
    subject: keyGrace,
    prepare: allowInline,
    current: inline((d) => ({ ...d, baseUrl: 'https://api.example.com/v1?forward=evil.example.net' })),
    refusal: { error: 'InvalidSecretError', field: 'provider.baseUrl' },
  },
  {
    name: 'API key: an inline description whose create path names another host',
    subject: keyGrace,
    prepare: allowInline,
    current: inline((d) => ({ ...d, create: { ...request(d, 'create'), path: '//evil.example.net/keys' } })),
    refusal: { error: 'InvalidSecretError', field: 'provider.create.path' },
  },
  {
    name: 'API key: an inline description whose list path climbs out with ..',
    subject: keyGrace,
    prepare: allowInline,
    current: inline((d) => ({ ...d, list: { ...request(d, 'list'), path: '/../../admin/keys' } })),
    refusal: { error: 'InvalidSecretError', field: 'provider.list.path' },
  },
  {
    name: 'API key: an inline description with an encoded slash in a path',
    subject: keyGrace,
    prepare: allowInline,
    current: inline((d) => ({ ...d, create: { ...request(d, 'create'), path: '/keys%2F..%2Fadmin' } })),
    refusal: { error: 'InvalidSecretError', field: 'provider.create.path' },
  },
  {
    name: 'API key: an inline description that puts the admin credential in a URL',
    subject: keyGrace,
    prepare: allowInline,
    current: inline((d) => ({
      ...d,
      revoke: { ...request(d, 'revoke'), path: '/keys/{{keyId}}?t={{admin.token}}' },
    })),
    refusal: { error: 'InvalidSecretError', field: 'provider.revoke.path' },
  },
  {
    name: 'API key: an inline description that puts the key in the probe URL',
    subject: keyGrace,
    prepare: allowInline,
    current: inline((d) => ({ ...d, probe: { method: 'GET', path: '/whoami?key={{key}}' } })),
    refusal: { error: 'InvalidSecretError', field: 'provider.probe.path' },
  },
  {
    name: 'API key: an inline description whose probe never sends the key',
    subject: keyGrace,
    prepare: allowInline,
    current: inline((d) => ({ ...d, probe: { method: 'GET', path: '/whoami' } })),
    refusal: { error: 'InvalidSecretError', field: 'provider.probe.headers' },
  },
  {
    name: 'API key: an inline description with a header value carrying CR LF',
    subject: keyGrace,
    prepare: allowInline,
    current: inline((d) => ({
      ...d,
      create: { ...request(d, 'create'), headers: { 'X-Extra': 'a\r\nHost: evil.example.net' } },
    })),
    refusal: { error: 'InvalidSecretError', field: 'provider.create.headers.X-Extra' },
  },
  {
    name: 'API key: an inline description that overrides the Host header',
    subject: keyGrace,
    prepare: allowInline,
    current: inline((d) => ({
      ...d,
      create: { ...request(d, 'create'), headers: { Host: 'evil.example.net' } },
    })),
    refusal: { error: 'InvalidSecretError', field: 'provider.create.headers.Host' },
  },
  {
    name: 'API key: an inline description with a field no description has (webhook)',
    subject: keyGrace,
    prepare: allowInline,
    current: inline((d) => ({ ...d, webhook: 'https://evil.example.net/hook' })),
    refusal: { error: 'InvalidSecretError', field: 'provider.webhook' },
  },
  {
    name: 'API key: an inline description whose create does not send the key name',
    subject: keyGrace,
    prepare: allowInline,
    current: inline((d) => ({ ...d, create: { ...request(d, 'create'), body: {} } })),
    refusal: { error: 'InvalidSecretError', field: 'provider.create.body' },
  },
  {
    name: 'API key: an inline description whose auth header sends no admin credential',
    subject: keyGrace,
    prepare: allowInline,
    current: inline((d) => ({ ...d, auth: { header: 'Authorization', value: 'Bearer nothing' } })),
    refusal: { error: 'InvalidSecretError', field: 'provider.auth.value' },
  },
  {
    name: 'API key AWSPENDING: an inline description pointing elsewhere',
    subject: keyGrace,
    prepare: allowInline,
    pending: (c, { instance }) => ({
      ...c,
      provider: { ...instance.provider?.description, baseUrl: 'https://evil.example.net/v1' },
    }),
    refusal: { error: 'InvalidSecretError', field: 'provider.baseUrl' },
  },
  {
    // The provider description pins its admin secret: any other is refused before it is read.
    name: 'API key: adminSecretArn naming a secret that is not the provider’s admin secret',
    subject: keyGrace,
    current: (v, { unrelatedArn }) => ({ ...v, adminSecretArn: unrelatedArn }),
    refusal: { error: 'MasterBindingError' },
  },
  {
    name: 'API key: adminSecretArn naming a secret that does not exist',
    subject: keyGrace,
    current: (v) => ({
      ...v,
      adminSecretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:nobody-AbCdEf',
    }),
    refusal: { error: 'MasterBindingError' },
  },
];

// ---------------------------------------------------------------------------------------------

describe.skipIf(skip.postgres && skip.mariadb && skip.apikey)('hostile input', () => {
  const ref = useLab('hostile input', OPTIONS);
  let refused = 0;

  /** What a refusal must leave as it was. */
  async function world(subject: Subject, instance: Instance, arn: string, token: string | undefined) {
    const { lab } = ref;
    return {
      labels: await lab.labels(arn),
      pending: token === undefined ? undefined : await lab.version(arn, token),
      target: await subject.targetState(lab, instance),
    };
  }

  function assessRefusal(error: Error & Record<string, unknown>, refusal: Refusal): void {
    ref.lab.canary.error(error);
    expect(error.name).toBe(refusal.error);
    if (refusal.field !== undefined) {
      expect(error.field).toBe(refusal.field);
      expect(error.message).toContain(`"${refusal.field}"`);
    }
    // Clear: a sentence, not an echo of a megabyte of input (a SecretId is at most 2048 characters).
    expect(error.message.length).toBeLessThan(4_000);
    refused++;
  }

  describe('events', () => {
    let target: EventTarget;
    let subject: Subject;
    let instance: Instance;

    beforeAll(async () => {
      const { lab } = ref;
      subject = [pgSingle, mariaSingle, keyGrace].find((s) => !skip[s.engine]) ?? keyGrace;
      instance = await subject.create(lab);
      await lab.rotate(instance.arn);
      const { AWSPREVIOUS: previous } = await lab.labels(instance.arn);
      const token = await lab.stage(instance.arn);
      const unrelatedArn = await lab.createSecret({ username: 'someone', password: `P-${randomUUID()}` });
      target = { arn: instance.arn, token, previous: previous ?? '', unrelatedArn };
    });

    it.each(EVENTS.map((c) => [c.name, c] as const))('%s: refused, nothing changed', async (_, c) => {
      // Prepare
      const before = await world(subject, instance, target.arn, target.token);
      // Act
      const error = await caught(
        ref.lab.harness.handler(c.event(target), { getRemainingTimeInMillis: () => 30_000 }),
      );
      // Assess
      assessRefusal(error, c.refusal);
      expect(await world(subject, instance, target.arn, target.token)).toEqual(before);
    });
  });

  const VALUES: readonly ValueCase[] = [...POSTGRES_VALUES, ...MARIADB_VALUES, ...APIKEY_VALUES];

  describe('secret values, usernames and provider descriptions', () => {
    itEach(
      VALUES,
      (c) => c.subject.engine,
      (c) => `${c.name}: refused, nothing changed`,
      async (c) => {
        // Prepare
        const { lab } = ref;
        const instance = await c.subject.create(lab);
        const unrelatedArn = await lab.createSecret({ username: 'someone', password: `P-${randomUUID()}` });
        const context: CaseContext = { lab, instance, unrelatedArn };
        await c.prepare?.(context);
        const arn =
          c.current === undefined
            ? instance.arn
            : await lab.createSecret(c.current(instance.initial, context));
        const token = await lab.stage(arn);
        let at: Step = c.at ?? 'createSecret';
        if (c.pending !== undefined) {
          // Someone stored AWSPENDING by hand: setSecret is the first step that reads it.
          await lab.putPending(arn, token, c.pending(await lab.value(arn), context));
          at = 'setSecret';
        } else {
          for (const step of STEPS.slice(0, STEPS.indexOf(at))) await lab.invoke(step, arn, token);
        }
        const before = await world(c.subject, instance, arn, token);
        // Act
        const error = await caught(lab.invoke(at, arn, token));
        // Assess
        assessRefusal(error, c.refusal);
        expect(await world(c.subject, instance, arn, token)).toEqual(before);
        if (at === 'createSecret') expect(before.pending).toBeUndefined();
      },
    );
  });

  describe('API-key providers that point elsewhere', () => {
    let redirector: Server;
    let elsewhere: Server;
    let reached = 0;

    beforeAll(async () => {
      const listen = async (server: Server) => {
        await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
        return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      };
      elsewhere = createServer((request, response) => {
        reached++;
        request.resume();
        response.writeHead(200, { 'content-type': 'application/json' }).end('{"keys":[]}');
      });
      const elsewhereUrl = await listen(elsewhere);
      redirector = createServer((request, response) => {
        request.resume();
        response.writeHead(307, { location: `${elsewhereUrl}${request.url ?? '/'}` }).end();
      });
      (redirector as Server & { url?: string }).url = await listen(redirector);
      return async () => {
        redirector.closeAllConnections();
        elsewhere.closeAllConnections();
        await new Promise((resolve) => redirector.close(resolve));
        await new Promise((resolve) => elsewhere.close(resolve));
      };
    });

    it.skipIf(skip.apikey)(
      'a provider that answers with a redirect: ProviderError, the credential never follows it, no key minted',
      async () => {
        // Prepare
        const { lab } = ref;
        const instance = await keyGrace.create(lab);
        const description = {
          ...(lab.keys?.registered(instance.provider) ?? {}),
          baseUrl: `${(redirector as Server & { url?: string }).url}/v1`,
        };
        lab.keys?.use(
          createApiKeyRotator({
            providers: { local: description },
            fetch: lab.injector.fetch((url, init) => globalThis.fetch(url, init)),
            sleep: async () => undefined,
          }),
        );
        const token = await lab.stage(instance.arn);
        const before = await world(keyGrace, instance, instance.arn, token);
        // Act
        const error = await caught(lab.invoke('createSecret', instance.arn, token));
        // Assess
        assessRefusal(error, { error: 'ProviderError' });
        expect(error.message).toMatch(/redirect/);
        expect(error.status).toBe(307);
        expect(reached).toBe(0);
        expect(await world(keyGrace, instance, instance.arn, token)).toEqual(before);
      },
    );
  });

  describe('function configuration', () => {
    const CONFIGURATIONS: readonly [string, Record<string, unknown>, string][] = [
      [
        'a provider registered with plain http to a remote host',
        { baseUrl: 'http://api.example.com/v1' },
        'baseUrl',
      ],
      [
        'a provider registered with credentials in its URL',
        { baseUrl: 'https://u:p@api.example.com/v1' },
        'baseUrl',
      ],
      [
        'a provider registered with a path to another host',
        { create: { path: '//evil.example.net' } },
        'create.path',
      ],
    ];

    it.each(CONFIGURATIONS)(
      '%s: ConfigurationError naming the field, before any call',
      (_, change, field) => {
        // Prepare
        const base = {
          baseUrl: 'https://api.example.com/v1',
          auth: { header: 'Authorization', value: 'Bearer {{admin.token}}' },
          create: {
            method: 'POST',
            path: '/keys',
            body: { name: '{{name}}' },
            response: { id: 'id', key: 'key' },
          },
          list: { method: 'GET', path: '/keys', response: { items: 'keys', id: 'id', name: 'name' } },
          revoke: { method: 'DELETE', path: '/keys/{{keyId}}' },
          probe: { method: 'GET', path: '/whoami', headers: { 'X-Api-Key': '{{key}}' } },
        };
        const description = {
          ...base,
          ...change,
          ...('create' in change ? { create: { ...base.create, ...(change.create as object) } } : {}),
        };
        let calls = 0;
        // Act
        let error: unknown;
        try {
          createApiKeyRotator({
            providers: { acme: description },
            fetch: async () => {
              calls++;
              throw new Error('no call expected');
            },
          });
        } catch (thrown) {
          error = thrown;
        }
        // Assess
        expect(error).toBeInstanceOf(ConfigurationError);
        expect((error as Error).message).toContain(`field "${field}"`);
        expect(calls).toBe(0);
        refused++;
      },
    );
  });

  describe('legitimate but dangerous-looking input rotates, touching nothing else', () => {
    /** Two rotations through RotateSecret; each must succeed. */
    async function rotateTwice(instance: Instance): Promise<void> {
      for (let i = 0; i < 2; i++) {
        const token = await ref.lab.rotate(instance.arn);
        expect(ref.lab.record(instance.arn, token)?.status).toBe('succeeded');
      }
    }

    /** The new credentials work, and every role or account but the secret's own is as `before`. */
    async function assessRotated(
      subject: Subject,
      instance: Instance,
      before: Record<string, string>,
    ): Promise<void> {
      const { lab } = ref;
      const current = await lab.value(instance.arn);
      expect(await subject.logsIn(lab, instance, current)).toBe(true);
      const previous = await lab.value(instance.arn, 'AWSPREVIOUS');
      expect(await subject.logsIn(lab, instance, previous)).toBe(subject.previousStaysValid);
      // Its own role(s) or account(s) start with its name; every other one is as it was, except
      // that the managing role holds ADMIN OPTION on a clone it created (PostgreSQL 16+, documented).
      const unquoted = (item: string) => item.replace(/^"|"(?=:)/g, '').replaceAll('""', '"');
      const others = (state: Record<string, string>) =>
        Object.fromEntries(
          Object.entries(state)
            .filter(([identity]) => !identity.startsWith(instance.base))
            .map(([identity, json]) => {
              const row = JSON.parse(json) as { member_of?: string[] | null };
              if (Array.isArray(row.member_of)) {
                row.member_of = row.member_of.filter((item) => !unquoted(item).startsWith(instance.base));
              }
              return [identity, row];
            }),
        );
      expect(others(await subject.targetState(lab, instance))).toEqual(others(before));
    }

    /** A role or account named `name` with password `password`, and its secret. */
    async function named(subject: Subject, name: string, password: string): Promise<Instance> {
      const { lab } = ref;
      lab.canary.secret(password, 'initial password');
      const made = await subject.create(lab);
      if (subject.engine === 'postgres') {
        await lab.pg?.createUser(name, password);
      } else {
        await lab.maria?.server.admin.createAccount({ user: name, host: '%' }, password, [
          `GRANT SELECT ON \`${lab.maria.database}\`.* TO {account}`,
        ]);
      }
      const initial = { ...made.initial, username: name, password };
      return { arn: await lab.createSecret(initial), initial, base: name };
    }

    const QUOTED_NAMES: readonly [Subject, string][] = [
      [pgSingle, `o'hara"; DROP ROLE postgres; --`],
      [pgAlternating, `x'"\\; DROP ROLE rotor_master; --`],
      [mariaSingle, "o'hara`; DROP USER rel_master; --"],
      [mariaDual, "x\\'; SET PASSWORD FOR rel_master = ''; --"],
      [mariaAlternating, "o'hara\\`; DROP DATABASE rel_db; --"],
    ];

    itEach(
      QUOTED_NAMES,
      ([subject]) => subject.engine,
      ([subject, name]) =>
        `${subject.name}: an account named ${name} rotates; no other role or account changes`,
      async ([subject, name]) => {
        // Prepare
        const instance = await named(subject, name, `P-${randomUUID()}`);
        const before = await subject.targetState(ref.lab, instance);
        // Act
        await rotateTwice(instance);
        // Assess
        await assessRotated(subject, instance, before);
      },
    );

    const SPECIAL_PASSWORDS: readonly [Subject, string][] = [
      [pgSingle, `${SPECIALS}Aa1`],
      [pgAlternating, `${SPECIALS}Aa1`],
      [mariaSingle, `${SPECIALS}Aa1`],
      [mariaDual, `${SPECIALS}Aa1`],
      [mariaAlternating, `${SPECIALS}Aa1`],
      [pgSingle, 'pässwörd-ünïcode-€-1234'],
      [mariaSingle, 'pässwörd-ünïcode-€-1234'],
    ];

    itEach(
      SPECIAL_PASSWORDS,
      ([subject]) => subject.engine,
      ([subject, password]) =>
        `${subject.name}: AWSCURRENT password ${JSON.stringify(password)} rotates to generated passwords drawn from every printable character`,
      async ([subject, password]) => {
        // Prepare
        const instance = await named(subject, `rel_pw_${randomUUID().slice(0, 8)}`, password);
        const before = await subject.targetState(ref.lab, instance);
        // Act
        await rotateTwice(instance);
        // Assess
        await assessRotated(subject, instance, before);
        const generated = String((await ref.lab.value(instance.arn)).password);
        expect(generated).toMatch(/^[\x21-\x7e]+$/);
      },
    );
  });

  it('the corpus holds at least 50 refusals', () => {
    // Assess
    ref.report(`${refused} hostile inputs refused with a typed error, each changing nothing`);
    expect(refused).toBeGreaterThanOrEqual(50);
  });

  describeNoLeaks(ref, OPTIONS);
});
