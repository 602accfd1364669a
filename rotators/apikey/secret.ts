import * as v from 'valibot';
import { parseSecret, secretRefSchema } from '../schema.js';

/** The value of the secret's `engine` field for API keys. */
export const ENGINE = 'apikey';

/** A grace policy as written: `none`, `until-next-rotation` or a duration such as `90m`, `36h`, `7d`. */
const GRACE = /^(none|until-next-rotation|[1-9]\d{0,6}[smhd])$/;

/**
 * An API-key secret:
 *
 * ```json
 * {
 *   "engine": "apikey",
 *   "provider": "acme",
 *   "adminSecretArn": "arn:aws:secretsmanager:...:secret:acme-admin",
 *   "keyId": "key_4f1c...",
 *   "apiKey": "sk_live_...",
 *   "gracePolicy": "until-next-rotation"
 * }
 * ```
 *
 * `provider` names a description registered with the function, or (only when the function allows
 * the host) is a description itself. `keyNamePrefix` scopes the keys rotor mints for this secret
 * (`<prefix><rotation token>`): secrets sharing one provider account need prefixes of their own.
 * rotor writes `previousKeyId` and `keyCreatedAt` itself, to retire the key it replaced on time.
 * Any other field is the application's and is kept as it is.
 */
const ApiKeySecretSchema = v.looseObject({
  engine: v.literal(ENGINE),
  // A check rather than a union: its message is the one shown, and it never echoes the value.
  provider: v.pipe(
    v.unknown(),
    v.check(
      (input) =>
        typeof input === 'string'
          ? /^[A-Za-z0-9_.-]{1,64}$/.test(input)
          : typeof input === 'object' && input !== null && !Array.isArray(input),
      'must be the name of a provider (1 to 64 letters, digits or ._-) or a provider description object',
    ),
  ) as v.GenericSchema<unknown, string | Readonly<Record<string, unknown>>>,
  adminSecretArn: secretRefSchema,
  keyId: v.pipe(
    v.string(),
    v.minLength(1, 'must be the provider id of the current key'),
    v.maxLength(512, 'must be a key id of at most 512 characters'),
  ),
  apiKey: v.pipe(
    v.string(),
    v.minLength(1, 'must be the current API key'),
    v.maxLength(8192, 'must be an API key of at most 8192 characters'),
  ),
  gracePolicy: v.optional(
    v.pipe(
      v.string(),
      v.regex(GRACE, 'must be "none", "until-next-rotation" or a duration such as "90m", "36h" or "7d"'),
    ),
  ),
  keyNamePrefix: v.optional(
    v.pipe(v.string(), v.regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'must be 1 to 64 letters, digits or ._:-')),
  ),
  previousKeyId: v.optional(
    v.pipe(
      v.string(),
      v.minLength(1, 'must be a key id'),
      v.maxLength(512, 'must be a key id of at most 512 characters'),
    ),
  ),
  keyCreatedAt: v.optional(v.pipe(v.string(), v.isoTimestamp('must be an ISO 8601 timestamp'))),
});

type ApiKeySecretFields = v.InferOutput<typeof ApiKeySecretSchema>;

export function parseApiKeyFields(value: unknown, label: string): ApiKeySecretFields {
  return parseSecret(ApiKeySecretSchema, value, label);
}

/** How long the key a rotation replaced stays valid. */
export type GracePolicy =
  | { readonly kind: 'none' }
  | { readonly kind: 'until-next-rotation' }
  | { readonly kind: 'duration'; readonly ms: number };

const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** Reads a policy the schema already accepted; absent means `until-next-rotation`. */
export function gracePolicy(text: string | undefined): GracePolicy {
  if (text === undefined || text === 'until-next-rotation') return { kind: 'until-next-rotation' };
  if (text === 'none') return { kind: 'none' };
  const unit = text.slice(-1) as keyof typeof UNIT_MS;
  return { kind: 'duration', ms: Number(text.slice(0, -1)) * UNIT_MS[unit] };
}
