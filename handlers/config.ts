/**
 * The one module that reads `process.env`. Everything else receives a typed `Config`.
 */
import { ConfigurationError } from '../rotators/errors.js';
import { isRdsIdentifier } from '../rotators/rdsMaster.js';
import type { TlsMode, TlsSettings } from '../rotators/tls.js';
import type { PasswordPolicy } from '../rotators/types.js';

export interface Config {
  /** Name or ARN of the EventBridge bus rotor publishes to. */
  eventBusName: string;
  /** `Source` of rotor's events. Must not start with `aws.`. */
  eventSource: string;
  /** Whether to publish events at all (tests of pure logic turn it off). */
  eventsEnabled: boolean;
  /**
   * Whether each step also publishes `Rotation Step Started` (`ROTOR_EVENTS_STEP_STARTED=on`). Off
   * by default: a step then publishes one event, its outcome, in one PutEvents.
   */
  stepStartedEvents: boolean;
  /**
   * Where RUNBOOK.md is published (`ROTOR_RUNBOOK_URL`, written by the deploy from the stage file's
   * `runbookUrl`): failure and heal events link their error's entry there. Default: the path of
   * the runbook in the repository.
   */
  runbookUrl?: string;
  /** Whether to emit metrics (EMF on stdout). */
  metricsEnabled: boolean;
  /** Powertools log level: DEBUG, INFO, WARN, ERROR, CRITICAL or SILENT. */
  logLevel: LogLevel;
  /** CloudWatch namespace of rotor's metrics. */
  metricsNamespace: string;
  /** `service` in logs and the metrics' service dimension. */
  serviceName: string;
  /** Environment overrides of the password policy (applied over the rotator's). */
  passwordPolicy: Partial<PasswordPolicy>;
  /** Milliseconds kept back from the Lambda's remaining time, to report and publish before it ends. */
  deadlineMarginMs: number;
  /**
   * API-key provider descriptions by name (`ROTOR_APIKEY_PROVIDERS`, a JSON object). They are the
   * function's configuration, not the secret's: whoever writes a rotated secret must not be able
   * to send its admin credential or keys to a host of their own.
   */
  apiKeyProviders: Record<string, unknown>;
  /** Hosts for which a secret may carry its provider description inline (`ROTOR_APIKEY_INLINE_HOSTS`). */
  apiKeyInlineHosts: string[];
  /**
   * The scheduled heal function: which rotation functions are rotor's (`ROTOR_HEAL_FUNCTION_PREFIX`,
   * comma-separated; each a Lambda ARN prefix or a function-name prefix). Secrets rotated by any
   * other function are never touched.
   */
  healFunctionPrefixes: string[];
  /** `report` (default) only reports stuck rotations; `heal` carries the decisions out (`ROTOR_HEAL_MODE`). */
  healMode: HealMode;
  /** A stuck AWSPENDING younger than this is left alone (`ROTOR_HEAL_MIN_AGE_MINUTES`, default 60). */
  healMinAgeMs: number;
  /**
   * Where each master secret's credential may be used (`ROTOR_MASTERS`, written from the stage
   * file's `masters:`): the rotated secret's writer cannot change it. See handlers/masters.ts.
   */
  masters: MasterEntry[];
  /**
   * Which rotated secrets may reset which RDS database's master password with the rds-master
   * strategy (`ROTOR_RDS_MASTERS`, from the stage file's `rdsMasters:`).
   */
  rdsMasters: RdsMasterEntry[];
  /** Name or ARN of the adoption record (`ROTOR_ADOPTIONS_SECRET`, default `rotor/adoptions`). */
  adoptionsSecret: string;
}

/** What the stage file binds a master secret to (one `ROTOR_MASTERS` entry). */
export interface MasterEntry {
  /** Name, partial ARN or full ARN of the master secret. */
  secret: string;
  /** Exactly one of `hosts`, `dbInstanceIdentifier`, `dbClusterIdentifier`. */
  hosts?: string[];
  dbInstanceIdentifier?: string;
  dbClusterIdentifier?: string;
  port?: number;
  tls?: TlsSettings;
  /** Patterns of the users the master may act for (absent: the secret's own user and clone). */
  manages?: string[];
}

/** A rotated secret bound to the RDS database rds-master may reset (one `ROTOR_RDS_MASTERS` entry). */
export interface RdsMasterEntry {
  /** Name, partial ARN or full ARN of the rotated secret. */
  secret: string;
  kind: 'instance' | 'cluster';
  identifier: string;
}

/** The trust configuration every reader of master secrets needs (functions and CLI alike). */
export type TrustConfig = Pick<Config, 'masters' | 'rdsMasters' | 'adoptionsSecret'>;

export const DEFAULT_ADOPTIONS_SECRET = 'rotor/adoptions';

/** A whole trust configuration from a partial one (absent keys: no binding, the default record). */
export function trustOf(config: Partial<TrustConfig> = {}): TrustConfig {
  return {
    masters: config.masters ?? [],
    rdsMasters: config.rdsMasters ?? [],
    adoptionsSecret: config.adoptionsSecret ?? DEFAULT_ADOPTIONS_SECRET,
  };
}

export type HealMode = 'report' | 'heal';

/** What the `rotor` CLI takes from the environment (beside what the AWS SDK reads itself). */
export interface CliConfig {
  /** `AWS_ENDPOINT_URL_SECRETS_MANAGER`, else `AWS_ENDPOINT_URL`: e.g. the local stack. */
  secretsManagerEndpoint?: string;
  /** `AWS_ENDPOINT_URL_EVENTBRIDGE`, else `AWS_ENDPOINT_URL`. */
  eventBridgeEndpoint?: string;
  /** False when `NO_COLOR` is set to anything but the empty string (https://no-color.org). */
  color: boolean;
  /** Who runs the CLI, for the adoption record's `by` (`ROTOR_OPERATOR`, else `USER` / `LOGNAME`). */
  operator?: string;
}

export type LogLevel = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'CRITICAL' | 'SILENT';
const LOG_LEVELS: readonly LogLevel[] = ['DEBUG', 'INFO', 'WARN', 'ERROR', 'CRITICAL', 'SILENT'];

type Env = Readonly<Record<string, string | undefined>>;

function integer(env: Env, key: string, min: number, max: number): number | undefined {
  const raw = env[key];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigurationError(`environment variable ${key} must be an integer from ${min} to ${max}`);
  }
  return value;
}

/** A comma-separated list, blanks dropped. */
function list(raw: string | undefined): string[] {
  return (raw ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

function providersFrom(raw: string | undefined): Record<string, unknown> {
  if (raw === undefined || raw.trim() === '') return {};
  let providers: unknown;
  try {
    providers = JSON.parse(raw);
  } catch {
    throw new ConfigurationError('environment variable ROTOR_APIKEY_PROVIDERS must be JSON');
  }
  if (typeof providers !== 'object' || providers === null || Array.isArray(providers)) {
    throw new ConfigurationError(
      'environment variable ROTOR_APIKEY_PROVIDERS must be a JSON object of provider descriptions by name',
    );
  }
  return providers as Record<string, unknown>;
}

/** A JSON array variable, or [] when unset. */
function jsonArray(env: Env, key: string): unknown[] {
  const raw = env[key];
  if (raw === undefined || raw.trim() === '') return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ConfigurationError(`environment variable ${key} must be JSON (an array of entries)`);
  }
  if (!Array.isArray(parsed)) {
    throw new ConfigurationError(`environment variable ${key} must be a JSON array of entries`);
  }
  return parsed;
}

/** Reads the fields of one entry of a JSON array variable, naming variable, index and field. */
class EntryReader {
  constructor(
    private readonly key: string,
    private readonly index: number,
    private readonly entry: Record<string, unknown>,
  ) {}

  fail(field: string, expected: string): never {
    throw new ConfigurationError(
      `environment variable ${this.key}, entry ${this.index}: field "${field}" ${expected}`,
    );
  }

  only(allowed: readonly string[]): void {
    for (const field of Object.keys(this.entry)) {
      if (!allowed.includes(field)) this.fail(field, `is not known (known: ${allowed.join(', ')})`);
    }
  }

  raw(field: string): unknown {
    return this.entry[field];
  }

  has(field: string): boolean {
    return this.entry[field] !== undefined;
  }

  string(field: string, max: number, expected = `must be a non-empty string of at most ${max} characters`) {
    const value = this.entry[field];
    if (typeof value !== 'string' || value === '' || value.length > max) this.fail(field, expected);
    return value;
  }

  optionalString(field: string, max: number): string | undefined {
    return this.has(field) ? this.string(field, max) : undefined;
  }

  strings(field: string, max: number, what: string): string[] {
    const value = this.entry[field];
    if (
      !Array.isArray(value) ||
      value.length === 0 ||
      !value.every((item) => typeof item === 'string' && item !== '' && item.length <= max)
    ) {
      this.fail(field, `must be a non-empty array of ${what}`);
    }
    return value as string[];
  }

  rdsIdentifier(field: string, what: string): string {
    const value = this.entry[field];
    if (typeof value !== 'string' || !isRdsIdentifier(value)) {
      this.fail(
        field,
        `must be an RDS ${what} identifier (letters, digits and single hyphens, starting with a letter)`,
      );
    }
    return value;
  }

  port(field: string): number | undefined {
    const value = this.entry[field];
    if (value === undefined) return undefined;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 65_535) {
      this.fail(field, 'must be a port number from 1 to 65535');
    }
    return value;
  }
}

function entries(env: Env, key: string): EntryReader[] {
  return jsonArray(env, key).map((entry, index) => {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      throw new ConfigurationError(`environment variable ${key}, entry ${index}: must be a JSON object`);
    }
    return new EntryReader(key, index, entry as Record<string, unknown>);
  });
}

const TLS_MODES: readonly TlsMode[] = ['verify-full', 'verify-ca', 'disable'];

function tlsOf(entry: EntryReader, raw: unknown): TlsSettings | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    entry.fail('tls', 'must be an object {"mode", "ca", "serverName"}');
  }
  const tls = raw as Record<string, unknown>;
  for (const field of Object.keys(tls)) {
    if (!['mode', 'ca', 'serverName'].includes(field)) {
      entry.fail(`tls.${field}`, 'is not known (known: mode, ca, serverName)');
    }
  }
  if (!(TLS_MODES as readonly unknown[]).includes(tls.mode)) {
    entry.fail('tls.mode', `must be one of ${TLS_MODES.join(', ')}`);
  }
  if (
    tls.ca !== undefined &&
    (typeof tls.ca !== 'string' || !tls.ca.includes('-----BEGIN CERTIFICATE-----'))
  ) {
    entry.fail('tls.ca', 'must be a PEM certificate');
  }
  if (
    tls.serverName !== undefined &&
    (typeof tls.serverName !== 'string' || tls.serverName === '' || tls.serverName.length > 253)
  ) {
    entry.fail('tls.serverName', 'must be a host name of at most 253 characters');
  }
  return {
    mode: tls.mode as TlsMode,
    ...(tls.ca === undefined ? {} : { ca: tls.ca as string }),
    ...(tls.serverName === undefined ? {} : { serverName: tls.serverName as string }),
  };
}

const SECRET_ID = 'must be the name, partial ARN or full ARN of a secret (1 to 2048 characters)';

/** `ROTOR_MASTERS`: master bindings (the stage file's `masters:`). */
export function mastersFrom(env: Env): MasterEntry[] {
  const key = 'ROTOR_MASTERS';
  return entries(env, key).map((entry) => {
    entry.only([
      'secret',
      'hosts',
      'host',
      'dbInstanceIdentifier',
      'dbClusterIdentifier',
      'port',
      'tls',
      'manages',
    ]);
    const secret = entry.string('secret', 2048, SECRET_ID);
    const where = ['hosts', 'host', 'dbInstanceIdentifier', 'dbClusterIdentifier'].filter((f) =>
      entry.has(f),
    );
    if (where.length !== 1) {
      entry.fail(
        where[1] ?? 'hosts',
        where.length === 0
          ? 'is required: exactly one of hosts, dbInstanceIdentifier or dbClusterIdentifier says where the master may log in'
          : `must not be set together with ${where[0]}: exactly one of hosts, dbInstanceIdentifier or dbClusterIdentifier`,
      );
    }
    const master: MasterEntry = { secret };
    if (entry.has('hosts')) master.hosts = entry.strings('hosts', 253, 'host names');
    if (entry.has('host')) master.hosts = [entry.string('host', 253, 'must be a host name')];
    if (entry.has('dbInstanceIdentifier')) {
      master.dbInstanceIdentifier = entry.rdsIdentifier('dbInstanceIdentifier', 'DB instance');
    }
    if (entry.has('dbClusterIdentifier')) {
      master.dbClusterIdentifier = entry.rdsIdentifier('dbClusterIdentifier', 'DB cluster');
    }
    const port = entry.port('port');
    if (port !== undefined) master.port = port;
    const tls = tlsOf(entry, entry.raw('tls'));
    if (tls !== undefined) master.tls = tls;
    if (entry.has('manages')) master.manages = entry.strings('manages', 256, 'user name patterns');
    return master;
  });
}

/** `ROTOR_RDS_MASTERS`: rotated secrets bound to the RDS database rds-master may reset. */
export function rdsMastersFrom(env: Env): RdsMasterEntry[] {
  const key = 'ROTOR_RDS_MASTERS';
  return entries(env, key).map((entry) => {
    entry.only(['secret', 'dbInstanceIdentifier', 'dbClusterIdentifier']);
    const secret = entry.string('secret', 2048, SECRET_ID);
    const instance = entry.has('dbInstanceIdentifier');
    if (instance === entry.has('dbClusterIdentifier')) {
      entry.fail(
        'dbInstanceIdentifier',
        instance
          ? 'must not be set together with dbClusterIdentifier: exactly one names the database'
          : 'or dbClusterIdentifier is required: exactly one names the database',
      );
    }
    return instance
      ? { secret, kind: 'instance', identifier: entry.rdsIdentifier('dbInstanceIdentifier', 'DB instance') }
      : { secret, kind: 'cluster', identifier: entry.rdsIdentifier('dbClusterIdentifier', 'DB cluster') };
  });
}

/** The trust configuration (`ROTOR_MASTERS`, `ROTOR_RDS_MASTERS`, `ROTOR_ADOPTIONS_SECRET`). */
export function readTrustConfig(env: Env = process.env): TrustConfig {
  const adoptions = env.ROTOR_ADOPTIONS_SECRET?.trim() || DEFAULT_ADOPTIONS_SECRET;
  if (adoptions.length > 2048) {
    throw new ConfigurationError(`environment variable ROTOR_ADOPTIONS_SECRET ${SECRET_ID}`);
  }
  return { masters: mastersFrom(env), rdsMasters: rdsMastersFrom(env), adoptionsSecret: adoptions };
}

export function readConfig(env: Env = process.env): Config {
  const eventSource = env.ROTOR_EVENT_SOURCE ?? 'rotor';
  if (eventSource.startsWith('aws.') || eventSource === '') {
    throw new ConfigurationError(
      'environment variable ROTOR_EVENT_SOURCE must be set and not start with "aws."',
    );
  }
  const length = integer(env, 'ROTOR_PASSWORD_LENGTH', 16, 4096);
  const logLevel = (env.ROTOR_LOG_LEVEL ?? env.POWERTOOLS_LOG_LEVEL ?? 'INFO').toUpperCase();
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new ConfigurationError(
      `environment variable ROTOR_LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}`,
    );
  }
  const exclude = env.ROTOR_PASSWORD_EXCLUDE_CHARACTERS;
  const healMode = env.ROTOR_HEAL_MODE || 'report';
  if (healMode !== 'report' && healMode !== 'heal') {
    throw new ConfigurationError('environment variable ROTOR_HEAL_MODE must be "report" or "heal"');
  }
  return {
    apiKeyProviders: providersFrom(env.ROTOR_APIKEY_PROVIDERS),
    apiKeyInlineHosts: list(env.ROTOR_APIKEY_INLINE_HOSTS),
    eventBusName: env.ROTOR_EVENT_BUS || 'default',
    eventSource,
    eventsEnabled: env.ROTOR_EVENTS !== 'off',
    stepStartedEvents: env.ROTOR_EVENTS_STEP_STARTED === 'on',
    ...(env.ROTOR_RUNBOOK_URL ? { runbookUrl: env.ROTOR_RUNBOOK_URL } : {}),
    metricsEnabled: env.ROTOR_METRICS !== 'off',
    logLevel: logLevel as LogLevel,
    metricsNamespace: env.POWERTOOLS_METRICS_NAMESPACE || 'rotor',
    serviceName: env.POWERTOOLS_SERVICE_NAME || 'rotor',
    passwordPolicy: {
      ...(length === undefined ? {} : { length }),
      ...(exclude === undefined ? {} : { excludeCharacters: exclude }),
    },
    deadlineMarginMs: integer(env, 'ROTOR_DEADLINE_MARGIN_MS', 0, 60_000) ?? 1_500,
    healFunctionPrefixes: list(env.ROTOR_HEAL_FUNCTION_PREFIX),
    healMode,
    healMinAgeMs: (integer(env, 'ROTOR_HEAL_MIN_AGE_MINUTES', 0, 10_080) ?? 60) * 60_000,
    ...readTrustConfig(env),
  };
}

function operatorOf(env: Env): string | undefined {
  const who = (env.ROTOR_OPERATOR || env.USER || env.LOGNAME || '').trim();
  return who === '' ? undefined : who.slice(0, 256);
}

export function readCliConfig(env: Env = process.env): CliConfig {
  const shared = env.AWS_ENDPOINT_URL || undefined;
  const secretsManager = env.AWS_ENDPOINT_URL_SECRETS_MANAGER || shared;
  const eventBridge = env.AWS_ENDPOINT_URL_EVENTBRIDGE || shared;
  return {
    ...(secretsManager === undefined ? {} : { secretsManagerEndpoint: secretsManager }),
    ...(eventBridge === undefined ? {} : { eventBridgeEndpoint: eventBridge }),
    color: env.NO_COLOR === undefined || env.NO_COLOR === '',
    ...(operatorOf(env) === undefined ? {} : { operator: operatorOf(env) as string }),
  };
}
