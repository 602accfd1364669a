/** cli/commands/rotate.ts followReader: a followed rotation's poll when its events cannot be read. */
import { describe, expect, it } from 'vitest';
import type { AwsContext } from '../../cli/aws.js';
import { followReader } from '../../cli/commands/rotate.js';

const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-AbCdEf';
const FN = 'arn:aws:lambda:eu-west-1:123456789012:function:rotor-prod-postgres';

function contextWithEvents(forSecret: () => Promise<unknown[]>) {
  const asked: { since?: Date; functionArn?: string }[] = [];
  const context = {
    where: 'eu-west-1',
    sm: {
      send: async () => ({ ARN, Name: 'prod/db', RotationLambdaARN: FN, VersionIdsToStages: {} }),
    },
    events: {
      description: 'CloudWatch Logs (/aws/lambda/<rotation function>)',
      includesServiceEvents: false,
      forSecret: async (_arn: string, options: { since?: Date; functionArn?: string }) => {
        asked.push(options);
        return forSecret();
      },
    },
  } as unknown as AwsContext;
  return { context, asked };
}

describe('followReader', () => {
  it('says once that the events cannot be read, and follows the labels alone', async () => {
    const { context } = contextWithEvents(() =>
      Promise.reject(Object.assign(new Error('no'), { name: 'AccessDeniedException' })),
    );
    const lines: string[] = [];
    const reader = followReader(context, ARN, new Date(0), (line) => lines.push(line));
    const first = await reader.read();
    const second = await reader.read();
    expect(first.events).toEqual([]);
    expect(second.secret.ARN).toBe(ARN);
    expect(reader.warned).toBe(true);
    expect(lines).toEqual([
      'cannot read CloudWatch Logs (/aws/lambda/<rotation function>) (AccessDeniedException): following the labels only',
    ]);
  });

  it("reads the events of the secret's own function since the start, and warns of nothing", async () => {
    const { context, asked } = contextWithEvents(async () => []);
    const lines: string[] = [];
    const since = new Date('2026-06-15T12:00:00Z');
    const reader = followReader(context, ARN, since, (line) => lines.push(line));
    await reader.read();
    expect(asked).toEqual([{ since, functionArn: FN }]);
    expect(reader.warned).toBe(false);
    expect(lines).toEqual([]);
  });
});
