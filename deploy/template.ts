/**
 * Generates the CloudFormation that serverless.yml cannot express statically: one least-privilege
 * role per function, the invoke permissions, one rotation schedule per configured secret, the
 * on-call topic, alarms and rules. Everything is derived offline from the stage file; account and
 * region come from CloudFormation pseudo parameters at deploy time, never from AWS at packaging.
 */
import { createHash } from 'node:crypto';
import { type DeployConfig, FUNCTION_ENGINES, functionFor, type RotationFunctionKey } from './config.js';

export interface ServiceNames {
  service: string;
  stage: string;
}

type Json = Record<string, unknown>;

const sub = (text: string) => ({ 'Fn::Sub': text });
const ref = (name: string) => ({ Ref: name });
const getAtt = (name: string, attribute: string) => ({ 'Fn::GetAtt': [name, attribute] });

export const ROTATION_FUNCTIONS = Object.keys(FUNCTION_ENGINES) as RotationFunctionKey[];

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

/** A secret reference as an IAM resource: an ARN as given, a name with the 6-character suffix wildcard. */
function secretResource(id: string): unknown {
  if (id.startsWith('arn:')) return id;
  return sub(`arn:\${AWS::Partition}:secretsmanager:\${AWS::Region}:\${AWS::AccountId}:secret:${id}-??????`);
}

const rdsArn = (type: 'db' | 'cluster', id: string) =>
  sub(`arn:\${AWS::Partition}:rds:\${AWS::Region}:\${AWS::AccountId}:${type}:${id}`);

/**
 * RDS permissions of a database function: describe the instances and clusters its secrets name
 * (endpoint discovery), and modify only what holds the master password of an rds-master secret:
 * its cluster when the entry names one (an instance of a cluster has no master of its own), else
 * its instance. A cluster member's endpoint is recognised from the cluster's description, so no
 * member needs listing for that.
 */
function rdsStatements(config: DeployConfig, fn: RotationFunctionKey): Json[] {
  const secrets = config.secrets.filter((secret) => functionFor(secret.engine) === fn);
  const ids = (pick: (secret: (typeof secrets)[number]) => string | undefined, only = secrets) => [
    ...new Set(only.map(pick).filter((id): id is string => id !== undefined)),
  ];
  const masters = secrets.filter((secret) => secret.strategy === 'rds-master');
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
  add(
    'DescribeRdsInstances',
    'rds:DescribeDBInstances',
    'db',
    ids((s) => s.dbInstanceIdentifier),
  );
  add(
    'DescribeRdsClusters',
    'rds:DescribeDBClusters',
    'cluster',
    ids((s) => s.dbClusterIdentifier),
  );
  add(
    'RdsMasterPasswordInstances',
    'rds:ModifyDBInstance',
    'db',
    ids(
      (s) => s.dbInstanceIdentifier,
      masters.filter((s) => s.dbClusterIdentifier === undefined),
    ),
  );
  add(
    'RdsMasterPasswordClusters',
    'rds:ModifyDBCluster',
    'cluster',
    ids((s) => s.dbClusterIdentifier, masters),
  );
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

/** Statements every rotor function has: its events, the related secrets, the secrets' KMS keys. */
function sharedStatements(config: DeployConfig): Json[] {
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
  ];
  if (config.relatedSecrets.length > 0) {
    statements.push({
      Sid: 'RelatedSecrets',
      Effect: 'Allow',
      Action: 'secretsmanager:GetSecretValue',
      Resource: config.relatedSecrets.map(secretResource),
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
      ...sharedStatements(config),
      ...rdsStatements(config, fn),
    ],
    config.vpc !== undefined && fn !== 'apikey',
  );
}

export const HEAL_FUNCTION = 'heal';

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
      ...sharedStatements(config),
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
      Description: 'Pages on-call when a rotor rotation step fails',
      EventBusName: config.eventBus,
      EventPattern: { source: [config.eventSource], 'detail-type': ['Rotation Step Failed'] },
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
        SourceAccount: ref('AWS::AccountId'),
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
