/**
 * Instruments that wrap what rotor calls, so that the benchmark can say where a rotation's time
 * and round trips go without touching rotor's code: the rotators' `connect` options (databases),
 * the API-key rotator's `fetch` and `sleep`, and a middleware on the AWS SDK clients.
 */
import { setTimeout as delay } from 'node:timers/promises';
import tls from 'node:tls';
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { Fetch, Sleep } from '../rotators/apikey/index.js';
import type { Connect as ConnectMysql, MysqlSession } from '../rotators/mysql/index.js';
import type { ConnectPostgres, PgSession } from '../rotators/postgres/index.js';
import type { Counts } from './stats.js';

/**
 * Splits wall time between two kinds of call: `target` (database, provider) and `aws` (SDK calls).
 * A moment when a target call runs counts as target time, whatever else runs (an event published
 * in the background overlaps the step's database work); a moment when only AWS calls run counts as
 * AWS time. Overlapping calls of one kind count once, so neither figure can exceed the elapsed time.
 */
export class TimeSplit {
  readonly #active = { target: 0, aws: 0 };
  readonly #totals = { target: 0, aws: 0 };
  #last = performance.now();

  /** Adds the time since the last change of state to the kind that was running. */
  #settle(): void {
    const now = performance.now();
    if (this.#active.target > 0) this.#totals.target += now - this.#last;
    else if (this.#active.aws > 0) this.#totals.aws += now - this.#last;
    this.#last = now;
  }

  async time<T>(kind: 'target' | 'aws', work: () => Promise<T>): Promise<T> {
    this.#settle();
    this.#active[kind]++;
    try {
      return await work();
    } finally {
      this.#settle();
      this.#active[kind]--;
    }
  }

  /** Milliseconds so far of each kind, the running interval included. */
  read(): { targetMs: number; awsMs: number } {
    this.#settle();
    return { targetMs: this.#totals.target, awsMs: this.#totals.aws };
  }
}

/** Counter names the wrappers use. */
export const COUNT = {
  connectAttempt: 'db.connectAttempts',
  session: 'db.sessions',
  query: 'db.queries',
  httpRequest: 'http.requests',
  retryWait: 'http.retryWaits',
  /** Secure contexts built in the process (by rotor or a driver): `tls.createSecureContext` calls. */
  secureContext: 'tls.secureContexts',
  /** TLS handshakes completed by the process's clients, and those of them that resumed a session. */
  tlsHandshake: 'tls.handshakes',
  tlsResumed: 'tls.resumed',
  /** PutEvents calls that ended while no other call of the function ran: the step waited for them. */
  awaitedPutEvents: 'events.awaitedPutEvents',
} as const;

/** Single-user window marks: the password change (setSecret) and the promotion (finishSecret). */
export interface WindowMarks {
  /** performance.now() when the last password-changing statement completed. */
  changedAt?: number | undefined;
  /** performance.now() when UpdateSecretVersionStage (AWSCURRENT moved) completed. */
  promotedAt?: number | undefined;
}

/** Statements that change a login's password (PostgreSQL ALTER ROLE, MySQL ALTER USER / SET PASSWORD). */
const PASSWORD_CHANGE = /^\s*(ALTER\s+(ROLE|USER)\b[\s\S]*\b(PASSWORD|IDENTIFIED)\b|SET\s+PASSWORD\b)/i;

export interface MeterReading {
  /** Time inside database and provider calls (connect, statements, close, HTTP, retry waits). */
  targetMs: number;
  /** Time inside AWS SDK calls (Secrets Manager, EventBridge) while no database/provider call ran. */
  awsMs: number;
  counts: Counts;
}

export class Meter {
  readonly #time = new TimeSplit();
  readonly #counts: Counts = {};
  /** Calls in flight other than PutEvents (database, provider, Secrets Manager). */
  #othersActive = 0;
  readonly marks: WindowMarks = {};

  /** Times a database or provider call. */
  async target<T>(work: () => Promise<T>): Promise<T> {
    this.#othersActive++;
    try {
      return await this.#time.time('target', work);
    } finally {
      this.#othersActive--;
    }
  }

  /** Times an AWS SDK call (Secrets Manager). */
  async aws<T>(work: () => Promise<T>): Promise<T> {
    this.#othersActive++;
    try {
      return await this.#time.time('aws', work);
    } finally {
      this.#othersActive--;
    }
  }

  /**
   * Times a PutEvents call, and counts it as awaited when it ends while nothing else of the
   * function runs (a Started event overlapped with the step's work is not awaited).
   */
  async events<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await this.#time.time('aws', work);
    } finally {
      if (this.#othersActive === 0) this.count(COUNT.awaitedPutEvents);
    }
  }

  /** Marks a statement's completion: a password change starts the single-user window. */
  statementDone(sql: string): void {
    if (PASSWORD_CHANGE.test(sql)) this.marks.changedAt = performance.now();
  }

  /**
   * Counts every secure context the process builds from now on, and every client TLS handshake
   * (both drivers call `tls.connect` on the module object), resumed or full.
   */
  countSecureContexts(): void {
    const original = tls.createSecureContext;
    tls.createSecureContext = (...args) => {
      this.count(COUNT.secureContext);
      return original(...args);
    };
    const connect = tls.connect;
    tls.connect = ((...args: Parameters<typeof tls.connect>) => {
      const socket = (connect as (...a: Parameters<typeof tls.connect>) => tls.TLSSocket)(...args);
      socket.once('secureConnect', () => {
        this.count(COUNT.tlsHandshake);
        if (socket.isSessionReused()) this.count(COUNT.tlsResumed);
      });
      return socket;
    }) as typeof tls.connect;
  }

  count(name: string): void {
    this.#counts[name] = (this.#counts[name] ?? 0) + 1;
  }

  read(): MeterReading {
    return { ...this.#time.read(), counts: { ...this.#counts } };
  }
}

/** A PostgreSQL `connect` that counts attempts and sessions and times every call on the session. */
export function meteredPostgres(meter: Meter, connect: ConnectPostgres): ConnectPostgres {
  return async (request) => {
    meter.count(COUNT.connectAttempt);
    const session = await meter.target(() => connect(request));
    meter.count(COUNT.session);
    const metered: PgSession = {
      target: session.target,
      ...(session.authentication === undefined ? {} : { authentication: session.authentication }),
      ...(session.verifiedTls === undefined ? {} : { verifiedTls: session.verifiedTls }),
      query: async <R>(
        sql: string,
        params?: readonly unknown[],
        options?: Parameters<PgSession['query']>[2],
      ) => {
        meter.count(COUNT.query);
        const rows = await meter.target(() => session.query<R>(sql, params, options));
        meter.statementDone(sql);
        return rows;
      },
      close: () => meter.target(() => session.close()),
    };
    return metered;
  };
}

/** The same for MySQL / MariaDB. */
export function meteredMysql(meter: Meter, connect: ConnectMysql): ConnectMysql {
  return async (options) => {
    meter.count(COUNT.connectAttempt);
    const session = await meter.target(() => connect(options));
    meter.count(COUNT.session);
    const metered: MysqlSession = {
      server: session.server,
      account: session.account,
      query: async (sql, what) => {
        meter.count(COUNT.query);
        const rows = await meter.target(() => session.query(sql, what));
        meter.statementDone(sql);
        return rows;
      },
      close: () => meter.target(() => session.close()),
    };
    return metered;
  };
}

/** Node's fetch, counted and timed up to the end of the body. */
export function meteredFetch(meter: Meter): Fetch {
  return async (url, init) => {
    meter.count(COUNT.httpRequest);
    const response = await meter.target(() => globalThis.fetch(url, init));
    return {
      status: response.status,
      headers: response.headers,
      text: () => meter.target(() => response.text()),
    };
  };
}

/** The rotator's wait between provider retries: provider time, and worth counting (there should be none). */
export function meteredSleep(meter: Meter): Sleep {
  return async (ms, signal) => {
    meter.count(COUNT.retryWait);
    await meter.target(() => delay(ms, undefined, { signal }));
  };
}

/** Times every call of an SDK client, serialisation and retries included. */
export function meterSecretsManager(client: SecretsManagerClient, meter: Meter): SecretsManagerClient {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const result = await meter.aws(() => next(args));
      if (context.commandName === 'UpdateSecretVersionStageCommand')
        meter.marks.promotedAt = performance.now();
      return result;
    },
    { step: 'initialize', name: 'rotorBenchTimer' },
  );
  return client;
}

export function meterEventBridge(client: EventBridgeClient, meter: Meter): EventBridgeClient {
  client.middlewareStack.add((next) => (args) => meter.events(() => next(args)), {
    step: 'initialize',
    name: 'rotorBenchTimer',
  });
  return client;
}
