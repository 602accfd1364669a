/**
 * What the MySQL / MariaDB strategies share: logins (through ../sql/kit.ts) checked against
 * CURRENT_USER(), the managing user's login, proof of possession and authorization, the login
 * cascade AWSCURRENT → AWSPENDING → AWSPREVIOUS, and the pending credentials' test. One object per
 * rotator (`createMysqlEngine`), handed to every strategy in ./strategies/.
 */
import {
  AuthenticationFailedError,
  InvalidSecretError,
  UnsupportedError,
  VerificationFailedError,
} from '../errors.js';
import type { RdsWaitOptions } from '../rdsMaster.js';
import {
  authorizeFor,
  firstLogin,
  logsIn,
  masterAccess,
  masterActor,
  openMasterSession,
  type Proof,
  proveOwnAccount,
  runProbe,
  type Timing,
  type Used,
} from '../sql/kit.js';
import type { MasterBinding } from '../trust.js';
import type { ApplyRequest, PreflightRequest, RequestBase } from '../types.js';
import { type Connect, connectMysql, type MysqlSession } from './client.js';
import { type PreflightParts, runPreflight } from './preflight.js';
import { DEFAULT_PORT, type MysqlLogin, type MysqlSecret, parseMasterSecret } from './secret.js';
import { describeServer, formatAccount, minimumSupport, sameAccount } from './sql.js';

export interface MysqlRotatorOptions {
  /** The driver connection (tests record statements with their own). */
  connect?: Connect;
  /** rds-master: how testSecret polls while RDS applies the change (tests shorten it). */
  rdsWait?: RdsWaitOptions;
}

/** The managing user's login, with where it is bound and what decided it. */
export interface MasterLogin extends MysqlLogin {
  /** ARN or name of the master secret. */
  secretId: string;
  binding?: MasterBinding;
}

/**
 * MySQL's validate_password (MEDIUM, the usual setting) and MariaDB's simple_password_check want a
 * character that is neither letter nor digit; the generator guarantees upper, lower and digit only.
 * A value the server refuses would be stored by createSecret and fail every retry of setSecret.
 */
export function passwordWithSymbol(generate: () => string): string {
  let password = generate();
  for (let attempt = 0; attempt < 20 && !/[^A-Za-z0-9]/.test(password); attempt++) password = generate();
  return password;
}

/** single-user, dual-password and rds-master change a password, never who the secret is. */
export function assertSameIdentity(current: MysqlSecret, pending: MysqlSecret, strategy: string): void {
  const fields: [string, unknown, unknown][] = [
    ['username', current.username, pending.username],
    ['host', current.host, pending.host],
    ['accountHost', current.account.host, pending.account.host],
  ];
  for (const [field, a, b] of fields) {
    if (a !== b)
      throw new InvalidSecretError(field, `must equal AWSCURRENT's for strategy ${strategy}`, 'AWSPENDING');
  }
}

/** The login the session landed on must be the secret's account (an anonymous or more specific one can shadow it). */
export function assertIdentity(session: MysqlSession, expected: MysqlLogin['account'], label: Used): void {
  if (!sameAccount(session.account, expected)) {
    throw new VerificationFailedError(
      `the ${label} credentials log in as ${formatAccount(session.account)}, not as ${formatAccount(expected)}: another account (anonymous, or with a more specific host) matches this login first`,
    );
  }
}

export function assertServerSupported(session: MysqlSession): void {
  const minimum = minimumSupport(session.server);
  if (!minimum.supported) {
    throw new UnsupportedError(
      `${describeServer(session.server)} is too old: rotor needs ${minimum.requirement}`,
    );
  }
}

export type MysqlEngine = ReturnType<typeof createMysqlEngine>;

export function createMysqlEngine(options: MysqlRotatorOptions = {}) {
  const connect = options.connect ?? connectMysql;

  const login = (timing: Timing, who: MysqlLogin, database?: string): Promise<MysqlSession> =>
    connect({
      host: who.host,
      port: who.port,
      user: who.username,
      password: who.password,
      tls: who.tls,
      signal: timing.signal,
      deadline: timing.deadline,
      ...(database === undefined ? {} : { database }),
    });

  /** Whether `secret` logs in as its account; refusals are `false`, anything else throws. */
  const secretLogsIn = (timing: Timing, secret: MysqlSecret, label: Used = 'AWSPENDING'): Promise<boolean> =>
    logsIn(
      () => login(timing, secret),
      (session) => {
        assertIdentity(session, secret.account, label);
        return true;
      },
    );

  const engine = {
    rdsWait: options.rdsWait,
    login,
    logsIn: secretLogsIn,

    /** Read-only checks of what a rotation will need, with the strategy's own `parts`. */
    preflight: (request: PreflightRequest<MysqlSecret>, parts: PreflightParts) =>
      runPreflight(
        { ...request, connect: login, masterLogin: (secret) => engine.masterLogin(request, secret) },
        parts,
      ),

    /**
     * The managing user's credential and where it may log in, decided before any connection: the
     * master secret's own host / port / TLS keys or its binding, never the rotated secret's.
     */
    async masterLogin(request: Pick<RequestBase, 'fetchMaster'>, secret: MysqlSecret): Promise<MasterLogin> {
      const access = await masterAccess({
        secret,
        fetchMaster: request.fetchMaster,
        parse: parseMasterSecret,
        defaultPort: DEFAULT_PORT,
      });
      const { master, endpoint, binding } = access;
      return {
        host: endpoint.host,
        port: endpoint.port,
        tls: endpoint.tls,
        username: master.username,
        password: master.password,
        account: master.account,
        secretId: access.secretId,
        ...(binding === undefined ? {} : { binding }),
      };
    },

    /** Logs in as the managing user; a refusal blames the master's secret. */
    masterSession: (timing: Timing, master: MasterLogin) =>
      openMasterSession(() => login(timing, master), master.username),

    /**
     * Proof of possession: which of the secret's own stored credentials logs in, now, as an
     * account of `pair` on the secret's server, checked by CURRENT_USER(). AWSCURRENT first, then
     * AWSPREVIOUS (only when it names an account of the pair with the same host part). `tls`: the
     * bound endpoint's, when a master is involved (the proof is no weaker than its login).
     */
    prove(
      request: Timing & { current: MysqlSecret; previous?: () => Promise<MysqlSecret | undefined> },
      pair: readonly string[],
      tls?: MysqlLogin['tls'],
    ): Promise<Proof | undefined> {
      const { current } = request;
      return proveOwnAccount({
        current,
        previous: request.previous,
        eligible: (value, label) =>
          pair.includes(value.username) &&
          (label === 'AWSCURRENT' ||
            (value.password !== current.password &&
              value.account.host.toLowerCase() === current.account.host.toLowerCase())),
        proves: async (value, label) => {
          const secret = {
            ...current,
            username: value.username,
            password: value.password,
            account: value.account,
          };
          try {
            return await secretLogsIn(request, tls === undefined ? secret : { ...secret, tls }, label);
          } catch (error) {
            if (error instanceof VerificationFailedError) return false;
            throw error;
          }
        },
      });
    },

    /** Before the master acts for `pair` (proof of possession or adoption, within `manages`). */
    authorize: (
      request: Pick<RequestBase, 'adopted'>,
      master: MasterLogin,
      pair: readonly string[],
      provenBy: Proof | undefined,
    ) =>
      authorizeFor({
        request,
        actor: masterActor(master),
        binding: master.binding,
        users: pair,
        own: pair,
        provenBy,
      }),

    /**
     * Logs in as the account with AWSCURRENT, else AWSPENDING (the change was already made), else
     * AWSPREVIOUS (AWSCURRENT never reached the server). Current first: every refused login counts
     * towards MariaDB's max_password_errors and MySQL's FAILED_LOGIN_ATTEMPTS.
     */
    async loginAsAccount(
      request: ApplyRequest<MysqlSecret>,
    ): Promise<{ session: MysqlSession; used: Used; password: string }> {
      const { current } = request;
      const found = await firstLogin(
        [
          ['AWSCURRENT', async () => current],
          ['AWSPENDING', async () => request.pending],
          ['AWSPREVIOUS', request.previous],
        ],
        (value) => sameAccount(value.account, current.account),
        (value) => login(request, { ...current, password: value.password }),
      );
      if (found === undefined) {
        throw new AuthenticationFailedError(
          `none of AWSCURRENT, AWSPENDING and AWSPREVIOUS log in as ${formatAccount(current.account)} at ${current.host}:${current.port}`,
        );
      }
      return { session: found.session, used: found.used, password: found.value.password };
    },
  };
  return engine;
}

/**
 * testSecret's common part: logs in with the pending credentials (opening `dbname` when set),
 * checks CURRENT_USER() is the secret's account and runs the probe query in a READ ONLY
 * transaction rolled back after. Changes nothing.
 */
export async function testPending(
  engine: MysqlEngine,
  request: Timing & { pending: MysqlSecret },
): Promise<undefined> {
  const { pending } = request;
  const session = await engine.login(request, pending, pending.dbname);
  try {
    assertIdentity(session, pending.account, 'AWSPENDING');
    const probeQuery = pending.probeQuery;
    if (probeQuery !== undefined) {
      await runProbe({
        begin: () => session.query('START TRANSACTION READ ONLY', 'start a read-only transaction'),
        run: () => session.query(probeQuery, 'run the probe query'),
        end: () => session.query('ROLLBACK', 'end the read-only transaction'),
      });
    }
  } finally {
    await session.close();
  }
  return undefined;
}
