/**
 * The one module that reads `process.env`. Everything else receives a typed `Config`.
 */
import { ConfigurationError } from '../rotators/errors.js';
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
  };
}

export function readCliConfig(env: Env = process.env): CliConfig {
  const shared = env.AWS_ENDPOINT_URL || undefined;
  const secretsManager = env.AWS_ENDPOINT_URL_SECRETS_MANAGER || shared;
  const eventBridge = env.AWS_ENDPOINT_URL_EVENTBRIDGE || shared;
  return {
    ...(secretsManager === undefined ? {} : { secretsManagerEndpoint: secretsManager }),
    ...(eventBridge === undefined ? {} : { eventBridgeEndpoint: eventBridge }),
    color: env.NO_COLOR === undefined || env.NO_COLOR === '',
  };
}
