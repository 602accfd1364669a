/**
 * What decides where a master credential may be used, for which database rds-master may reset a
 * master password, and which users an operator adopted: the deployment's configuration
 * (`ROTOR_MASTERS`, `ROTOR_RDS_MASTERS`, the adoption record) and RDS. Never the rotated secret.
 *
 * Secret ids in the configuration are matched the way Secrets Manager resolves them, against the
 * ARN and name Secrets Manager itself answered: a name; a partial ARN (the ARN without the `-` and
 * 6 random characters Secrets Manager appends); or the full ARN (`namesSecret`, rotators/trust.ts).
 */
import { ConfigurationError, MasterBindingError } from '../rotators/errors.js';
import { type MasterBinding, namesSecret } from '../rotators/trust.js';
import type { ManagedDatabase } from '../rotators/types.js';
import type { MasterEntry, RdsMasterEntry, TrustConfig } from './config.js';
import type { SecretIdentity } from './secrets.js';

/** RDS endpoints of an instance or cluster, for a binding that names one. */
export interface RdsEndpoints {
  /** Every host the database answers on: instance endpoint; cluster writer, reader, custom, member endpoints. */
  hosts: string[];
  port: number;
}

/** The RDS database an RDS-managed master secret's `aws:rds:primaryDB*Arn` tag names. */
export interface RdsTarget {
  kind: 'instance' | 'cluster';
  identifier: string;
}

/** What binding resolution needs from RDS (the database functions' discovery provides it). */
export interface RdsEndpointSource {
  endpointsOf(target: RdsTarget): Promise<RdsEndpoints>;
  /** The database a managed master secret's tags name, or undefined when they name none. */
  targetOfTags(tags: ReadonlyMap<string, string>): RdsTarget | undefined;
}

const describeTarget = (target: RdsTarget) =>
  `RDS ${target.kind === 'instance' ? 'DB instance' : 'DB cluster'} "${target.identifier}"`;

/**
 * The binding of a master secret:
 * (a) the one `ROTOR_MASTERS` entry naming it (hosts, or the endpoints RDS reports for the
 *     instance or cluster it names);
 * (b) else, for a secret RDS manages (name `rds!…`, tagged `aws:rds:primaryDBInstanceArn` /
 *     `aws:rds:primaryDBClusterArn` by RDS; `aws:` tags only AWS sets), the endpoints of that
 *     database, when `rds` is given (the database functions);
 * (c) else none: the master secret's own host decides (rotators/trust.ts).
 * Two entries naming the same master are refused (MasterBindingError): a binding must be one.
 */
export async function resolveMasterBinding(input: {
  master: SecretIdentity;
  /** An ARN in the deployment's account and region (the rotated secret's): where names resolve. */
  home?: string;
  trust: Pick<TrustConfig, 'masters'>;
  rds?: RdsEndpointSource;
  /** The master secret's tags (DescribeSecret), read only for an `rds!` secret. */
  tags: () => Promise<ReadonlyMap<string, string>>;
}): Promise<MasterBinding | undefined> {
  const { master, trust, rds } = input;
  const matching = trust.masters
    .map((entry, index) => ({ entry, index }))
    .filter(({ entry }) => namesSecret(entry.secret, master, input.home));
  if (matching.length > 1) {
    throw new MasterBindingError(
      `master secret ${master.arn} is bound by ${matching.length} entries of ROTOR_MASTERS (entries ${matching.map((m) => m.index).join(', ')}): the stage file must bind a master once`,
    );
  }
  const stage = matching[0];
  if (stage !== undefined) return fromEntry(stage.entry, master, rds);
  if (rds === undefined || !master.name.startsWith('rds!')) return undefined;
  const target = rds.targetOfTags(await input.tags());
  if (target === undefined) return undefined;
  const { hosts, port } = await endpoints(rds, target, master, 'RDS');
  return { source: 'RDS', hosts, port };
}

async function fromEntry(
  entry: MasterEntry,
  master: SecretIdentity,
  rds: RdsEndpointSource | undefined,
): Promise<MasterBinding> {
  const common = {
    source: 'stage file' as const,
    ...(entry.tls === undefined ? {} : { tls: entry.tls }),
    ...(entry.manages === undefined ? {} : { manages: entry.manages }),
  };
  if (entry.hosts !== undefined) {
    return { ...common, hosts: entry.hosts, ...(entry.port === undefined ? {} : { port: entry.port }) };
  }
  const target: RdsTarget =
    entry.dbInstanceIdentifier !== undefined
      ? { kind: 'instance', identifier: entry.dbInstanceIdentifier }
      : { kind: 'cluster', identifier: entry.dbClusterIdentifier as string };
  if (rds === undefined) {
    throw new ConfigurationError(
      `the stage file binds master secret ${master.arn} to ${describeTarget(target)}, but this function has no RDS discovery to find its endpoints (bind it with hosts instead)`,
    );
  }
  const found = await endpoints(rds, target, master, 'stage file');
  return { ...common, hosts: found.hosts, port: entry.port ?? found.port };
}

async function endpoints(
  rds: RdsEndpointSource,
  target: RdsTarget,
  master: SecretIdentity,
  source: MasterBinding['source'],
): Promise<RdsEndpoints> {
  const found = await rds.endpointsOf(target);
  if (found.hosts.length === 0) {
    throw new MasterBindingError(
      `the ${source} binds master secret ${master.arn} to ${describeTarget(target)}, which reports no endpoint`,
    );
  }
  return found;
}

/** Whether the stage file binds the rotated secret to the RDS database rds-master would reset. */
export function boundToSecret(
  rdsMasters: readonly RdsMasterEntry[],
  secret: { arn: string; name?: string },
  db: Pick<ManagedDatabase, 'kind' | 'identifier'>,
): boolean {
  return rdsMasters.some(
    (entry) =>
      entry.kind === db.kind &&
      entry.identifier.toLowerCase() === db.identifier.toLowerCase() &&
      namesSecret(entry.secret, secret),
  );
}

/** One adoption, as `rotor attach --adopt` records it. Never a credential. */
export interface AdoptionEntry {
  /** ARN of the rotated secret. */
  secret: string;
  /** A database user adopted for the secret, or… */
  username?: string;
  /** …an API key id adopted for it. */
  keyId?: string;
  adoptedAt: string;
  by: string;
}

export interface AdoptionRecord {
  adoptions: AdoptionEntry[];
}

/** Parses the adoption record; ConfigurationError names the record and what is wrong. */
export function parseAdoptions(text: string, recordId: string): AdoptionRecord {
  const bad = (what: string) =>
    new ConfigurationError(
      `the adoption record ${recordId} ${what}: it must be JSON {"adoptions": [{"secret", "username" or "keyId", "adoptedAt", "by"}]}`,
    );
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw bad('is not JSON');
  }
  const adoptions = (json as { adoptions?: unknown } | null)?.adoptions;
  if (!Array.isArray(adoptions)) throw bad('has no "adoptions" array');
  adoptions.forEach((entry: unknown, index) => {
    const e = entry as Partial<Record<keyof AdoptionEntry, unknown>> | null;
    const who = [e?.username, e?.keyId].filter((item) => item !== undefined);
    if (typeof e?.secret !== 'string' || who.length !== 1 || typeof who[0] !== 'string' || who[0] === '') {
      throw bad(`entry ${index} needs "secret" and exactly one of "username" or "keyId"`);
    }
    // An adoption names its secret by ARN (as rotor attach --adopt writes it): a bare name would
    // also name a secret of that name in another account or region rotated by the same function.
    if (!/^arn:[\w-]+:secretsmanager:[^:]+:\d{12}:secret:.+$/.test(e.secret)) {
      throw bad(`entry ${index} must name its secret by ARN, not by name`);
    }
  });
  return { adoptions: adoptions as AdoptionEntry[] };
}

/** The users (and API key ids) adopted for a secret. */
export function adoptedFor(record: AdoptionRecord, secret: { arn: string; name?: string }): string[] {
  return record.adoptions
    .filter((entry) => namesSecret(entry.secret, secret))
    .map((entry) => (entry.username ?? entry.keyId) as string);
}
