/** cli/state.ts readState: events the caller read, and whether they could be read. */
import { describe, expect, it } from 'vitest';
import type { AwsContext } from '../../cli/aws.js';
import { readState } from '../../cli/state.js';

const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-AbCdEf';
const FN = 'arn:aws:lambda:eu-west-1:123456789012:function:rotor-prod-postgres';
const NOW = Date.parse('2026-06-15T12:00:00Z');

// The local stack's events include the service's: none seen would mean none happened.
const context = {
  where: 'http://localhost:4566',
  events: { description: 'the local stack', includesServiceEvents: true, forSecret: async () => [] },
} as unknown as AwsContext;
const secret = {
  ARN,
  Name: 'prod/db',
  RotationEnabled: true,
  RotationLambdaARN: FN,
  VersionIdsToStages: { current: ['AWSCURRENT'], pending: ['AWSPENDING'] },
};
const versions = [{ VersionId: 'pending', CreatedDate: new Date(NOW - 86_400_000) }];

describe('readState with the events given', () => {
  it('does not read the absence of events that could not be read as the absence of a rotation', async () => {
    // Act
    const unread = await readState(context, secret, NOW, {
      events: [],
      eventsNote: 'cannot read the local stack (Error)',
      versions,
    });
    const read = await readState(context, secret, NOW, { events: [], versions });
    // Assess
    expect(unread.eventsNote).toBe('cannot read the local stack (Error)');
    expect(unread.state.reason).not.toContain('no rotation ever started on');
    expect(read.state.reason).toContain('no rotation ever started on');
  });
});
