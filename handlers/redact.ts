/**
 * Redaction: the last line of defence that keeps secret values out of logs, events and errors.
 *
 * rotor builds every message from names and reasons, never from values; this module catches what
 * slips through anyway. Every value read from or written to any version of a secret (and the
 * opaque RotationToken) is registered for the duration of the invocation that holds it, and every
 * log line, event detail and error message is scrubbed against all registered values.
 *
 * The registry is process-wide and reference-counted so that concurrent invocations in one process
 * (the local stack, the benchmark) never print each other's secrets either.
 */

export const REDACTED = '[REDACTED]';

/** Keys whose values describe a secret rather than being one; everything else is treated as sensitive. */
export const DESCRIPTIVE_KEYS: ReadonlySet<string> = new Set([
  'engine',
  'host',
  'port',
  'username',
  'user',
  'dbname',
  'database',
  'strategy',
  'masterarn',
  'adminsecretarn',
  'dbinstanceidentifier',
  'dbclusteridentifier',
  'ssl',
  'tls',
  'tlsmode',
  'keyid',
  'provider',
  'baseurl',
  'region',
  'accounthost',
  'clonesuffix',
  'probequery',
  'gracepolicy',
  'keynameprefix',
  'previouskeyid',
  'keycreatedat',
  'primaryusername',
]);

/** Shorter strings are not redacted: they would match everywhere and no credential is that short. */
const MIN_LENGTH = 4;

export class Redactor {
  readonly #counts = new Map<string, number>();
  #pattern: RegExp | undefined;

  /** Opens a scope; values registered through it are forgotten when it closes. */
  scope(): RedactionScope {
    return new RedactionScope(this);
  }

  /** Replaces every registered value in `text`. */
  scrub(text: string): string {
    if (this.#counts.size === 0) return text;
    this.#pattern ??= new RegExp(
      [...this.#counts.keys()]
        .sort((a, b) => b.length - a.length)
        .map((value) => value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
        .join('|'),
      'g',
    );
    return text.replace(this.#pattern, REDACTED);
  }

  /** Scrubs every string value inside a JSON-like value (keys are left as they are). */
  scrubDeep<T>(value: T): T {
    if (this.#counts.size === 0) return value;
    const walk = (v: unknown): unknown => {
      if (typeof v === 'string') return this.scrub(v);
      if (Array.isArray(v)) return v.map(walk);
      if (typeof v === 'object' && v !== null) {
        return Object.fromEntries(Object.entries(v).map(([k, inner]) => [k, walk(inner)]));
      }
      return v;
    };
    return walk(value) as T;
  }

  /** Whether any registered value occurs in `text`. */
  contains(text: string): boolean {
    return this.scrub(text) !== text;
  }

  /** @internal */
  add(value: string): void {
    if (value.length < MIN_LENGTH) return;
    this.#counts.set(value, (this.#counts.get(value) ?? 0) + 1);
    this.#pattern = undefined;
  }

  /** @internal */
  remove(value: string): void {
    const count = this.#counts.get(value);
    if (count === undefined) return;
    if (count <= 1) this.#counts.delete(value);
    else this.#counts.set(value, count - 1);
    this.#pattern = undefined;
  }
}

export class RedactionScope {
  readonly #values: string[] = [];
  constructor(private readonly redactor: Redactor) {}

  /** Registers one sensitive string. */
  add(value: string | undefined): void {
    if (value === undefined || value.length < MIN_LENGTH) return;
    this.#values.push(value);
    this.redactor.add(value);
  }

  /**
   * Registers the sensitive parts of a secret value: the raw string when it is not JSON, otherwise
   * every string leaf except those under descriptive keys (host, username, engine, ...).
   */
  addSecretString(secretString: string): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(secretString);
    } catch {
      this.add(secretString);
      return;
    }
    if (typeof parsed !== 'object' || parsed === null) {
      this.add(secretString);
      return;
    }
    this.#walk(parsed, undefined);
  }

  #walk(value: unknown, key: string | undefined): void {
    // Everything under a descriptive key (an inline provider description, say) describes.
    if (key !== undefined && DESCRIPTIVE_KEYS.has(key.toLowerCase())) return;
    if (typeof value === 'string') {
      this.add(value);
    } else if (Array.isArray(value)) {
      for (const item of value) this.#walk(item, key);
    } else if (typeof value === 'object' && value !== null) {
      for (const [k, v] of Object.entries(value)) this.#walk(v, k);
    }
  }

  close(): void {
    for (const value of this.#values.splice(0)) this.redactor.remove(value);
  }
}

/** The process's redactor, shared by the logger, the event publisher and the step machine. */
export const redactor = new Redactor();
