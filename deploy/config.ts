/**
 * The per-stage deployment configuration (`deploy/stages/<stage>.yml`): which secrets this account
 * rotates, how, and who gets paged. Validated before anything is generated, so a bad entry fails
 * `serverless package` with a message that names the entry and the field.
 */
import * as v from 'valibot';
import { isRdsIdentifier } from '../rotators/rdsMaster.js';

/** Engines by the function that rotates them. */
export const FUNCTION_ENGINES = {
  postgres: ['postgres', 'aurora-postgresql'],
  mysql: ['mysql', 'aurora-mysql', 'mariadb'],
  apikey: ['apikey'],
} as const;

export type RotationFunctionKey = keyof typeof FUNCTION_ENGINES;

export const STRATEGIES = [
  'single-user',
  'alternating-users',
  'dual-password',
  'rds-master',
  'api-key',
] as const;

const ENGINES = Object.values(FUNCTION_ENGINES).flat();

/** `rate(30 days)`, `rate(12 hours)`, or a six-field `cron(...)` as Secrets Manager accepts them. */
const scheduleSchema = v.pipe(
  v.string(),
  v.regex(
    /^(rate\(\s*\d+\s+(hours?|days?)\s*\)|cron\(\s*(\S+\s+){5}\S+\s*\))$/,
    'must be rate(<n> days|hours) or cron(<six fields>)',
  ),
  v.check((value) => {
    const rate = /^rate\(\s*(\d+)\s+(hours?|days?)/.exec(value);
    if (!rate) return true;
    const hours = Number(rate[1]) * (rate[2]?.startsWith('day') ? 24 : 1);
    return hours >= 4 && hours <= 1000 * 24;
  }, 'must rotate at most every 4 hours and at least every 1000 days'),
);

/** Rotation window, e.g. `4h` (Secrets Manager's Duration: 1 to 24 hours). */
const windowSchema = v.pipe(v.string(), v.regex(/^([1-9]|1\d|2[0-4])h$/, 'must be 1h to 24h'));

const arnOrName = v.pipe(
  v.string(),
  v.minLength(1, 'must be a secret name or ARN'),
  v.maxLength(2048, 'must be a secret name or ARN of at most 2048 characters'),
  v.regex(/^[\w/+=.@:-]+$/, 'must be a secret name or ARN (letters, digits and /_+=.@:-)'),
);

const rdsIdentifier = (what: string) =>
  v.pipe(
    v.string(),
    v.check(
      isRdsIdentifier,
      `must be an RDS ${what} identifier (letters, digits and single hyphens, starting with a letter)`,
    ),
  );

const secretEntry = v.strictObject({
  /** Name or ARN of an existing secret. */
  id: arnOrName,
  engine: v.picklist(ENGINES, `must be one of: ${ENGINES.join(', ')}`),
  strategy: v.picklist(STRATEGIES, `must be one of: ${STRATEGIES.join(', ')}`),
  schedule: scheduleSchema,
  window: v.optional(windowSchema),
  rotateImmediately: v.optional(v.boolean(), false),
  /**
   * The RDS DB instance / DB cluster the secret belongs to (as its value names it, or RDS's tags):
   * the function may describe it (endpoint discovery), and, for strategy rds-master, set its
   * master password. An instance of an Aurora cluster needs both: the cluster holds the master.
   */
  dbInstanceIdentifier: v.optional(rdsIdentifier('DB instance')),
  dbClusterIdentifier: v.optional(rdsIdentifier('DB cluster')),
});

const configSchema = v.strictObject({
  /** Region of this stage; the secrets are in it. */
  region: v.pipe(v.string(), v.regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region such as eu-west-1')),
  eventBus: v.optional(
    v.pipe(v.string(), v.regex(/^[\w.-]{1,256}$/, 'must be an event bus name')),
    'default',
  ),
  eventSource: v.optional(
    v.pipe(
      v.string(),
      v.regex(/^[\w.-]{1,256}$/, 'must be letters, digits, dots or dashes'),
      v.check((s) => !s.startsWith('aws.'), 'must not start with "aws."'),
    ),
    'rotor',
  ),
  logRetentionDays: v.optional(v.picklist([7, 14, 30, 60, 90, 180, 365]), 30),
  onCall: v.optional(
    v.strictObject({
      email: v.optional(v.array(v.pipe(v.string(), v.email('must be an e-mail address'))), []),
      https: v.optional(
        v.array(v.pipe(v.string(), v.url(), v.startsWith('https://', 'must be an https:// URL'))),
        [],
      ),
    }),
    { email: [], https: [] },
  ),
  vpc: v.optional(
    v.strictObject({
      subnetIds: v.pipe(
        v.array(v.pipe(v.string(), v.regex(/^subnet-[0-9a-f]+$/, 'must be a subnet id'))),
        v.minLength(1),
      ),
      securityGroupIds: v.pipe(
        v.array(v.pipe(v.string(), v.regex(/^sg-[0-9a-f]+$/, 'must be a security group id'))),
        v.minLength(1),
      ),
    }),
  ),
  /** Customer-managed KMS keys encrypting the rotated secrets (none: AWS-managed key, no grant needed). */
  kmsKeyArns: v.optional(
    v.array(v.pipe(v.string(), v.regex(/^arn:aws[\w-]*:kms:/, 'must be a KMS key ARN'))),
    [],
  ),
  /** Master / admin secrets the functions read on a rotated secret's behalf (masterarn, adminSecretArn). */
  relatedSecrets: v.optional(v.array(arnOrName), []),
  /** API-key provider descriptions by name (see rotators/apikey). Passed to the apikey function. */
  apiKeyProviders: v.optional(v.record(v.string(), v.unknown()), {}),
  secrets: v.optional(v.array(secretEntry), []),
  /** The scheduled heal function: report stuck rotations (default) or heal them. */
  heal: v.optional(
    v.strictObject({
      mode: v.optional(v.picklist(['report', 'heal'], 'must be "report" or "heal"'), 'report'),
      schedule: v.optional(
        v.pipe(
          v.string(),
          v.regex(
            /^(rate\(\s*\d+\s+(minutes?|hours?|days?)\s*\)|cron\(.+\))$/,
            'must be rate(...) or cron(...)',
          ),
        ),
        'rate(1 hour)',
      ),
      minAgeMinutes: v.optional(
        v.pipe(v.number(), v.integer(), v.minValue(15, 'must be at least 15 (a rotation may be running)')),
        60,
      ),
    }),
    { mode: 'report', schedule: 'rate(1 hour)', minAgeMinutes: 60 },
  ),
});

export type DeployConfig = v.InferOutput<typeof configSchema>;
export type SecretEntry = v.InferOutput<typeof secretEntry>;

export class DeployConfigError extends Error {
  override readonly name = 'DeployConfigError';
}

/** Validates a parsed stage file. `source` names it in messages. */
export function parseDeployConfig(value: unknown, source: string): DeployConfig {
  const result = v.safeParse(configSchema, value);
  if (!result.success) {
    const issue = result.issues[0];
    const path = v.getDotPath(issue) ?? '(file)';
    const entry = describeEntry(value, issue.path);
    throw new DeployConfigError(`${source}: ${path}${entry}: ${issue.message}`);
  }
  const config = result.output;
  const seen = new Set<string>();
  for (const [index, secret] of config.secrets.entries()) {
    if (seen.has(secret.id))
      throw new DeployConfigError(`${source}: secrets.${index} (${secret.id}): listed twice`);
    seen.add(secret.id);
    const fn = functionFor(secret.engine);
    const allowed = allowedStrategies(fn);
    if (!allowed.includes(secret.strategy)) {
      throw new DeployConfigError(
        `${source}: secrets.${index}.strategy (${secret.id}): engine ${secret.engine} supports ${allowed.join(', ')}`,
      );
    }
    const rds = secret.dbInstanceIdentifier !== undefined || secret.dbClusterIdentifier !== undefined;
    if (rds && fn === 'apikey') {
      throw new DeployConfigError(
        `${source}: secrets.${index} (${secret.id}): dbInstanceIdentifier / dbClusterIdentifier apply to database engines only`,
      );
    }
    if (secret.strategy === 'rds-master' && !rds) {
      throw new DeployConfigError(
        `${source}: secrets.${index} (${secret.id}): strategy rds-master needs dbInstanceIdentifier or dbClusterIdentifier (the database whose master password rotates)`,
      );
    }
    if (secret.id.startsWith('arn:') && !secret.id.includes(`:${config.region}:`)) {
      throw new DeployConfigError(
        `${source}: secrets.${index}.id (${secret.id}): not in region ${config.region}`,
      );
    }
  }
  return config;
}

function describeEntry(value: unknown, path: readonly { key: unknown }[] | undefined): string {
  if (path?.[0]?.key !== 'secrets' || typeof path[1]?.key !== 'number') return '';
  const secrets = (value as { secrets?: { id?: unknown }[] }).secrets;
  const id = secrets?.[path[1].key]?.id;
  return typeof id === 'string' ? ` (${id})` : '';
}

export function functionFor(engine: string): RotationFunctionKey {
  for (const [fn, engines] of Object.entries(FUNCTION_ENGINES)) {
    if ((engines as readonly string[]).includes(engine)) return fn as RotationFunctionKey;
  }
  throw new DeployConfigError(`no function rotates engine ${engine}`);
}

function allowedStrategies(fn: RotationFunctionKey): readonly string[] {
  if (fn === 'apikey') return ['api-key'];
  if (fn === 'postgres') return ['single-user', 'alternating-users', 'rds-master'];
  return ['single-user', 'alternating-users', 'dual-password', 'rds-master'];
}
