import { createHash } from 'node:crypto';
import * as v from 'valibot';
import { ForeignKeyError } from '../errors.js';
import { parseSecret, secretRefSchema } from '../schema.js';
import type { ParameterValue, Provider } from './provider.js';

/** An API-key secret, parsed, with its provider description resolved. */
export interface ApiKeySecret {
  readonly provider: Provider;
  readonly adminSecretArn: string;
  readonly keyId: string;
  readonly apiKey: string;
  readonly grace: GracePolicy;
  /**
   * A human-readable label for the keys rotor mints for this secret, added after the tag derived
   * from the secret's ARN (see `KeyNames`); it never replaces the tag.
   */
  readonly keyNamePrefix?: string;
  /** The key this one replaced (written by rotor; trusted only as far as the provider's list proves it). */
  readonly previousKeyId?: string;
  /** When rotor minted this key, epoch milliseconds (written by rotor): the start of the previous key's grace. */
  readonly keyCreatedAt?: number;
  /** The secret's own parameters for its keys, validated against the description's declaration. */
  readonly parameters: Readonly<Record<string, ParameterValue>>;
}

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
 * the host) is a description itself. Keys rotor mints for a secret are named after the secret's
 * ARN (see `KeyNames`); `keyNamePrefix` only adds a human-readable part to those names. rotor
 * writes `previousKeyId` and `keyCreatedAt` itself, to retire the key it replaced on time, but
 * revokes a key the secret names only when the provider's own name for it proves it is this
 * secret's. Any other field is the application's and is kept as it is.
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
  /** Values for the secret's own key, as the provider description declares them (checked there). */
  parameters: v.optional(
    v.pipe(
      v.unknown(),
      v.check(
        (input) => typeof input === 'object' && input !== null && !Array.isArray(input),
        'must be an object of the parameters the provider description declares',
      ),
    ),
  ),
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

// ---------------------------------------------------------------------------------------------
// Whose key is whose

/** Hex digits of SHA-256(secret ARN) in a tag: 48 bits, and ARNs end with a suffix AWS picks. */
const TAG_HEX_DIGITS = 12;
/** Any secret's tag, in a name already lower-cased. */
const ANY_TAG = /rotor-[0-9a-f]{12}(?![0-9a-f])/g;
const UUID_TAIL = /(?:^|-)([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

/**
 * Lower-cases ASCII letters only. Unicode case mapping can turn a non-ASCII character into an
 * ASCII one (the Kelvin sign becomes `k`): a provider-side name must spell the tag in ASCII.
 */
function asciiLower(text: string): string {
  return text.replace(/[A-Z]/g, (letter) => String.fromCharCode(letter.charCodeAt(0) + 32));
}

/** `rotor-` and 12 hex digits of SHA-256 of the secret's ARN: no two secrets share it. */
export function keyTag(secretArn: string): string {
  return `rotor-${createHash('sha256').update(secretArn, 'utf8').digest('hex').slice(0, TAG_HEX_DIGITS)}`;
}

/**
 * The names of the keys rotor mints for one secret, and what a provider-side name proves.
 *
 * A minted key is named `<tag>-[<label>-]<rotation token>`: the tag (from the secret's ARN) comes
 * first, so that a provider cutting long names keeps it, and no label a writer chooses can make a
 * name start with another secret's tag. Only the name the provider lists counts, never what the
 * secret says about a key. Comparisons fold ASCII case (providers that upper-case names still
 * find their keys; hex tags that differ stay different under folding).
 */
export class KeyNames {
  /** e.g. `rotor-3fa94c1d07be-`. */
  readonly prefix: string;
  readonly #label: string | undefined;

  /**
   * @param keyNamePrefix the secret's `keyNamePrefix`: a human-readable label. One that names
   *   another secret's tag is refused (ForeignKeyError): a writer may label keys, never claim them.
   */
  constructor(secretArn: string, keyNamePrefix?: string) {
    const tag = keyTag(secretArn);
    this.prefix = `${tag}-`;
    const label = keyNamePrefix?.replace(/[-_.:]+$/, '');
    const tags = [...asciiLower(keyNamePrefix ?? '').matchAll(ANY_TAG)].map((match) => match[0]);
    if (tags.some((other) => other !== tag)) {
      throw new ForeignKeyError(
        `keyNamePrefix names another secret's key tag: it may only add a label to this secret's tag "${tag}", never replace it`,
      );
    }
    // The tag alone (or the former default `rotor-`) adds nothing: no label.
    this.#label =
      label === undefined || label === '' || asciiLower(label) === 'rotor' || asciiLower(label) === tag
        ? undefined
        : label;
  }

  /** The name of the key minted in the rotation `token`. */
  nameFor(token: string): string {
    return `${this.prefix}${this.#label === undefined ? '' : `${this.#label}-`}${token}`;
  }

  /** The name carries this secret's tag where rotor puts it: the provider-side proof of ownership. */
  carriesTag(name: string | undefined): boolean {
    return name !== undefined && asciiLower(name).startsWith(this.prefix);
  }

  /** The name is one rotor gives the keys it mints for this secret (tag, label, token UUID). */
  minted(name: string | undefined): boolean {
    return this.carriesTag(name) && UUID_TAIL.test(asciiLower(name as string).slice(this.prefix.length));
  }

  /** The name is the one rotor gave (under any label) the key minted for this secret in rotation `token`. */
  mintedFor(name: string | undefined, token: string): boolean {
    if (!this.carriesTag(name)) return false;
    const rest = asciiLower(name as string).slice(this.prefix.length);
    const tail = asciiLower(token);
    return rest === tail || rest.endsWith(`-${tail}`);
  }
}
