/**
 * On-call paging generated from the stage file (pure logic; serverless.test.ts checks the same in
 * the CloudFormation osls packages): one page per incident (Secrets Manager's RotationFailed, a
 * refused rotation's too, Rotation Heal Needed; never each attempt's Rotation Step Failed, a
 * refusal's included, nor an alarm: the refusal alarm notifies the notice topic), texts built only from fields the events carry
 * (each rule's input transformer is applied to events of the shapes rotor and Secrets Manager put),
 * PagerDuty and Slack through API destinations with their credential from Secrets Manager, the
 * central event bus, and the options' validation.
 */

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DeployConfigError, parseDeployConfig } from '../../deploy/config.js';
import {
  AWS_ROTATION_EVENTS,
  buildResources,
  CENTRAL_BUS_ROLE,
  PAGERDUTY_CONNECTION,
  PAGERDUTY_DESTINATION,
  PAGERDUTY_EVENTS_URL,
  PAGING_ROLE,
  SLACK_CONNECTION,
  SLACK_DESTINATION,
} from '../../deploy/template.js';
import { EventPublisher } from '../../handlers/events.js';
import { Redactor } from '../../handlers/redact.js';
import { cloudTrailServiceEvent } from '../../local/eventBridge.js';
import {
  AuthenticationFailedError,
  MasterBindingError,
  type RotorError,
  UnprovenUserError,
} from '../../rotators/errors.js';
import { type DeliveredEvent, matches, transform } from './eventRules.js';

type Json = Record<string, unknown>;
type Target = {
  Id: string;
  Arn: unknown;
  RoleArn?: unknown;
  InputTransformer?: { InputPathsMap?: Record<string, string>; InputTemplate: string };
};
type Rule = { Type: string; Properties: { EventBusName?: string; EventPattern: Json; Targets: Target[] } };

const ROOT = join(import.meta.dirname, '..', '..');
const names = { service: 'rotor', stage: 'example' };
const REGION = 'eu-west-1';
const ACCOUNT = '111122223333';
const SECRET = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:prod/app/orders-db-AbCdEf`;
const TOKEN = 'c2f1e0d9-8b7a-4c6d-9e8f-0a1b2c3d4e5f';
const RUNBOOK = 'https://github.com/your-org/rotor/blob/main/RUNBOOK.md';

const example = parse(readFileSync(join(ROOT, 'deploy', 'stages', 'example.yml'), 'utf8')) as Json;
const exampleResources = buildResources(parseDeployConfig(example, 'example.yml'), names).Resources;

function rulesOf(resources: Json): Record<string, Rule> {
  return Object.fromEntries(
    Object.entries(resources).filter(
      ([, r]) =>
        (r as Rule).Type === 'AWS::Events::Rule' && (r as Rule).Properties.EventPattern !== undefined,
    ),
  ) as Record<string, Rule>;
}

const rules = rulesOf(exampleResources);

/** The rules an event matches, on the bus it arrives on. */
function rulesFor(event: DeliveredEvent, bus = 'default'): [string, Rule][] {
  return Object.entries(rules).filter(
    ([, rule]) =>
      (rule.Properties.EventBusName ?? 'default') === bus && matches(rule.Properties.EventPattern, event),
  );
}

/** What each target of the rules an event matches receives, by target id. */
function delivered(
  event: DeliveredEvent,
  bus = 'default',
): { rule: string; target: string; input: string }[] {
  return rulesFor(event, bus).flatMap(([id, rule]) =>
    rule.Properties.Targets.filter((t) => t.InputTransformer !== undefined).map((target) => ({
      rule: id,
      target: target.Id,
      input: transform(target.InputTransformer as NonNullable<Target['InputTransformer']>, event),
    })),
  );
}

/** rotor's events exactly as its publisher puts them (entries captured from the client). */
async function rotorEvent(detailType: string, detail: Json): Promise<DeliveredEvent> {
  const entries: { Source: string; DetailType: string; Resources: string[]; Detail: string }[] = [];
  const client = {
    send: async (command: { input: { Entries: typeof entries } }) => {
      entries.push(...command.input.Entries);
      return { FailedEntryCount: 0, Entries: [] };
    },
  } as unknown as EventBridgeClient;
  const publisher = new EventPublisher(client, {
    busName: 'default',
    source: 'rotor',
    redactor: new Redactor(),
  });
  await publisher.publish([{ detailType: detailType as 'Rotation Succeeded', secretArn: SECRET, detail }]);
  const entry = entries[0] as (typeof entries)[number];
  return {
    source: entry.Source,
    'detail-type': entry.DetailType,
    resources: entry.Resources,
    detail: JSON.parse(entry.Detail) as Json,
  };
}

/** A Rotation Step Failed of the shape the step machine emits. */
function stepFailed(error: RotorError, extra: Json = {}): Promise<DeliveredEvent> {
  error.withContext({ secretId: SECRET, step: 'setSecret', versionId: TOKEN });
  return rotorEvent('Rotation Step Failed', {
    secretArn: SECRET,
    versionId: TOKEN,
    step: 'setSecret',
    engine: 'postgres',
    strategy: 'alternating-users',
    attempt: 3,
    durationMs: 120,
    error: error.toJSON(),
    ...extra,
  });
}

/** Secrets Manager's rotation event as EventBridge delivers it (the local stack's shape). */
function awsEvent(eventName: string): DeliveredEvent {
  const event = cloudTrailServiceEvent({
    service: 'secretsmanager',
    eventName,
    region: REGION,
    accountId: ACCOUNT,
    time: new Date('2026-12-08T03:00:00Z'),
    additionalEventData: { SecretId: SECRET },
  });
  return { source: event.source, 'detail-type': event.detailType, resources: [], detail: event.detail };
}

const onTopic = (list: { target: string; input: string }[]) =>
  list.filter((d) => d.target === 'on-call').map((d) => JSON.parse(d.input) as string);
const toPagerDuty = (list: { target: string; input: string }[]) =>
  list.filter((d) => d.target === 'pagerduty').map((d) => JSON.parse(d.input) as Json);

describe('one page per incident', () => {
  it("pages on Secrets Manager's RotationFailed: once on the topic, PagerDuty and Slack, and says what the event does not tell", () => {
    // Prepare
    const event = awsEvent('RotationFailed');

    // Act
    const out = delivered(event);

    // Assess
    expect(out.map((d) => d.target).sort()).toEqual(['on-call', 'pagerduty', 'slack']);
    const [text] = onTopic(out);
    expect(text).toBe(
      `Secrets Manager gave up the rotation of ${SECRET} (RotationFailed): the rotation failed for good, after its retries. This event does not say whether AWSCURRENT still logs in: rotor status ${SECRET} says, with the failing step and error; rotor history ${SECRET} lists every attempt. When rotor status names an error of category security (a refused trust boundary), somebody may be trying to use rotor beyond this secret: find who last wrote ${SECRET} (CloudTrail PutSecretValue / UpdateSecret) before anything is retried (${RUNBOOK}#trustboundaryerror). Runbook: ${RUNBOOK}#rotationfailed (then the entry of the error rotor status names).`,
    );
    const slack = JSON.parse(out.find((d) => d.target === 'slack')?.input ?? '{}') as Json;
    expect(slack).toEqual({ text });
  });

  it('pages on TestRotationFailed, and on RotationAbandoned as a value put by hand', () => {
    // Act
    const test = onTopic(delivered(awsEvent('TestRotationFailed')));
    const abandoned = onTopic(delivered(awsEvent('RotationAbandoned')));

    // Assess
    expect(test).toHaveLength(1);
    expect(test[0]).toMatch(
      /^Secrets Manager's test of the rotation configuration of arn:.*TestRotationFailed.*#testrotationfailed\.$/,
    );
    expect(abandoned).toHaveLength(1);
    expect(abandoned[0]).toContain(
      'a new AWSCURRENT was put by hand during the rotation (the rotation was abandoned)',
    );
    expect(abandoned[0]).not.toMatch(/unchanged/i);
    expect(abandoned[0]).toContain(`${RUNBOOK}#rotationabandoned`);
  });

  it('does not page for an attempt that failed (Rotation Step Failed without a refusal), at any attempt', async () => {
    for (const attempt of [1, 2, 3]) {
      // Prepare
      const event = await stepFailed(new AuthenticationFailedError('password authentication failed'), {
        attempt,
        rolledBack: true,
      });

      // Act
      const out = delivered(event);

      // Assess
      expect(out, `attempt ${attempt}`).toEqual([]);
    }
  });

  it('keeps every alarm off the on-call topic: TestSecretFailed and function errors for dashboards, the refusal alarm a notice', () => {
    // Prepare
    const alarms = Object.entries(exampleResources).filter(
      ([, r]) => (r as Rule).Type === 'AWS::CloudWatch::Alarm',
    ) as [string, { Properties: Json }][];

    // Assess
    const paging = alarms.filter(
      ([, a]) => a.Properties.AlarmActions !== undefined || a.Properties.OKActions !== undefined,
    );
    expect(paging.map(([id]) => id)).toEqual(['RotorTrustBoundaryRefusedAlarm']);
    expect(JSON.stringify(paging)).not.toContain('RotorOnCallTopic');
    expect(alarms.map(([id]) => id)).toEqual(
      expect.arrayContaining([
        'RotorTestSecretFailedAlarm',
        'RotorPostgresErrorsAlarm',
        'RotorHealErrorsAlarm',
      ]),
    );
    for (const [id, alarm] of alarms) {
      expect(String(alarm.Properties.AlarmDescription), id).not.toMatch(
        /still holds the previous, working credential/,
      );
    }
    expect(exampleResources.RotorStepFailedRule).toBeUndefined();
  });

  it('lets every rule that targets the topic publish to it, and no other', () => {
    // Prepare
    const policy = (
      exampleResources.RotorOnCallTopicPolicy as { Properties: { PolicyDocument: { Statement: Json[] } } }
    ).Properties.PolicyDocument.Statement.find((s) => s.Sid === 'RotorRules') as {
      Condition: { ArnEquals: { 'aws:SourceArn': unknown[] } };
    };
    const topicRules = Object.entries(rules)
      .filter(([, rule]) =>
        rule.Properties.Targets.some((t) => JSON.stringify(t.Arn) === '{"Ref":"RotorOnCallTopic"}'),
      )
      .map(([id]) => ({ 'Fn::GetAtt': [id, 'Arn'] }));

    // Assess
    expect(topicRules.length).toBe(9);
    expect(policy.Condition.ArnEquals['aws:SourceArn']).toEqual(topicRules);
  });
});

describe('a refused trust boundary pages once, on the rotation that fails for good', () => {
  it('does not page for a refusal at any attempt, whatever the event says about the rollback or the runbook', async () => {
    for (const extra of [
      {},
      { rolledBack: true },
      { rolledBack: false, currentVerified: false },
      { runbook: `${RUNBOOK}#masterbindingerror`, currentVerified: true },
    ]) {
      for (const attempt of [1, 2, 3]) {
        // Prepare
        const event = await stepFailed(new MasterBindingError('the master secret names no host'), {
          attempt,
          ...extra,
        });

        // Act
        const out = delivered(event);

        // Assess
        expect(event.detail.error).toMatchObject({ category: 'security' });
        expect(out, `attempt ${attempt} ${JSON.stringify(extra)}`).toEqual([]);
      }
    }
  });

  it('pages the refused rotation once, on RotationFailed, whose text says what a refusal means and where to look', () => {
    // Prepare: a refused rotation: three attempts' refusals, then the service gives up
    const attempts = Promise.all(
      [1, 2, 3].map((attempt) => stepFailed(new UnprovenUserError('app_clone is not proven'), { attempt })),
    );

    // Act
    return attempts.then((refusals) => {
      const out = [...refusals, awsEvent('RotationFailed')].flatMap((event) => delivered(event));

      // Assess: one delivery per target, all from RotationFailed
      expect(out.map((d) => `${d.rule} ${d.target}`).sort()).toEqual([
        'AwsRotationFailedRule on-call',
        'AwsRotationFailedRule pagerduty',
        'AwsRotationFailedRule slack',
      ]);
      const [text] = onTopic(out);
      expect(text).toContain(
        `When rotor status names an error of category security (a refused trust boundary), somebody may be trying to use rotor beyond this secret: find who last wrote ${SECRET}`,
      );
      expect(text).toContain(`${RUNBOOK}#trustboundaryerror`);
    });
  });

  it('sends the refusal alarm to the notice topic, never the on-call topic, linking the same entry', () => {
    // Prepare
    const alarm = exampleResources.RotorTrustBoundaryRefusedAlarm as { Properties: Json };
    const notice = exampleResources.RotorNoticeTopic as { Type: string };
    const policy = exampleResources.RotorOnCallTopicPolicy as {
      Properties: { PolicyDocument: { Statement: { Sid: string }[] } };
    };

    // Assess
    expect(alarm.Properties).toMatchObject({
      Namespace: 'rotor',
      MetricName: 'TrustBoundaryRefused',
      AlarmActions: [{ Ref: 'RotorNoticeTopic' }],
    });
    expect(notice.Type).toBe('AWS::SNS::Topic');
    expect(String(alarm.Properties.AlarmDescription)).toContain(`${RUNBOOK}#trustboundaryerror`);
    expect(String(alarm.Properties.AlarmDescription)).toContain('A notice, not a page');
    // CloudWatch may not publish to the on-call topic at all: no alarm pages.
    expect(policy.Properties.PolicyDocument.Statement.map((s) => s.Sid)).toEqual(['RotorRules']);
  });
});

describe('Rotation Heal Needed pages', () => {
  it("pages with the heal report's state, decision, reason and runbook link", async () => {
    // Prepare
    const event = await rotorEvent('Rotation Heal Needed', {
      secretArn: SECRET,
      decision: 'manual',
      reason: 'neither AWSCURRENT nor AWSPENDING logs in (authentication).',
      state: 'failed',
      acted: false,
      runbook: `${RUNBOOK}#authenticationfailederror`,
    });

    // Act
    const out = delivered(event);

    // Assess
    expect(out.map((d) => d.target).sort()).toEqual(['on-call', 'pagerduty', 'slack']);
    expect(onTopic(out)).toEqual([
      `rotor's heal function found the rotation of ${SECRET} failed and did not heal it (decision manual): neither AWSCURRENT nor AWSPENDING logs in (authentication). Next: rotor heal ${SECRET} says why; --yes carries the decision out. Runbook: ${RUNBOOK}#authenticationfailederror`,
    ]);
    expect(toPagerDuty(out)[0]?.links).toEqual([
      { href: `${RUNBOOK}#authenticationfailederror`, text: 'Runbook' },
    ]);
  });

  it('still pages a report without a runbook field, linking the event’s own entry', async () => {
    // Prepare
    const event = await rotorEvent('Rotation Heal Needed', {
      secretArn: SECRET,
      decision: 'roll-forward',
      reason: 'AWSPENDING logs in.',
      state: 'stuck',
      acted: false,
    });

    // Act
    const texts = onTopic(delivered(event));

    // Assess
    expect(texts).toHaveLength(1);
    expect(texts[0]).toMatch(/stuck and did not heal it \(decision roll-forward\).*#rotation-heal-needed$/);
  });

  it('says whether AWSCURRENT passed the heal function’s test only when the report says so', async () => {
    // Prepare
    const report = { secretArn: SECRET, decision: 'manual', reason: 'look.', state: 'failed', acted: false };
    const works = await rotorEvent('Rotation Heal Needed', { ...report, currentWorks: true });
    const fails = await rotorEvent('Rotation Heal Needed', {
      ...report,
      currentWorks: false,
      currentError: 'authentication (AuthenticationFailedError): password authentication failed',
    });
    const untested = await rotorEvent('Rotation Heal Needed', report);

    // Act
    const worksText = onTopic(delivered(works));
    const failsText = onTopic(delivered(fails));
    const untestedText = onTopic(delivered(untested));

    // Assess: one page each, every sentence from the report's fields
    expect(worksText).toHaveLength(1);
    expect(worksText[0]).toContain(
      "look. AWSCURRENT passed the rotator's test when the heal function ran (currentWorks: true). Next:",
    );
    expect(failsText).toHaveLength(1);
    expect(failsText[0]).toContain(
      "AWSCURRENT did not pass the rotator's test when the heal function ran (currentWorks: false): authentication (AuthenticationFailedError): password authentication failed. Next:",
    );
    expect(untestedText).toHaveLength(1);
    expect(untestedText[0]).not.toMatch(/currentWorks|AWSCURRENT (passed|did not)/);
  });

  it('does not page for Rotation Healed', async () => {
    // Prepare
    const event = await rotorEvent('Rotation Healed', {
      secretArn: SECRET,
      decision: 'abandon',
      acted: true,
      runbook: 'x',
    });

    // Assess
    expect(delivered(event)).toEqual([]);
  });
});

describe('PagerDuty through an EventBridge API destination', () => {
  it('triggers with the secret ARN as deduplication key and the stage severity, and resolves on the next success with the same key', async () => {
    // Prepare
    const failed = awsEvent('RotationFailed');
    const healNeeded = await rotorEvent('Rotation Heal Needed', {
      secretArn: SECRET,
      decision: 'manual',
      reason: 'neither credential works.',
      state: 'failed',
      acted: false,
    });
    const succeeded = await rotorEvent('Rotation Succeeded', {
      secretArn: SECRET,
      versionId: 'another-token',
      step: 'finishSecret',
    });

    // Act
    const triggers = [...toPagerDuty(delivered(failed)), ...toPagerDuty(delivered(healNeeded))];
    const resolves = toPagerDuty(delivered(succeeded));

    // Assess
    expect(triggers).toHaveLength(2);
    for (const trigger of triggers) {
      expect(trigger).toMatchObject({
        event_action: 'trigger',
        dedup_key: `rotor:${SECRET}`,
        payload: { source: SECRET, severity: 'critical', component: 'rotor', group: 'rotor-example' },
      });
      expect(String((trigger.payload as Json).summary)).toContain(SECRET);
      expect(String((trigger.payload as Json).summary).length).toBeLessThan(1024);
      expect(String(((trigger.payload as Json).custom_details as Json).page)).toMatch(/Runbook: https:/);
      // The routing key is the connection's (a secret body parameter), never in a rule.
      expect(trigger).not.toHaveProperty('routing_key');
    }
    expect(resolves).toEqual([{ event_action: 'resolve', dedup_key: `rotor:${SECRET}` }]);
    expect(delivered(succeeded).map((d) => d.target)).toEqual(['pagerduty']);
  });

  it('takes the routing key from the named secret into the connection, and lets only EventBridge of this account invoke', () => {
    // Prepare
    const connection = exampleResources[PAGERDUTY_CONNECTION] as { Type: string; Properties: Json };
    const destination = exampleResources[PAGERDUTY_DESTINATION] as { Type: string; Properties: Json };
    const role = exampleResources[PAGING_ROLE] as { Properties: Json };
    const reference = '{{resolve:secretsmanager:rotor/on-call/pagerduty-routing-key:SecretString}}';

    // Assess
    expect(connection.Type).toBe('AWS::Events::Connection');
    expect(connection.Properties).toMatchObject({
      AuthorizationType: 'API_KEY',
      AuthParameters: {
        ApiKeyAuthParameters: { ApiKeyValue: reference },
        InvocationHttpParameters: {
          BodyParameters: [{ Key: 'routing_key', Value: reference, IsValueSecret: true }],
        },
      },
    });
    expect(destination).toMatchObject({
      Type: 'AWS::Events::ApiDestination',
      Properties: {
        ConnectionArn: { 'Fn::GetAtt': [PAGERDUTY_CONNECTION, 'Arn'] },
        InvocationEndpoint: PAGERDUTY_EVENTS_URL,
        HttpMethod: 'POST',
      },
    });
    expect(role.Properties).toMatchObject({
      AssumeRolePolicyDocument: {
        Statement: [
          {
            Principal: { Service: 'events.amazonaws.com' },
            Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
          },
        ],
      },
      Policies: [
        {
          PolicyDocument: {
            Statement: [
              {
                Action: 'events:InvokeApiDestination',
                Resource: [
                  { 'Fn::GetAtt': [PAGERDUTY_DESTINATION, 'Arn'] },
                  { 'Fn::GetAtt': [SLACK_DESTINATION, 'Arn'] },
                ],
              },
            ],
          },
        },
      ],
    });
    // No secret value and no routing key anywhere but in the dynamic reference.
    expect(JSON.stringify(exampleResources).match(/\{\{resolve:secretsmanager:[^}]+\}\}/g)).toEqual([
      reference,
      reference,
      '{{resolve:secretsmanager:rotor/on-call/slack-webhook:SecretString}}',
    ]);
  });

  it('uses the severity the stage file names, and creates no PagerDuty or Slack resource when none is configured', () => {
    // Prepare
    const withWarning = buildResources(
      parseDeployConfig(
        { region: REGION, onCall: { pagerDuty: { routingKeySecret: 'pd-key', severity: 'warning' } } },
        't.yml',
      ),
      names,
    ).Resources;
    const plain = buildResources(parseDeployConfig({ region: REGION }, 't.yml'), names).Resources;

    // Act
    const trigger = toPagerDuty(
      (() => {
        const saved = { ...rules };
        for (const key of Object.keys(rules)) delete rules[key];
        Object.assign(rules, rulesOf(withWarning));
        try {
          return delivered(awsEvent('RotationFailed'));
        } finally {
          for (const key of Object.keys(rules)) delete rules[key];
          Object.assign(rules, saved);
        }
      })(),
    );

    // Assess
    expect(trigger).toMatchObject([{ payload: { severity: 'warning' } }]);
    for (const id of [
      PAGERDUTY_CONNECTION,
      PAGERDUTY_DESTINATION,
      SLACK_CONNECTION,
      SLACK_DESTINATION,
      PAGING_ROLE,
      CENTRAL_BUS_ROLE,
    ]) {
      expect(plain[id], id).toBeUndefined();
    }
    expect(plain.RotorPagerDutyResolveRule).toBeUndefined();
    for (const rule of Object.values(rulesOf(plain))) {
      expect(rule.Properties.Targets.map((t) => t.Id)).toEqual(['on-call']);
    }
  });
});

describe('Slack through an EventBridge API destination', () => {
  it('posts the page text to the webhook URL taken from the named secret', () => {
    // Prepare
    const destination = exampleResources[SLACK_DESTINATION] as { Properties: Json };

    // Assess
    expect(destination.Properties).toMatchObject({
      ConnectionArn: { 'Fn::GetAtt': [SLACK_CONNECTION, 'Arn'] },
      InvocationEndpoint: '{{resolve:secretsmanager:rotor/on-call/slack-webhook:SecretString}}',
      HttpMethod: 'POST',
    });
    const target = rules.AwsRotationFailedRule?.Properties.Targets.find((t) => t.Id === 'slack');
    expect(target).toMatchObject({
      Arn: { 'Fn::GetAtt': [SLACK_DESTINATION, 'Arn'] },
      RoleArn: { 'Fn::GetAtt': [PAGING_ROLE, 'Arn'] },
    });
  });
});

describe('the central event bus', () => {
  const BUS = 'arn:aws:events:eu-west-1:444455556666:event-bus/rotation-central';

  it("forwards every rotor event and Secrets Manager's rotation events, through a role that may only put events on that bus", async () => {
    // Prepare
    const role = exampleResources[CENTRAL_BUS_ROLE] as { Properties: Json };
    const rotor = await rotorEvent('Rotation Step Started', { secretArn: SECRET, step: 'createSecret' });

    // Act
    const forwarded = (event: DeliveredEvent) =>
      rulesFor(event).flatMap(([, rule]) => rule.Properties.Targets.filter((t) => t.Id === 'central-bus'));

    // Assess
    expect(forwarded(rotor)).toEqual([
      { Id: 'central-bus', Arn: BUS, RoleArn: { 'Fn::GetAtt': [CENTRAL_BUS_ROLE, 'Arn'] } },
    ]);
    for (const name of AWS_ROTATION_EVENTS) {
      expect(forwarded(awsEvent(name)), name).toHaveLength(1);
    }
    expect(forwarded(awsEvent('GetSecretValue'))).toEqual([]);
    expect(role.Properties).toMatchObject({
      AssumeRolePolicyDocument: { Statement: [{ Principal: { Service: 'events.amazonaws.com' } }] },
      Policies: [
        {
          PolicyDocument: {
            Statement: [{ Effect: 'Allow', Action: 'events:PutEvents', Resource: BUS }],
          },
        },
      ],
    });
    expect(
      ((role.Properties.Policies as Json[])[0] as { PolicyDocument: { Statement: unknown[] } }).PolicyDocument
        .Statement,
    ).toHaveLength(1);
  });
});

describe('paging options are validated offline', () => {
  const fails = (config: Json) => () => parseDeployConfig({ region: REGION, ...config }, 'stage.yml');

  it.each([
    [
      'a PagerDuty secret given as a partial ARN',
      {
        onCall: { pagerDuty: { routingKeySecret: `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:pd` } },
      },
      /^stage\.yml: onCall\.pagerDuty\.routingKeySecret: must be a secret name or its full ARN/,
    ],
    [
      'a PagerDuty secret in another region',
      {
        onCall: {
          pagerDuty: { routingKeySecret: `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:pd-AbCdEf` },
        },
      },
      /^stage\.yml: onCall\.pagerDuty\.routingKeySecret \(arn:.*\): not in region eu-west-1 \(the ARN says us-east-1\)$/,
    ],
    [
      'a PagerDuty severity PagerDuty does not know',
      { onCall: { pagerDuty: { routingKeySecret: 'pd', severity: 'high' } } },
      /^stage\.yml: onCall\.pagerDuty\.severity: must be one of: critical, error, warning, info$/,
    ],
    [
      'a PagerDuty block without its secret',
      { onCall: { pagerDuty: { severity: 'critical' } } },
      /^stage\.yml: onCall\.pagerDuty\.routingKeySecret: required/,
    ],
    [
      'a paging secret that rotor rotates',
      {
        onCall: { slack: { webhookSecret: 'prod/app/db' } },
        secrets: [
          { id: 'prod/app/db', engine: 'postgres', strategy: 'single-user', schedule: 'rate(30 days)' },
        ],
      },
      /^stage\.yml: onCall\.slack\.webhookSecret \(prod\/app\/db\): must not be rotated by rotor/,
    ],
    [
      'a mistyped Slack key',
      { onCall: { slack: { webhookUrl: 'https://hooks.slack.com/services/T/B/X' } } },
      /^stage\.yml: onCall\.slack\.webhookUrl: unknown key `webhookUrl`/,
    ],
    [
      'a central bus that is not an event bus ARN',
      { centralEventBus: 'rotation-central' },
      /^stage\.yml: centralEventBus: must be an event bus ARN \(arn:aws:events:<region>:<account>:event-bus\/<name>\)$/,
    ],
    [
      'a runbook URL with a fragment',
      { runbookUrl: 'https://wiki.example.com/rotor#runbook' },
      /^stage\.yml: runbookUrl: must be the runbook page without a #fragment/,
    ],
    [
      'a runbook URL over http',
      { runbookUrl: 'http://wiki.example.com/rotor' },
      /^stage\.yml: runbookUrl: must be an https:\/\/ URL$/,
    ],
  ])('refuses %s, naming the entry and field', (_name, config, message) => {
    // Act / Assess
    expect(fails(config)).toThrow(DeployConfigError);
    expect(fails(config)).toThrow(message);
  });

  it('links pages to the configured runbook, and to the documented placeholder by default', () => {
    // Prepare
    const own = buildResources(
      parseDeployConfig(
        { region: REGION, runbookUrl: 'https://wiki.example.com/ops/rotor-runbook' },
        't.yml',
      ),
      names,
    ).Resources;
    const byDefault = parseDeployConfig({ region: REGION }, 't.yml');

    // Assess
    expect(JSON.stringify(rulesOf(own).AwsRotationFailedRule)).toContain(
      'https://wiki.example.com/ops/rotor-runbook#rotationfailed',
    );
    expect(byDefault.runbookUrl).toBe(RUNBOOK);
    expect(readFileSync(join(ROOT, 'README.md'), 'utf8')).toContain(RUNBOOK);
  });
});
