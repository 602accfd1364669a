/**
 * The local Secrets Manager's input checks: the API's validation rules for the members several
 * operations share, and the service's own messages for the errors they raise. Member lengths and
 * patterns come from the API reference; `InputValidator` (../http.js) gathers the
 * `ValidationException` problems, the checks here add the service's other error types.
 */
import { scheduleProblem, WINDOW_FORMAT, windowHours, windowProblem } from '../../deploy/schedule.js';
import { parseScheduleExpression } from '../cron.js';
import { AwsError, InputValidator, type JsonInput } from '../http.js';
import type { RotationRules, StoredValue, Tag } from './state.js';

export const NEED_TOKEN = 'You must provide a ClientRequestToken value. We recommend a UUID-type value.';
export const PREVIOUS_ROTATION = "A previous rotation isn't complete. That rotation will be reattempted.";
export const NO_FUNCTION =
  "You tried to enable rotation on a secret that doesn't already have a Lambda function ARN configured and you didn't include such an ARN as a parameter in this call.";
const BOTH_VALUES =
  "You can't specify both a binary secret value and a string secret value in the same secret.";
const NAME_PATTERN = /^[A-Za-z0-9/_+=.@-]+$/;
const SERVICE_NAME_PATTERN = /^[a-z]+![A-Za-z0-9/_+=.@-]+$/;
const REGION_PATTERN = /^[a-z]{2}(-[a-z]+)+-\d+$/;

/** The SecretId member every operation on one secret takes. */
export function readSecretIdMember(v: InputValidator): string | undefined {
  return v.string('SecretId', { required: true, min: 1, max: 2048 });
}

/** The input of an operation whose only member is SecretId. */
export function readSecretId(input: JsonInput): string {
  const v = new InputValidator(input);
  const secretId = readSecretIdMember(v);
  v.check();
  return secretId ?? '';
}

/** A ClientRequestToken (which doubles as the version id). */
export function readToken(v: InputValidator, member = 'ClientRequestToken'): string | undefined {
  return v.string(member, { min: 32, max: 64 });
}

/** The name CreateSecret accepts from a customer (services use `<service>!<name>`). */
export function checkName(name: string, serviceOwned: boolean): void {
  if (!serviceOwned && !NAME_PATTERN.test(name)) {
    throw new AwsError(
      'ValidationException',
      'Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!',
    );
  }
}

/** A service's own secret name, as `createServiceSecret` requires it (a test tool's check). */
export function isServiceName(name: string): boolean {
  return SERVICE_NAME_PATTERN.test(name);
}

/** SecretString / SecretBinary: at most one of them. */
export function readValue(v: InputValidator): StoredValue | undefined {
  const string = v.string('SecretString', { max: 65536, sensitive: true });
  const binary = v.string('SecretBinary', { max: 87384, sensitive: true });
  if (string !== undefined && binary !== undefined)
    throw new AwsError('InvalidParameterException', BOTH_VALUES);
  if (string !== undefined) return { string };
  if (binary !== undefined) return { binary };
  return undefined;
}

export function readStages(v: InputValidator, member: string): string[] | undefined {
  const list = v.list(member, { min: 1, max: 20 });
  if (list === undefined) return undefined;
  return list.map((stage, index) => {
    if (typeof stage !== 'string' || stage.length < 1 || stage.length > 256) {
      v.problem(`${member}.${index + 1}.member`, stage, 'Member must have length between 1 and 256');
    }
    return String(stage);
  });
}

/**
 * AWS reserves the `aws:` prefix (any case) for tags its services set (RDS on its master secrets,
 * CloudFormation on stacks' resources): callers can neither add nor remove them. The message is
 * Secrets Manager's own for TagResource.
 */
export function refuseSystemTags(keys: readonly string[] | undefined): void {
  const reserved = keys?.find((key) => key.toLowerCase().startsWith('aws:'));
  if (reserved !== undefined) {
    throw new AwsError('InvalidParameterException', `You can't modify system tags. Tag key: '${reserved}'.`);
  }
}

export function readTags(v: InputValidator, member: string, required = false): Tag[] | undefined {
  const list = v.list(member, { required });
  if (list === undefined) return undefined;
  return list.map((raw, index) => {
    const tag = (raw ?? {}) as Record<string, unknown>;
    const key = typeof tag.Key === 'string' ? tag.Key : '';
    const value = typeof tag.Value === 'string' ? tag.Value : '';
    if (key.length < 1 || key.length > 128) {
      v.problem(`${member}.${index + 1}.member.Key`, key, 'Member must have length between 1 and 128');
    }
    if (value.length > 256) {
      v.problem(
        `${member}.${index + 1}.member.Value`,
        value,
        'Member must have length less than or equal to 256',
      );
    }
    return { Key: key, Value: value };
  });
}

export function readReplicaRegions(
  v: InputValidator,
  member: string,
  required: boolean,
): { region: string; kmsKeyId: string | undefined }[] | undefined {
  const list = v.list(member, { required, min: 1 });
  return list?.map((raw, index) => {
    const entry = (raw ?? {}) as Record<string, unknown>;
    const region = typeof entry.Region === 'string' ? entry.Region : '';
    if (!REGION_PATTERN.test(region)) {
      v.problem(
        `${member}.${index + 1}.member.Region`,
        region,
        `Member must satisfy regular expression pattern: ${REGION_PATTERN.source}`,
      );
    }
    return { region, kmsKeyId: typeof entry.KmsKeyId === 'string' ? entry.KmsKeyId : undefined };
  });
}

export function readRotationRules(v: InputValidator): RotationRules | undefined {
  const raw = v.object('RotationRules');
  if (raw === undefined) return undefined;
  const rules: RotationRules = {};
  const days = raw.AutomaticallyAfterDays;
  if (days !== undefined) {
    if (typeof days !== 'number' || !Number.isInteger(days) || days < 1 || days > 1000) {
      throw new AwsError(
        'InvalidParameterException',
        'RotationRules.AutomaticallyAfterDays must be within 1-1000.',
      );
    }
    rules.AutomaticallyAfterDays = days;
  }
  if (typeof raw.ScheduleExpression === 'string') rules.ScheduleExpression = raw.ScheduleExpression;
  if (typeof raw.Duration === 'string') rules.Duration = raw.Duration;
  if (rules.AutomaticallyAfterDays !== undefined && rules.ScheduleExpression !== undefined) {
    throw new AwsError(
      'InvalidParameterException',
      "You can't specify both AutomaticallyAfterDays and ScheduleExpression in RotationRules.",
    );
  }
  // Secrets Manager's documented schedule rules (deploy/schedule.ts, shared with the stage file and
  // `rotor attach`); the error type is the one AWS returns for other bad RotationRules.
  const problem = rotationRulesProblem(rules);
  if (problem !== undefined)
    throw new AwsError('InvalidParameterException', `Invalid RotationRules: ${problem}.`);
  try {
    if (rules.ScheduleExpression !== undefined) parseScheduleExpression(rules.ScheduleExpression);
  } catch (error) {
    throw new AwsError('InvalidParameterException', `Invalid RotationRules: ${(error as Error).message}.`);
  }
  return rules;
}

function rotationRulesProblem(rules: RotationRules): string | undefined {
  const expression =
    rules.ScheduleExpression ??
    (rules.AutomaticallyAfterDays === undefined ? undefined : `rate(${rules.AutomaticallyAfterDays} days)`);
  if (rules.ScheduleExpression !== undefined) {
    const problem = scheduleProblem(rules.ScheduleExpression);
    if (problem !== undefined) return `ScheduleExpression ${problem}`;
  }
  if (rules.Duration === undefined) return undefined;
  if (windowHours(rules.Duration) === undefined) return `Duration ${WINDOW_FORMAT}`;
  if (expression === undefined) return undefined;
  const problem = windowProblem(expression, rules.Duration);
  return problem === undefined ? undefined : `Duration ${problem}`;
}

/** RecoveryWindowInDays and ForceDeleteWithoutRecovery: one or the other, 7 to 30 days. */
export function checkRecoveryWindow(window: number | undefined, force: boolean): void {
  if (window !== undefined && force) {
    throw new AwsError(
      'InvalidParameterException',
      "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.",
    );
  }
  if (window !== undefined && (window < 7 || window > 30)) {
    throw new AwsError(
      'InvalidParameterException',
      'The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).',
    );
  }
}

// ---------------------------------------------------------------- ListSecrets filters and sorting

const FILTER_KEYS = [
  'description',
  'name',
  'tag-key',
  'tag-value',
  'primary-region',
  'owning-service',
  'all',
];
const SORT_KEYS = ['created-date', 'last-accessed-date', 'last-changed-date', 'name'];

export interface Filter {
  key: string;
  values: string[];
}

export function readFilters(v: InputValidator): Filter[] {
  const list = v.list('Filters', { max: 10 }) ?? [];
  return list.map((raw, index) => {
    const entry = (raw ?? {}) as Record<string, unknown>;
    const key = typeof entry.Key === 'string' ? entry.Key : '';
    if (!FILTER_KEYS.includes(key)) {
      v.problem(
        `Filters.${index + 1}.member.Key`,
        key,
        `Member must satisfy enum value set: [${FILTER_KEYS.join(', ')}]`,
      );
    }
    const values = Array.isArray(entry.Values) ? entry.Values.map(String) : [];
    if (values.length < 1 || values.length > 10) {
      v.problem(`Filters.${index + 1}.member.Values`, '[...]', 'Member must have length between 1 and 10');
    }
    return { key, values };
  });
}

/** SortOrder and SortBy of ListSecrets (problems are reported, not thrown: `v.check()` does). */
export function readSorting(v: InputValidator): {
  sortOrder: string | undefined;
  sortBy: string | undefined;
} {
  const sortOrder = v.string('SortOrder');
  const sortBy = v.string('SortBy');
  if (sortOrder !== undefined && sortOrder !== 'asc' && sortOrder !== 'desc') {
    v.problem('SortOrder', sortOrder, 'Member must satisfy enum value set: [asc, desc]');
  }
  if (sortBy !== undefined && !SORT_KEYS.includes(sortBy)) {
    v.problem('SortBy', sortBy, `Member must satisfy enum value set: [${SORT_KEYS.join(', ')}]`);
  }
  return { sortOrder, sortBy };
}

/** The opaque NextToken of the list operations: the offset of the next page. */
export function readPageStart(token: string | undefined): number {
  if (token === undefined) return 0;
  const start = Number(
    Buffer.from(token, 'base64url')
      .toString('utf8')
      .replace(/^offset:/, ''),
  );
  if (!Number.isInteger(start) || start < 0) {
    throw new AwsError('InvalidNextTokenException', 'The NextToken value is invalid.');
  }
  return start;
}
