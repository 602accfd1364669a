/**
 * Reading rotor's step lines from CloudWatch Logs (pure logic: there is no CloudWatch here). The
 * samples are lines the step machine really logged (Powertools JSON), as Lambda stores them in
 * each of its log formats.
 */
import { describe, expect, it } from 'vitest';
import {
  CloudWatchEvents,
  defaultLogGroup,
  filterPatternFor,
  fromEventBridge,
  fromLogEvent,
  lambdaFunctionName,
} from '../../cli/events.js';

const ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/broken-qBGdN6';
const OTHER = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/app-fYB7yA';
const TOKEN = '8f5e4e28-0132-479d-9636-ae6ca718f4ec';

/** Recorded with the real step machine (`ROTOR_LOG_LEVEL=INFO`), one rotation that failed setSecret. */
const SUCCEEDED = `{"level":"INFO","message":"step succeeded","timestamp":"2026-11-25T17:53:12.834Z","service":"rotor","sampling_rate":0,"secretArn":"${ARN}","versionId":"${TOKEN}","step":"createSecret","engine":"fake","strategy":"single-user","attempt":1,"durationMs":12,"result":"done"}`;
const FAILED = `{"level":"ERROR","message":"step failed","timestamp":"2026-11-25T17:53:12.839Z","service":"rotor","sampling_rate":0,"secretArn":"${ARN}","versionId":"${TOKEN}","step":"setSecret","engine":"fake","strategy":"single-user","attempt":1,"durationMs":3,"error":{"name":"AuthenticationFailedError","message":"setSecret of ${ARN}: fake target rejected the login of \\"app\\"","retryable":false,"secretId":"${ARN}","step":"setSecret","versionId":"${TOKEN}"}}`;
const WARNING = `{"level":"WARN","message":"AWSPREVIOUS is not usable; ignoring it","timestamp":"2026-11-25T17:53:12.840Z","service":"rotor","sampling_rate":0,"secretArn":"${ARN}"}`;

describe('step lines from CloudWatch Logs', () => {
  it('reads a step that succeeded: step, version, engine, strategy, attempt, duration, time', () => {
    // Act
    const record = fromLogEvent({ timestamp: 1, message: SUCCEEDED });
    // Assess
    expect(record).toEqual({
      time: new Date('2026-11-25T17:53:12.834Z'),
      kind: 'step-succeeded',
      secretArn: ARN,
      versionId: TOKEN,
      step: 'createSecret',
      engine: 'fake',
      strategy: 'single-user',
      attempt: 1,
      durationMs: 12,
    });
  });

  it('reads a step that failed with its error class and message', () => {
    // Act
    const record = fromLogEvent({ timestamp: 1, message: FAILED });
    // Assess
    expect(record).toMatchObject({
      kind: 'step-failed',
      step: 'setSecret',
      error: { name: 'AuthenticationFailedError', message: expect.stringContaining('rejected the login') },
    });
  });

  it("reads a line behind Lambda's text prefix (time, request id, level)", () => {
    // Prepare
    const message = `2026-11-25T17:53:12.839Z\t3f1c2b4a-0000-4000-8000-000000000000\tERROR\t${FAILED}\n`;
    // Act
    const record = fromLogEvent({ timestamp: 1, message });
    // Assess
    expect(record).toMatchObject({ kind: 'step-failed', versionId: TOKEN, attempt: 1 });
  });

  it("reads a line wrapped in Lambda's JSON log format envelope", () => {
    // Prepare
    const message = JSON.stringify({
      time: '2026-11-25T17:53:12.834Z',
      type: 'function',
      record: JSON.parse(SUCCEEDED),
    });
    // Act
    const record = fromLogEvent({ timestamp: 1, message });
    // Assess
    expect(record).toMatchObject({ kind: 'step-succeeded', step: 'createSecret', durationMs: 12 });
  });

  it('takes the log event time when the line has none', () => {
    // Prepare
    const line = JSON.parse(SUCCEEDED) as Record<string, unknown>;
    delete line.timestamp;
    // Act
    const record = fromLogEvent({ timestamp: 1_764_093_192_000, message: JSON.stringify(line) });
    // Assess
    expect(record?.time).toEqual(new Date(1_764_093_192_000));
  });

  it.each([
    ['another log line of the function', WARNING],
    ['a Lambda platform line', 'START RequestId: 3f1c2b4a Version: $LATEST'],
    ['broken JSON', '{"message":"step failed",'],
    ['an empty message', ''],
  ])('ignores %s', (_what, message) => {
    // Act
    const record = fromLogEvent({ timestamp: 1, message });
    // Assess
    expect(record).toBeUndefined();
  });

  it('derives the function name and default log group from the rotation function ARN', () => {
    // Act
    const names = [
      lambdaFunctionName('arn:aws:lambda:eu-west-1:123456789012:function:rotor-prod-postgres'),
      lambdaFunctionName('arn:aws:lambda:eu-west-1:123456789012:function:rotor-prod-postgres:live'),
      lambdaFunctionName('rotor-prod-mysql'),
    ];
    const group = defaultLogGroup('arn:aws-cn:lambda:cn-north-1:123456789012:function:rotor-apikey');
    // Assess
    expect(names).toEqual(['rotor-prod-postgres', 'rotor-prod-postgres', 'rotor-prod-mysql']);
    expect(group).toBe('/aws/lambda/rotor-apikey');
  });

  it('filters on the secret ARN as one quoted term, so that it matches in every log format', () => {
    // Act
    const pattern = filterPatternFor(ARN);
    // Assess
    expect(pattern).toBe(`"${ARN}"`);
  });

  it("pages through FilterLogEvents on the function's log group and keeps only this secret's step lines", async () => {
    // Prepare
    const sent: Record<string, unknown>[] = [];
    const pages = [
      {
        events: [
          { timestamp: 1, message: FAILED },
          { timestamp: 2, message: WARNING },
        ],
        nextToken: 'page-2',
      },
      {
        events: [
          { timestamp: 3, message: SUCCEEDED },
          { timestamp: 4, message: SUCCEEDED.replaceAll(ARN, OTHER) },
        ],
      },
    ];
    const client = {
      send: async (command: { input: Record<string, unknown> }) => {
        sent.push(command.input);
        return pages[sent.length - 1];
      },
    };
    const events = new CloudWatchEvents(client as never);

    // Act
    const records = await events.forSecret(ARN, {
      since: new Date('2026-11-01T00:00:00Z'),
      functionArn: 'arn:aws:lambda:us-east-1:123456789012:function:rotor-prod-postgres',
    });

    // Assess
    expect(sent).toEqual([
      {
        logGroupName: '/aws/lambda/rotor-prod-postgres',
        filterPattern: `"${ARN}"`,
        startTime: Date.parse('2026-11-01T00:00:00Z'),
      },
      {
        logGroupName: '/aws/lambda/rotor-prod-postgres',
        filterPattern: `"${ARN}"`,
        startTime: Date.parse('2026-11-01T00:00:00Z'),
        nextToken: 'page-2',
      },
    ]);
    expect(records.map((record) => `${record.kind}:${record.step}`)).toEqual([
      'step-succeeded:createSecret',
      'step-failed:setSecret',
    ]);
  });

  it('reads another log group when one is given (a function with its own logging config)', async () => {
    // Prepare
    const groups: unknown[] = [];
    const client = {
      send: async (command: { input: Record<string, unknown> }) => {
        groups.push(command.input.logGroupName);
        return { events: [] };
      },
    };
    // Act
    await new CloudWatchEvents(client as never, '/rotor/prod').forSecret(ARN, { functionArn: 'rotor-x' });
    // Assess
    expect(groups).toEqual(['/rotor/prod']);
  });
});

describe('events from EventBridge (the local stack)', () => {
  it("reads rotor's step events by detail type", () => {
    // Prepare
    const detail = JSON.parse(FAILED) as Record<string, unknown>;
    // Act
    const record = fromEventBridge(
      {
        source: 'rotor',
        detailType: 'Rotation Step Failed',
        detail: JSON.stringify(detail),
        resources: [ARN],
        time: '2026-11-25T17:53:12.000Z',
      },
      'rotor',
    );
    // Assess
    expect(record).toMatchObject({
      kind: 'step-failed',
      step: 'setSecret',
      versionId: TOKEN,
      secretArn: ARN,
    });
  });

  it("reads a heal event's decision and pending version", () => {
    // Act
    const record = fromEventBridge(
      {
        source: 'rotor',
        detailType: 'Rotation Healed',
        detail: JSON.stringify({
          secretArn: ARN,
          decision: 'abandon',
          pendingVersionId: TOKEN,
          reason: 'why',
        }),
        resources: [ARN],
        time: '2026-11-25T17:53:12.000Z',
      },
      'rotor',
    );
    // Assess
    expect(record).toMatchObject({ kind: 'healed', decision: 'abandon', versionId: TOKEN, note: 'why' });
  });

  it("reads Secrets Manager's RotationFailed (no version: the service does not say)", () => {
    // Act
    const record = fromEventBridge(
      {
        source: 'aws.secretsmanager',
        detailType: 'AWS Service Event via CloudTrail',
        detail: JSON.stringify({
          eventName: 'RotationFailed',
          additionalEventData: { SecretId: ARN },
        }),
        resources: [],
        time: '2026-11-25T17:53:12.000Z',
      },
      'rotor',
    );
    // Assess
    expect(record).toEqual({
      time: new Date('2026-11-25T17:53:12.000Z'),
      kind: 'rotation-failed',
      secretArn: ARN,
      source: 'service',
    });
  });

  it("reads the service's other rotation events: started, abandoned, and the configuration test's", () => {
    // Prepare
    const service = (eventName: string) => ({
      source: 'aws.secretsmanager',
      detailType: 'AWS Service Event via CloudTrail',
      detail: JSON.stringify({ eventName, additionalEventData: { SecretId: ARN } }),
      resources: [],
      time: '2026-11-25T17:53:12.000Z',
    });

    // Act
    const kinds = [
      'RotationStarted',
      'RotationAbandoned',
      'TestRotationStarted',
      'TestRotationSucceeded',
      'TestRotationFailed',
      'RotationSucceeded',
    ].map((name) => fromEventBridge(service(name), 'rotor')?.kind);

    // Assess: RotationSucceeded is left to rotor's own event, which carries the token.
    expect(kinds).toEqual([
      'rotation-started',
      'rotation-abandoned',
      'test-started',
      'test-passed',
      'test-failed',
      undefined,
    ]);
  });

  it('keeps the fallback, the warnings and the error reason a step reported', () => {
    // Act
    const record = fromEventBridge(
      {
        source: 'rotor',
        detailType: 'Rotation Step Succeeded',
        detail: JSON.stringify({
          secretArn: ARN,
          versionId: 'v'.repeat(36),
          step: 'setSecret',
          fallback: 'AWSPREVIOUS',
          warnings: ['role drift', 7],
          error: { name: 'TargetUnreachableError', reason: 'tls' },
        }),
        resources: [ARN],
        time: '2026-11-25T17:53:12.000Z',
      },
      'rotor',
    );

    // Assess
    expect(record).toMatchObject({
      fallback: 'AWSPREVIOUS',
      warnings: ['role drift'],
      error: { name: 'TargetUnreachableError', reason: 'tls' },
    });
  });

  it('keeps currentVerified of a failed step, and only a boolean', () => {
    // Act
    const [verified, notBoolean] = [true, 'yes'].map((currentVerified) =>
      fromEventBridge(
        {
          source: 'rotor',
          detailType: 'Rotation Step Failed',
          detail: JSON.stringify({ secretArn: ARN, step: 'testSecret', currentVerified }),
          resources: [ARN],
          time: '2026-11-25T17:53:12.000Z',
        },
        'rotor',
      ),
    );

    // Assess
    expect(verified).toMatchObject({ currentVerified: true });
    expect(notBoolean).not.toHaveProperty('currentVerified');
  });

  it('ignores events of other sources and unknown detail types', () => {
    // Act
    const records = [
      fromEventBridge(
        { source: 'acme', detailType: 'Rotation Step Failed', detail: FAILED, resources: [], time: '' },
        'rotor',
      ),
      fromEventBridge(
        { source: 'rotor', detailType: 'Something Else', detail: FAILED, resources: [], time: '' },
        'rotor',
      ),
    ];
    // Assess
    expect(records).toEqual([undefined, undefined]);
  });
});
