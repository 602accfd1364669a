/**
 * Generates the CloudFormation that serverless.yml cannot express statically: one least-privilege
 * role per function, the invoke permissions, one rotation schedule per configured secret, the
 * on-call topic, alarms and rules. Everything is derived offline from the stage file; account and
 * region come from CloudFormation pseudo parameters at deploy time, never from AWS at packaging.
 */
import { createHash } from 'node:crypto';
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
      Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
      Resource: config.kmsKeyArns,
      Condition: { StringEquals: { 'kms:ViaService': sub('secretsmanager.${AWS::Region}.amazonaws.com') } },
    });
  }
  return statements;
}

function role(description: string, statements: Json[], inVpc: boolean): Json {
  return {
    Type: 'AWS::IAM::Role',
    Properties: {
      Description: description,
      AssumeRolePolicyDocument: {
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' },
        ],
      },
      ...(inVpc
        ? {
            ManagedPolicyArns: [
              sub('arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole'),
            ],
          }
        : {}),
      Policies: [{ PolicyName: 'rotor', PolicyDocument: { Version: '2012-10-17', Statement: statements } }],
    },
  };
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
/** The error category of refused trust boundaries (rotators/errors.ts TrustBoundaryError). */
const SECURITY = 'security';

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
  resources.RotorOnCallTopicPolicy = {
    Type: 'AWS::SNS::TopicPolicy',
    Properties: {
      Topics: [ref(ON_CALL_TOPIC)],
      PolicyDocument: {
        Version: '2012-10-17',
        Statement: [
          {
            Sid: 'AlarmsOfThisAccount',
            Effect: 'Allow',
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: 'sns:Publish',
            Resource: ref(ON_CALL_TOPIC),
            Condition: { StringEquals: { 'aws:SourceAccount': ref('AWS::AccountId') } },
          },
          {
            Sid: 'RotorRules',
            Effect: 'Allow',
            Principal: { Service: 'events.amazonaws.com' },
            Action: 'sns:Publish',
            Resource: ref(ON_CALL_TOPIC),
            Condition: {
              ArnEquals: {
                'aws:SourceArn': [
                  getAtt('RotorStepFailedRule', 'Arn'),
                  getAtt('RotorTrustBoundaryRefusedRule', 'Arn'),
                  getAtt('AwsRotationFailedRule', 'Arn'),
                ],
              },
            },
          },
        ],
      },
    },
  };

  const what = (step: string) =>
    `AWSCURRENT still holds the previous, working credential. Next: run "rotor status" and "rotor history <secret>" to see the failure, fix its cause, then "rotor rotate <secret> --wait"; if AWSPENDING is stuck, "rotor heal <secret>". (${step})`;
  resources.RotorTestSecretFailedAlarm = {
    Type: 'AWS::CloudWatch::Alarm',
    Properties: {
      AlarmName: `${names.service}-${names.stage}-test-secret-failed`,
      AlarmDescription: `rotor: a rotation's testSecret step failed, so the new credential did not work and was not promoted. The "Rotation Step Failed" event sent to this topic names the secret and the error. ${what('metric TestSecretFailed')}`,
      Namespace: 'rotor',
      MetricName: 'TestSecretFailed',
      Dimensions: [{ Name: 'service', Value: `${names.service}-${names.stage}` }],
      Statistic: 'Sum',
      Period: 300,
      EvaluationPeriods: 1,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: [ref(ON_CALL_TOPIC)],
      OKActions: [ref(ON_CALL_TOPIC)],
    },
  };
  resources.RotorTrustBoundaryRefusedAlarm = {
    Type: 'AWS::CloudWatch::Alarm',
    Properties: {
      AlarmName: `${names.service}-${names.stage}-trust-boundary-refused`,
      AlarmDescription: `rotor REFUSED A TRUST BOUNDARY: a rotation step would have sent a master or admin credential somewhere nothing trusted decided, acted for a user nobody proved to hold, or touched an account, key or database not bound to the secret; rotor refused and changed nothing. Somebody may be trying to turn rotor against credentials beyond their secret: the "Rotation Step Failed" event (error category "security") names the secret and the rule. Next: find who last wrote that secret (CloudTrail PutSecretValue / UpdateSecret); if the setup is legitimate, an operator binds it in the stage file (masters, rdsMasters) or adopts the user (rotor attach --adopt). Never retry before that. (metric TrustBoundaryRefused)`,
      Namespace: 'rotor',
      MetricName: 'TrustBoundaryRefused',
      Dimensions: [{ Name: 'service', Value: `${names.service}-${names.stage}` }],
      Statistic: 'Sum',
      Period: 60,
      EvaluationPeriods: 1,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: [ref(ON_CALL_TOPIC)],
    },
  };
  for (const fn of [...ROTATION_FUNCTIONS, HEAL_FUNCTION]) {
    resources[`Rotor${fn.charAt(0).toUpperCase()}${fn.slice(1)}ErrorsAlarm`] = {
      Type: 'AWS::CloudWatch::Alarm',
      Properties: {
        AlarmName: `${functionName(names, fn)}-errors`,
        AlarmDescription: `rotor: the ${fn} rotation function failed (a step raised an error or the function crashed or timed out). Its "Rotation Step Failed" events name the secret and step. ${what(`function ${functionName(names, fn)}`)}`,
        Namespace: 'AWS/Lambda',
        MetricName: 'Errors',
        Dimensions: [{ Name: 'FunctionName', Value: ref(functionLogicalId(fn)) }],
        Statistic: 'Sum',
        Period: 300,
        EvaluationPeriods: 1,
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'notBreaching',
        AlarmActions: [ref(ON_CALL_TOPIC)],
      },
    };
  }
  resources.RotorStepFailedRule = {
    Type: 'AWS::Events::Rule',
    Properties: {
      Description: 'Pages on-call when a rotor rotation step fails (refused trust boundaries: next rule)',
      EventBusName: config.eventBus,
      EventPattern: {
        source: [config.eventSource],
        'detail-type': ['Rotation Step Failed'],
        $or: [
          { detail: { error: { category: [{ exists: false }] } } },
          { detail: { error: { category: [{ 'anything-but': SECURITY }] } } },
        ],
      },
      Targets: [
        {
          Id: 'on-call',
          Arn: ref(ON_CALL_TOPIC),
          InputTransformer: {
            InputPathsMap: {
              secret: '$.detail.secretArn',
              step: '$.detail.step',
              engine: '$.detail.engine',
              attempt: '$.detail.attempt',
              error: '$.detail.error.name',
              reason: '$.detail.error.message',
            },
            InputTemplate:
              '"rotor: step <step> of the rotation of <secret> (engine <engine>, attempt <attempt>) failed with <error>: <reason>. AWSCURRENT still holds the previous, working credential. Next: fix the cause, then rotor rotate <secret> --wait; if AWSPENDING is stuck, rotor heal <secret>."',
          },
        },
      ],
    },
  };
  resources.RotorTrustBoundaryRefusedRule = {
    Type: 'AWS::Events::Rule',
    Properties: {
      Description:
        'Pages on-call when rotor refuses a trust boundary (a step failed with error category security)',
      EventBusName: config.eventBus,
      EventPattern: {
        source: [config.eventSource],
        'detail-type': ['Rotation Step Failed'],
        detail: { error: { category: [SECURITY] } },
      },
      Targets: [
        {
          Id: 'on-call',
          Arn: ref(ON_CALL_TOPIC),
          InputTransformer: {
            InputPathsMap: {
              secret: '$.detail.secretArn',
              step: '$.detail.step',
              engine: '$.detail.engine',
              error: '$.detail.error.name',
              reason: '$.detail.error.message',
            },
            InputTemplate:
              '"rotor REFUSED A TRUST BOUNDARY in step <step> of the rotation of <secret> (engine <engine>): <error>: <reason>. Nothing was changed and no master or admin credential was used for it; AWSCURRENT still holds the previous, working credential. Somebody may be trying to use rotor beyond this secret. Next: find who last wrote <secret> (CloudTrail PutSecretValue / UpdateSecret); if the setup is legitimate, bind it in the stage file (masters, rdsMasters) or adopt the user (rotor attach --adopt), then rotor rotate <secret> --wait; clear a stuck AWSPENDING with rotor heal <secret>."',
          },
        },
      ],
    },
  };
  resources.AwsRotationFailedRule = {
    Type: 'AWS::Events::Rule',
    Properties: {
      Description: "Pages on-call on Secrets Manager's own RotationFailed / RotationAbandoned events",
      EventPattern: {
        source: ['aws.secretsmanager'],
        'detail-type': ['AWS Service Event via CloudTrail'],
        detail: { eventName: ['RotationFailed', 'RotationAbandoned'] },
      },
      Targets: [
        {
          Id: 'on-call',
          Arn: ref(ON_CALL_TOPIC),
          InputTransformer: {
            InputPathsMap: { event: '$.detail.eventName', secret: '$.detail.additionalEventData.SecretId' },
            InputTemplate:
              '"Secrets Manager reports <event> for <secret>. AWSCURRENT is unchanged. Next: rotor history <secret> for the failing step, fix the cause, rotor heal <secret> if AWSPENDING is stuck, then rotor rotate <secret> --wait."',
          },
        },
      ],
    },
  };
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
  return { Resources: resources, Outputs: outputs };
}
