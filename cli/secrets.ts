/**
 * What several commands need to know about a secret: its labels, whether a rotation is stuck,
 * whether it is overdue, its parsed AWSCURRENT value (for the engine, strategy and preflight), and
 * the rotation function's ARN. The pure parts are exported for unit tests.
 */
import {
  DescribeSecretCommand,
  type DescribeSecretResponse,
  GetSecretValueCommand,
  ListSecretVersionIdsCommand,
  type RotationRulesType,
  type SecretVersionsListEntry,
} from '@aws-sdk/client-secrets-manager';
import type { RedactionScope } from '../handlers/redact.js';
import { CURRENT, PENDING } from '../handlers/secrets.js';
import type { VersionReader } from '../handlers/versions.js';
import { InvalidSecretError } from '../rotators/errors.js';
import type { AnyRotator, ManagedDatabase } from '../rotators/types.js';
import { type AwsContext, aws } from './aws.js';

export type VersionStages = Readonly<Record<string, readonly string[] | undefined>>;

/** The version holding `label`. */
export function versionOf(stages: VersionStages | undefined, label: string): string | undefined {
  return Object.entries(stages ?? {}).find(([, labels]) => labels?.includes(label))?.[0];
}

/** The version AWSPENDING sits on when it is not AWSCURRENT's: a rotation that has not finished. */
export function stuckPendingVersion(stages: VersionStages | undefined): string | undefined {
  const pending = versionOf(stages, PENDING);
  return pending !== undefined && pending !== versionOf(stages, CURRENT) ? pending : undefined;
}

const DAY = 86_400_000;
const HOUR = 3_600_000;

/** How often the rules rotate, in milliseconds, when that can be read without a calendar (not cron). */
export function rotationInterval(rules: RotationRulesType | undefined): number | undefined {
  if (rules === undefined) return undefined;
  const rate = /^rate\(\s*(\d+)\s+(day|days|hour|hours)\s*\)$/.exec(rules.ScheduleExpression?.trim() ?? '');
  if (rate !== null) return Number(rate[1]) * (rate[2]?.startsWith('day') ? DAY : HOUR);
  if (rules.ScheduleExpression === undefined && rules.AutomaticallyAfterDays !== undefined) {
    return rules.AutomaticallyAfterDays * DAY;
  }
  return undefined;
}

/** The rotation window: the rule's `Duration` (`4h`), else the rest of the day (AWS's default). */
export function rotationWindow(rules: RotationRulesType | undefined): number {
  const hours = /^(\d{1,2})h$/.exec(rules?.Duration ?? '');
  return hours === null ? DAY : Number(hours[1]) * HOUR;
}

export interface Overdue {
  readonly overdue: boolean;
  /** Why (or why not), in words. */
  readonly reason: string;
}

/**
 * Whether a secret's rotation is overdue: its NextRotationDate has passed, or no rotation happened
 * within the rule's interval (plus its window) since the last one (or since the secret was made).
 */
export function overdue(secret: DescribeSecretResponse, now: number): Overdue {
  if (secret.RotationEnabled !== true) return { overdue: false, reason: 'rotation is not enabled' };
  const next = secret.NextRotationDate?.getTime();
  if (next !== undefined && next < now) {
    return { overdue: true, reason: `the next rotation was due ${new Date(next).toISOString()}` };
  }
  const interval = rotationInterval(secret.RotationRules);
  const since = secret.LastRotatedDate ?? secret.CreatedDate;
  if (interval !== undefined && since !== undefined) {
    const deadline = since.getTime() + interval + rotationWindow(secret.RotationRules);
    if (deadline < now) {
      return {
        overdue: true,
        reason: `no rotation since ${since.toISOString()} (the rule rotates every ${Math.round(interval / HOUR)} h)`,
      };
    }
  }
  return { overdue: false, reason: next === undefined ? 'no rotation date is known' : 'on schedule' };
}

/**
 * A Lambda function name expanded to its ARN in the secret's partition, region and account.
 * An ARN is returned as is; a name that cannot be expanded (the secret's ARN is unknown) too.
 */
export function functionArnFor(nameOrArn: string, secretArn: string): string {
  if (nameOrArn.startsWith('arn:')) return nameOrArn;
  const [, partition, , region, account] = secretArn.split(':');
  if (partition === undefined || region === undefined || account === undefined) return nameOrArn;
  return `arn:${partition}:lambda:${region}:${account}:function:${nameOrArn}`;
}

export async function describeSecret(context: AwsContext, secretId: string): Promise<DescribeSecretResponse> {
  return aws(
    context,
    'secretsmanager:DescribeSecret',
    secretId,
    context.sm.send(new DescribeSecretCommand({ SecretId: secretId })),
  );
}

/** Every version, deprecated ones included (up to 100 pages of 100). */
export async function listVersions(
  context: AwsContext,
  secretArn: string,
): Promise<SecretVersionsListEntry[]> {
  const versions: SecretVersionsListEntry[] = [];
  let token: string | undefined;
  for (let page = 0; page < 100; page++) {
    const out = await aws(
      context,
      'secretsmanager:ListSecretVersionIds',
      secretArn,
      context.sm.send(
        new ListSecretVersionIdsCommand({
          SecretId: secretArn,
          IncludeDeprecated: true,
          MaxResults: 100,
          ...(token === undefined ? {} : { NextToken: token }),
        }),
      ),
    );
    versions.push(...(out.Versions ?? []));
    token = out.NextToken;
    if (token === undefined) break;
  }
  return versions;
}

/**
 * AWSCURRENT's SecretString (undefined for a binary value), registered for redaction before
 * anything can print it. `label` names the secret in an error.
 */
export async function readCurrentString(
  context: AwsContext,
  secretId: string,
  scope: RedactionScope,
  label = secretId,
): Promise<string | undefined> {
  const out = await aws(
    context,
    'secretsmanager:GetSecretValue',
    label,
    context.sm.send(new GetSecretValueCommand({ SecretId: secretId, VersionStage: CURRENT })),
  );
  if (out.SecretString !== undefined) scope.addSecretString(out.SecretString);
  return out.SecretString;
}

/** AWSCURRENT of a secret as text (readCurrentString), refused when it is not text. */
export async function readCurrentText(
  context: AwsContext,
  secretId: string,
  scope: RedactionScope,
): Promise<string> {
  const text = await readCurrentString(context, secretId, scope);
  if (text === undefined) {
    throw new InvalidSecretError(
      '(value)',
      'is missing: AWSCURRENT must hold a SecretString with JSON',
      CURRENT,
    );
  }
  return text;
}

/** A secret's AWSCURRENT, parsed by its engine's rotator. */
export interface ParsedCurrent {
  readonly engine: string;
  readonly rotator: AnyRotator;
  readonly value: unknown;
  readonly strategy: string;
  /** The RDS database the secret belongs to, when discovery found one. */
  readonly managedDatabase?: ManagedDatabase;
}

/**
 * Parses AWSCURRENT's text as the rotation function would, with the rotation's own reader
 * (handlers/versions.ts): enriched first (RDS discovery), then parsed by the rotator its engine
 * names. Throws InvalidSecretError (naming the field), UnknownEngineError, or what discovery
 * throws (a denied or failed RDS call).
 */
export async function parseCurrent(
  reader: VersionReader,
  secretArn: string,
  text: string,
): Promise<ParsedCurrent> {
  const { engine, rotator, value, managedDatabase } = await reader.parse(secretArn, text, CURRENT);
  return {
    engine,
    rotator,
    value,
    strategy: rotator.strategy(value),
    ...(managedDatabase === undefined ? {} : { managedDatabase }),
  };
}

/** Reads and parses AWSCURRENT. */
export async function readCurrent(
  context: AwsContext,
  secretArn: string,
  reader: VersionReader,
  scope: RedactionScope,
): Promise<ParsedCurrent> {
  return parseCurrent(reader, secretArn, await readCurrentText(context, secretArn, scope));
}

/** The engine named by a value that did not parse, for display only (`engine` is descriptive). */
export function engineNamed(text: string): string | undefined {
  try {
    const json: unknown = JSON.parse(text);
    const engine = (json as { engine?: unknown } | null)?.engine;
    return typeof engine === 'string' && engine.length <= 64 ? engine : undefined;
  } catch {
    return undefined;
  }
}
