/**
 * Generates the CloudFormation that serverless.yml cannot express statically: one least-privilege
 * role per function, the invoke permissions, one rotation schedule per configured secret, the
 * on-call topic, alarms and rules. Everything is derived offline from the stage file; account and
 * region come from CloudFormation pseudo parameters at deploy time, never from AWS at packaging.
 */
import { createHash } from 'node:crypto';
import { runbookUrl } from '../handlers/runbook.js';
import {
  type DeployConfig,
  FUNCTION_ENGINES,
  functionFor,
  isFullSecretArn,
  type MasterEntry,
  type RotationFunctionKey,
} from './config.js';

export interface ServiceNames {
  service: string;
  stage: string;
}

type Json = Record<string, unknown>;

const sub = (text: string) => ({ 'Fn::Sub': text });
const ref = (name: string) => ({ Ref: name });
const getAtt = (name: string, attribute: string) => ({ 'Fn::GetAtt': [name, attribute] });

export const ROTATION_FUNCTIONS = Object.keys(FUNCTION_ENGINES) as RotationFunctionKey[];
export const HEAL_FUNCTION = 'heal';

/** osls's logical id for a function key: `postgres` → `PostgresLambdaFunction`. */
export function functionLogicalId(fn: string): string {
  return `${fn.charAt(0).toUpperCase()}${fn.slice(1)}LambdaFunction`;
}

export function roleLogicalId(fn: string): string {
  return `Rotor${fn.charAt(0).toUpperCase()}${fn.slice(1)}Role`;
}

export function permissionLogicalId(fn: string): string {
  return `Rotor${fn.charAt(0).toUpperCase()}${fn.slice(1)}InvokePermission`;
}

function functionName(names: ServiceNames, fn: string): string {
  return `${names.service}-${names.stage}-${fn}`;
}

/**
 * A secret reference as an IAM resource. Secrets Manager appends `-` and six random characters to a
 * secret's name in its ARN, and IAM matches the whole ARN: a full ARN is used as given; a name
 * (including names another service manages, `rds!db-…`, `rds!cluster-…`) and a partial ARN get the
 * `-??????` wildcard, which matches exactly that suffix (`*` would match other secrets too).
 */
export function secretResource(id: string): unknown {
  if (isFullSecretArn(id)) return id;
  if (id.startsWith('arn:')) return `${id}-??????`;
  return sub(`arn:\${AWS::Partition}:secretsmanager:\${AWS::Region}:\${AWS::AccountId}:secret:${id}-??????`);
}

/** The engines a function (or the heal function, every engine) works for. */
function enginesOf(fn: RotationFunctionKey | typeof HEAL_FUNCTION): readonly string[] {
  return fn === HEAL_FUNCTION ? Object.values(FUNCTION_ENGINES).flat() : FUNCTION_ENGINES[fn];
}

/** The master bindings a function receives (ROTOR_MASTERS) and may read: its engines' only. */
export function mastersOf(
  config: DeployConfig,
  fn: RotationFunctionKey | typeof HEAL_FUNCTION,
): MasterEntry[] {
  const engines = enginesOf(fn);
  return config.masters.filter((master) => engines.includes(master.engine));
}

/** ROTOR_MASTERS for a function, in the format handlers/config.ts parses (`host` becomes `hosts`). */
export function mastersJson(config: DeployConfig, fn: RotationFunctionKey | typeof HEAL_FUNCTION): string {
  return JSON.stringify(
    mastersOf(config, fn).map((master) => ({
      secret: master.secret,
      ...(master.host !== undefined ? { hosts: [master.host] } : {}),
      ...(master.hosts !== undefined ? { hosts: master.hosts } : {}),
      ...(master.dbInstanceIdentifier !== undefined
        ? { dbInstanceIdentifier: master.dbInstanceIdentifier }
        : {}),
      ...(master.dbClusterIdentifier !== undefined
        ? { dbClusterIdentifier: master.dbClusterIdentifier }
        : {}),
      ...(master.port !== undefined ? { port: master.port } : {}),
      ...(master.tls !== undefined ? { tls: master.tls } : {}),
      ...(master.manages !== undefined ? { manages: master.manages } : {}),
    })),
  );
}

/** ROTOR_RDS_MASTERS for a function: the rds-master bindings of its engines. */
export function rdsMastersJson(config: DeployConfig, fn: RotationFunctionKey | typeof HEAL_FUNCTION): string {
  const engines = enginesOf(fn);
  return JSON.stringify(
    config.rdsMasters
      .filter((entry) => engines.includes(entry.engine))
      .map((entry) =>
        entry.dbClusterIdentifier !== undefined
          ? { secret: entry.secret, dbClusterIdentifier: entry.dbClusterIdentifier }
          : { secret: entry.secret, dbInstanceIdentifier: entry.dbInstanceIdentifier },
      ),
  );
}

/** The other secrets a function may read: its engines' masters and its own related secrets. */
function relatedSecretsOf(config: DeployConfig, fn: RotationFunctionKey | typeof HEAL_FUNCTION): string[] {
  const own =
    fn === HEAL_FUNCTION
      ? ROTATION_FUNCTIONS.flatMap((f) => config.relatedSecrets[f])
      : config.relatedSecrets[fn];
  return [...new Set([...mastersOf(config, fn).map((master) => master.secret), ...own])];
}

const rdsArn = (type: 'db' | 'cluster', id: string) =>
  sub(`arn:\${AWS::Partition}:rds:\${AWS::Region}:\${AWS::AccountId}:${type}:${id}`);

/**
 * RDS permissions of a database function: describe the instances and clusters its engines' secrets,
 * master bindings and rds-master bindings name (endpoint discovery, the master user's name), and
 * modify only the databases `rdsMasters:` binds to a secret of its engines: the only master
 * passwords rds-master may reset. Nothing on `*`.
 */
function rdsStatements(config: DeployConfig, fn: RotationFunctionKey): Json[] {
  const engines: readonly string[] = FUNCTION_ENGINES[fn];
  const secrets = config.secrets.filter((secret) => functionFor(secret.engine) === fn);
  const masters = mastersOf(config, fn);
  const bound = config.rdsMasters.filter((entry) => engines.includes(entry.engine));
  type Named = { dbInstanceIdentifier?: string | undefined; dbClusterIdentifier?: string | undefined };
  const ids = (key: keyof Named, list: Named[]) => [
    ...new Set(list.map((item) => item[key]).filter((id): id is string => id !== undefined)),
  ];
  const described: Named[] = [...secrets, ...masters, ...bound];
  const statements: Json[] = [];
  const add = (sid: string, action: string, type: 'db' | 'cluster', list: string[]) => {
    if (list.length > 0) {
      statements.push({
        Sid: sid,
        Effect: 'Allow',
        Action: action,
        Resource: list.map((id) => rdsArn(type, id)),
      });
    }
  };
  add('DescribeRdsInstances', 'rds:DescribeDBInstances', 'db', ids('dbInstanceIdentifier', described));
  add('DescribeRdsClusters', 'rds:DescribeDBClusters', 'cluster', ids('dbClusterIdentifier', described));
  add('RdsMasterPasswordInstances', 'rds:ModifyDBInstance', 'db', ids('dbInstanceIdentifier', bound));
  add('RdsMasterPasswordClusters', 'rds:ModifyDBCluster', 'cluster', ids('dbClusterIdentifier', bound));
  return statements;
}

function logsStatement(name: string): Json {
  return {
    Sid: 'OwnLogs',
    Effect: 'Allow',
    Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
    Resource: sub(
      `arn:\${AWS::Partition}:logs:\${AWS::Region}:\${AWS::AccountId}:log-group:/aws/lambda/${name}:*`,
    ),
  };
}

/** Secret actions, only on secrets whose rotation is configured to `functions` (one ARN or a pattern). */
function secretsStatement(
  actions: string[],
  operator: 'StringEquals' | 'StringLike',
  functions: string,
): Json {
  return {
    Sid: 'RotatedSecrets',
    Effect: 'Allow',
    Action: actions,
    Resource: sub('arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:*'),
    Condition: {
      [operator]: {
        'secretsmanager:resource/AllowRotationLambdaArn': sub(
          `arn:\${AWS::Partition}:lambda:\${AWS::Region}:\${AWS::AccountId}:function:${functions}`,
        ),
      },
    },
  };
}

/**
 * Statements every rotor function has: its events, the adoption record (read only: operators write
 * it), the other secrets it may read (its own, never another function's), the secrets' KMS keys.
 */
function sharedStatements(config: DeployConfig, fn: RotationFunctionKey | typeof HEAL_FUNCTION): Json[] {
  const statements: Json[] = [
    {
      Sid: 'PublishRotorEvents',
      Effect: 'Allow',
      Action: 'events:PutEvents',
      Resource: sub(
        `arn:\${AWS::Partition}:events:\${AWS::Region}:\${AWS::AccountId}:event-bus/${config.eventBus}`,
      ),
      Condition: { StringEquals: { 'events:source': config.eventSource } },
    },
    {
      Sid: 'ReadAdoptionRecord',
      Effect: 'Allow',
      Action: 'secretsmanager:GetSecretValue',
      Resource: secretResource(config.adoptionsSecret),
    },
  ];
  const related = relatedSecretsOf(config, fn);
  if (related.length > 0) {
    statements.push({
      Sid: 'RelatedSecrets',
      Effect: 'Allow',
      // A database function also reads a master secret's tags: RDS tags the master secrets it
      // manages with their instance or cluster, which decides where the master may log in.
      Action:
        fn === 'apikey'
          ? 'secretsmanager:GetSecretValue'
          : ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
      Resource: related.map(secretResource),
    });
  }
  if (config.kmsKeyArns.length > 0) {
    statements.push({
      Sid: 'SecretKeysViaSecretsManager',
      Effect: 'Allow',
      // GenerateDataKey encrypts a new version (PutSecretValue): the heal function puts none.
      Action: fn === HEAL_FUNCTION ? 'kms:Decrypt' : ['kms:Decrypt', 'kms:GenerateDataKey'],
      Resource: config.kmsKeyArns,
      Condition: { StringEquals: { 'kms:ViaService': sub('secretsmanager.${AWS::Region}.amazonaws.com') } },
    });
  }
  return statements;
}

/** An IAM role a service assumes, with one inline policy `rotor`. */
function serviceRole(
  description: string,
  trust: { Effect: 'Allow'; Principal: { Service: string }; Action: 'sts:AssumeRole'; Condition?: Json },
  statements: Json[],
  managedPolicyArns: Json[] = [],
): Json {
  return {
    Type: 'AWS::IAM::Role',
    Properties: {
      Description: description,
      AssumeRolePolicyDocument: { Version: '2012-10-17', Statement: [trust] },
      ...(managedPolicyArns.length === 0 ? {} : { ManagedPolicyArns: managedPolicyArns }),
      Policies: [{ PolicyName: 'rotor', PolicyDocument: { Version: '2012-10-17', Statement: statements } }],
    },
  };
}

/** A role for a Lambda function (in a VPC: with the managed policy for its network interfaces). */
function role(description: string, statements: Json[], inVpc: boolean): Json {
  return serviceRole(
    description,
    { Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' },
    statements,
    inVpc ? [sub('arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole')] : [],
  );
}

function rotationRole(config: DeployConfig, names: ServiceNames, fn: RotationFunctionKey): Json {
  const name = functionName(names, fn);
  return role(
    `rotor ${fn} rotation function (${names.stage})`,
    [
      logsStatement(name),
      // Only secrets whose rotation is configured to this very function.
      secretsStatement(
        [
          'secretsmanager:DescribeSecret',
          'secretsmanager:GetSecretValue',
          'secretsmanager:PutSecretValue',
          'secretsmanager:UpdateSecretVersionStage',
        ],
        'StringEquals',
        name,
      ),
      ...sharedStatements(config, fn),
      ...rdsStatements(config, fn),
    ],
    config.vpc !== undefined && fn !== 'apikey',
  );
}

/**
 * The heal function's role: it may list secrets (ListSecrets has no resource to scope to, and
 * returns no value), and touch only secrets rotated by this deployment's rotation functions. It
 * tests credentials like the rotation functions do, so it reads the same related secrets and
 * databases, but modifies nothing but staging labels.
 */
function healRole(config: DeployConfig, names: ServiceNames): Json {
  const rds = ROTATION_FUNCTIONS.flatMap((fn) => rdsStatements(config, fn)).filter((s) =>
    String(s.Action).startsWith('rds:Describe'),
  );
  const merged = new Map<string, Json>();
  for (const statement of rds) {
    const existing = merged.get(String(statement.Sid));
    if (existing === undefined) merged.set(String(statement.Sid), { ...statement });
    else existing.Resource = [...(existing.Resource as unknown[]), ...(statement.Resource as unknown[])];
  }
  return role(
    `rotor heal function (${names.stage})`,
    [
      logsStatement(functionName(names, HEAL_FUNCTION)),
      {
        Sid: 'ListSecretsHasNoResourceScope',
        Effect: 'Allow',
        Action: 'secretsmanager:ListSecrets',
        Resource: '*',
      },
      secretsStatement(
        [
          'secretsmanager:DescribeSecret',
          'secretsmanager:GetSecretValue',
          'secretsmanager:ListSecretVersionIds',
          'secretsmanager:UpdateSecretVersionStage',
        ],
        'StringLike',
        `${names.service}-${names.stage}-*`,
      ),
      ...sharedStatements(config, HEAL_FUNCTION),
      ...merged.values(),
    ],
    config.vpc !== undefined,
  );
}

/** Stable logical id for a configured secret. */
export function scheduleLogicalId(id: string): string {
  const slug = id
    .replace(/^arn:.*:secret:/, '')
    .replace(/[^A-Za-z0-9]/g, '')
    .slice(0, 40);
  const hash = createHash('sha256').update(id).digest('hex').slice(0, 8);
  return `RotationSchedule${slug}${hash}`;
}

const ON_CALL_TOPIC = 'RotorOnCallTopic';
/**
 * Notices: what on-call must read but that is not a page of its own (the refusal alarm: the
 * refused rotation pages once, on RotationFailed). Its subscribers: the on-call e-mail addresses.
 */
export const NOTICE_TOPIC = 'RotorNoticeTopic';
export const PAGING_ROLE = 'RotorPagingRole';
export const PAGERDUTY_CONNECTION = 'RotorPagerDutyConnection';
export const PAGERDUTY_DESTINATION = 'RotorPagerDutyDestination';
export const SLACK_CONNECTION = 'RotorSlackConnection';
export const SLACK_DESTINATION = 'RotorSlackDestination';
export const CENTRAL_BUS_ROLE = 'RotorCentralBusRole';
/** PagerDuty Events API v2's endpoint. */
export const PAGERDUTY_EVENTS_URL = 'https://events.pagerduty.com/v2/enqueue';
/**
 * The PagerDuty deduplication key of a secret's incident. Secrets Manager's own `RotationFailed`
 * carries no rotation token, and the next successful rotation (which resolves the incident) runs
 * with a new token: so one secret has one open incident at a time, keyed by its ARN.
 */
export const dedupKey = (secretPlaceholder: string) => `rotor:${secretPlaceholder}`;

/** Secrets Manager's rotation events (CloudTrail service events) that the central bus receives. */
export const AWS_ROTATION_EVENTS = [
  'RotationStarted',
  'RotationSucceeded',
  'RotationFailed',
  'RotationAbandoned',
  'TestRotationStarted',
  'TestRotationSucceeded',
  'TestRotationFailed',
] as const;

const AWS_SERVICE_EVENT = 'AWS Service Event via CloudTrail';

/** A resolved secret as a CloudFormation dynamic reference (resolved at deploy, never in the template). */
export function secretDynamicReference(id: string): string {
  return `{{resolve:secretsmanager:${id}:SecretString}}`;
}

/** One kind of page: the events it is for, and its text built from what those events carry. */
interface Page {
  /** Rule logical id. */
  id: string;
  description: string;
  /** The bus the events arrive on (AWS's events: the default bus). */
  bus: string;
  pattern: Json;
  /** Placeholders: `secret` (the secret's ARN) always; others as the event carries them. */
  paths: Record<string, string>;
  /** One paragraph, `<placeholders>` for the event's fields; no double quote. */
  text: string;
  /** One line for PagerDuty's summary (at most 1024 characters there): the text is in custom_details. */
  summary: string;
  /** The runbook link: a URL, or `<runbook>` when the event carries it. */
  runbook: string;
  severity: string;
  /** PagerDuty's class of the incident. */
  kind: string;
}

function eventRule(bus: string, description: string, pattern: Json, targets: Json[]): Json {
  return {
    Type: 'AWS::Events::Rule',
    Properties: {
      Description: description,
      ...(bus === 'default' ? {} : { EventBusName: bus }),
      EventPattern: pattern,
      Targets: targets,
    },
  };
}

/** The pages: only what needs a person, one page per incident (README, "On-call"). */
function pages(config: DeployConfig): Page[] {
  const base = config.runbookUrl;
  const pagerDutySeverity = config.onCall.pagerDuty?.severity ?? 'critical';
  const aws = (eventName: string): Json => ({
    source: ['aws.secretsmanager'],
    'detail-type': [AWS_SERVICE_EVENT],
    detail: { eventName: [eventName] },
  });
  const awsPaths = { secret: '$.detail.additionalEventData.SecretId' };
  return [
    {
      id: 'AwsRotationFailedRule',
      description:
        "Pages on-call once per failed rotation, a refused trust boundary included: Secrets Manager's own RotationFailed",
      bus: 'default',
      pattern: aws('RotationFailed'),
      paths: awsPaths,
      text: `Secrets Manager gave up the rotation of <secret> (RotationFailed): the rotation failed for good, after its retries. This event does not say whether AWSCURRENT still logs in: rotor status <secret> says, with the failing step and error; rotor history <secret> lists every attempt. When rotor status names an error of category security (a refused trust boundary), somebody may be trying to use rotor beyond this secret: find who last wrote <secret> (CloudTrail PutSecretValue / UpdateSecret) before anything is retried (${runbookUrl('TrustBoundaryError', base)}). Runbook: ${runbookUrl('RotationFailed', base)} (then the entry of the error rotor status names).`,
      summary: 'The rotation of <secret> failed for good (RotationFailed)',
      runbook: runbookUrl('RotationFailed', base),
      severity: pagerDutySeverity,
      kind: 'rotation failed',
    },
    {
      id: 'AwsTestRotationFailedRule',
      description:
        "Pages on-call when Secrets Manager's test of a rotation configuration fails (TestRotationFailed)",
      bus: 'default',
      pattern: aws('TestRotationFailed'),
      paths: awsPaths,
      text: `Secrets Manager's test of the rotation configuration of <secret> failed (TestRotationFailed): the first rotation would fail the same way. Next: rotor preflight <secret>, fix what it shows, then attach again. Runbook: ${runbookUrl('TestRotationFailed', base)}.`,
      summary: 'The rotation test of <secret> failed (TestRotationFailed)',
      runbook: runbookUrl('TestRotationFailed', base),
      severity: pagerDutySeverity,
      kind: 'rotation test failed',
    },
    {
      id: 'AwsRotationAbandonedRule',
      description: 'Pages on-call when a value put by hand abandons a rotation (RotationAbandoned)',
      bus: 'default',
      pattern: aws('RotationAbandoned'),
      paths: awsPaths,
      text: `Secrets Manager abandoned the rotation of <secret> (RotationAbandoned): a new AWSCURRENT was put by hand during the rotation (the rotation was abandoned). Whether the value put by hand logs in is not in this event: rotor preflight <secret> tests it; CloudTrail PutSecretValue names who put it. Runbook: ${runbookUrl('RotationAbandoned', base)}.`,
      summary: 'The rotation of <secret> was abandoned: a new AWSCURRENT was put by hand',
      runbook: runbookUrl('RotationAbandoned', base),
      severity: 'warning',
      kind: 'rotation abandoned',
    },
    ...healNeeded(config.eventBus, config.eventSource, base, pagerDutySeverity),
  ];
}

/**
 * `Rotation Heal Needed` pages: one rule per combination of what the report carries, since an
 * input transformer cannot say "if". Whether AWSCURRENT passed the heal function's own test
 * (`currentWorks`) is said only when the report says it; the report's runbook link when it has one.
 */
function healNeeded(bus: string, source: string, base: string | undefined, severity: string): Page[] {
  const verdicts = [
    ['', [{ exists: false }], ''],
    [
      'CurrentWorks',
      [true],
      " AWSCURRENT passed the rotator's test when the heal function ran (currentWorks: true).",
    ],
    [
      'CurrentFails',
      [false],
      " AWSCURRENT did not pass the rotator's test when the heal function ran (currentWorks: false): <currentError>.",
    ],
  ] as const;
  return verdicts.flatMap(([name, works, sentence]) =>
    [true, false].map((linked) => {
      const runbook = linked ? '<runbook>' : runbookUrl('Rotation Heal Needed', base);
      return {
        id: `RotorHealNeeded${name}${linked ? '' : 'NoRunbook'}Rule`,
        description: `Pages on-call when rotor's heal function finds a rotation it left for a person (Rotation Heal Needed${name === '' ? '' : `, currentWorks ${works[0]}`}${linked ? '' : ' without a runbook link'})`,
        bus,
        pattern: {
          source: [source],
          'detail-type': ['Rotation Heal Needed'],
          detail: { runbook: [{ exists: linked }], currentWorks: works },
        },
        paths: {
          secret: '$.resources[0]',
          state: '$.detail.state',
          decision: '$.detail.decision',
          reason: '$.detail.reason',
          ...(name === 'CurrentFails' ? { currentError: '$.detail.currentError' } : {}),
          ...(linked ? { runbook: '$.detail.runbook' } : {}),
        },
        text: `rotor's heal function found the rotation of <secret> <state> and did not heal it (decision <decision>): <reason>${sentence} Next: rotor heal <secret> says why; --yes carries the decision out. Runbook: ${runbook}`,
        summary: 'The rotation of <secret> is <state> and needs a person (decision <decision>)',
        runbook,
        severity,
        kind: 'rotation heal needed',
      };
    }),
  );
}

function pagingTargets(config: DeployConfig, names: ServiceNames, page: Page): Json[] {
  const targets: Json[] = [
    {
      Id: 'on-call',
      Arn: ref(ON_CALL_TOPIC),
      InputTransformer: { InputPathsMap: page.paths, InputTemplate: JSON.stringify(page.text) },
    },
  ];
  if (config.onCall.pagerDuty !== undefined) {
    targets.push({
      Id: 'pagerduty',
      Arn: getAtt(PAGERDUTY_DESTINATION, 'Arn'),
      RoleArn: getAtt(PAGING_ROLE, 'Arn'),
      InputTransformer: {
        InputPathsMap: page.paths,
        // routing_key: added by the connection (a secret body parameter), never written here.
        InputTemplate: JSON.stringify({
          event_action: 'trigger',
          dedup_key: dedupKey('<secret>'),
          payload: {
            summary: page.summary,
            source: '<secret>',
            severity: page.severity,
            component: 'rotor',
            group: `${names.service}-${names.stage}`,
            class: page.kind,
            custom_details: { page: page.text },
          },
          links: [{ href: page.runbook, text: 'Runbook' }],
        }),
      },
    });
  }
  if (config.onCall.slack !== undefined) {
    targets.push({
      Id: 'slack',
      Arn: getAtt(SLACK_DESTINATION, 'Arn'),
      RoleArn: getAtt(PAGING_ROLE, 'Arn'),
      InputTransformer: { InputPathsMap: page.paths, InputTemplate: JSON.stringify({ text: page.text }) },
    });
  }
  return targets;
}

/** A role EventBridge assumes for this account's rules only. */
function eventsRole(description: string, statements: Json[]): Json {
  return serviceRole(
    description,
    {
      Effect: 'Allow',
      Principal: { Service: 'events.amazonaws.com' },
      Action: 'sts:AssumeRole',
      Condition: { StringEquals: { 'aws:SourceAccount': ref('AWS::AccountId') } },
    },
    statements,
  );
}

/** PagerDuty and Slack: connections, API destinations, the role that invokes them. */
function pagingDestinations(config: DeployConfig, names: ServiceNames): Json {
  const resources: Json = {};
  const { pagerDuty, slack } = config.onCall;
  const prefix = `${names.service}-${names.stage}`;
  if (pagerDuty !== undefined) {
    const routingKey = secretDynamicReference(pagerDuty.routingKeySecret);
    resources[PAGERDUTY_CONNECTION] = {
      Type: 'AWS::Events::Connection',
      Properties: {
        Name: `${prefix}-pagerduty`,
        Description: `rotor on-call (${names.stage}): PagerDuty Events API v2; the routing key comes from ${pagerDuty.routingKeySecret}`,
        AuthorizationType: 'API_KEY',
        AuthParameters: {
          // The Events API reads the routing key from the body; a connection needs an
          // authorization, so the same key also goes in a header PagerDuty ignores.
          ApiKeyAuthParameters: { ApiKeyName: 'X-Routing-Key', ApiKeyValue: routingKey },
          InvocationHttpParameters: {
            BodyParameters: [{ Key: 'routing_key', Value: routingKey, IsValueSecret: true }],
          },
        },
      },
    };
    resources[PAGERDUTY_DESTINATION] = {
      Type: 'AWS::Events::ApiDestination',
      Properties: {
        Name: `${prefix}-pagerduty`,
        ConnectionArn: getAtt(PAGERDUTY_CONNECTION, 'Arn'),
        InvocationEndpoint: PAGERDUTY_EVENTS_URL,
        HttpMethod: 'POST',
        InvocationRateLimitPerSecond: 10,
      },
    };
  }
  if (slack !== undefined) {
    resources[SLACK_CONNECTION] = {
      Type: 'AWS::Events::Connection',
      Properties: {
        Name: `${prefix}-slack`,
        Description: `rotor on-call (${names.stage}): Slack incoming webhook; its URL (the credential) comes from ${slack.webhookSecret}`,
        AuthorizationType: 'API_KEY',
        // An incoming webhook's credential is its URL (the destination's endpoint, below); the
        // connection an API destination needs carries no credential.
        AuthParameters: { ApiKeyAuthParameters: { ApiKeyName: 'X-Rotor-Stage', ApiKeyValue: prefix } },
      },
    };
    resources[SLACK_DESTINATION] = {
      Type: 'AWS::Events::ApiDestination',
      Properties: {
        Name: `${prefix}-slack`,
        ConnectionArn: getAtt(SLACK_CONNECTION, 'Arn'),
        InvocationEndpoint: secretDynamicReference(slack.webhookSecret),
        HttpMethod: 'POST',
        InvocationRateLimitPerSecond: 1,
      },
    };
  }
  const destinations = [
    ...(pagerDuty === undefined ? [] : [PAGERDUTY_DESTINATION]),
    ...(slack === undefined ? [] : [SLACK_DESTINATION]),
  ];
  if (destinations.length > 0) {
    resources[PAGING_ROLE] = eventsRole(
      `rotor on-call (${names.stage}): invokes the paging API destinations`,
      [
        {
          Sid: 'InvokePagingDestinations',
          Effect: 'Allow',
          Action: 'events:InvokeApiDestination',
          Resource: destinations.map((id) => getAtt(id, 'Arn')),
        },
      ],
    );
  }
  return resources;
}

/** `centralEventBus`: rotor's events and Secrets Manager's rotation events, forwarded as they are. */
function centralBus(config: DeployConfig, names: ServiceNames): Json {
  const bus = config.centralEventBus;
  if (bus === undefined) return {};
  const target = { Id: 'central-bus', Arn: bus, RoleArn: getAtt(CENTRAL_BUS_ROLE, 'Arn') };
  return {
    [CENTRAL_BUS_ROLE]: eventsRole(`rotor (${names.stage}): forwards rotation events to the central bus`, [
      { Sid: 'PutEventsOnCentralBus', Effect: 'Allow', Action: 'events:PutEvents', Resource: bus },
    ]),
    RotorEventsToCentralBusRule: eventRule(
      config.eventBus,
      "Forwards rotor's events to the central event bus",
      { source: [config.eventSource] },
      [target],
    ),
    AwsRotationEventsToCentralBusRule: eventRule(
      'default',
      "Forwards Secrets Manager's rotation events to the central event bus",
      {
        source: ['aws.secretsmanager'],
        'detail-type': [AWS_SERVICE_EVENT],
        detail: { eventName: [...AWS_ROTATION_EVENTS] },
      },
      [target],
    ),
  };
}

/** The notice topic: what on-call reads by e-mail, not a page (the refusal alarm). */
function notices(config: DeployConfig, names: ServiceNames): Json {
  const resources: Json = {};
  resources[NOTICE_TOPIC] = {
    Type: 'AWS::SNS::Topic',
    Properties: {
      TopicName: `${names.service}-${names.stage}-notices`,
      DisplayName: 'rotor notices (not paging)',
    },
  };
  config.onCall.email.forEach((endpoint, index) => {
    resources[`RotorNoticeSubscription${index}`] = {
      Type: 'AWS::SNS::Subscription',
      Properties: { TopicArn: ref(NOTICE_TOPIC), Protocol: 'email', Endpoint: endpoint },
    };
  });
  resources.RotorNoticeTopicPolicy = {
    Type: 'AWS::SNS::TopicPolicy',
    Properties: {
      Topics: [ref(NOTICE_TOPIC)],
      PolicyDocument: {
        Version: '2012-10-17',
        Statement: [
          {
            Sid: 'AlarmsOfThisAccount',
            Effect: 'Allow',
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: 'sns:Publish',
            Resource: ref(NOTICE_TOPIC),
            Condition: { StringEquals: { 'aws:SourceAccount': ref('AWS::AccountId') } },
          },
        ],
      },
    },
  };
  return resources;
}

/** CloudWatch alarms: none pages (one incident pages once, on its event); the refusal alarm notifies. */
function alarms(config: DeployConfig, names: ServiceNames): Json {
  const resources: Json = {};
  // Not paging: one incident pages once, on AWS's RotationFailed (a refused rotation too). These stay
  // metrics and alarms for dashboards; the refusal alarm also notifies the notice topic.
  const notPaging =
    'Not paging: a rotation that fails for good pages once, on Secrets Manager\'s RotationFailed (a refused trust boundary too). Look: "rotor status" for the state, "rotor history <secret>" for each attempt.';
  resources.RotorTestSecretFailedAlarm = {
    Type: 'AWS::CloudWatch::Alarm',
    Properties: {
      AlarmName: `${names.service}-${names.stage}-test-secret-failed`,
      AlarmDescription: `rotor: an attempt of a rotation's testSecret step failed: the new credential was not promoted (Secrets Manager may retry). ${notPaging} (metric TestSecretFailed)`,
      Namespace: 'rotor',
      MetricName: 'TestSecretFailed',
      Dimensions: [{ Name: 'service', Value: `${names.service}-${names.stage}` }],
      Statistic: 'Sum',
      Period: 300,
      EvaluationPeriods: 1,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
    },
  };
  resources.RotorTrustBoundaryRefusedAlarm = {
    Type: 'AWS::CloudWatch::Alarm',
    Properties: {
      AlarmName: `${names.service}-${names.stage}-trust-boundary-refused`,
      AlarmDescription: `rotor REFUSED A TRUST BOUNDARY: a rotation step would have sent a master or admin credential somewhere nothing trusted decided, acted for a user nobody proved to hold, or touched an account, key or database not bound to the secret; rotor refused the step. Somebody may be trying to turn rotor against credentials beyond their secret: the "Rotation Step Failed" event (error category "security") names the secret and the rule. A notice, not a page: the refused rotation pages once, on Secrets Manager's RotationFailed. Next: find who last wrote that secret (CloudTrail PutSecretValue / UpdateSecret); if the setup is legitimate, an operator binds it in the stage file (masters, rdsMasters) or adopts the user (rotor attach --adopt). Never retry before that. Runbook: ${runbookUrl('TrustBoundaryError', config.runbookUrl)} (metric TrustBoundaryRefused)`,
      Namespace: 'rotor',
      MetricName: 'TrustBoundaryRefused',
      Dimensions: [{ Name: 'service', Value: `${names.service}-${names.stage}` }],
      Statistic: 'Sum',
      Period: 60,
      EvaluationPeriods: 1,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: [ref(NOTICE_TOPIC)],
    },
  };
  for (const fn of [...ROTATION_FUNCTIONS, HEAL_FUNCTION]) {
    resources[`Rotor${fn.charAt(0).toUpperCase()}${fn.slice(1)}ErrorsAlarm`] = {
      Type: 'AWS::CloudWatch::Alarm',
      Properties: {
        AlarmName: `${functionName(names, fn)}-errors`,
        AlarmDescription: `rotor: the ${fn} function failed an invocation (a step raised an error, or the function crashed or timed out). ${notPaging} (function ${functionName(names, fn)})`,
        Namespace: 'AWS/Lambda',
        MetricName: 'Errors',
        Dimensions: [{ Name: 'FunctionName', Value: ref(functionLogicalId(fn)) }],
        Statistic: 'Sum',
        Period: 300,
        EvaluationPeriods: 1,
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'notBreaching',
      },
    };
  }
  return resources;
}

function onCall(config: DeployConfig, names: ServiceNames): Json {
  const resources: Json = {
    [ON_CALL_TOPIC]: {
      Type: 'AWS::SNS::Topic',
      Properties: { TopicName: `${names.service}-${names.stage}-on-call`, DisplayName: 'rotor on-call' },
    },
  };
  const subscriptions = [
    ...config.onCall.email.map((endpoint) => ({ Protocol: 'email', Endpoint: endpoint })),
    ...config.onCall.https.map((endpoint) => ({ Protocol: 'https', Endpoint: endpoint })),
  ];
  subscriptions.forEach((subscription, index) => {
    resources[`RotorOnCallSubscription${index}`] = {
      Type: 'AWS::SNS::Subscription',
      Properties: { TopicArn: ref(ON_CALL_TOPIC), ...subscription },
    };
  });
  const paged = pages(config);
  resources.RotorOnCallTopicPolicy = {
    Type: 'AWS::SNS::TopicPolicy',
    Properties: {
      Topics: [ref(ON_CALL_TOPIC)],
      PolicyDocument: {
        Version: '2012-10-17',
        Statement: [
          {
            Sid: 'RotorRules',
            Effect: 'Allow',
            Principal: { Service: 'events.amazonaws.com' },
            Action: 'sns:Publish',
            Resource: ref(ON_CALL_TOPIC),
            Condition: { ArnEquals: { 'aws:SourceArn': paged.map((page) => getAtt(page.id, 'Arn')) } },
          },
        ],
      },
    },
  };

  Object.assign(resources, notices(config, names), alarms(config, names));
  for (const page of paged) {
    resources[page.id] = eventRule(
      page.bus,
      page.description,
      page.pattern,
      pagingTargets(config, names, page),
    );
  }
  if (config.onCall.pagerDuty !== undefined) {
    // The incident ends when the secret next rotates: the same key as the trigger.
    resources.RotorPagerDutyResolveRule = eventRule(
      config.eventBus,
      "Resolves the secret's PagerDuty incident when its next rotation succeeds",
      { source: [config.eventSource], 'detail-type': ['Rotation Succeeded'] },
      [
        {
          Id: 'pagerduty',
          Arn: getAtt(PAGERDUTY_DESTINATION, 'Arn'),
          RoleArn: getAtt(PAGING_ROLE, 'Arn'),
          InputTransformer: {
            InputPathsMap: { secret: '$.resources[0]' },
            InputTemplate: JSON.stringify({ event_action: 'resolve', dedup_key: dedupKey('<secret>') }),
          },
        },
      ],
    );
  }
  Object.assign(resources, pagingDestinations(config, names), centralBus(config, names));
  return resources;
}

/** Every generated resource and output, for `resources:` in serverless.yml. */
export function buildResources(
  config: DeployConfig,
  names: ServiceNames,
): { Resources: Json; Outputs: Json } {
  const resources: Json = {};
  const outputs: Json = {};
  resources[roleLogicalId(HEAL_FUNCTION)] = healRole(config, names);
  for (const fn of ROTATION_FUNCTIONS) {
    resources[roleLogicalId(fn)] = rotationRole(config, names, fn);
    resources[permissionLogicalId(fn)] = {
      Type: 'AWS::Lambda::Permission',
      Properties: {
        FunctionName: getAtt(functionLogicalId(fn), 'Arn'),
        Action: 'lambda:InvokeFunction',
        Principal: 'secretsmanager.amazonaws.com',
        // Confused deputy: AWS's "Permissions for the Lambda rotation function" (Secrets Manager
        // user guide) recommends aws:SourceAccount, and says aws:SourceArn is the rotated secret's
        // ARN (naming one secret's ARN limits the function to that secret). Secrets of this
        // account and region rotate here (the stage file's and those `rotor attach` adds), so the
        // SourceArn is that ARN pattern: Lambda compares it with ArnLike.
        SourceAccount: ref('AWS::AccountId'),
        SourceArn: sub('arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:*'),
      },
    };
    outputs[`${fn.charAt(0).toUpperCase()}${fn.slice(1)}RotationFunctionArn`] = {
      Description: `ARN of the ${fn} rotation function (for rotor attach --function)`,
      Value: getAtt(functionLogicalId(fn), 'Arn'),
    };
  }
  for (const secret of config.secrets) {
    const fn = functionFor(secret.engine);
    resources[scheduleLogicalId(secret.id)] = {
      Type: 'AWS::SecretsManager::RotationSchedule',
      DependsOn: [permissionLogicalId(fn)],
      Properties: {
        SecretId: secret.id,
        RotationLambdaARN: getAtt(functionLogicalId(fn), 'Arn'),
        RotationRules: {
          ScheduleExpression: secret.schedule,
          ...(secret.window ? { Duration: secret.window } : {}),
        },
        RotateImmediatelyOnUpdate: secret.rotateImmediately,
      },
    };
  }
  Object.assign(resources, onCall(config, names));
  outputs.OnCallTopicArn = { Description: 'Subscribe paging tools here', Value: ref(ON_CALL_TOPIC) };
  outputs.NoticeTopicArn = {
    Description: 'Notices that do not page (the trust-boundary refusal alarm)',
    Value: ref(NOTICE_TOPIC),
  };
  return { Resources: resources, Outputs: outputs };
}
