/** Secret validation shared by every engine: valibot schemas, errors that name the field. */
import * as v from 'valibot';
import { InvalidSecretError } from './errors.js';

/**
 * Parses `value` with `schema`, or throws InvalidSecretError naming the first offending field and
 * what it expected. The received value is never quoted: it may be a password.
 */
export function parseSecret<S extends v.GenericSchema>(
  schema: S,
  value: unknown,
  label: string,
): v.InferOutput<S> {
  const result = v.safeParse(schema, value, { abortEarly: true });
  if (result.success) return result.output;
  const issue = result.issues[0];
  const field = v.getDotPath(issue) ?? '(json)';
  throw new InvalidSecretError(field, describeIssue(issue), label);
}

function describeIssue(issue: v.BaseIssue<unknown>): string {
  // Schema-level messages (set with v.pipe(..., v.check(..., 'message'))) are written for humans.
  // valibot's own messages quote the received value ("... but received "hunter2""): never use them.
  if (issue.kind === 'validation' && issue.message && !/received/i.test(issue.message)) return issue.message;
  if (issue.received === 'undefined') return 'is required';
  return `must be ${issue.expected ?? 'valid'}`;
}

/**
 * Parses the text of a related secret (a master user's, read through `fetchRelated`): JSON first,
 * then `schema`. Errors carry `label` so that a message says which secret is wrong.
 */
export function parseRelatedSecret<S extends v.GenericSchema>(
  schema: S,
  text: string,
  label: string,
): v.InferOutput<S> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new InvalidSecretError('(json)', 'is not valid JSON', label);
  }
  return parseSecret(schema, json, label);
}

/** A port given as a number or a numeric string (RDS secrets use both), 1 to 65535. */
export const portSchema = v.pipe(
  v.union([v.number(), v.pipe(v.string(), v.regex(/^\d{1,5}$/, 'must be a port number from 1 to 65535'))]),
  v.transform(Number),
  v.integer('must be a port number from 1 to 65535'),
  v.minValue(1, 'must be a port number from 1 to 65535'),
  v.maxValue(65535, 'must be a port number from 1 to 65535'),
);

/** A DNS name or IP address. */
export const hostSchema = v.pipe(
  v.string(),
  v.minLength(1, 'must be a host name or IP address'),
  v.maxLength(253, 'must be a host name of at most 253 characters'),
  v.regex(/^[A-Za-z0-9.:_-]+$/, 'must be a host name or IP address (letters, digits, dots, dashes, colons)'),
);

/** An ARN or name of another secret. */
export const secretRefSchema = v.pipe(
  v.string(),
  v.minLength(1, 'must be a secret ARN or name'),
  v.maxLength(2048, 'must be a secret ARN or name of at most 2048 characters'),
);
