/**
 * The per-stage deployment configuration (`deploy/stages/<stage>.yml`): which secrets this account
 * rotates, how, who gets paged, and the trust settings (master bindings, rds-master bindings,
 * which function reads which related secret, the adoption record). Validated before anything is
 * generated, so a bad entry fails `osls package` with one line naming the entry, the field and
 * what was expected.
 */
import * as v from 'valibot';
// The function catalogue (engines and strategies by function), shared with the CLI and the local stack.
import {
  FUNCTION_ENGINES,
  ROTATION_FUNCTION_KEYS,
  ROTATION_FUNCTIONS,
  type RotationFunctionKey,
  STRATEGIES,
} from '../handlers/functions.js';
import { isRdsIdentifier } from '../rotators/rdsMaster.js';
import { scheduleProblem, windowHours, windowProblem } from './schedule.js';

export { FUNCTION_ENGINES, type RotationFunctionKey, STRATEGIES };

const ENGINES = Object.values(FUNCTION_ENGINES).flat();

/** PagerDuty Events API v2 severities. */
export const PAGERDUTY_SEVERITIES = ['critical', 'error', 'warning', 'info'] as const;

/**
 * Placeholder for the runbook's URL: the repository's RUNBOOK.md on its Git host. A deployment
 * sets `runbookUrl:` to its own copy (README, "Deploy to an account").
 */
export const DEFAULT_RUNBOOK_URL = 'https://github.com/your-org/rotor/blob/main/RUNBOOK.md';

/** An EventBridge event bus ARN: partition, region, account, name. */
export const EVENT_BUS_ARN =
  /^arn:aws[a-z-]*:events:([a-z]{2}(?:-[a-z]+)+-\d):(\d{12}):event-bus\/([\w.\-/]{1,256})$/;

/** A schedule Secrets Manager accepts (deploy/schedule.ts holds its documented rules). */
const scheduleSchema = v.pipe(
  v.string('must be rate(<n> days|hours) or cron(<six fields>)'),
  v.check(
    (expression) => scheduleProblem(expression) === undefined,
    (issue) => scheduleProblem(String(issue.input)) ?? 'must be a schedule Secrets Manager accepts',
  ),
);

/** Rotation window, e.g. `4h` (Secrets Manager's Duration: 1 to 24 hours; fits the schedule, checked below). */
const windowSchema = v.pipe(
  v.string('must be 1h to 24h'),
  v.check((window) => windowHours(window) !== undefined, 'must be 1h to 24h'),
);

const rdsIdentifier = (what: string) =>
  v.pipe(
    v.string(),
    v.check(
      isRdsIdentifier,
      `must be an RDS ${what} identifier (letters, digits and single hyphens, starting with a letter)`,
    ),
  );

/**
 * Secret references as Secrets Manager accepts them: a name (letters, digits and /_+=.@-), a name
 * Secrets Manager keeps for another service (`rds!db-…`, `rds!cluster-…`: RDS-managed master
 * secrets), or a partial or full secret ARN of either.
 */
const SECRET_NAME = /^(?:[a-z][a-z0-9-]*!)?[A-Za-z0-9/_+=.@-]{1,512}$/;
const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:([a-z]{2}(?:-[a-z]+)+-\d):\d{12}:secret:(.+)$/;

export function isSecretReference(id: string): boolean {
  const arn = SECRET_ARN.exec(id);
  return SECRET_NAME.test(arn ? (arn[2] as string) : id);
}

/** The region of a secret ARN; undefined for a name. */
export function secretRegion(id: string): string | undefined {
  return SECRET_ARN.exec(id)?.[1];
}

/** Whether a secret is managed by another service (`rds!…`): that service rotates it itself. */
export function isServiceManaged(id: string): boolean {
  const arn = SECRET_ARN.exec(id);
  return /^[a-z][a-z0-9-]*!/.test(arn ? (arn[2] as string) : id);
}

/**
 * A full secret ARN ends with the six random characters Secrets Manager appends to the name; an
 * ARN without them is partial. (A partial ARN whose name itself ends in `-` and six letters or
 * digits reads as a full one: give such a secret by name.)
 */
export function isFullSecretArn(id: string): boolean {
  return SECRET_ARN.test(id) && /-[A-Za-z0-9]{6}$/.test(id);
}

/** The secret name a reference points at, to find one secret listed under two names. */
export function secretKey(id: string): string {
  const arn = SECRET_ARN.exec(id);
  if (!arn) return id;
  const name = arn[2] as string;
  return isFullSecretArn(id) ? name.slice(0, -7) : name;
}

const secretReference = v.pipe(
  v.string('must be a secret name or ARN'),
  v.minLength(1, 'must be a secret name or ARN'),
  v.maxLength(2048, 'must be a secret name or ARN of at most 2048 characters'),
  v.check(
    isSecretReference,
    'must be a secret name (letters, digits and /_+=.@-), a name another service manages (rds!db-…, rds!cluster-…) or a secret ARN (arn:aws:secretsmanager:<region>:<account>:secret:<name>)',
  ),
);

/**
 * A secret CloudFormation resolves at deploy time (`{{resolve:secretsmanager:<id>}}`): a name or a
 * full ARN (CloudFormation needs the whole ARN, suffix included, when given an ARN).
 */
const dynamicSecretReference = v.pipe(
  secretReference,
  v.check(
    (id) => !id.startsWith('arn:') || isFullSecretArn(id),
    'must be a secret name or its full ARN (ending in -XXXXXX): CloudFormation resolves no partial ARN',
  ),
  v.check((id) => !isServiceManaged(id), 'must be a secret of your own, not one another service manages'),
);

/** The database engines (every engine but the API-key one). */
export const DATABASE_ENGINES = [...FUNCTION_ENGINES.postgres, ...FUNCTION_ENGINES.mysql] as const;
export type DatabaseEngine = (typeof DATABASE_ENGINES)[number];

const databaseEngine = v.picklist(
  DATABASE_ENGINES,
  `must be one of: ${DATABASE_ENGINES.join(', ')} (its function is the one that may read it)`,
);

const hostName = v.pipe(
  v.string('must be a host name'),
  v.maxLength(253, 'must be a host name of at most 253 characters'),
  v.regex(
    /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|[0-9A-Fa-f:]*:[0-9A-Fa-f:.]+)$/,
    'must be a host name or IP address',
  ),
);

const portNumber = v.pipe(
  v.number('must be a port number'),
  v.integer('must be a port number'),
  v.minValue(1, 'must be a port number (1 to 65535)'),
  v.maxValue(65535, 'must be a port number (1 to 65535)'),
);

const PEM = /^\s*(?:-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\s*)+$/;

const TLS_MODES = ['verify-full', 'verify-ca', 'disable'] as const;

/**
 * A master binding: where a master secret's credential may be used and for which users, decided by
 * the stage file, never by a rotated secret's writer. `engine` names the database function that
 * may read the master and receives the binding; the other fields go to ROTOR_MASTERS as they are
 * (`host` as `hosts: [host]`).
 */
const masterEntry = v.strictObject({
  secret: secretReference,
  engine: databaseEngine,
  host: v.optional(hostName),
  hosts: v.optional(v.pipe(v.array(hostName), v.minLength(1, 'must list at least one host'))),
  dbInstanceIdentifier: v.optional(rdsIdentifier('DB instance')),
  dbClusterIdentifier: v.optional(rdsIdentifier('DB cluster')),
  port: v.optional(portNumber),
  tls: v.optional(
    v.strictObject({
      mode: v.optional(v.picklist(TLS_MODES, `must be one of: ${TLS_MODES.join(', ')}`), 'verify-full'),
      ca: v.optional(
        v.pipe(
          v.string('must be PEM certificates'),
          v.regex(
            PEM,
            'must be PEM certificates (-----BEGIN CERTIFICATE----- ... -----END CERTIFICATE-----)',
          ),
        ),
      ),
      serverName: v.optional(hostName),
    }),
  ),
  /** Patterns (`*` any run, `?` one character) of the users this master may act for. */
  manages: v.optional(
    v.array(
      v.pipe(
        v.string('must be a user name pattern'),
        v.minLength(1, 'must be a user name pattern'),
        v.maxLength(256, 'must be a user name pattern of at most 256 characters'),
        v.regex(/^[^\s\p{Cc}]+$/u, 'must be a user name pattern without spaces or control characters'),
      ),
    ),
  ),
});

/**
 * A rotated secret whose RDS master password the rds-master strategy may reset, and the one
 * database it belongs to: the only databases any function may modify. `engine` (which function)
 * is needed unless the secret is listed under `secrets:`, whose entry names it.
 */
const rdsMasterEntry = v.strictObject({
  secret: secretReference,
  engine: v.optional(databaseEngine),
  dbInstanceIdentifier: v.optional(rdsIdentifier('DB instance')),
  dbClusterIdentifier: v.optional(rdsIdentifier('DB cluster')),
});

const secretList = v.optional(v.array(secretReference), []);

const secretEntry = v.strictObject({
  /** Name or ARN of an existing secret. */
  id: secretReference,
  engine: v.picklist(ENGINES, `must be one of: ${ENGINES.join(', ')}`),
  /**
   * Optional: the secret's own value decides how it rotates. Given, it is checked against the
   * engine; `rds-master` is what lets an `rdsMasters` entry apply to the secret.
   */
  strategy: v.optional(v.picklist(STRATEGIES, `must be one of: ${STRATEGIES.join(', ')}`)),
  schedule: scheduleSchema,
  window: v.optional(windowSchema),
  /**
   * Rotate when the schedule is created or changed (default true, as `rotor attach` and Secrets
   * Manager's own RotationSchedule); false: Secrets Manager runs the configuration test instead
   * (testSecret only), and the first rotation waits for the schedule.
   */
  rotateImmediately: v.optional(v.boolean(), true),
  /**
   * The RDS DB instance / DB cluster the secret belongs to (as its value names it, or RDS's tags):
   * the function may describe it (endpoint discovery), and, for strategy rds-master, set its
   * master password. An instance of an Aurora cluster needs both: the cluster holds the master.
   */
  dbInstanceIdentifier: v.optional(rdsIdentifier('DB instance')),
  dbClusterIdentifier: v.optional(rdsIdentifier('DB cluster')),
});

const configSchema = v.strictObject({
  /** Region of this stage; the secrets are in it. */
  region: v.pipe(v.string(), v.regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region such as eu-west-1')),
  eventBus: v.optional(
    v.pipe(v.string(), v.regex(/^[\w.-]{1,256}$/, 'must be an event bus name')),
    'default',
  ),
  eventSource: v.optional(
    v.pipe(
      v.string(),
      v.regex(/^[\w.-]{1,256}$/, 'must be letters, digits, dots or dashes'),
      v.check((s) => !s.startsWith('aws.'), 'must not start with "aws."'),
    ),
    'rotor',
  ),
  logRetentionDays: v.optional(v.picklist([7, 14, 30, 60, 90, 180, 365]), 30),
  onCall: v.optional(
    v.strictObject({
      email: v.optional(v.array(v.pipe(v.string(), v.email('must be an e-mail address'))), []),
      https: v.optional(
        v.array(v.pipe(v.string(), v.url(), v.startsWith('https://', 'must be an https:// URL'))),
        [],
      ),
      /**
       * PagerDuty Events API v2 through an EventBridge API destination. `routingKeySecret`: a
       * secret whose value (plain text) is the integration's routing key; CloudFormation resolves
       * it into the connection (kept by EventBridge in Secrets Manager), never into a rule.
       */
      pagerDuty: v.optional(
        v.strictObject({
          routingKeySecret: dynamicSecretReference,
          severity: v.optional(
            v.picklist(PAGERDUTY_SEVERITIES, `must be one of: ${PAGERDUTY_SEVERITIES.join(', ')}`),
            'critical',
          ),
        }),
      ),
      /**
       * Slack incoming webhook through an EventBridge API destination. `webhookSecret`: a secret
       * whose value (plain text) is the webhook URL (https://hooks.slack.com/services/...).
       */
      slack: v.optional(v.strictObject({ webhookSecret: dynamicSecretReference })),
    }),
    { email: [], https: [] },
  ),
  /**
   * The RUNBOOK.md every page links to (`<runbookUrl>#<entry>`): the deployment's own copy, a wiki
   * page, or the file on the repository's Git host. No `#` fragment (each page adds its entry's).
   */
  runbookUrl: v.optional(
    v.pipe(
      v.string('must be an https:// URL'),
      v.url('must be an https:// URL'),
      v.startsWith('https://', 'must be an https:// URL'),
      v.check(
        (url) => !url.includes('#'),
        'must be the runbook page without a #fragment (each page adds its entry)',
      ),
      v.check(
        (url) => !/[\s"<>\\]/.test(url),
        'must not contain spaces, quotes, < > or backslashes (it is written into the pages)',
      ),
    ),
    DEFAULT_RUNBOOK_URL,
  ),
  /**
   * An EventBridge bus in another account (its ARN) that receives rotor's events and Secrets
   * Manager's rotation events, for organisations that page centrally.
   */
  centralEventBus: v.optional(
    v.pipe(
      v.string('must be an event bus ARN'),
      v.regex(EVENT_BUS_ARN, 'must be an event bus ARN (arn:aws:events:<region>:<account>:event-bus/<name>)'),
    ),
  ),
  vpc: v.optional(
    v.strictObject({
      subnetIds: v.pipe(
        v.array(v.pipe(v.string(), v.regex(/^subnet-[0-9a-f]+$/, 'must be a subnet id'))),
        v.minLength(1),
      ),
      securityGroupIds: v.pipe(
        v.array(v.pipe(v.string(), v.regex(/^sg-[0-9a-f]+$/, 'must be a security group id'))),
        v.minLength(1),
      ),
    }),
  ),
  /** Customer-managed KMS keys encrypting the rotated secrets (none: AWS-managed key, no grant needed). */
  kmsKeyArns: v.optional(
    v.array(v.pipe(v.string(), v.regex(/^arn:aws[\w-]*:kms:/, 'must be a KMS key ARN'))),
    [],
  ),
  /**
   * Other secrets each function may read on a rotated secret's behalf, by function: masters
   * (masterarn) for the database functions, admin secrets (adminSecretArn) for the API-key
   * function. A master listed under `masters:` is readable by its engine's function already.
   */
  relatedSecrets: v.optional(
    v.strictObject({ postgres: secretList, mysql: secretList, apikey: secretList }),
    { postgres: [], mysql: [], apikey: [] },
  ),
  /** Master bindings (ROTOR_MASTERS). */
  masters: v.optional(v.array(masterEntry), []),
  /** Rotated secrets bound to the RDS database whose master password rds-master resets (ROTOR_RDS_MASTERS). */
  rdsMasters: v.optional(v.array(rdsMasterEntry), []),
  /** The adoption record (`rotor attach --adopt`): every function may read it, none may write it. */
  adoptionsSecret: v.optional(secretReference, 'rotor/adoptions'),
  /** API-key provider descriptions by name (see rotators/apikey). Passed to the apikey function. */
  apiKeyProviders: v.optional(v.record(v.string(), v.unknown()), {}),
  secrets: v.optional(v.array(secretEntry), []),
  /** The scheduled heal function: report stuck rotations (default) or heal them. */
  heal: v.optional(
    v.strictObject({
      mode: v.optional(v.picklist(['report', 'heal'], 'must be "report" or "heal"'), 'report'),
      schedule: v.optional(
        v.pipe(
          v.string(),
          v.regex(
            /^(rate\(\s*\d+\s+(minutes?|hours?|days?)\s*\)|cron\(.+\))$/,
            'must be rate(...) or cron(...)',
          ),
        ),
        'rate(1 hour)',
      ),
      minAgeMinutes: v.optional(
        v.pipe(v.number(), v.integer(), v.minValue(15, 'must be at least 15 (a rotation may be running)')),
        60,
      ),
    }),
    { mode: 'report', schedule: 'rate(1 hour)', minAgeMinutes: 60 },
  ),
});

type ParsedConfig = v.InferOutput<typeof configSchema>;
export type SecretEntry = v.InferOutput<typeof secretEntry>;
export type MasterEntry = v.InferOutput<typeof masterEntry>;
/** An rdsMasters entry with its engine resolved (from the entry, else from `secrets:`). */
export type RdsMasterEntry = Omit<v.InferOutput<typeof rdsMasterEntry>, 'engine'> & {
  engine: DatabaseEngine;
};
export type DeployConfig = Omit<ParsedConfig, 'rdsMasters'> & { rdsMasters: RdsMasterEntry[] };

export class DeployConfigError extends Error {
  override readonly name = 'DeployConfigError';
}

/** Validates a parsed stage file. `source` names it in messages. */
export function parseDeployConfig(value: unknown, source: string): DeployConfig {
  const fail = (where: string, message: string): never => {
    throw new DeployConfigError(`${source}: ${where}: ${message}`);
  };
  if (Array.isArray((value as { relatedSecrets?: unknown } | null)?.relatedSecrets)) {
    fail(
      'relatedSecrets',
      'must name the function that may read each secret (relatedSecrets: {postgres: [...], mysql: [...], apikey: [...]}); one list for every function would let the API-key function read database masters and the reverse. Masters with a binding go under masters:',
    );
  }
  const result = v.safeParse(configSchema, value);
  if (!result.success) {
    // A mistyped key also reads as a missing one: naming the typo is the more useful line.
    const issue =
      result.issues.find((i) => i.type === 'strict_object' && i.expected === 'never') ?? result.issues[0];
    const path = v.getDotPath(issue) ?? '(file)';
    fail(`${path}${describeEntry(value, issue.path)}`, explainIssue(issue));
  }
  const parsed = (result as v.SafeParseResult<typeof configSchema> & { success: true }).output;
  const check: Checker = {
    fail,
    inRegion(where, id) {
      const other = secretRegion(id);
      if (other !== undefined && other !== parsed.region)
        fail(where, `not in region ${parsed.region} (the ARN says ${other})`);
    },
  };

  const listed = checkSecrets(parsed, check);
  const masterKeys = checkMasters(parsed, check);
  const { rdsMasters, rdsKeys } = checkRdsMasters(parsed, listed, check);
  const rotated = (id: string) => listed.has(secretKey(id)) || rdsKeys.has(secretKey(id));
  checkRelatedSecrets(parsed, masterKeys, check);
  checkOnCall(parsed, rotated, check);
  checkApiKeyProviders(parsed, check);
  checkAdoptionsSecret(parsed, rotated, masterKeys, check);
  return { ...parsed, rdsMasters };
}

/** How the section checks report: a problem at a place in the file, an id outside the stage's region. */
interface Checker {
  fail(where: string, message: string): never;
  inRegion(where: string, id: string): void;
}

/** `secrets:`: each listed once, rotatable by rotor, a strategy its engine has. Returns them by key. */
function checkSecrets(parsed: ParsedConfig, check: Checker): Map<string, SecretEntry> {
  const { fail } = check;
  const seen = new Set<string>();
  for (const [index, secret] of parsed.secrets.entries()) {
    const where = `secrets.${index} (${secret.id})`;
    if (seen.has(secretKey(secret.id))) fail(where, 'listed twice');
    seen.add(secretKey(secret.id));
    if (isServiceManaged(secret.id)) {
      fail(
        `secrets.${index}.id (${secret.id})`,
        'is managed by another service (rds!…), which rotates it itself',
      );
    }
    const fn = functionFor(secret.engine);
    const allowed = allowedStrategies(fn);
    if (secret.strategy !== undefined && !allowed.includes(secret.strategy)) {
      fail(
        `secrets.${index}.strategy (${secret.id})`,
        `engine ${secret.engine} supports ${allowed.join(', ')}`,
      );
    }
    const rds = secret.dbInstanceIdentifier !== undefined || secret.dbClusterIdentifier !== undefined;
    if (rds && fn === 'apikey') {
      fail(where, 'dbInstanceIdentifier / dbClusterIdentifier apply to database engines only');
    }
    check.inRegion(`secrets.${index}.id (${secret.id})`, secret.id);
    const window = secret.window === undefined ? undefined : windowProblem(secret.schedule, secret.window);
    if (window !== undefined) fail(`secrets.${index}.window (${secret.id})`, window);
  }
  return new Map(parsed.secrets.map((secret) => [secretKey(secret.id), secret]));
}

/** `masters:`: one binding per master, exactly one place it may log in. Returns where each is listed. */
function checkMasters(parsed: ParsedConfig, check: Checker): Map<string, string> {
  const { fail } = check;
  const masterKeys = new Map<string, string>();
  for (const [index, master] of parsed.masters.entries()) {
    const where = `masters.${index} (${master.secret})`;
    check.inRegion(`masters.${index}.secret (${master.secret})`, master.secret);
    if (masterKeys.has(secretKey(master.secret))) fail(where, 'listed twice (a master has one binding)');
    masterKeys.set(secretKey(master.secret), where);
    const endpoints = (['host', 'hosts', 'dbInstanceIdentifier', 'dbClusterIdentifier'] as const).filter(
      (key) => master[key] !== undefined,
    );
    if (endpoints.length !== 1) {
      fail(
        where,
        `needs exactly one of host, hosts, dbInstanceIdentifier, dbClusterIdentifier (where the master may log in)${endpoints.length > 1 ? `, not ${endpoints.join(' and ')}` : ''}`,
      );
    }
    if (
      master.tls?.mode === 'disable' &&
      (master.tls.ca !== undefined || master.tls.serverName !== undefined)
    ) {
      fail(
        `masters.${index}.tls (${master.secret})`,
        'ca and serverName apply to verified TLS, not to mode disable',
      );
    }
  }
  return masterKeys;
}

/**
 * `rdsMasters:`: one database per secret, agreeing with `secrets:` where it lists the secret, and
 * every rds-master secret bound. Returns the entries with their engine resolved, and their keys.
 */
function checkRdsMasters(
  parsed: ParsedConfig,
  listed: ReadonlyMap<string, SecretEntry>,
  check: Checker,
): { rdsMasters: RdsMasterEntry[]; rdsKeys: Set<string> } {
  const { fail } = check;
  const rdsMasters: RdsMasterEntry[] = [];
  const rdsKeys = new Set<string>();
  for (const [index, entry] of parsed.rdsMasters.entries()) {
    const where = `rdsMasters.${index} (${entry.secret})`;
    check.inRegion(`rdsMasters.${index}.secret (${entry.secret})`, entry.secret);
    if (rdsKeys.has(secretKey(entry.secret))) fail(where, 'listed twice (a secret resets one master)');
    rdsKeys.add(secretKey(entry.secret));
    if (isServiceManaged(entry.secret)) {
      fail(`rdsMasters.${index}.secret (${entry.secret})`, 'is managed by RDS, which rotates it itself');
    }
    if ((entry.dbInstanceIdentifier === undefined) === (entry.dbClusterIdentifier === undefined)) {
      fail(
        where,
        'needs exactly one of dbInstanceIdentifier, dbClusterIdentifier (the database whose master password this secret holds; for Aurora, the cluster)',
      );
    }
    const secret = listed.get(secretKey(entry.secret));
    if (secret !== undefined) checkRdsMasterAgainstSecret(index, entry, secret, check);
    const engine = entry.engine ?? (secret?.engine as DatabaseEngine | undefined);
    if (engine === undefined) {
      fail(
        `rdsMasters.${index}.engine (${entry.secret})`,
        `needed (one of ${DATABASE_ENGINES.join(', ')}): the secret is not listed under secrets:, which would name it`,
      );
    }
    rdsMasters.push({ ...entry, engine: engine as DatabaseEngine });
  }
  for (const [index, secret] of parsed.secrets.entries()) {
    if (secret.strategy === 'rds-master' && !rdsKeys.has(secretKey(secret.id))) {
      fail(
        `secrets.${index} (${secret.id})`,
        'strategy rds-master needs an rdsMasters entry binding this secret to its DB instance or cluster (the only databases whose master password rotor may reset)',
      );
    }
  }
  return { rdsMasters, rdsKeys };
}

/** An rdsMasters entry whose secret `secrets:` lists too: strategy, engine and database agree. */
function checkRdsMasterAgainstSecret(
  index: number,
  entry: ParsedConfig['rdsMasters'][number],
  secret: SecretEntry,
  { fail }: Checker,
): void {
  const where = `rdsMasters.${index} (${entry.secret})`;
  if (secret.strategy !== 'rds-master') {
    fail(
      where,
      `secrets: lists it with strategy ${secret.strategy ?? '(none)'}; only rds-master secrets reset a master password`,
    );
  }
  if (entry.engine !== undefined && entry.engine !== secret.engine) {
    fail(`rdsMasters.${index}.engine (${entry.secret})`, `secrets: lists it with engine ${secret.engine}`);
  }
  for (const key of ['dbInstanceIdentifier', 'dbClusterIdentifier'] as const) {
    if (secret[key] !== undefined && entry[key] !== undefined && secret[key] !== entry[key]) {
      fail(`rdsMasters.${index}.${key} (${entry.secret})`, `secrets: names ${secret[key]} for it`);
    }
  }
}

/** `relatedSecrets:`: in the region, and no secret readable by both the API-key and a database function. */
function checkRelatedSecrets(
  parsed: ParsedConfig,
  masterKeys: ReadonlyMap<string, string>,
  check: Checker,
): void {
  for (const fn of ROTATION_FUNCTION_KEYS) {
    for (const [index, id] of parsed.relatedSecrets[fn].entries()) {
      check.inRegion(`relatedSecrets.${fn}.${index} (${id})`, id);
    }
  }
  const databaseSide = new Map<string, string>(masterKeys);
  for (const fn of ['postgres', 'mysql'] as const) {
    for (const [index, id] of parsed.relatedSecrets[fn].entries()) {
      databaseSide.set(secretKey(id), `relatedSecrets.${fn}.${index}`);
    }
  }
  for (const [index, id] of parsed.relatedSecrets.apikey.entries()) {
    const other = databaseSide.get(secretKey(id));
    if (other !== undefined) {
      check.fail(
        `relatedSecrets.apikey.${index} (${id})`,
        `also readable by a database function (${other}): the API-key function may not read a database master, nor a database function an admin secret`,
      );
    }
  }
}

/** `onCall:`: the paging secrets are in the region and not rotated (CloudFormation reads them once). */
function checkOnCall(parsed: ParsedConfig, rotated: (id: string) => boolean, check: Checker): void {
  const { pagerDuty, slack } = parsed.onCall;
  for (const [where, id] of [
    ['onCall.pagerDuty.routingKeySecret', pagerDuty?.routingKeySecret],
    ['onCall.slack.webhookSecret', slack?.webhookSecret],
  ] as const) {
    if (id !== undefined && rotated(id)) {
      check.fail(
        `${where} (${id})`,
        'must not be rotated by rotor: CloudFormation reads it once, at deploy, so a rotated value would stop the pages',
      );
    }
  }
  if (pagerDuty !== undefined) {
    check.inRegion(
      `onCall.pagerDuty.routingKeySecret (${pagerDuty.routingKeySecret})`,
      pagerDuty.routingKeySecret,
    );
  }
  if (slack !== undefined)
    check.inRegion(`onCall.slack.webhookSecret (${slack.webhookSecret})`, slack.webhookSecret);
}

/**
 * `apiKeyProviders:`: the admin secrets a provider description pins are read by the API-key
 * function: it must be allowed to read them, and they must be secret ids (the function checks
 * them again at start).
 */
function checkApiKeyProviders(parsed: ParsedConfig, check: Checker): void {
  const adminReadable = new Set(parsed.relatedSecrets.apikey.map(secretKey));
  for (const [name, description] of Object.entries(parsed.apiKeyProviders)) {
    if (typeof description !== 'object' || description === null) continue;
    const { adminSecret, adminSecrets } = description as { adminSecret?: unknown; adminSecrets?: unknown };
    const pins: [string, unknown][] = [
      ...(adminSecret === undefined ? [] : [['adminSecret', adminSecret] as [string, unknown]]),
      ...(Array.isArray(adminSecrets)
        ? adminSecrets.map((id, index): [string, unknown] => [`adminSecrets.${index}`, id])
        : adminSecrets === undefined
          ? []
          : [['adminSecrets', adminSecrets] as [string, unknown]]),
    ];
    for (const [field, id] of pins) {
      const where = `apiKeyProviders.${name}.${field}`;
      if (typeof id !== 'string' || !isSecretReference(id)) {
        check.fail(where, 'must be a secret name, partial ARN or full ARN (adminSecrets: a list of them)');
      }
      check.inRegion(`${where} (${id})`, id as string);
      if (!adminReadable.has(secretKey(id as string))) {
        check.fail(
          `${where} (${id})`,
          'is not listed under relatedSecrets.apikey, so the apikey function could not read it: list it there',
        );
      }
    }
  }
}

/** `adoptionsSecret:`: in the region, a secret of its own that no rotor function rotates. */
function checkAdoptionsSecret(
  parsed: ParsedConfig,
  rotated: (id: string) => boolean,
  masterKeys: ReadonlyMap<string, string>,
  check: Checker,
): void {
  const adoptions = parsed.adoptionsSecret;
  check.inRegion(`adoptionsSecret (${adoptions})`, adoptions);
  if (rotated(adoptions)) {
    check.fail(
      `adoptionsSecret (${adoptions})`,
      'must not be rotated by rotor: only operators write the adoption record, and a rotation function may write the secrets it rotates',
    );
  }
  const relatedKeys = new Set([
    ...masterKeys.keys(),
    ...ROTATION_FUNCTION_KEYS.flatMap((fn) => parsed.relatedSecrets[fn].map(secretKey)),
  ]);
  if (relatedKeys.has(secretKey(adoptions))) {
    check.fail(
      `adoptionsSecret (${adoptions})`,
      'must be a secret of its own, not a master or related secret (its value is the adoption record)',
    );
  }
}

type Issue = v.InferIssue<typeof configSchema>;
type AnySchema = v.GenericSchema & {
  wrapped?: AnySchema;
  item?: AnySchema;
  entries?: Record<string, AnySchema>;
};

/** The schema at a path of keys (through optional wrappers, lists and objects), if any. */
function schemaAt(keys: readonly unknown[]): AnySchema | undefined {
  let schema: AnySchema | undefined = configSchema as AnySchema;
  for (const key of keys) {
    while (schema?.wrapped !== undefined) schema = schema.wrapped;
    if (schema === undefined) return undefined;
    schema = typeof key === 'number' ? schema.item : schema.entries?.[String(key)];
  }
  while (schema?.wrapped !== undefined) schema = schema.wrapped;
  return schema;
}

/**
 * One line a person can act on instead of valibot's wording: a missing key says what it needs
 * (`required: must be one of: …`), an unknown key names the closest known one
 * ("unknown key `shedule` (did you mean `schedule`?)").
 */
function explainIssue(issue: Issue): string {
  const keys = (issue.path ?? []).map((item) => item.key);
  const objectIssue = issue.type === 'strict_object';
  if (objectIssue && issue.expected === 'never') {
    const key = String(keys.at(-1));
    const known = Object.keys(schemaAt(keys.slice(0, -1))?.entries ?? {});
    const closest = closestKey(key, known);
    return closest !== undefined
      ? `unknown key \`${key}\` (did you mean \`${closest}\`?)`
      : `unknown key \`${key}\` (known keys: ${known.join(', ')})`;
  }
  if (objectIssue && issue.received === 'undefined') {
    const schema = schemaAt(keys);
    const inner = schema === undefined ? undefined : v.safeParse(schema, undefined).issues?.[0]?.message;
    return inner === undefined || inner.startsWith('Invalid ') ? 'required' : `required: ${inner}`;
  }
  return issue.message;
}

/** The known key a mistyped one most likely meant (edit distance at most 2, or a case change). */
export function closestKey(key: string, known: readonly string[]): string | undefined {
  let best: { key: string; distance: number } | undefined;
  for (const candidate of known) {
    const distance =
      candidate.toLowerCase() === key.toLowerCase()
        ? 0
        : editDistance(key.toLowerCase(), candidate.toLowerCase());
    if (
      distance <= Math.min(2, Math.max(1, Math.floor(candidate.length / 3))) &&
      (!best || distance < best.distance)
    ) {
      best = { key: candidate, distance };
    }
  }
  return best?.key;
}

function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      next[j] = Math.min((row[j] as number) + 1, (next[j - 1] as number) + 1, (row[j - 1] as number) + cost);
    }
    row = next;
  }
  return row[b.length] as number;
}

/** ` (<id>)` for an issue inside a list entry that names a secret, to say which entry is wrong. */
function describeEntry(value: unknown, path: readonly { key: unknown }[] | undefined): string {
  const list = path?.[0]?.key;
  const index = path?.[1]?.key;
  if (typeof list !== 'string' || typeof index !== 'number') return '';
  const entry = (value as Record<string, unknown>)[list];
  if (!Array.isArray(entry)) return '';
  const item = entry[index] as { id?: unknown; secret?: unknown } | undefined;
  const id = item?.id ?? item?.secret;
  return typeof id === 'string' ? ` (${id})` : '';
}

export function functionFor(engine: string): RotationFunctionKey {
  for (const [fn, engines] of Object.entries(FUNCTION_ENGINES)) {
    if ((engines as readonly string[]).includes(engine)) return fn as RotationFunctionKey;
  }
  throw new DeployConfigError(`no function rotates engine ${engine}`);
}

function allowedStrategies(fn: RotationFunctionKey): readonly string[] {
  return ROTATION_FUNCTIONS[fn].strategies;
}
