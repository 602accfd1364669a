/**
 * Packages the service offline with osls (no AWS account, no network) for the documented example
 * stage, and reads the generated CloudFormation: functions, least-privilege IAM, the invoke
 * permission, alarms and rules to on-call, one rotation schedule per configured secret, bundle
 * sizes. A stage file with a bad entry must fail the packaging with a clear message.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FUNCTION_ENGINES } from '../../handlers/functions.js';
import { providerDescription } from './providers.js';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..');
const FUNCTIONS = ['postgres', 'mysql', 'apikey'] as const;

type Resource = { Type: string; Properties: Record<string, unknown>; DependsOn?: string[] };
type Statement = {
  Sid?: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, unknown>;
};

let dir: string;
let template: { Resources: Record<string, Resource>; Outputs: Record<string, unknown> };

async function packageStage(stage: string | undefined, into: string, extra: string[] = []) {
  const stageArgs = stage === undefined ? [] : ['--stage', stage];
  return run('npx', ['osls', 'package', ...stageArgs, '--package', into, ...extra], {
    cwd: ROOT,
    env: { ...process.env, SLS_TELEMETRY_DISABLED: '1', SLS_NOTIFICATIONS_MODE: 'off' },
    timeout: 240_000,
  });
}

function resourcesOf(type: string): [string, Resource][] {
  return Object.entries(template.Resources).filter(([, r]) => r.Type === type);
}

function statementsOf(role: string): Statement[] {
  const policies = template.Resources[role]?.Properties.Policies as {
    PolicyDocument: { Statement: Statement[] };
  }[];
  return policies.flatMap((p) => p.PolicyDocument.Statement);
}

const actions = (s: Statement) => (Array.isArray(s.Action) ? s.Action : [s.Action]);
const roleOf = (fn: string) => `Rotor${fn.charAt(0).toUpperCase()}${fn.slice(1)}Role`;
const fnId = (fn: string) => `${fn.charAt(0).toUpperCase()}${fn.slice(1)}LambdaFunction`;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rotor-package-'));
  await packageStage('example', dir);
  template = JSON.parse(await readFile(join(dir, 'cloudformation-template-update-stack.json'), 'utf8'));
}, 300_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('osls package (offline) for the example stage', () => {
  it('declares no variable that needs AWS at packaging time', async () => {
    // Assess
    const yml = await readFile(join(ROOT, 'serverless.yml'), 'utf8');
    const code = yml
      .split('\n')
      .filter((line) => !line.trimStart().startsWith('#'))
      .join('\n');
    expect(code).not.toMatch(/\$\{(aws|ssm|cf|s3):/);
    expect(code).toContain('${file(./deploy/serverless.cjs):resources}');
  });

  it('builds one bundled arm64 Node.js 22 function per engine, database functions in the VPC', () => {
    for (const fn of FUNCTIONS) {
      // Assess
      const props = template.Resources[fnId(fn)]?.Properties as Record<string, unknown>;
      expect(props, fn).toBeDefined();
      expect(props.Runtime).toBe('nodejs22.x');
      expect(props.Architectures).toEqual(['arm64']);
      expect(props.Handler).toBe(`lambda/${fn}.handler`);
      expect(props.Role).toEqual({ 'Fn::GetAtt': [roleOf(fn), 'Arn'] });
      expect(props.Timeout).toBe(fn === 'apikey' ? 60 : 120);
      const vpc = props.VpcConfig as { SubnetIds?: string[] } | undefined;
      if (fn === 'apikey') expect(vpc).toBeUndefined();
      else expect(vpc?.SubnetIds).toEqual(['subnet-0a1b2c3d4e5f60718']);
      const env = (props.Environment as { Variables: Record<string, string> }).Variables;
      expect(env).toMatchObject({
        ROTOR_EVENT_BUS: 'default',
        ROTOR_EVENT_SOURCE: 'rotor',
        POWERTOOLS_SERVICE_NAME: 'rotor-example',
      });
    }
  });

  it('tags each rotation function with the engines it rotates (rotor:engines), as attach and preflight read it', () => {
    for (const fn of FUNCTIONS) {
      // Assess
      const tags = template.Resources[fnId(fn)]?.Properties.Tags as { Key: string; Value: string }[];
      const engines = tags?.find((tag) => tag.Key === 'rotor:engines')?.Value.split(' ');
      expect(engines, fn).toEqual([...FUNCTION_ENGINES[fn]]);
    }
  });

  it('scopes every secret action to secrets whose rotation names this function, never a bare *', () => {
    for (const fn of FUNCTIONS) {
      // Prepare
      const statements = statementsOf(roleOf(fn));
      // Assess
      for (const statement of statements) {
        const secretActions = actions(statement).filter((a) => a.startsWith('secretsmanager:'));
        if (secretActions.length === 0) continue;
        expect(statement.Resource, `${fn} ${statement.Sid}`).not.toBe('*');
        expect(JSON.stringify(statement.Resource)).not.toMatch(/"\*"/);
      }
      const rotated = statements.find((s) => s.Sid === 'RotatedSecrets') as Statement;
      expect(actions(rotated).sort()).toEqual([
        'secretsmanager:DescribeSecret',
        'secretsmanager:GetSecretValue',
        'secretsmanager:PutSecretValue',
        'secretsmanager:UpdateSecretVersionStage',
      ]);
      expect(rotated.Condition).toEqual({
        StringEquals: {
          'secretsmanager:resource/AllowRotationLambdaArn': {
            'Fn::Sub': `arn:\${AWS::Partition}:lambda:\${AWS::Region}:\${AWS::AccountId}:function:rotor-example-${fn}`,
          },
        },
      });
    }
  });

  it('lets each function read only its own related secrets: masters for their engine, admin secrets for API keys', () => {
    // Prepare
    const pgMaster = {
      'Fn::Sub':
        'arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:prod/rds/master-??????',
    };
    const rdsClusterMaster =
      'arn:aws:secretsmanager:eu-west-1:111122223333:secret:rds!cluster-0a1b2c3d-4e5f-6789-abcd-ef0123456789-Xy12Zw';
    const legacyMaster = {
      'Fn::Sub':
        'arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:prod/mysql/legacy-master-??????',
    };
    const admin = 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:prod/payments/admin-AbCdEf';
    const related = (role: string) =>
      (statementsOf(role).find((s) => s.Sid === 'RelatedSecrets') as Statement | undefined)?.Resource;

    // Assess: the split (the API-key role reads no database master, and the reverse)
    expect(related(roleOf('postgres'))).toEqual([pgMaster]);
    expect(related(roleOf('mysql'))).toEqual([rdsClusterMaster, legacyMaster]);
    expect(related(roleOf('apikey'))).toEqual([admin]);
    expect(related('RotorHealRole')).toEqual([pgMaster, rdsClusterMaster, legacyMaster, admin]);
    // Assess: no other statement grants a secret read without the rotation condition
    for (const role of [...FUNCTIONS.map(roleOf), 'RotorHealRole']) {
      const unconditional = statementsOf(role).filter(
        (s) =>
          actions(s).some((a) => a.startsWith('secretsmanager:') && a !== 'secretsmanager:ListSecrets') &&
          s.Condition === undefined,
      );
      expect(unconditional.map((s) => s.Sid).sort(), role).toEqual(['ReadAdoptionRecord', 'RelatedSecrets']);
      // Values are read, never written; database functions also read a master's tags (RDS's binding).
      for (const statement of unconditional) {
        const expected =
          statement.Sid === 'RelatedSecrets' && role !== roleOf('apikey')
            ? ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue']
            : ['secretsmanager:GetSecretValue'];
        expect(actions(statement).sort(), `${role} ${statement.Sid}`).toEqual(expected);
      }
    }
  });

  it('lets every function read the adoption record, with GetSecretValue only', () => {
    for (const role of [...FUNCTIONS.map(roleOf), 'RotorHealRole']) {
      // Assess
      const adoption = statementsOf(role).find((s) => s.Sid === 'ReadAdoptionRecord') as Statement;
      expect(actions(adoption), role).toEqual(['secretsmanager:GetSecretValue']);
      expect(adoption.Resource).toEqual({
        'Fn::Sub':
          'arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:rotor/adoptions-??????',
      });
    }
  });

  it('uses KMS only on the listed keys and only through Secrets Manager', () => {
    for (const role of [...FUNCTIONS.map(roleOf), 'RotorHealRole']) {
      // Assess
      const kms = statementsOf(role).find((s) => s.Sid === 'SecretKeysViaSecretsManager') as Statement;
      expect(kms.Resource).toEqual([
        'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab',
      ]);
      expect(kms.Condition).toEqual({
        StringEquals: { 'kms:ViaService': { 'Fn::Sub': 'secretsmanager.${AWS::Region}.amazonaws.com' } },
      });
      // Only a function that puts a new version (PutSecretValue) encrypts one.
      expect(actions(kms), role).toEqual(
        role === 'RotorHealRole' ? ['kms:Decrypt'] : ['kms:Decrypt', 'kms:GenerateDataKey'],
      );
    }
  });

  it('writes the master and rds-master bindings into the database and heal functions, each its engines’ only', () => {
    // Prepare
    const env = (fn: string) =>
      (
        (template.Resources[fnId(fn)] as Resource).Properties.Environment as {
          Variables: Record<string, string>;
        }
      ).Variables;
    const pgBinding = {
      secret: 'prod/rds/master',
      hosts: ['orders.cluster-abc123.eu-west-1.rds.amazonaws.com'],
      port: 5432,
      tls: { mode: 'verify-full' },
      manages: ['app_*', 'reporting'],
    };
    const auroraBinding = {
      secret:
        'arn:aws:secretsmanager:eu-west-1:111122223333:secret:rds!cluster-0a1b2c3d-4e5f-6789-abcd-ef0123456789-Xy12Zw',
      dbClusterIdentifier: 'billing',
    };
    const reports = { secret: 'prod/reports/master', dbInstanceIdentifier: 'reports' };

    // Assess
    expect(JSON.parse(env('postgres').ROTOR_MASTERS as string)).toEqual([pgBinding]);
    expect(JSON.parse(env('mysql').ROTOR_MASTERS as string)).toEqual([auroraBinding]);
    expect(JSON.parse(env('heal').ROTOR_MASTERS as string)).toEqual([pgBinding, auroraBinding]);
    expect(JSON.parse(env('postgres').ROTOR_RDS_MASTERS as string)).toEqual([reports]);
    expect(JSON.parse(env('mysql').ROTOR_RDS_MASTERS as string)).toEqual([]);
    expect(JSON.parse(env('heal').ROTOR_RDS_MASTERS as string)).toEqual([reports]);
    expect(env('apikey').ROTOR_MASTERS).toBeUndefined();
    for (const fn of [...FUNCTIONS, 'heal'])
      expect(env(fn).ROTOR_ADOPTIONS_SECRET, fn).toBe('rotor/adoptions');
  });

  it('lets only the rds-master function modify a database, and only the one rdsMasters binds', () => {
    // Prepare
    const modifies = (role: string) =>
      statementsOf(role)
        .filter((s) => actions(s).some((a) => a.startsWith('rds:Modify')))
        .map((s) => [s.Action, s.Resource]);

    // Assess
    expect(modifies(roleOf('postgres'))).toEqual([
      [
        'rds:ModifyDBInstance',
        [{ 'Fn::Sub': 'arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:db:reports' }],
      ],
    ]);
    expect(modifies(roleOf('mysql'))).toEqual([]);
    expect(modifies(roleOf('apikey'))).toEqual([]);
    expect(modifies('RotorHealRole')).toEqual([]);
  });

  it('lets each function put events only on its bus and only with its source', () => {
    for (const fn of FUNCTIONS) {
      // Assess
      const events = statementsOf(roleOf(fn)).find((s) => s.Sid === 'PublishRotorEvents') as Statement;
      expect(actions(events)).toEqual(['events:PutEvents']);
      expect(events.Resource).toEqual({
        'Fn::Sub': 'arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/default',
      });
      expect(events.Condition).toEqual({ StringEquals: { 'events:source': 'rotor' } });
    }
  });

  it('gives Secrets Manager the invoke permission, restricted to this account and its secrets (SourceArn)', () => {
    // Prepare
    const permissions = resourcesOf('AWS::Lambda::Permission').filter(
      ([, r]) => r.Properties.Principal === 'secretsmanager.amazonaws.com',
    );
    // Assess
    expect(permissions).toHaveLength(3);
    for (const [, permission] of permissions) {
      expect(permission.Properties.Action).toBe('lambda:InvokeFunction');
      expect(permission.Properties.SourceAccount).toEqual({ Ref: 'AWS::AccountId' });
      expect(permission.Properties.SourceArn).toEqual({
        'Fn::Sub': 'arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:*',
      });
    }
  });

  it('creates one rotation schedule per configured secret, after the invoke permission', () => {
    // Prepare
    const schedules = resourcesOf('AWS::SecretsManager::RotationSchedule').map(([, r]) => r);
    // Assess
    expect(schedules.map((s) => s.Properties.SecretId)).toEqual([
      'prod/app/orders-db',
      'arn:aws:secretsmanager:eu-west-1:111122223333:secret:prod/app/billing-db-a1B2c3',
      'prod/app/payments-api-key',
      'prod/reports/master',
    ]);
    expect(schedules[0]?.Properties).toMatchObject({
      RotationLambdaARN: { 'Fn::GetAtt': ['PostgresLambdaFunction', 'Arn'] },
      RotationRules: { ScheduleExpression: 'rate(30 days)', Duration: '4h' },
      RotateImmediatelyOnUpdate: false,
    });
    expect(schedules[0]?.DependsOn).toEqual(['RotorPostgresInvokePermission']);
    // Without rotateImmediately in the stage file: true, as rotor attach and Secrets Manager default.
    expect(schedules[1]?.Properties.RotateImmediatelyOnUpdate).toBe(true);
    expect(schedules[1]?.Properties.RotationLambdaARN).toEqual({
      'Fn::GetAtt': ['MysqlLambdaFunction', 'Arn'],
    });
    expect(schedules[2]?.Properties.RotationLambdaARN).toEqual({
      'Fn::GetAtt': ['ApikeyLambdaFunction', 'Arn'],
    });
  });

  it('pages on-call once per incident: the topic and its subscriptions, the refusal alarm as a notice, rules for what needs a person', () => {
    // Assess: subscriptions
    const subscriptions = resourcesOf('AWS::SNS::Subscription').map(([, r]) => r.Properties);
    expect(subscriptions).toEqual([
      { TopicArn: { Ref: 'RotorOnCallTopic' }, Protocol: 'email', Endpoint: 'platform-oncall@example.com' },
      {
        TopicArn: { Ref: 'RotorOnCallTopic' },
        Protocol: 'https',
        Endpoint: 'https://events.example-pager.com/integrations/rotor',
      },
      { TopicArn: { Ref: 'RotorNoticeTopic' }, Protocol: 'email', Endpoint: 'platform-oncall@example.com' },
    ]);
    // Assess: alarms. None pages: an incident pages once, on RotationFailed (a refused rotation
    // too). The refusal alarm notifies the notice topic, which on-call reads by e-mail.
    const alarms = Object.fromEntries(resourcesOf('AWS::CloudWatch::Alarm'));
    expect(alarms.RotorTestSecretFailedAlarm?.Properties).toMatchObject({
      Namespace: 'rotor',
      MetricName: 'TestSecretFailed',
      Dimensions: [{ Name: 'service', Value: 'rotor-example' }],
    });
    expect(alarms.RotorTrustBoundaryRefusedAlarm?.Properties).toMatchObject({
      Namespace: 'rotor',
      MetricName: 'TrustBoundaryRefused',
      Dimensions: [{ Name: 'service', Value: 'rotor-example' }],
      Statistic: 'Sum',
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      AlarmActions: [{ Ref: 'RotorNoticeTopic' }],
    });
    expect(String(alarms.RotorTrustBoundaryRefusedAlarm?.Properties.AlarmDescription)).toMatch(
      /REFUSED A TRUST BOUNDARY.*rotor attach --adopt.*RUNBOOK\.md#trustboundaryerror/s,
    );
    const paging = Object.entries(alarms).filter(
      ([, alarm]) => alarm.Properties.AlarmActions !== undefined || alarm.Properties.OKActions !== undefined,
    );
    expect(paging.map(([id]) => id)).toEqual(['RotorTrustBoundaryRefusedAlarm']);
    expect(JSON.stringify(paging)).not.toContain('RotorOnCallTopic');
    for (const fn of [...FUNCTIONS, 'heal']) {
      const id = `Rotor${fn.charAt(0).toUpperCase()}${fn.slice(1)}ErrorsAlarm`;
      expect(alarms[id]?.Properties).toMatchObject({
        Namespace: 'AWS/Lambda',
        MetricName: 'Errors',
        Dimensions: [{ Name: 'FunctionName', Value: { Ref: fnId(fn) } }],
      });
    }
    // Assess: rules. No rule for each attempt's Rotation Step Failed; refusals by their own rules.
    const rules = Object.fromEntries(resourcesOf('AWS::Events::Rule'));
    expect(rules.RotorStepFailedRule).toBeUndefined();
    expect(rules.AwsRotationFailedRule?.Properties.EventPattern).toEqual({
      source: ['aws.secretsmanager'],
      'detail-type': ['AWS Service Event via CloudTrail'],
      detail: { eventName: ['RotationFailed'] },
    });
    expect(rules.AwsTestRotationFailedRule?.Properties.EventPattern).toMatchObject({
      detail: { eventName: ['TestRotationFailed'] },
    });
    expect(rules.AwsRotationAbandonedRule?.Properties.EventPattern).toMatchObject({
      detail: { eventName: ['RotationAbandoned'] },
    });
    // A refusal's events page no more than any other attempt's: no rule matches their category.
    expect(JSON.stringify(rules)).not.toContain('"security"');
    expect(rules.RotorHealNeededRule?.Properties.EventPattern).toEqual({
      source: ['rotor'],
      'detail-type': ['Rotation Heal Needed'],
      detail: { runbook: [{ exists: true }], currentWorks: [{ exists: false }] },
    });
    const paged = [
      'AwsRotationFailedRule',
      'AwsTestRotationFailedRule',
      'AwsRotationAbandonedRule',
      'RotorHealNeededRule',
      'RotorHealNeededNoRunbookRule',
      'RotorHealNeededCurrentWorksRule',
      'RotorHealNeededCurrentWorksNoRunbookRule',
      'RotorHealNeededCurrentFailsRule',
      'RotorHealNeededCurrentFailsNoRunbookRule',
    ];
    for (const id of paged) {
      const targets = (rules[id]?.Properties.Targets ?? []) as {
        Id: string;
        Arn: unknown;
        InputTransformer: { InputPathsMap: Record<string, string>; InputTemplate: string };
      }[];
      expect(
        targets.map((t) => t.Id),
        id,
      ).toEqual(['on-call', 'pagerduty', 'slack']);
      const text = JSON.parse(targets[0]?.InputTransformer.InputTemplate ?? '""') as string;
      expect(targets[0]?.Arn).toEqual({ Ref: 'RotorOnCallTopic' });
      // Built from the event's fields: every placeholder has a path, and no sentence claims
      // AWSCURRENT works.
      for (const [, name] of text.matchAll(/<([a-z]+)>/g)) {
        expect(targets[0]?.InputTransformer.InputPathsMap, `${id} <${name}>`).toHaveProperty(name as string);
      }
      expect(text, id).not.toMatch(/still holds the previous, working credential|AWSCURRENT is unchanged/);
      expect(text, id).toMatch(
        /Runbook: (https:\/\/github\.com\/your-org\/rotor\/blob\/main\/RUNBOOK\.md#[a-z-]+|<runbook>)/,
      );
      const pagerDuty = JSON.parse(targets[1]?.InputTransformer.InputTemplate ?? '{}') as Record<
        string,
        unknown
      >;
      expect(pagerDuty).toMatchObject({ event_action: 'trigger', dedup_key: 'rotor:<secret>' });
    }
    expect(((rules.AwsRotationAbandonedRule?.Properties.Targets ?? []) as unknown[])[0]).toMatchObject({
      InputTransformer: {
        InputPathsMap: { secret: '$.detail.additionalEventData.SecretId' },
        InputTemplate: expect.stringContaining(
          'a new AWSCURRENT was put by hand during the rotation (the rotation was abandoned)',
        ),
      },
    });
    expect(((rules.RotorHealNeededCurrentFailsRule?.Properties.Targets ?? []) as unknown[])[0]).toMatchObject(
      {
        InputTransformer: {
          InputPathsMap: { secret: '$.resources[0]', currentError: '$.detail.currentError' },
          InputTemplate: expect.stringContaining('(currentWorks: false): <currentError>.'),
        },
      },
    );
    const topicPolicy = template.Resources.RotorOnCallTopicPolicy?.Properties.PolicyDocument as {
      Statement: { Condition?: { ArnEquals?: Record<string, unknown[]> } }[];
    };
    expect(topicPolicy.Statement.flatMap((s) => s.Condition?.ArnEquals?.['aws:SourceArn'] ?? [])).toEqual(
      paged.map((id) => ({ 'Fn::GetAtt': [id, 'Arn'] })),
    );
  });

  it('pages PagerDuty and Slack through API destinations whose credentials come from the named secrets', () => {
    // Prepare
    const routingKey = '{{resolve:secretsmanager:rotor/on-call/pagerduty-routing-key:SecretString}}';
    const connection = template.Resources.RotorPagerDutyConnection as Resource;
    const slack = template.Resources.RotorSlackDestination as Resource;
    const rules = Object.fromEntries(resourcesOf('AWS::Events::Rule'));

    // Assess
    expect(connection.Type).toBe('AWS::Events::Connection');
    expect(connection.Properties.AuthParameters).toMatchObject({
      InvocationHttpParameters: {
        BodyParameters: [{ Key: 'routing_key', Value: routingKey, IsValueSecret: true }],
      },
    });
    expect(template.Resources.RotorPagerDutyDestination?.Properties).toMatchObject({
      InvocationEndpoint: 'https://events.pagerduty.com/v2/enqueue',
      HttpMethod: 'POST',
      ConnectionArn: { 'Fn::GetAtt': ['RotorPagerDutyConnection', 'Arn'] },
    });
    expect(slack.Properties.InvocationEndpoint).toBe(
      '{{resolve:secretsmanager:rotor/on-call/slack-webhook:SecretString}}',
    );
    expect(statementsOf('RotorPagingRole')).toEqual([
      {
        Sid: 'InvokePagingDestinations',
        Effect: 'Allow',
        Action: 'events:InvokeApiDestination',
        Resource: [
          { 'Fn::GetAtt': ['RotorPagerDutyDestination', 'Arn'] },
          { 'Fn::GetAtt': ['RotorSlackDestination', 'Arn'] },
        ],
      },
    ]);
    expect(rules.RotorPagerDutyResolveRule?.Properties).toMatchObject({
      EventPattern: { source: ['rotor'], 'detail-type': ['Rotation Succeeded'] },
      Targets: [
        {
          Arn: { 'Fn::GetAtt': ['RotorPagerDutyDestination', 'Arn'] },
          RoleArn: { 'Fn::GetAtt': ['RotorPagingRole', 'Arn'] },
          InputTransformer: {
            InputPathsMap: { secret: '$.resources[0]' },
            InputTemplate: '{"event_action":"resolve","dedup_key":"rotor:<secret>"}',
          },
        },
      ],
    });
  });

  it('forwards rotor’s and Secrets Manager’s rotation events to the central bus, with a role that may only put events there', () => {
    // Prepare
    const bus = 'arn:aws:events:eu-west-1:444455556666:event-bus/rotation-central';
    const rules = Object.fromEntries(resourcesOf('AWS::Events::Rule'));
    const target = { Id: 'central-bus', Arn: bus, RoleArn: { 'Fn::GetAtt': ['RotorCentralBusRole', 'Arn'] } };

    // Assess
    expect(rules.RotorEventsToCentralBusRule?.Properties).toMatchObject({
      EventPattern: { source: ['rotor'] },
      Targets: [target],
    });
    expect(rules.AwsRotationEventsToCentralBusRule?.Properties).toMatchObject({
      EventPattern: {
        source: ['aws.secretsmanager'],
        'detail-type': ['AWS Service Event via CloudTrail'],
        detail: {
          eventName: expect.arrayContaining(['RotationFailed', 'RotationSucceeded', 'RotationAbandoned']),
        },
      },
      Targets: [target],
    });
    expect(statementsOf('RotorCentralBusRole')).toEqual([
      { Sid: 'PutEventsOnCentralBus', Effect: 'Allow', Action: 'events:PutEvents', Resource: bus },
    ]);
  });

  it('schedules the heal function, which may list secrets but touch only those rotor rotates', () => {
    // Assess: the function and its schedule
    const props = template.Resources.HealLambdaFunction?.Properties as Record<string, unknown>;
    expect(props).toMatchObject({
      Handler: 'lambda/heal.handler',
      Runtime: 'nodejs22.x',
      Timeout: 300,
    });
    const env = (props.Environment as { Variables: Record<string, string> }).Variables;
    expect(env).toMatchObject({ ROTOR_HEAL_FUNCTION_PREFIX: 'rotor-example-', ROTOR_HEAL_MODE: 'report' });
    const schedules = resourcesOf('AWS::Events::Rule').filter(
      ([, r]) => r.Properties.ScheduleExpression !== undefined,
    );
    expect(schedules.map(([, r]) => r.Properties.ScheduleExpression)).toEqual(['rate(1 hour)']);
    // Assess: its role
    const statements = statementsOf('RotorHealRole');
    const wildcard = statements.filter((s) => JSON.stringify(s.Resource) === '"*"');
    expect(wildcard.flatMap(actions)).toEqual(['secretsmanager:ListSecrets']);
    const secrets = statements.find((s) => s.Sid === 'RotatedSecrets') as Statement;
    expect(actions(secrets)).not.toContain('secretsmanager:PutSecretValue');
    expect(secrets.Condition).toEqual({
      StringLike: {
        'secretsmanager:resource/AllowRotationLambdaArn': {
          'Fn::Sub': 'arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:rotor-example-*',
        },
      },
    });
    expect(template.Resources.RotorHealErrorsAlarm?.Properties).toMatchObject({
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: 'HealLambdaFunction' } }],
    });
  });

  it('keeps every function bundle small (sizes reported)', async () => {
    for (const fn of FUNCTIONS) {
      // Act
      const { size } = await stat(join(dir, `${fn}.zip`));
      console.log(`bundle ${fn}.zip: ${(size / 1024).toFixed(0)} KiB`);
      // Assess
      expect(size).toBeLessThan(1024 * 1024);
    }
  });
});

/** Packages a temporary stage file (or none), returning whether it failed and what it printed. */
async function packageTemporary(
  body: string | undefined,
  extra: string[] = [],
): Promise<{ failed: boolean; stdout: string; stderr: string; out: string; cleanup: () => Promise<void> }> {
  const stage = `tmp${Date.now()}${Math.floor(Math.random() * 1000)}`;
  const file = join(ROOT, 'deploy', 'stages', `${stage}.yml`);
  if (body !== undefined) await writeFile(file, body);
  const out = await mkdtemp(join(tmpdir(), 'rotor-package-tmp-'));
  const result = await packageStage(body === undefined ? undefined : stage, out, extra).then(
    ({ stdout, stderr }) => ({ failed: false, stdout, stderr }),
    (error: { stdout?: string; stderr?: string }) => ({
      failed: true,
      stdout: error.stdout ?? '',
      stderr: error.stderr ?? '',
    }),
  );
  return {
    ...result,
    out,
    cleanup: async () => {
      await rm(file, { force: true });
      await rm(out, { recursive: true, force: true });
    },
  };
}

/** The lines a failed packaging printed, without blank ones. */
const linesOf = (result: { stdout: string; stderr: string }) =>
  `${result.stdout}${result.stderr}`.split('\n').filter((line) => line.trim() !== '');

describe('osls package with a bad stage file or bad options', () => {
  it.each([
    [
      'a schedule',
      'region: eu-west-1\nsecrets:\n  - id: prod/app/db\n    engine: postgres\n    strategy: single-user\n    schedule: every month\n',
      [],
      /^rotor: deploy\/stages\/tmp\d+\.yml: secrets\.0\.schedule \(prod\/app\/db\): must be rate\(<n> days\|hours\) or cron/,
    ],
    [
      'a mistyped key',
      'region: eu-west-1\nsecrets:\n  - id: prod/app/db\n    engine: postgres\n    strategy: single-user\n    shedule: rate(30 days)\n',
      [],
      /^rotor: deploy\/stages\/tmp\d+\.yml: secrets\.0\.shedule \(prod\/app\/db\): unknown key `shedule` \(did you mean `schedule`\?\)$/,
    ],
    [
      'a master binding',
      'region: eu-west-1\nmasters:\n  - secret: rds!db-0a1b2c3d-4e5f-6789-abcd-ef0123456789\n    engine: postgres\n    host: db.example.com\n    dbInstanceIdentifier: orders\n',
      [],
      /^rotor: .*masters\.0 \(rds!db-0a1b2c3d-4e5f-6789-abcd-ef0123456789\): needs exactly one of host, hosts, dbInstanceIdentifier, dbClusterIdentifier/,
    ],
    [
      'a PagerDuty option',
      'region: eu-west-1\nonCall:\n  pagerDuty:\n    routingKeySecret: rotor/pd\n    severity: high\n',
      [],
      /^rotor: deploy\/stages\/tmp\d+\.yml: onCall\.pagerDuty\.severity: must be one of: critical, error, warning, info$/,
    ],
    [
      'a central event bus',
      'region: eu-west-1\ncentralEventBus: arn:aws:sns:eu-west-1:444455556666:rotation-central\n',
      [],
      /^rotor: deploy\/stages\/tmp\d+\.yml: centralEventBus: must be an event bus ARN/,
    ],
    [
      'a --region other than the stage file’s',
      'region: us-east-1\n',
      ['--region', 'eu-west-1'],
      /^rotor: deploy\/stages\/tmp\d+\.yml: region: the stage is in us-east-1 but --region says eu-west-1/,
    ],
  ])(
    'fails on %s with one line naming the entry and field, and no stack trace',
    async (_name, body, extra, message) => {
      // Act
      const result = await packageTemporary(body, extra);
      try {
        // Assess
        expect(result.failed).toBe(true);
        expect(linesOf(result)).toHaveLength(1);
        expect(linesOf(result)[0]).toMatch(message);
      } finally {
        await result.cleanup();
      }
    },
    300_000,
  );

  it('refuses to run without --stage rather than package the example', async () => {
    // Act
    const result = await packageTemporary(undefined);
    try {
      // Assess
      expect(result.failed).toBe(true);
      expect(linesOf(result)).toEqual([expect.stringMatching(/^rotor: no stage: run with --stage <stage>/)]);
    } finally {
      await result.cleanup();
    }
  }, 300_000);
});

describe('osls package with provider descriptions past Lambda’s environment limit', () => {
  it('fails with one line naming apiKeyProviders and the function, instead of failing at deploy', async () => {
    // Prepare: eight descriptions the size of a real one
    const providers = Object.fromEntries(
      Array.from({ length: 8 }, (_, i) => [`provider${i}`, providerDescription(i)]),
    );
    const body = `region: eu-west-1\napiKeyProviders: ${JSON.stringify(providers)}\n`;

    // Act
    const result = await packageTemporary(body);
    try {
      // Assess
      expect(result.failed).toBe(true);
      // (osls has said "Packaging rotor for stage …" by then: the error is the one line after it)
      expect(linesOf(result).filter((line) => !line.startsWith('Packaging rotor'))).toEqual([
        expect.stringMatching(
          /^rotor: deploy\/stages\/tmp\d+\.yml: apiKeyProviders: the rotor-tmp\d+-(apikey|heal) function's environment would be \d+ bytes, over Lambda's 4096-byte limit/,
        ),
      ]);
    } finally {
      await result.cleanup();
    }
  }, 300_000);
});

describe('osls package for a stage without the optional blocks', () => {
  it('packages a stage with no vpc block: no function in a VPC, no VPC policy', async () => {
    // Prepare: region and one secret only
    const body =
      'region: eu-west-1\nsecrets:\n  - id: prod/app/db\n    engine: postgres\n    strategy: single-user\n    schedule: rate(30 days)\n';

    // Act
    const result = await packageTemporary(body);
    try {
      // Assess
      expect(result.failed, result.stderr).toBe(false);
      const generated = JSON.parse(
        await readFile(join(result.out, 'cloudformation-template-update-stack.json'), 'utf8'),
      ) as typeof template;
      for (const fn of [...FUNCTIONS, 'heal']) {
        expect(generated.Resources[fnId(fn)]?.Properties.VpcConfig, fn).toBeUndefined();
        expect(generated.Resources[roleOf(fn)]?.Properties.ManagedPolicyArns, fn).toBeUndefined();
      }
    } finally {
      await result.cleanup();
    }
  }, 300_000);
});
