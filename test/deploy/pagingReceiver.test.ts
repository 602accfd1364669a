/**
 * PagerDuty end to end on the local stack, with a local HTTP receiver standing in for PagerDuty:
 * a rotation fails for good (each of its three attempts puts rotor's "Rotation Step Failed", then the
 * local Secrets Manager puts RotationFailed), the
 * next one succeeds (rotor's "Rotation Succeeded", put through the real SDK); the generated rules
 * are applied to the events the local EventBridge holds, and each PagerDuty target's request is
 * made as an API destination would make it: the input transformer's body, plus the connection's
 * parameters with the routing key resolved from the local Secrets Manager (the CloudFormation
 * dynamic reference the connection holds). EventBridge's own delivery is emulated
 * (test/deploy/eventRules.ts); the secret, the events and the HTTP requests are real.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  CreateSecretCommand,
  GetSecretValueCommand,
  RotateSecretCommand,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDeployConfig } from '../../deploy/config.js';
import { buildResources, PAGERDUTY_CONNECTION, PAGERDUTY_DESTINATION } from '../../deploy/template.js';
import { EventPublisher } from '../../handlers/events.js';
import { Redactor } from '../../handlers/redact.js';
import type { StoredEvent } from '../../local/stack.js';
import { AuthenticationFailedError, MasterBindingError } from '../../rotators/errors.js';
import { protocolFunction, startTestStack, type TestStack } from '../local/support.js';
import { type DeliveredEvent, matches, transform } from './eventRules.js';

type Json = Record<string, unknown>;
type Target = {
  Id: string;
  InputTransformer?: { InputPathsMap?: Record<string, string>; InputTemplate: string };
};
type Rule = { Type: string; Properties: { EventBusName?: string; EventPattern?: Json; Targets: Target[] } };

let t: TestStack;
let receiver: Server;
let receiverUrl: string;
const received: { path: string; headers: IncomingHttpHeaders; body: Json }[] = [];

beforeAll(async () => {
  t = await startTestStack();
  receiver = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({
        path: request.url ?? '',
        headers: request.headers,
        body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Json,
      });
      response.writeHead(202, { 'content-type': 'application/json' }).end('{"status":"success"}');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => receiver.close(resolve));
  await t.close();
});

/** An event the local EventBridge holds, as EventBridge hands it to rules. */
function asDelivered(event: StoredEvent): DeliveredEvent {
  return {
    source: event.source,
    'detail-type': event.detailType,
    resources: [...event.resources],
    detail: JSON.parse(event.detail) as Json,
  };
}

/** `{{resolve:secretsmanager:<id>:SecretString}}` read from the local Secrets Manager. */
async function resolveReference(value: string): Promise<string> {
  const reference = /^\{\{resolve:secretsmanager:(.+):SecretString\}\}$/.exec(value);
  if (!reference) return value;
  const out = await t.sm.send(new GetSecretValueCommand({ SecretId: reference[1] }));
  return out.SecretString ?? '';
}

/**
 * Sends what each matching target would send: PagerDuty's as its API destination does, the on-call
 * topic's and Slack's to `/<target id>` (the page text as `input`).
 */
async function deliver(resources: Json, events: readonly StoredEvent[]): Promise<void> {
  const connection = (resources[PAGERDUTY_CONNECTION] as { Properties: { AuthParameters: Json } }).Properties
    .AuthParameters as {
    ApiKeyAuthParameters: { ApiKeyName: string; ApiKeyValue: string };
    InvocationHttpParameters: { BodyParameters: { Key: string; Value: string }[] };
  };
  const endpoint = new URL(
    (resources[PAGERDUTY_DESTINATION] as { Properties: { InvocationEndpoint: string } }).Properties
      .InvocationEndpoint,
  );
  const rules = Object.values(resources).filter(
    (r) => (r as Rule).Type === 'AWS::Events::Rule' && (r as Rule).Properties.EventPattern !== undefined,
  ) as Rule[];
  for (const stored of events) {
    const event = asDelivered(stored);
    for (const rule of rules) {
      if ((rule.Properties.EventBusName ?? 'default') !== stored.eventBusName) continue;
      if (!matches(rule.Properties.EventPattern as Json, event)) continue;
      for (const target of rule.Properties.Targets.filter((x) => x.Id !== 'pagerduty')) {
        // The topic's HTTPS subscriber and the Slack webhook, standing in at the receiver.
        const input = transform(target.InputTransformer as NonNullable<Target['InputTransformer']>, event);
        await fetch(`${receiverUrl}/${target.Id}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ input: JSON.parse(input) as unknown }),
        });
      }
      for (const target of rule.Properties.Targets.filter((x) => x.Id === 'pagerduty')) {
        const body = JSON.parse(
          transform(target.InputTransformer as NonNullable<Target['InputTransformer']>, event),
        ) as Json;
        for (const parameter of connection.InvocationHttpParameters.BodyParameters) {
          body[parameter.Key] = await resolveReference(parameter.Value);
        }
        await fetch(`${receiverUrl}${endpoint.pathname}`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            [connection.ApiKeyAuthParameters.ApiKeyName]: await resolveReference(
              connection.ApiKeyAuthParameters.ApiKeyValue,
            ),
          },
          body: JSON.stringify(body),
        });
      }
    }
  }
}

describe('PagerDuty end to end on the local stack (local receiver)', () => {
  it('triggers once when the rotation fails for good, and resolves the same incident when the next rotation succeeds', async () => {
    // Prepare: the routing key in Secrets Manager, the stage naming it, a rotated secret
    const keyName = `rotor-paging-test/pd-${randomUUID().slice(0, 8)}`;
    const routingKey = `R${randomUUID().replaceAll('-', '')}`;
    await t.sm.send(new CreateSecretCommand({ Name: keyName, SecretString: routingKey }));
    const resources = buildResources(
      parseDeployConfig(
        { region: t.stack.region, onCall: { pagerDuty: { routingKeySecret: keyName } } },
        'receiver.yml',
      ),
      { service: 'rotor', stage: 'receiver' },
    ).Resources;
    const arn = await t.createSecret();
    const publisher = new EventPublisher(t.eb, {
      busName: 'default',
      source: 'rotor',
      redactor: new Redactor(),
    });
    let failing = true;
    let attempts = 0;
    const { fn } = protocolFunction(t.sm, {
      during: (step) => {
        if (failing && step === 'setSecret') throw new Error('setSecret failed on purpose');
      },
    });
    const functionArn = t.stack.registerFunction(
      `paging-${randomUUID().slice(0, 8)}`,
      async (event, context) => {
        try {
          await fn(event, context);
        } catch (error) {
          // Each failed attempt's event, as the step machine puts it: no page.
          attempts += 1;
          await publisher.publish([
            {
              detailType: 'Rotation Step Failed',
              secretArn: event.SecretId,
              detail: {
                secretArn: event.SecretId,
                versionId: event.ClientRequestToken,
                step: event.Step,
                attempt: attempts,
                error: new AuthenticationFailedError('password authentication failed').toJSON(),
              },
            },
          ]);
          throw error;
        }
        if (event.Step === 'finishSecret') {
          await publisher.publish([
            {
              detailType: 'Rotation Succeeded',
              secretArn: event.SecretId,
              detail: {
                secretArn: event.SecretId,
                versionId: event.ClientRequestToken,
                step: 'finishSecret',
              },
            },
          ]);
        }
      },
    );
    const since = new Date();

    // Act: a rotation that fails for good (3 attempts), its AWSPENDING cleared, then one that succeeds
    const first = await t.sm.send(new RotateSecretCommand({ SecretId: arn, RotationLambdaARN: functionArn }));
    await t.stack.idle();
    await t.sm.send(
      new UpdateSecretVersionStageCommand({
        SecretId: arn,
        VersionStage: 'AWSPENDING',
        RemoveFromVersionId: first.VersionId,
      }),
    );
    failing = false;
    const second = await t.sm.send(new RotateSecretCommand({ SecretId: arn, RotateImmediately: true }));
    await t.stack.waitForRotation(arn, second.VersionId ?? '');
    const events = t.stack.eventBridge
      .find({ since })
      .filter((e) => e.resources.includes(arn) || e.detail.includes(arn));
    await deliver(resources, events);

    // Assess
    expect(attempts).toBe(3);
    expect(events.filter((e) => e.detailType === 'Rotation Step Failed')).toHaveLength(3);
    expect(received.filter((r) => r.path === '/v2/enqueue').map((r) => r.body.event_action)).toEqual([
      'trigger',
      'resolve',
    ]);
    const [trigger, resolve] = received.filter((r) => r.path === '/v2/enqueue');
    expect(trigger?.path).toBe('/v2/enqueue');
    expect(trigger?.body).toMatchObject({
      routing_key: routingKey,
      event_action: 'trigger',
      dedup_key: `rotor:${arn}`,
      payload: {
        source: arn,
        severity: 'critical',
        summary: `The rotation of ${arn} failed for good (RotationFailed)`,
      },
    });
    expect(JSON.stringify(trigger?.body.payload)).toContain(
      'This event does not say whether AWSCURRENT still logs in',
    );
    expect(resolve?.body).toEqual({
      routing_key: routingKey,
      event_action: 'resolve',
      dedup_key: `rotor:${arn}`,
    });
    // The routing key travels only in the request PagerDuty receives, never in a rule.
    expect(JSON.stringify(resources)).not.toContain(routingKey);
  });

  it('pages a refused rotation once on every channel (the topic, Slack, PagerDuty), however many attempts were refused', async () => {
    // Prepare: PagerDuty and Slack configured, a function that refuses a trust boundary at every attempt
    received.length = 0;
    const keyName = `rotor-paging-test/pd-${randomUUID().slice(0, 8)}`;
    const hookName = `rotor-paging-test/slack-${randomUUID().slice(0, 8)}`;
    await t.sm.send(new CreateSecretCommand({ Name: keyName, SecretString: `R${randomUUID()}` }));
    await t.sm.send(new CreateSecretCommand({ Name: hookName, SecretString: `${receiverUrl}/slack` }));
    const resources = buildResources(
      parseDeployConfig(
        {
          region: t.stack.region,
          onCall: { pagerDuty: { routingKeySecret: keyName }, slack: { webhookSecret: hookName } },
        },
        'receiver.yml',
      ),
      { service: 'rotor', stage: 'receiver' },
    ).Resources;
    const arn = await t.createSecret();
    const publisher = new EventPublisher(t.eb, {
      busName: 'default',
      source: 'rotor',
      redactor: new Redactor(),
    });
    let attempts = 0;
    const { fn } = protocolFunction(t.sm, {
      during: (step) => {
        if (step === 'setSecret') throw new MasterBindingError('the master secret names no host');
      },
    });
    const functionArn = t.stack.registerFunction(
      `refusal-${randomUUID().slice(0, 8)}`,
      async (event, context) => {
        try {
          await fn(event, context);
        } catch (error) {
          // Each refused attempt's event, as the step machine puts it (error category security).
          attempts += 1;
          await publisher.publish([
            {
              detailType: 'Rotation Step Failed',
              secretArn: event.SecretId,
              detail: {
                secretArn: event.SecretId,
                versionId: event.ClientRequestToken,
                step: event.Step,
                attempt: attempts,
                error: new MasterBindingError('the master secret names no host').toJSON(),
                currentVerified: true,
              },
            },
          ]);
          throw error;
        }
      },
    );
    const since = new Date();

    // Act: the rotation is refused at each attempt until the service gives up
    await t.sm.send(new RotateSecretCommand({ SecretId: arn, RotationLambdaARN: functionArn }));
    await t.stack.idle();
    const events = t.stack.eventBridge
      .find({ since })
      .filter((e) => e.resources.includes(arn) || e.detail.includes(arn));
    await deliver(resources, events);

    // Assess: three refusals, one page per channel
    expect(attempts).toBe(3);
    const refusals = events.filter((e) => e.detailType === 'Rotation Step Failed');
    expect(refusals).toHaveLength(3);
    expect(refusals.every((e) => e.detail.includes('"category":"security"'))).toBe(true);
    expect(received.map((r) => r.path).sort()).toEqual(['/on-call', '/slack', '/v2/enqueue']);
    const trigger = received.find((r) => r.path === '/v2/enqueue');
    expect(trigger?.body).toMatchObject({ event_action: 'trigger', dedup_key: `rotor:${arn}` });
    const text = String(received.find((r) => r.path === '/on-call')?.body.input);
    expect(text).toContain(`Secrets Manager gave up the rotation of ${arn} (RotationFailed)`);
    expect(text).toContain('an error of category security (a refused trust boundary)');
  });
});
