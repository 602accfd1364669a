import * as v from 'valibot';
import { parseSecret } from '../schema.js';

/** The fake engine's secret: a username and password on a named in-memory target. */
const FakeSecretSchema = v.looseObject({
  engine: v.literal('fake'),
  target: v.pipe(v.string(), v.minLength(1)),
  username: v.pipe(v.string(), v.minLength(1), v.maxLength(64)),
  password: v.pipe(v.string(), v.minLength(1)),
  /** Makes testSecret fail with this secret (for the failure-path tests). */
  breakTest: v.optional(v.boolean()),
});

export type FakeSecret = v.InferOutput<typeof FakeSecretSchema>;

export function parseFakeSecret(value: unknown, label: string): FakeSecret {
  return parseSecret(FakeSecretSchema, value, label);
}
