/**
 * The operations that describe secrets and search them: DescribeSecret and ListSecrets (with its
 * filters and sort keys), and GetRandomPassword, which reads no secret at all.
 */
import { randomInt } from 'node:crypto';
import { AwsError, InputValidator, type JsonInput } from '../http.js';
import { type Filter, readFilters, readSecretId, readSorting } from './checks.js';
import type { Secret, SecretsState } from './state.js';
import { compact, describe, paginate } from './wire.js';

export function describeSecret(state: SecretsState, input: JsonInput): unknown {
  const secret = state.requireSecret(readSecretId(input));
  return describe(secret, 'VersionIdsToStages');
}

export function listSecrets(state: SecretsState, input: JsonInput): unknown {
  const v = new InputValidator(input);
  const includeDeleted = v.boolean('IncludePlannedDeletion') ?? false;
  const maxResults = v.integer('MaxResults', { min: 1, max: 100 });
  const nextToken = v.string('NextToken', { min: 1, max: 4096 });
  const filters = readFilters(v);
  const { sortOrder, sortBy } = readSorting(v);
  v.check();
  const matching = state
    .all()
    .filter((secret) => includeDeleted || secret.deletedAt === undefined)
    .filter((secret) => filters.every((filter) => matchesFilter(secret, filter)));
  const sorted = sortSecrets(matching, sortBy ?? 'created-date', sortOrder ?? 'asc');
  const { page, next } = paginate(sorted, maxResults ?? 100, nextToken);
  return compact({
    SecretList: page.map((secret) => describe(secret, 'SecretVersionsToStages')),
    NextToken: next,
  });
}

/** Values of one filter are OR-ed; a value starting with `!` matches the secrets the rest does not. */
function matchesFilter(secret: Secret, filter: Filter): boolean {
  return filter.values.some((value) => {
    const negated = value.startsWith('!');
    const matched = matchesValue(secret, filter.key, negated ? value.slice(1) : value);
    return negated ? !matched : matched;
  });
}

function matchesValue(secret: Secret, key: string, value: string): boolean {
  const tags = secret.tags ?? [];
  switch (key) {
    case 'name':
      return secret.name.startsWith(value);
    case 'description':
      return wordsStartWith(secret.description ?? '', value);
    case 'tag-key':
      return tags.some((tag) => tag.Key.startsWith(value));
    case 'tag-value':
      return tags.some((tag) => tag.Value.startsWith(value));
    case 'primary-region':
      return secret.replicas.length > 0 && value === secret.arn.split(':')[3];
    case 'all':
      return [secret.name, secret.description ?? '', ...tags.flatMap((tag) => [tag.Key, tag.Value])].some(
        (text) => text.toLowerCase().startsWith(value.toLowerCase()) || wordsStartWith(text, value),
      );
    default:
      // owning-service: no secret here is managed by another service.
      return false;
  }
}

function wordsStartWith(text: string, prefix: string): boolean {
  const wanted = prefix.toLowerCase();
  return text
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .some((word) => word !== '' && word.startsWith(wanted));
}

function sortSecrets(secrets: Secret[], sortBy: string, order: string): Secret[] {
  const key = (secret: Secret): number | string => {
    switch (sortBy) {
      case 'name':
        return secret.name;
      case 'last-accessed-date':
        return secret.lastAccessedAt?.getTime() ?? 0;
      case 'last-changed-date':
        return secret.lastChangedAt.getTime();
      default:
        return secret.createdAt.getTime();
    }
  };
  const sorted = [...secrets].sort((a, b) => {
    const [ka, kb] = [key(a), key(b)];
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  });
  return order === 'desc' ? sorted.reverse() : sorted;
}

// ---------------------------------------------------------------- GetRandomPassword

const PUNCTUATION = '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~';

interface PasswordOptions {
  excludeNumbers: boolean;
  excludePunctuation: boolean;
  excludeUppercase: boolean;
  excludeLowercase: boolean;
  includeSpace: boolean;
  requireEachIncludedType: boolean;
}

export function getRandomPassword(input: JsonInput): unknown {
  const v = new InputValidator(input);
  const length = v.integer('PasswordLength', { min: 1, max: 4096 }) ?? 32;
  const exclude = v.string('ExcludeCharacters', { max: 4096 }) ?? '';
  const options: PasswordOptions = {
    excludeNumbers: v.boolean('ExcludeNumbers') ?? false,
    excludePunctuation: v.boolean('ExcludePunctuation') ?? false,
    excludeUppercase: v.boolean('ExcludeUppercase') ?? false,
    excludeLowercase: v.boolean('ExcludeLowercase') ?? false,
    includeSpace: v.boolean('IncludeSpace') ?? false,
    requireEachIncludedType: v.boolean('RequireEachIncludedType') ?? true,
  };
  v.check();
  return { RandomPassword: randomPassword(length, exclude, options) };
}

/** Picks from the allowed character classes, one of each when required. */
function randomPassword(length: number, exclude: string, options: PasswordOptions): string {
  const classes = [
    options.excludeLowercase ? '' : 'abcdefghijklmnopqrstuvwxyz',
    options.excludeUppercase ? '' : 'ABCDEFGHIJKLMNOPQRSTUVWXYZ',
    options.excludeNumbers ? '' : '0123456789',
    options.excludePunctuation ? '' : PUNCTUATION,
    options.includeSpace ? ' ' : '',
  ]
    .map((chars) => [...chars].filter((char) => !exclude.includes(char)).join(''))
    .filter((chars) => chars.length > 0);
  if (classes.length === 0) {
    throw new AwsError('InvalidParameterException', 'No characters are left to build a password from.');
  }
  if (options.requireEachIncludedType && length < classes.length) {
    throw new AwsError(
      'InvalidParameterException',
      'Password length is too short based on the required types.',
    );
  }
  const all = classes.join('');
  const chars = options.requireEachIncludedType ? classes.map((set) => pick(set)) : [];
  while (chars.length < length) chars.push(pick(all));
  // Shuffle so the required characters are not always first (Fisher-Yates).
  for (let i = chars.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j] as string, chars[i] as string];
  }
  return chars.join('');
}

function pick(chars: string): string {
  return chars[randomInt(chars.length)] as string;
}
