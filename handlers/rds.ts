/**
 * RDS for the step machine and the healer: endpoint discovery, and the `ManagedDatabase` port
 * (rotators/types.ts) the rds-master strategy sets master passwords through. Rotators never see
 * an RDS client: they get an enriched value and the port.
 *
 * Discovery, per version of a secret, before its rotator parses it:
 * 1. A value naming its database with `dbInstanceIdentifier` or `dbClusterIdentifier` is described
 *    with DescribeDBInstances / DescribeDBClusters.
 * 2. Otherwise a value with neither `host` nor `engine` may be one of RDS's own secrets (only
 *    `username` and `password`): the `aws:rds:primaryDBInstanceArn` /
 *    `aws:rds:primaryDBClusterArn` tags that DescribeSecret returns name its database.
 * 3. Otherwise nothing is discovered and no call is made: ordinary secrets cost nothing.
 * The description fills in `host` (the instance endpoint, or the cluster's writer endpoint),
 * `port` and `engine` where the value has none. A value's own `host` must be one of the database's
 * endpoints: the instance's; the cluster's writer, reader or custom endpoints, or a member
 * instance's. RDS names a cluster `<cluster>.cluster-<suffix>` and its instances
 * `<instance>.<suffix>`, so a member's endpoint is recognised from DBClusterMembers without
 * another call (or IAM permission); only a cluster whose endpoint does not follow that pattern
 * (a local stand-in) has its members looked up with DescribeDBInstances. Otherwise rotor would
 * log in to one server while asking RDS to change another. A value's own
 * `port` must be the endpoint's, and its `engine` of the same family (`postgres` for an Aurora
 * PostgreSQL cluster is fine, `mysql` is not).
 *
 * An instance that belongs to a cluster has its master password kept by the cluster (Aurora,
 * Multi-AZ clusters): its port then describes and modifies the cluster.
 *
 * Calls are cached for the invocation (a step reads up to three versions of one secret, all
 * naming the same database): one step costs one Describe call, plus one when the database is an
 * instance of a cluster (or a stand-in cluster's member is named), plus DescribeSecret for a
 * tag-only secret, plus one Describe per poll while the rds-master test waits for RDS. `calls`
 * counts them; the step's log line reports them.
 */
import {
  type DBCluster,
  type DBInstance,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  ModifyDBClusterCommand,
  ModifyDBInstanceCommand,
  RDSClient,
} from '@aws-sdk/client-rds';
import { DescribeSecretCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
  AwsCallError,
  InvalidSecretError,
  type RotorError,
  safeCause,
  UnsupportedError,
} from '../rotators/errors.js';
import { optional } from '../rotators/optional.js';
import { isRdsIdentifier, rdsIdentifierExpected } from '../rotators/rdsMaster.js';
import { nameFromArn } from '../rotators/trust.js';
import type { ManagedDatabase } from '../rotators/types.js';
import { awsError } from './awsErrors.js';
import type { RdsEndpointSource, RdsEndpoints, RdsTarget } from './masters.js';
import type { Discovery, EnrichContext, Enriched, ValueEnricher } from './versions.js';

/** The tags RDS puts on the secrets it manages (ManageMasterUserPassword). */
export const RDS_INSTANCE_TAG = 'aws:rds:primaryDBInstanceArn';
export const RDS_CLUSTER_TAG = 'aws:rds:primaryDBClusterArn';

type Kind = 'instance' | 'cluster';

/** The database a value names, and where it named it (for messages). */
interface Target {
  kind: Kind;
  identifier: string;
  /** The value's field, or the tag, that named it. */
  field: string;
}

/** What discovery learnt about a named database. */
interface Described {
  /** Where to log in when the value has no host: the instance endpoint or the writer endpoint. */
  address: string;
  port: number;
  /** RDS's engine, as rotor names engines (`aurora` is Aurora MySQL 1). */
  engine: string;
  /** Endpoint addresses a value's host may be (lower case, no trailing dot). */
  endpoints: Set<string>;
  /** A cluster's members, whose endpoints a value's host may also be. */
  cluster?: { identifier: string; members: string[]; memberSuffix?: string };
  /** Human description for messages. */
  what: string;
  managed: ManagedDatabase;
}

export interface RdsDiscoveryOptions {
  /** The RDS client, built on first use (most secrets never need it). */
  rds: () => RDSClient;
  /** Reads the tags of tag-only secrets (DescribeSecret). */
  secretsManager: SecretsManagerClient;
}

/** `Discovery` for the step machine and the healer. */
export class RdsDiscovery implements Discovery {
  constructor(private readonly options: RdsDiscoveryOptions) {}

  forInvocation(signal: AbortSignal): RdsEnricher {
    return new RdsEnricher(this.options, signal);
  }
}

/**
 * The `discovery` option of createRotationHandler for database functions: RDS discovery with a
 * client built on first use. Only the database entries import this module, so the API-key
 * function's bundle carries no RDS client.
 */
export function rdsDiscovery(rds?: RDSClient): (secretsManager: SecretsManagerClient) => RdsDiscovery {
  let client = rds;
  return (secretsManager) =>
    new RdsDiscovery({
      rds: () => {
        client ??= new RDSClient({});
        return client;
      },
      secretsManager,
    });
}

function normalise(host: string): string {
  return host.toLowerCase().replace(/\.$/, '');
}

/** rotor's engine name for RDS's. */
function rotorEngine(engine: string): string {
  return engine === 'aurora' ? 'aurora-mysql' : engine;
}

function family(engine: string): string {
  if (engine.includes('postgres')) return 'postgresql';
  if (engine.includes('mysql') || engine === 'mariadb' || engine === 'aurora') return 'mysql';
  return engine;
}

function describeTarget(kind: Kind, identifier: string): string {
  return `RDS ${kind === 'instance' ? 'DB instance' : 'DB cluster'} "${identifier}"`;
}

/** A foreign RDS / Secrets Manager failure as a RotorError, quoting nothing but its name (./awsErrors.ts). */
function awsFailure(service: string, operation: string, what: string, error: unknown): RotorError {
  return awsError(error, {
    service,
    operation,
    target: what,
    deniedFix:
      "the function's role must allow it (the stage file grants it for the databases its secrets name)",
  });
}

function errorName(error: unknown): string | undefined {
  return error instanceof Error ? error.name : undefined;
}

/** The database a tag's ARN names, e.g. `arn:aws:rds:eu-west-1:123456789012:db:orders`. */
function fromArn(arn: string, field: string): Target | undefined {
  const match = /^arn:[\w-]+:rds:[\w-]*:\d*:(db|cluster):([^:]+)$/.exec(arn);
  if (match === null || !isRdsIdentifier(match[2] as string)) return undefined;
  return { kind: match[1] === 'db' ? 'instance' : 'cluster', identifier: match[2] as string, field };
}

/** The enricher of one invocation: its caches and call counts live as long as the invocation. */
export class RdsEnricher implements ValueEnricher, RdsEndpointSource {
  readonly calls: Record<string, number> = {};
  readonly #cache = new Map<string, Promise<unknown>>();
  #client: RDSClient | undefined;

  constructor(
    private readonly options: RdsDiscoveryOptions,
    private readonly signal: AbortSignal,
  ) {}

  async enrich(json: Record<string, unknown>, context: EnrichContext): Promise<Enriched> {
    const { label } = context;
    const target = await this.#target(json, context);
    if (target === undefined) return { value: json };
    const described = await this.#describe(target, label);
    const value: Record<string, unknown> = { ...json };

    if (typeof json.host === 'string' && json.host !== '') {
      if (!(await this.#isEndpoint(described, json.host))) {
        throw new InvalidSecretError(
          'host',
          `must be an endpoint of ${described.what} (${[...described.endpoints].join(', ')}${described.cluster === undefined ? '' : ', or a member instance'}): rotor would log in to one server and manage another`,
          label,
        );
      }
    } else if (json.host === undefined) {
      value.host = described.address;
    }
    if (json.port === undefined) {
      value.port = described.port;
    } else if (
      Number(json.port) !== described.port &&
      (typeof json.port === 'number' || typeof json.port === 'string')
    ) {
      throw new InvalidSecretError('port', `must be ${described.port}, the port of ${described.what}`, label);
    }
    if (json.engine === undefined) {
      value.engine = described.engine;
    } else if (typeof json.engine === 'string' && family(json.engine) !== family(described.engine)) {
      throw new InvalidSecretError(
        'engine',
        `must be an engine of the ${family(described.engine)} family: ${described.what} runs ${described.engine}`,
        label,
      );
    }
    return { value, managedDatabase: described.managed };
  }

  /**
   * Every endpoint of a database a master binding names (instance endpoint; cluster writer,
   * reader, custom and member endpoints), with its port. Cached for the invocation.
   */
  async endpointsOf(target: RdsTarget): Promise<RdsEndpoints> {
    const described = await this.#describe(
      { ...target, field: target.kind === 'instance' ? 'dbInstanceIdentifier' : 'dbClusterIdentifier' },
      'master binding',
    );
    const members = described.cluster === undefined ? [] : await this.#memberEndpoints(described.cluster);
    return { hosts: [...new Set([...described.endpoints, ...members])], port: described.port };
  }

  /** The database RDS's own tags on one of its secrets name (`aws:rds:primaryDB*Arn`). */
  targetOfTags(tags: ReadonlyMap<string, string>): RdsTarget | undefined {
    for (const tag of [RDS_INSTANCE_TAG, RDS_CLUSTER_TAG]) {
      const arn = tags.get(tag);
      if (arn === undefined) continue;
      const target = fromArn(arn, tag);
      if (target !== undefined) return { kind: target.kind, identifier: target.identifier };
    }
    return undefined;
  }

  /** Which database the value names: its own fields first, then RDS's tags (tag-only secrets). */
  async #target(json: Record<string, unknown>, context: EnrichContext): Promise<Target | undefined> {
    const { label } = context;
    const named: Target[] = [];
    for (const [field, kind, what] of [
      ['dbInstanceIdentifier', 'instance', 'DB instance'],
      ['dbClusterIdentifier', 'cluster', 'DB cluster'],
    ] as const) {
      const id = json[field];
      if (id === undefined) continue;
      if (typeof id !== 'string' || !isRdsIdentifier(id)) {
        throw new InvalidSecretError(field, rdsIdentifierExpected(what), label);
      }
      named.push({ kind, identifier: id, field });
    }
    if (named.length > 1) {
      throw new InvalidSecretError(
        'dbClusterIdentifier',
        'must not be set together with dbInstanceIdentifier (name the instance or the cluster the secret belongs to)',
        label,
      );
    }
    if (named[0] !== undefined) return named[0];
    // Only a value with neither host nor engine may be one of RDS's own secrets (a username, a
    // password, and RDS's tags); any other value costs no call. RDS puts its tags on the master
    // secrets it manages, always named `rds!…`: a secret of any other name is not read for them.
    if (json.host !== undefined || json.engine !== undefined) return undefined;
    if (!(nameFromArn(context.secretArn) ?? context.secretArn).startsWith('rds!')) return undefined;
    const tags =
      context.tags ??
      (await this.#cached(`tags:${context.secretArn}`, async () => {
        this.#count('secretsmanager:DescribeSecret');
        try {
          const out = await this.options.secretsManager.send(
            new DescribeSecretCommand({ SecretId: context.secretArn }),
            { abortSignal: this.signal },
          );
          return new Map((out.Tags ?? []).map((tag) => [tag.Key ?? '', tag.Value ?? '']));
        } catch (error) {
          throw awsFailure('Secrets Manager', 'DescribeSecret', `secret ${context.secretArn}`, error);
        }
      }));
    for (const tag of [RDS_INSTANCE_TAG, RDS_CLUSTER_TAG]) {
      const arn = tags.get(tag);
      if (arn === undefined) continue;
      const target = fromArn(arn, tag);
      if (target === undefined) {
        throw new InvalidSecretError(
          tag,
          'must be the ARN of an RDS DB instance or cluster (a tag of the secret)',
          label,
        );
      }
      return target;
    }
    return undefined;
  }

  #count(operation: string): void {
    this.calls[operation] = (this.calls[operation] ?? 0) + 1;
  }

  #cached<T>(key: string, load: () => Promise<T>): Promise<T> {
    let entry = this.#cache.get(key) as Promise<T> | undefined;
    if (entry === undefined) {
      entry = load();
      // A failure is not cached: the next version read in this invocation asks again.
      entry.catch(() => this.#cache.delete(key));
      this.#cache.set(key, entry);
    }
    return entry;
  }

  get #rds(): RDSClient {
    this.#client ??= this.options.rds();
    return this.#client;
  }

  async #describeInstance(identifier: string, field: string, label: string): Promise<DBInstance> {
    return this.#cached(`instance:${identifier}`, async () => {
      this.#count('rds:DescribeDBInstances');
      try {
        const out = await this.#rds.send(
          new DescribeDBInstancesCommand({ DBInstanceIdentifier: identifier }),
          {
            abortSignal: this.signal,
          },
        );
        const instance = out.DBInstances?.[0];
        if (instance === undefined) throw notFound('instance', identifier, field, label);
        return instance;
      } catch (error) {
        if (errorName(error) === 'DBInstanceNotFoundFault')
          throw notFound('instance', identifier, field, label);
        if (error instanceof InvalidSecretError) throw error;
        throw awsFailure('RDS', 'DescribeDBInstances', describeTarget('instance', identifier), error);
      }
    });
  }

  async #describeCluster(identifier: string, field: string, label: string): Promise<DBCluster> {
    return this.#cached(`cluster:${identifier}`, async () => {
      this.#count('rds:DescribeDBClusters');
      try {
        const out = await this.#rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: identifier }), {
          abortSignal: this.signal,
        });
        const cluster = out.DBClusters?.[0];
        if (cluster === undefined) throw notFound('cluster', identifier, field, label);
        return cluster;
      } catch (error) {
        if (errorName(error) === 'DBClusterNotFoundFault')
          throw notFound('cluster', identifier, field, label);
        if (error instanceof InvalidSecretError) throw error;
        throw awsFailure('RDS', 'DescribeDBClusters', describeTarget('cluster', identifier), error);
      }
    });
  }

  async #describe(target: Target, label: string): Promise<Described> {
    const what = describeTarget(target.kind, target.identifier);
    if (target.kind === 'instance') {
      const instance = await this.#describeInstance(target.identifier, target.field, label);
      const address = instance.Endpoint?.Address;
      const port = instance.Endpoint?.Port;
      if (address === undefined || port === undefined) {
        throw new AwsCallError(
          `${what} has no endpoint yet (status ${instance.DBInstanceStatus ?? 'unknown'}): try again once it is available`,
          { retryable: true },
        );
      }
      // Aurora and Multi-AZ clusters keep the master password: the port manages the cluster.
      const owner =
        instance.DBClusterIdentifier === undefined
          ? this.#port(
              'instance',
              target.identifier,
              instance.Engine,
              instance.MasterUsername,
              instance.MasterUserSecret,
            )
          : await this.#clusterPort(instance.DBClusterIdentifier, label);
      return {
        address,
        port,
        engine: rotorEngine(instance.Engine ?? ''),
        endpoints: new Set([normalise(address)]),
        what,
        managed: owner,
      };
    }
    const cluster = await this.#describeCluster(target.identifier, target.field, label);
    const address = cluster.Endpoint;
    const port = cluster.Port;
    if (address === undefined || port === undefined) {
      throw new AwsCallError(
        `${what} has no endpoint yet (status ${cluster.Status ?? 'unknown'}): try again once it is available`,
        { retryable: true },
      );
    }
    const endpoints = [address, cluster.ReaderEndpoint, ...(cluster.CustomEndpoints ?? [])].filter(
      (endpoint): endpoint is string => endpoint !== undefined && endpoint !== '',
    );
    const suffix = /^[^.]+\.cluster-(.+)$/.exec(normalise(address))?.[1];
    return {
      address,
      port,
      engine: rotorEngine(cluster.Engine ?? ''),
      endpoints: new Set(endpoints.map(normalise)),
      cluster: {
        identifier: target.identifier,
        members: (cluster.DBClusterMembers ?? [])
          .map((member) => member.DBInstanceIdentifier?.toLowerCase())
          .filter((id): id is string => id !== undefined),
        ...optional('memberSuffix', suffix),
      },
      what,
      managed: this.#port(
        'cluster',
        target.identifier,
        cluster.Engine,
        cluster.MasterUsername,
        cluster.MasterUserSecret,
      ),
    };
  }

  async #clusterPort(identifier: string, label: string): Promise<ManagedDatabase> {
    const cluster = await this.#describeCluster(identifier, 'dbInstanceIdentifier', label);
    return this.#port(
      'cluster',
      identifier,
      cluster.Engine,
      cluster.MasterUsername,
      cluster.MasterUserSecret,
    );
  }

  /** Whether `host` is one of the database's endpoints, a cluster member's included. */
  async #isEndpoint(described: Described, host: string): Promise<boolean> {
    const wanted = normalise(host);
    if (described.endpoints.has(wanted)) return true;
    if (described.cluster === undefined) return false;
    const { members: ids, memberSuffix } = described.cluster;
    // RDS's naming says it: `<instance>.<suffix>` for a cluster at `<cluster>.cluster-<suffix>`.
    if (memberSuffix !== undefined) return ids.some((id) => `${id}.${memberSuffix}` === wanted);
    return (await this.#memberEndpoints(described.cluster)).includes(wanted);
  }

  /** A cluster's member endpoints: from RDS's naming, else (a stand-in cluster) asked of RDS. */
  async #memberEndpoints(cluster: NonNullable<Described['cluster']>): Promise<string[]> {
    const { identifier, members: ids, memberSuffix } = cluster;
    if (memberSuffix !== undefined) return ids.map((id) => `${id}.${memberSuffix}`);
    return this.#cached(`members:${identifier}`, async () => {
      this.#count('rds:DescribeDBInstances');
      try {
        const out = await this.#rds.send(
          new DescribeDBInstancesCommand({ Filters: [{ Name: 'db-cluster-id', Values: [identifier] }] }),
          { abortSignal: this.signal },
        );
        return (out.DBInstances ?? [])
          .map((instance) => instance.Endpoint?.Address)
          .filter((address): address is string => address !== undefined)
          .map(normalise);
      } catch (error) {
        throw awsFailure(
          'RDS',
          'DescribeDBInstances',
          `the members of ${describeTarget('cluster', identifier)}`,
          error,
        );
      }
    });
  }

  /** The `ManagedDatabase` port for an instance or cluster. */
  #port(
    kind: Kind,
    identifier: string,
    engine: string | undefined,
    masterUsername: string | undefined,
    masterUserSecret: { SecretArn?: string | undefined } | undefined,
  ): ManagedDatabase {
    const what = describeTarget(kind, identifier);
    const describeOp = kind === 'instance' ? 'DescribeDBInstances' : 'DescribeDBClusters';
    const modifyOp = kind === 'instance' ? 'ModifyDBInstance' : 'ModifyDBCluster';
    return {
      kind,
      identifier,
      engine: rotorEngine(engine ?? ''),
      masterUsername: masterUsername ?? '',
      managesMasterPassword: masterUserSecret !== undefined,
      boundToSecret: false,
      setMasterPassword: async (password) => {
        this.#count(`rds:${modifyOp}`);
        const options = { abortSignal: this.signal };
        try {
          if (kind === 'instance') {
            await this.#rds.send(
              new ModifyDBInstanceCommand({
                DBInstanceIdentifier: identifier,
                MasterUserPassword: password,
                ApplyImmediately: true,
              }),
              options,
            );
          } else {
            await this.#rds.send(
              new ModifyDBClusterCommand({
                DBClusterIdentifier: identifier,
                MasterUserPassword: password,
                ApplyImmediately: true,
              }),
              options,
            );
          }
        } catch (error) {
          throw modifyFailure(modifyOp, what, error);
        }
      },
      masterPasswordChangePending: async () => {
        // Never cached: the answer changes while RDS applies the change.
        this.#count(`rds:${describeOp}`);
        try {
          if (kind === 'instance') {
            const out = await this.#rds.send(
              new DescribeDBInstancesCommand({ DBInstanceIdentifier: identifier }),
              {
                abortSignal: this.signal,
              },
            );
            return out.DBInstances?.[0]?.PendingModifiedValues?.MasterUserPassword !== undefined;
          }
          const out = await this.#rds.send(
            new DescribeDBClustersCommand({ DBClusterIdentifier: identifier }),
            {
              abortSignal: this.signal,
            },
          );
          return out.DBClusters?.[0]?.PendingModifiedValues?.MasterUserPassword !== undefined;
        } catch (error) {
          throw awsFailure('RDS', describeOp, what, error);
        }
      },
    };
  }
}

function notFound(kind: Kind, identifier: string, field: string, label: string): InvalidSecretError {
  return new InvalidSecretError(
    field,
    `names ${describeTarget(kind, identifier)}, which does not exist in this account and region`,
    label,
  );
}

function modifyFailure(operation: string, what: string, error: unknown): RotorError {
  const cause = safeCause(error);
  switch (cause.name) {
    case 'InvalidParameterValue':
      return new InvalidSecretError(
        'password',
        `was refused by RDS as the master password of ${what} (InvalidParameterValue): it must be printable ASCII without spaces, "/", "\\"" or "@", of the engine's length`,
      );
    case 'InvalidParameterCombination':
      return new UnsupportedError(
        `RDS refused to set the master password of ${what} (InvalidParameterCombination): RDS may manage it itself (ManageMasterUserPassword), or the instance belongs to a cluster`,
        { cause },
      );
    case 'InvalidDBInstanceStateFault':
    case 'InvalidDBClusterStateFault':
      return new AwsCallError(
        `${what} cannot be modified in its current state (${cause.name}): the rotation is retried`,
        { cause, retryable: true },
      );
    case 'DBInstanceNotFoundFault':
    case 'DBClusterNotFoundFault':
      return new AwsCallError(`${what} no longer exists (${cause.name})`, { cause });
  }
  return awsFailure('RDS', operation, what, error);
}
