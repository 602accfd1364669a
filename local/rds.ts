/**
 * A local Amazon RDS endpoint for the four operations rotor uses: `DescribeDBInstances`,
 * `DescribeDBClusters`, `ModifyDBInstance` and `ModifyDBCluster`, spoken the way RDS speaks them
 * (the AWS Query protocol) so that the real `@aws-sdk/client-rds` talks to it unchanged:
 *
 * - request: `POST /`, `Content-Type: application/x-www-form-urlencoded`, `Action=<Operation>`,
 *   `Version=2014-10-31`, members flattened (`Filters.Filter.1.Values.Value.1=...`);
 * - response: `<DescribeDBInstancesResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/">`
 *   `<DescribeDBInstancesResult>...</DescribeDBInstancesResult><ResponseMetadata><RequestId>...`;
 * - error: `<ErrorResponse><Error><Type>Sender</Type><Code>DBInstanceNotFound</Code><Message>...`
 *   with RDS's HTTP status (404 for a missing instance or cluster, 400 for a bad parameter). The
 *   SDK picks the exception class from `Code`.
 *
 * It is backed by the local databases: an instance or cluster is registered with its endpoint
 * (an embedded PostgreSQL, the machine's MariaDB), engine, master user, ManageMasterUserPassword
 * flag and an admin hook that really changes the master password on the server. A modify is
 * applied the way RDS applies it: asynchronously. The request is answered at once with
 * `PendingModifiedValues.MasterUserPassword` set (and the status `resetting-master-credentials`);
 * the hook runs after `applyDelayMs`, and only then does the new password log in. With
 * `applyChanges: 'never'` the change stays pending forever (to test what happens when RDS never
 * applies it). Passwords are never logged, echoed or stored beyond the pending change.
 *
 * It has its own endpoint (`startLocalRds()`): RDS requests are form-encoded, not JSON, so they
 * do not share the local stack's server. Point a client at it with `clientConfig`, or a process
 * with `AWS_ENDPOINT_URL_RDS` (in `env`).
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { type Account, nativePasswordHash, quoteAccount } from '../rotators/mysql/index.js';
import { scramSha256Verifier } from '../rotators/postgres/index.js';
import { connectAdmin, MACHINE_SOCKET } from './mysql.js';

const XMLNS = 'http://rds.amazonaws.com/doc/2014-10-31/';
const API_VERSION = '2014-10-31';

/** Really sets the master user's password on the server behind an instance or cluster. */
export type MasterPasswordHook = (password: string) => Promise<void>;

/** How modifications reach the server: after `applyDelayMs`, or never (they stay pending). */
export type ApplyMode = 'after-delay' | 'never';

export interface LocalEndpoint {
  /** The DNS name RDS reports (what a secret's `host` is compared with). */
  readonly address: string;
  readonly port: number;
}

interface DatabaseSpec {
  readonly identifier: string;
  /** RDS's engine name: `postgres`, `aurora-postgresql`, `mysql`, `aurora-mysql`, `mariadb`. */
  readonly engine: string;
  readonly engineVersion?: string;
  readonly masterUsername: string;
  /** RDS keeps the master password in its own secret (`MasterUserSecret` is reported). */
  readonly manageMasterUserPassword?: boolean;
  /** ARN of RDS's own secret when `manageMasterUserPassword` (default: a made-up one). */
  readonly masterUserSecretArn?: string;
  /** Changes the password on the server. Absent: modifications are accepted and change nothing. */
  readonly setMasterPassword?: MasterPasswordHook;
  /** Default: the server's `applyDelayMs`. */
  readonly applyDelayMs?: number;
  /** Default `after-delay`. */
  readonly applyChanges?: ApplyMode;
}

export interface LocalInstanceSpec extends DatabaseSpec {
  readonly endpoint: LocalEndpoint;
}

export interface LocalClusterSpec extends DatabaseSpec {
  /** The writer (cluster) endpoint. */
  readonly endpoint: LocalEndpoint;
  /** The reader endpoint's address (same port). */
  readonly readerEndpoint?: string;
  readonly customEndpoints?: readonly string[];
  /** Member instances, registered with the cluster (their master password is the cluster's). */
  readonly members?: readonly { identifier: string; endpoint: LocalEndpoint; writer?: boolean }[];
}

export interface StartLocalRdsOptions {
  /** 0 (default) picks a free port. */
  readonly port?: number;
  /** Default `127.0.0.1`. */
  readonly host?: string;
  /** Default `us-east-1`. */
  readonly region?: string;
  /** Default `123456789012`. */
  readonly accountId?: string;
  /** How long a modification stays pending before it reaches the server. Default 0. */
  readonly applyDelayMs?: number;
}

/** One received call, without its parameters (they may hold a password). */
export interface RdsCall {
  readonly action: string;
  readonly identifier?: string;
}

export interface LocalRds {
  /** `http://127.0.0.1:<port>`. */
  readonly endpoint: string;
  readonly region: string;
  readonly accountId: string;
  /** Spread into `new RDSClient(...)`. */
  readonly clientConfig: {
    readonly endpoint: string;
    readonly region: string;
    readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
  };
  /** What a separate process needs (the SDK honours `AWS_ENDPOINT_URL_RDS`). */
  readonly env: { readonly AWS_ENDPOINT_URL_RDS: string };
  registerInstance(spec: LocalInstanceSpec): void;
  registerCluster(spec: LocalClusterSpec): void;
  /**
   * Switches how later modifications of an instance or cluster are applied. Leaving `never` drops
   * the changes it held pending (they never reach the server).
   */
  setApplyMode(identifier: string, mode: ApplyMode, delayMs?: number): void;
  /** Every call received, in order. */
  readonly calls: readonly RdsCall[];
  /** How many calls of `action` were received (for one identifier, when given). */
  count(action: string, identifier?: string): number;
  /** How many master password changes reached the server of an instance or cluster. */
  appliedChanges(identifier: string): number;
  /** Resolves when no modification is waiting for its delay (`never` ones excepted). */
  settled(): Promise<void>;
  stop(): Promise<void>;
}

/** An error the way RDS returns it. */
export class RdsError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
    readonly type: 'Sender' | 'Receiver' = 'Sender',
  ) {
    super(message);
    this.name = code;
  }
}

interface Database {
  readonly kind: 'instance' | 'cluster';
  readonly spec: DatabaseSpec;
  /** Changes requested and not yet applied (the count shows as PendingModifiedValues). */
  pending: number;
  /** Of `pending`, those requested in `never` mode: dropped when the mode changes. */
  stuck: number;
  applied: number;
  mode: ApplyMode;
  delayMs: number;
  /** Changes are applied in the order they were requested. */
  queue: Promise<void>;
}

interface Instance extends Database {
  readonly kind: 'instance';
  readonly endpoint: LocalEndpoint;
  readonly clusterIdentifier?: string;
}

interface Cluster extends Database {
  readonly kind: 'cluster';
  readonly spec: LocalClusterSpec;
}

const CREDENTIALS = { accessKeyId: 'rotor-local', secretAccessKey: 'rotor-local' };

/** The engines' master password lengths (RDS's documented limits; Aurora and Multi-AZ clusters: 41). */
function passwordLimit(kind: 'instance' | 'cluster', engine: string): number {
  if (kind === 'cluster') return 41;
  return engine.includes('postgres') ? 128 : 41;
}

export async function startLocalRds(options: StartLocalRdsOptions = {}): Promise<LocalRds> {
  const region = options.region ?? 'us-east-1';
  const accountId = options.accountId ?? '123456789012';
  const databases = new RdsDatabases(region, accountId, options.applyDelayMs ?? 0);
  const changes = new PasswordChanges();
  const calls: RdsCall[] = [];
  const host = options.host ?? '127.0.0.1';
  const server = await serveQueryApi(rdsOperations(databases, changes), calls, host, options.port ?? 0);
  const { port } = server.address() as AddressInfo;
  const endpoint = `http://${host}:${port}`;

  return {
    endpoint,
    region,
    accountId,
    clientConfig: { endpoint, region, credentials: { ...CREDENTIALS } },
    env: { AWS_ENDPOINT_URL_RDS: endpoint },
    registerInstance: (spec) => databases.registerInstance(spec),
    registerCluster: (spec) => databases.registerCluster(spec),
    setApplyMode: (identifier, mode, delayMs) => databases.setApplyMode(identifier, mode, delayMs),
    calls,
    count: (action, identifier) =>
      calls.filter(
        (call) => call.action === action && (identifier === undefined || call.identifier === identifier),
      ).length,
    appliedChanges: (identifier) => databases.find(identifier)?.applied ?? 0,
    settled: () => changes.settled(),
    async stop() {
      changes.cancelTimers();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

/** The registered instances and clusters, and how their modifications are applied. */
class RdsDatabases {
  readonly instances = new Map<string, Instance>();
  readonly clusters = new Map<string, Cluster>();

  constructor(
    readonly region: string,
    readonly accountId: string,
    private readonly defaultDelay: number,
  ) {}

  arn(type: 'db' | 'cluster', identifier: string): string {
    return `arn:aws:rds:${this.region}:${this.accountId}:${type}:${identifier}`;
  }

  instance(identifier: string | undefined): Instance {
    const found = identifier === undefined ? undefined : this.instances.get(identifier);
    if (found === undefined) {
      throw new RdsError('DBInstanceNotFound', `DBInstance ${identifier ?? ''} not found.`, 404);
    }
    return found;
  }

  cluster(identifier: string | undefined): Cluster {
    const found = identifier === undefined ? undefined : this.clusters.get(identifier);
    if (found === undefined) {
      throw new RdsError('DBClusterNotFoundFault', `DBCluster ${identifier ?? ''} not found.`, 404);
    }
    return found;
  }

  /** A cluster or an instance by identifier (a cluster first), or undefined. */
  find(identifier: string): Database | undefined {
    return this.clusters.get(identifier) ?? this.instances.get(identifier);
  }

  registerInstance(spec: LocalInstanceSpec): void {
    this.instances.set(spec.identifier, {
      ...this.database('instance', spec),
      kind: 'instance',
      endpoint: spec.endpoint,
    });
  }

  registerCluster(spec: LocalClusterSpec): void {
    this.clusters.set(spec.identifier, { ...this.database('cluster', spec), kind: 'cluster', spec });
    for (const member of spec.members ?? []) {
      this.instances.set(member.identifier, {
        ...this.database('instance', {
          identifier: member.identifier,
          engine: spec.engine,
          masterUsername: spec.masterUsername,
          ...(spec.engineVersion === undefined ? {} : { engineVersion: spec.engineVersion }),
        }),
        kind: 'instance',
        endpoint: member.endpoint,
        clusterIdentifier: spec.identifier,
      });
    }
  }

  setApplyMode(identifier: string, mode: ApplyMode, delayMs?: number): void {
    const db = this.find(identifier);
    if (db === undefined) throw new Error(`local RDS: no instance or cluster ${identifier}`);
    if (db.mode === 'never' && mode !== 'never') {
      // What was requested while RDS "never" applied changes is dropped, as a failed change is.
      db.pending -= db.stuck;
      db.stuck = 0;
    }
    db.mode = mode;
    if (delayMs !== undefined) db.delayMs = delayMs;
  }

  private database(kind: 'instance' | 'cluster', spec: DatabaseSpec) {
    return {
      kind,
      spec,
      pending: 0,
      stuck: 0,
      applied: 0,
      mode: spec.applyChanges ?? 'after-delay',
      delayMs: spec.applyDelayMs ?? this.defaultDelay,
      queue: Promise.resolve(),
    } as const;
  }
}

/** Master password changes on their way to the servers: RDS applies a modification later. */
class PasswordChanges {
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly inFlight = new Set<Promise<void>>();

  /** Records a master password change and applies it the way RDS does: later. */
  request(db: Database, password: string): void {
    db.pending++;
    if (db.mode === 'never') {
      db.stuck++; // Pending until the mode changes: RDS "never" applies it.
      return;
    }
    const apply = async () => {
      try {
        await db.spec.setMasterPassword?.(password);
        db.applied++;
      } catch (error) {
        // A local admin hook failed (the server is gone, say): report it without the password.
        console.error(
          `local RDS: applying the master password of ${db.spec.identifier} failed: ${(error as Error).name}`,
        );
      } finally {
        db.pending--;
      }
    };
    const run = new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        db.queue = db.queue.then(apply);
        db.queue.then(resolve, resolve);
      }, db.delayMs);
      this.timers.add(timer);
    });
    this.inFlight.add(run);
    void run.finally(() => this.inFlight.delete(run));
  }

  async settled(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }

  cancelTimers(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }
}

/** RDS's rules for a new master password (checked before the change is accepted). */
function checkPassword(db: Database, password: string): void {
  if (db.spec.manageMasterUserPassword) {
    throw new RdsError(
      'InvalidParameterCombination',
      "You can't specify MasterUserPassword for a DB that has ManageMasterUserPassword turned on.",
    );
  }
  const max = passwordLimit(db.kind, db.spec.engine);
  if (password.length < 8 || password.length > max) {
    throw new RdsError(
      'InvalidParameterValue',
      `The parameter MasterUserPassword is not a valid password because it is shorter than 8 characters or longer than ${max}.`,
    );
  }
  if (!/^[\x21-\x7e]+$/.test(password) || /[/"@]/.test(password)) {
    throw new RdsError(
      'InvalidParameterValue',
      "The parameter MasterUserPassword is not a valid password. Only printable ASCII characters besides '/', '@', '\"', ' ' may be used.",
    );
  }
}

type RdsOperation = (params: URLSearchParams) => string;

/** The four actions, each answering with its result element's content. */
function rdsOperations(databases: RdsDatabases, changes: PasswordChanges): Record<string, RdsOperation> {
  return {
    DescribeDBInstances(params) {
      const identifier = params.get('DBInstanceIdentifier') ?? undefined;
      let selected =
        identifier === undefined ? [...databases.instances.values()] : [databases.instance(identifier)];
      for (const filter of readFilters(params)) {
        if (filter.name === 'db-cluster-id') {
          selected = selected.filter(
            (i) => i.clusterIdentifier !== undefined && filter.values.includes(i.clusterIdentifier),
          );
        } else if (filter.name === 'db-instance-id') {
          selected = selected.filter((i) => filter.values.includes(i.spec.identifier));
        } else {
          throw new RdsError('InvalidParameterValue', `Unrecognized filter name: ${filter.name}.`);
        }
      }
      return element(
        'DBInstances',
        selected.map((i) => element('DBInstance', instanceXml(databases, i))).join(''),
      );
    },
    DescribeDBClusters(params) {
      const identifier = params.get('DBClusterIdentifier') ?? undefined;
      const selected =
        identifier === undefined ? [...databases.clusters.values()] : [databases.cluster(identifier)];
      return element(
        'DBClusters',
        selected.map((c) => element('DBCluster', clusterXml(databases, c))).join(''),
      );
    },
    ModifyDBInstance(params) {
      const found = databases.instance(params.get('DBInstanceIdentifier') ?? undefined);
      const password = params.get('MasterUserPassword');
      if (password !== null) {
        if (found.clusterIdentifier !== undefined) {
          throw new RdsError(
            'InvalidParameterCombination',
            'The specified DB Instance is a member of a cluster. Modify master user password for the DB Cluster using the ModifyDbCluster API',
          );
        }
        checkPassword(found, password);
        changes.request(found, password);
      }
      return element('DBInstance', instanceXml(databases, found));
    },
    ModifyDBCluster(params) {
      const found = databases.cluster(params.get('DBClusterIdentifier') ?? undefined);
      const password = params.get('MasterUserPassword');
      if (password !== null) {
        checkPassword(found, password);
        changes.request(found, password);
      }
      return element('DBCluster', clusterXml(databases, found));
    },
  };
}

// ---------------------------------------------------------------- answers

function masterUserSecret(databases: RdsDatabases, db: Database, type: 'db' | 'cluster'): string {
  if (!db.spec.manageMasterUserPassword) return '';
  const secretArn =
    db.spec.masterUserSecretArn ??
    `arn:aws:secretsmanager:${databases.region}:${databases.accountId}:secret:rds!${type}-${db.spec.identifier}-AbCdEf`;
  return element(
    'MasterUserSecret',
    element('SecretArn', text(secretArn)) + element('SecretStatus', 'active'),
  );
}

function status(db: Database): string {
  return db.pending > 0 ? 'resetting-master-credentials' : 'available';
}

function instanceXml(databases: RdsDatabases, i: Instance): string {
  // An instance of a cluster reports the cluster's pending change and secret (it has no own master).
  const owner: Database = i.clusterIdentifier === undefined ? i : databases.cluster(i.clusterIdentifier);
  return [
    element('DBInstanceIdentifier', text(i.spec.identifier)),
    element('DBInstanceClass', 'db.t4g.micro'),
    element('Engine', text(i.spec.engine)),
    element('EngineVersion', text(i.spec.engineVersion ?? '')),
    element('DBInstanceStatus', status(owner)),
    element('MasterUsername', text(i.spec.masterUsername)),
    element(
      'Endpoint',
      element('Address', text(i.endpoint.address)) +
        element('Port', String(i.endpoint.port)) +
        element('HostedZoneId', 'Z2R2ITUGPM61AM'),
    ),
    i.clusterIdentifier === undefined ? '' : element('DBClusterIdentifier', text(i.clusterIdentifier)),
    element(
      'PendingModifiedValues',
      owner === i && i.pending > 0 ? element('MasterUserPassword', '****') : '',
    ),
    element('DBInstanceArn', text(databases.arn('db', i.spec.identifier))),
    owner === i ? masterUserSecret(databases, i, 'db') : '',
  ].join('');
}

function clusterXml(databases: RdsDatabases, c: Cluster): string {
  const members = [...databases.instances.values()].filter((i) => i.clusterIdentifier === c.spec.identifier);
  const writers = new Set((c.spec.members ?? []).filter((m) => m.writer).map((m) => m.identifier));
  return [
    element('DBClusterIdentifier', text(c.spec.identifier)),
    element('Status', status(c)),
    element('Endpoint', text(c.spec.endpoint.address)),
    c.spec.readerEndpoint === undefined ? '' : element('ReaderEndpoint', text(c.spec.readerEndpoint)),
    element(
      'CustomEndpoints',
      (c.spec.customEndpoints ?? []).map((e) => element('member', text(e))).join(''),
    ),
    element('Engine', text(c.spec.engine)),
    element('EngineVersion', text(c.spec.engineVersion ?? '')),
    element('Port', String(c.spec.endpoint.port)),
    element('MasterUsername', text(c.spec.masterUsername)),
    element(
      'DBClusterMembers',
      members
        .map((m) =>
          element(
            'DBClusterMember',
            element('DBInstanceIdentifier', text(m.spec.identifier)) +
              element('IsClusterWriter', String(writers.has(m.spec.identifier))) +
              element('PromotionTier', '1'),
          ),
        )
        .join(''),
    ),
    element('DBClusterArn', text(databases.arn('cluster', c.spec.identifier))),
    c.pending > 0 ? element('PendingModifiedValues', element('MasterUserPassword', '****')) : '',
    masterUserSecret(databases, c, 'cluster'),
  ].join('');
}

// ---------------------------------------------------------------- the Query protocol over HTTP

/** Listens for Query-protocol requests and answers them with `operations`, recording each call. */
async function serveQueryApi(
  operations: Readonly<Record<string, RdsOperation>>,
  calls: RdsCall[],
  host: string,
  port: number,
): Promise<Server> {
  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (request.method !== 'POST') {
      return sendError(response, new RdsError('InvalidAction', 'RDS is served on POST /', 400));
    }
    const params = new URLSearchParams(await readBody(request));
    const action = params.get('Action') ?? '';
    try {
      if (params.get('Version') !== API_VERSION) {
        throw new RdsError('InvalidParameterValue', `Version must be ${API_VERSION}.`);
      }
      const operation = operations[action];
      if (operation === undefined) {
        throw new RdsError(
          'InvalidAction',
          `The action ${action || '(none)'} is not valid for this web service.`,
        );
      }
      const identifier = params.get('DBInstanceIdentifier') ?? params.get('DBClusterIdentifier') ?? undefined;
      calls.push({ action, ...(identifier === undefined ? {} : { identifier }) });
      sendXml(response, 200, envelope(action, operation(params)));
    } catch (error) {
      sendError(
        response,
        error instanceof RdsError
          ? error
          : new RdsError('InternalFailure', (error as Error).name, 500, 'Receiver'),
      );
    }
  }

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) {
        sendError(response, new RdsError('InternalFailure', (error as Error).name, 500, 'Receiver'));
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}

/** `Filters.Filter.<n>.Name` / `Filters.Filter.<n>.Values.Value.<m>`, as the Query protocol flattens them. */
function readFilters(params: URLSearchParams): { name: string; values: string[] }[] {
  const filters: { name: string; values: string[] }[] = [];
  for (let n = 1; params.has(`Filters.Filter.${n}.Name`); n++) {
    const values: string[] = [];
    for (let m = 1; params.has(`Filters.Filter.${n}.Values.Value.${m}`); m++) {
      values.push(params.get(`Filters.Filter.${n}.Values.Value.${m}`) ?? '');
    }
    filters.push({ name: params.get(`Filters.Filter.${n}.Name`) ?? '', values });
  }
  return filters;
}

function text(value: string): string {
  return value
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&apos;');
}

function element(name: string, content: string): string {
  return `<${name}>${content}</${name}>`;
}

function envelope(action: string, result: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="${XMLNS}">${element(
    `${action}Result`,
    result,
  )}${element('ResponseMetadata', element('RequestId', randomUUID()))}</${action}Response>`;
}

function sendXml(response: ServerResponse, status: number, body: string): void {
  response.writeHead(status, {
    'content-type': 'text/xml',
    'content-length': Buffer.byteLength(body),
    'x-amzn-RequestId': randomUUID(),
  });
  response.end(body);
}

function sendError(response: ServerResponse, error: RdsError): void {
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse xmlns="${XMLNS}">${element(
    'Error',
    element('Type', error.type) + element('Code', text(error.code)) + element('Message', text(error.message)),
  )}${element('RequestId', randomUUID())}</ErrorResponse>`;
  sendXml(response, error.status, body);
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

// ---------------------------------------------------------------- admin hooks

/**
 * Sets a PostgreSQL role's password as the superuser, with a SCRAM verifier computed here (the
 * plaintext never reaches the server or its statement log).
 */
export function postgresMasterPassword(
  server: { host: string; port: number; superuser: { username: string; password: string } },
  role: string,
): MasterPasswordHook {
  return async (password) => {
    const client = new pg.Client({
      host: server.host,
      port: server.port,
      user: server.superuser.username,
      password: server.superuser.password,
      database: 'postgres',
    });
    client.on('error', () => undefined);
    await client.connect();
    try {
      await client.query("SET log_statement = 'none'");
      await client.query(
        `ALTER ROLE ${pg.escapeIdentifier(role)} PASSWORD ${pg.escapeLiteral(scramSha256Verifier(password))}`,
      );
    } finally {
      await client.end().catch(() => undefined);
    }
  };
}

/**
 * Sets a MariaDB account's password as root over the unix socket, with its mysql_native_password
 * hash (no plaintext in the server's logs).
 */
export function mariadbMasterPassword(
  account: Account,
  socketPath: string = MACHINE_SOCKET,
): MasterPasswordHook {
  return async (password) => {
    const admin = await connectAdmin(socketPath);
    try {
      await admin.query(
        `ALTER USER ${quoteAccount(account)} IDENTIFIED BY PASSWORD '${nativePasswordHash(password)}'`,
      );
    } finally {
      await admin.close();
    }
  };
}
