/**
 * The leak canary of the reliability suites: every secret value a suite made or met is a needle,
 * everything the system wrote where people or machines read it is a haystack, and no needle may
 * appear in any haystack.
 *
 * Needles: every string leaf of every version of every secret in the local stack (except under
 * the keys the redactor itself treats as descriptive: host, username, ...), every password the
 * step machine generated (also the ones never stored, e.g. a concurrent createSecret's loser),
 * the RotationTokens Secrets Manager passed, the provider's keys (revoked ones too) and admin
 * tokens, the database superuser and managing passwords.
 *
 * Haystacks: stdout and stderr (Powertools logs at DEBUG, EMF metrics), console output, the local
 * EventBridge store (rotor's events and the service's own), the local rotation history (each
 * failed step's error name and message), the errors direct invocations threw (message, toJSON,
 * cause, stack), and the database servers' statement logs.
 *
 * vitest runs each test file in a process of its own, so each reliability file installs one canary
 * and ends with its check: together they cover the whole suite.
 */
import { format } from 'node:util';
import type { RotationHarness } from '../../support/rotation.js';

/**
 * Keys whose values describe rather than authenticate. Written out here on purpose rather than
 * imported from handlers/redact.ts: a key wrongly treated as descriptive there must not also be
 * skipped by the check that is meant to catch it.
 */
const DESCRIPTIVE = new Set([
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

/**
 * Shorter strings are not searched for: they would match by chance (a hostile case's one-character
 * password), and no credential rotor generates or a provider mints is that short.
 */
const MIN_NEEDLE = 8;

export interface Leak {
  /** Which haystack (e.g. "stdout", "PostgreSQL statement log"). */
  where: string;
  /** What kind of secret it was (never the secret itself). */
  what: string;
}

export class Canary {
  readonly #needles = new Map<string, string>();
  readonly #haystacks: { where: string; text: string }[] = [];
  #captured: string[] = [];
  #restore: (() => void) | undefined;

  /** Registers one secret; `what` says what it is, for the report. */
  secret(value: unknown, what: string): void {
    if (typeof value !== 'string' || value.length < MIN_NEEDLE || this.#needles.has(value)) return;
    this.#needles.set(value, what);
    // Inside JSON (a log line, an event) a quote or backslash appears escaped.
    const escaped = JSON.stringify(value).slice(1, -1);
    if (escaped !== value && !this.#needles.has(escaped))
      this.#needles.set(escaped, `${what} (JSON-escaped)`);
  }

  /** Registers the secret parts of a secret value, the way the redactor reads them. */
  secretString(text: string | undefined, what: string): void {
    if (text === undefined) return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      this.secret(text, what);
      return;
    }
    if (typeof parsed !== 'object' || parsed === null) {
      this.secret(text, what);
      return;
    }
    this.#walk(parsed, undefined, what);
  }

  #walk(value: unknown, key: string | undefined, what: string): void {
    if (key !== undefined && DESCRIPTIVE.has(key.toLowerCase())) return;
    if (typeof value === 'string') this.secret(value, `${what}.${key ?? '(value)'}`);
    else if (Array.isArray(value)) for (const item of value) this.#walk(item, key, what);
    else if (typeof value === 'object' && value !== null) {
      for (const [k, v] of Object.entries(value)) this.#walk(v, k, what);
    }
  }

  /** Adds a haystack. */
  haystack(where: string, text: string): void {
    this.#haystacks.push({ where, text });
  }

  /** Records an error a test caught: everything a caller could print of it. */
  error(error: unknown, where = 'errors thrown by direct invocations'): void {
    if (!(error instanceof Error)) {
      this.haystack(where, String(error));
      return;
    }
    const json = (error as { toJSON?: () => unknown }).toJSON?.();
    this.haystack(
      where,
      [
        error.message,
        String(error),
        error.stack ?? '',
        JSON.stringify(json ?? {}),
        JSON.stringify(error.cause ?? null),
        JSON.stringify(error),
      ].join('\n'),
    );
  }

  /** Starts capturing stdout, stderr and console output (Powertools writes to the streams). */
  capture(): void {
    if (this.#restore !== undefined) return;
    const streams = [process.stdout, process.stderr] as const;
    const writes = streams.map((stream) => stream.write);
    for (const stream of streams) {
      stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
        this.#captured.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
        const callback = rest.find((arg) => typeof arg === 'function') as (() => void) | undefined;
        callback?.();
        return true;
      }) as typeof stream.write;
    }
    const methods = ['log', 'info', 'warn', 'error', 'debug'] as const;
    const originals = methods.map((method) => console[method]);
    for (const method of methods) {
      console[method] = (...args: unknown[]) => {
        this.#captured.push(`${format(...args)}\n`);
      };
    }
    this.#restore = () => {
      streams.forEach((stream, index) => {
        stream.write = writes[index] as typeof stream.write;
      });
      methods.forEach((method, index) => {
        console[method] = originals[index] as (typeof console)[typeof method];
      });
    };
  }

  /** Stops capturing; what was captured becomes the `stdout, stderr and console` haystack. */
  release(): void {
    this.#restore?.();
    this.#restore = undefined;
    this.haystack(
      'stdout, stderr and console (Powertools logs at DEBUG, EMF metrics)',
      this.#captured.join(''),
    );
    this.#captured = [];
  }

  /**
   * Takes what a harness holds before it closes: every version of every secret (needles), the
   * RotationTokens passed with PutSecretValue, every event, and the rotation history (haystacks).
   */
  collect(harness: RotationHarness, label: string): void {
    const { stack } = harness;
    for (const raw of stack.secretsManager.snapshot().secrets) {
      const versions = (raw as { versions?: { value?: { string?: string } }[] }).versions ?? [];
      for (const version of versions) this.secretString(version.value?.string, `${label} secret version`);
    }
    for (const request of stack.secretsManager.requests('PutSecretValue')) {
      this.secret(request.input.RotationToken, 'RotationToken');
    }
    this.haystack(
      `${label}: EventBridge store`,
      stack.eventBridge.events.map((event) => JSON.stringify(event)).join('\n'),
    );
    this.haystack(`${label}: rotation history`, JSON.stringify(stack.rotations.history));
  }

  /** How many distinct secrets are searched for (escaped forms not counted). */
  get needles(): number {
    return [...this.#needles.values()].filter((what) => !what.endsWith('(JSON-escaped)')).length;
  }

  /** Characters searched. */
  get searched(): number {
    return this.#haystacks.reduce((sum, haystack) => sum + haystack.text.length, 0);
  }

  /**
   * Every needle found in a haystack. Scans each haystack once: a needle's first characters are
   * looked up in a map at every position, then the whole needle compared.
   */
  leaks(): Leak[] {
    const index = this.#index();
    const found = new Map<string, Leak>();
    for (const { where, text } of this.#haystacks) {
      for (const what of this.#scan(index, text)) found.set(`${where}\n${what}`, { where, what });
    }
    return [...found.values()];
  }

  /** A positive control: a secret (a generated password when there is one) planted in a log line is found. */
  plantedLeakFound(): boolean {
    const needles = [...this.#needles];
    const planted = (needles.find(([, what]) => what === 'generated password') ?? needles[0])?.[0];
    if (planted === undefined) return false;
    const line = JSON.stringify({
      level: 'DEBUG',
      message: 'step failed',
      error: { message: `bad ${planted}` },
    });
    return this.#scan(this.#index(), line).length > 0;
  }

  /** Whether the haystack named with `part` contains `marker` (proves what a haystack holds). */
  holds(part: string, marker: string): boolean {
    return this.#haystacks.some(
      (haystack) => haystack.where.includes(part) && haystack.text.includes(marker),
    );
  }

  #index(): Map<string, string[]> {
    const byPrefix = new Map<string, string[]>();
    for (const needle of this.#needles.keys()) {
      const prefix = needle.slice(0, MIN_NEEDLE);
      byPrefix.set(prefix, [...(byPrefix.get(prefix) ?? []), needle]);
    }
    return byPrefix;
  }

  #scan(index: Map<string, string[]>, text: string): string[] {
    const found: string[] = [];
    for (let i = 0; i + MIN_NEEDLE <= text.length; i++) {
      const candidates = index.get(text.slice(i, i + MIN_NEEDLE));
      if (candidates === undefined) continue;
      for (const needle of candidates) {
        if (text.startsWith(needle, i)) found.push(this.#needles.get(needle) ?? 'secret');
      }
    }
    return found;
  }

  /** The number of haystacks whose name contains `part` (to prove a source was searched). */
  sources(part: string): number {
    return this.#haystacks.filter((haystack) => haystack.where.includes(part) && haystack.text.length > 0)
      .length;
  }
}
