/**
 * Crash injection into rotor's rotators from outside: the drivers' connections and `fetch` are
 * wrapped (through the factories' `connect` / `fetch` options), so every statement a rotator sends
 * and every provider call it makes is an operation the injector sees, can record, and can
 * interrupt just before it is sent or just after it was carried out (its answer lost).
 *
 * A crash models a Lambda that dies: from the interrupted operation to the end of the invocation,
 * every further statement, login and provider call fails, and the invocation is reported failed
 * even when the rotator swallowed the error (a dead process runs no more code). Connections are
 * still closed for real, so the server rolls back what was left uncommitted, as it does when a
 * client vanishes.
 */
import type { Fetch } from '../../../rotators/apikey/index.js';
import type { Step } from '../../../rotators/errors.js';
import type { Connect } from '../../../rotators/mysql/index.js';
import type { ConnectPostgres } from '../../../rotators/postgres/index.js';

export type Phase = 'before' | 'after';

/** One thing a rotation does that changes (or reads) the outside world. */
export interface Operation {
  /** `db`: a statement; `http`: a provider call; `sm`: a Secrets Manager write. */
  readonly kind: 'db' | 'http' | 'sm';
  readonly step: Step;
  /** What it does, in the rotator's own words (the purpose of a statement): never a value. */
  readonly label: string;
}

/** The error an interrupted operation throws: the Lambda is dying. */
export class InjectedCrash extends Error {
  override readonly name = 'InjectedCrash';
  constructor(what: string) {
    super(`the Lambda died (injected) ${what}`);
  }
}

export class Injector {
  #step: Step | undefined;
  #ordinal = 0;
  #armed: { ordinal: number; phase: Phase; expected: Operation } | undefined;
  #recording: Operation[] | undefined;
  #dead = false;
  #diedHere = false;
  /** Set when the armed operation was reached: what it was and where it struck. */
  fired: { operation: Operation; phase: Phase } | undefined;
  /** Set when the armed ordinal was reached on another operation than the recording said. */
  mismatch: string | undefined;
  /** Called after every operation of a recording run (to observe the world in between). */
  afterOperation: ((operation: Operation) => Promise<void>) | undefined;
  /** Names folded out of labels (the test's account), so that runs on other accounts compare equal. */
  #names: readonly string[] = [];

  /** Whether an operation crashed in the invocation that is running (or just ended). */
  get crashedInvocation(): boolean {
    return this.#diedHere;
  }

  /** Whether the running invocation is dead (Secrets Manager writes are blocked then too). */
  get dead(): boolean {
    return this.#dead;
  }

  /** The invocation wrapper calls this before each step. */
  beginInvocation(step: Step): void {
    this.#step = step;
    this.#dead = false;
    this.#diedHere = false;
  }

  endInvocation(): void {
    this.#step = undefined;
    this.#dead = false;
  }

  /** Records every operation of the next rotation (and interrupts none). */
  record(): Operation[] {
    this.reset();
    this.#recording = [];
    return this.#recording;
  }

  /** Interrupts the rotator operation number `ordinal` (0-based, counted over the rotation). */
  arm(ordinal: number, phase: Phase, expected: Operation): void {
    this.reset();
    this.#armed = { ordinal, phase, expected };
  }

  /** Folds `names` out of operation labels from now on (longest first). */
  mask(...names: readonly string[]): void {
    this.#names = [...names].sort((a, b) => b.length - a.length);
  }

  /** Back to a pass-through. */
  reset(): void {
    this.#ordinal = 0;
    this.#armed = undefined;
    this.#recording = undefined;
    this.fired = undefined;
    this.mismatch = undefined;
    this.afterOperation = undefined;
    this.#names = [];
  }

  /** Runs one rotator operation under the injector's eye. */
  async operation<T>(kind: 'db' | 'http', label: string, run: () => Promise<T>): Promise<T> {
    if (this.#dead) throw new InjectedCrash(`earlier in this invocation (${label} not sent)`);
    const operation: Operation = { kind, step: this.#step ?? 'createSecret', label: this.#fold(label) };
    const ordinal = this.#ordinal++;
    this.#recording?.push(operation);
    const armed = this.#armed?.ordinal === ordinal ? this.#armed : undefined;
    if (armed !== undefined) {
      this.#armed = undefined;
      const { expected } = armed;
      if (expected.kind !== kind || expected.step !== operation.step || expected.label !== operation.label) {
        this.mismatch = `operation ${ordinal} is ${describe(operation)}, the recording had ${describe(expected)}`;
      }
      if (armed.phase === 'before') this.#crash(operation, 'before');
    }
    const result = await run();
    if (armed?.phase === 'after') this.#crash(operation, 'after');
    await this.afterOperation?.(operation);
    return result;
  }

  #fold(label: string): string {
    return this.#names.reduce((folded, name) => folded.replaceAll(name, '<account>'), label);
  }

  #crash(operation: Operation, phase: Phase): never {
    this.die(operation, phase);
    throw new InjectedCrash(`${phase} ${describe(operation)}`);
  }

  /**
   * The running invocation dies at `operation` (a Secrets Manager write, whose fault the local
   * stack injects): nothing it does afterwards reaches anything, and it ends failed.
   */
  die(operation: Operation, phase: Phase): void {
    this.fired = { operation, phase };
    this.#dead = true;
    this.#diedHere = true;
  }

  /** Refuses new connections of a dead invocation. */
  #alive(what: string): void {
    if (this.#dead) throw new InjectedCrash(`earlier in this invocation (${what} not opened)`);
  }

  /** node-postgres sessions whose statements are operations. */
  postgres(connect: ConnectPostgres): ConnectPostgres {
    return async (request) => {
      this.#alive('PostgreSQL connection');
      const session = await connect(request);
      return {
        target: session.target,
        ...(session.authentication === undefined ? {} : { authentication: session.authentication }),
        ...(session.verifiedTls === undefined ? {} : { verifiedTls: session.verifiedTls }),
        query: (sql, params, options) =>
          this.operation('db', options?.purpose ?? firstWord(sql), () => session.query(sql, params, options)),
        close: () => session.close(),
      };
    };
  }

  /** mysql2 sessions whose statements are operations. */
  mysql(connect: Connect): Connect {
    return async (options) => {
      this.#alive('MySQL connection');
      const session = await connect(options);
      return {
        server: session.server,
        account: session.account,
        query: (sql, what) => this.operation('db', what, () => session.query(sql, what)),
        close: () => session.close(),
      };
    };
  }

  /** A `fetch` whose calls are operations; `after` is a response lost once the provider acted. */
  fetch(fetch: Fetch): Fetch {
    return (url, init) => this.operation('http', `${init.method} ${pathOf(url)}`, () => fetch(url, init));
  }
}

export function describe(operation: Operation): string {
  return `${operation.step} ${operation.kind} "${operation.label}"`;
}

/** The statement's keyword, for statements sent without a purpose (BEGIN, ROLLBACK). */
function firstWord(sql: string): string {
  return sql.trim().split(/\s+/, 1)[0]?.toUpperCase() ?? 'statement';
}

/** A request path with key ids folded, so that recordings of different rotations compare equal. */
function pathOf(url: string): string {
  return new URL(url).pathname.replace(/\/key_[0-9a-f]+/g, '/:id');
}
