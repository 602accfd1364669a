/**
 * Rules that need time to pass, driven by the stack's injected clock: deprecated versions are
 * deleted beyond 100 once older than 24 hours, and a deletion window expires.
 */
import {
  DeleteSecretCommand,
  DescribeSecretCommand,
  ListSecretVersionIdsCommand,
  PutSecretValueCommand,
} from '@aws-sdk/client-secrets-manager';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { failure, startTestStack, type TestStack } from './support.js';

const HOUR_MS = 3_600_000;
let now: Date;
let t: TestStack;

beforeEach(async () => {
  now = new Date('2030-06-01T00:00:00Z');
  t = await startTestStack({ clock: () => now });
});

afterEach(async () => {
  await t.close();
});

/** Puts `count` new AWSCURRENT values, ten at a time (only the count matters here). */
async function putMany(secretId: string, count: number): Promise<void> {
  for (let start = 0; start < count; start += 10) {
    const batch = Array.from({ length: Math.min(10, count - start) }, (_, i) =>
      t.sm.send(new PutSecretValueCommand({ SecretId: secretId, SecretString: `value-${start + i}` })),
    );
    await Promise.all(batch);
  }
}

async function allVersions(secretId: string): Promise<number> {
  let total = 0;
  let nextToken: string | undefined;
  do {
    const page = await t.sm.send(
      new ListSecretVersionIdsCommand({
        SecretId: secretId,
        IncludeDeprecated: true,
        ...(nextToken === undefined ? {} : { NextToken: nextToken }),
      }),
    );
    total += page.Versions?.length ?? 0;
    nextToken = page.NextToken;
  } while (nextToken !== undefined);
  return total;
}

describe('deprecated versions', () => {
  it('keeps every version younger than 24 hours, even beyond 100', async () => {
    // Prepare
    const arn = await t.createSecret();

    // Act
    await putMany(arn, 110);

    // Assess
    expect(await allVersions(arn)).toBe(111);
  });

  it('deletes the oldest unlabelled versions beyond 100 once they are older than 24 hours', async () => {
    // Prepare
    const arn = await t.createSecret();
    await putMany(arn, 110);
    now = new Date(now.getTime() + 25 * HOUR_MS);

    // Act
    await putMany(arn, 1);

    // Assess
    expect(await allVersions(arn)).toBe(100);
    const labelled = await t.sm.send(new ListSecretVersionIdsCommand({ SecretId: arn }));
    expect(labelled.Versions?.flatMap((version) => version.VersionStages ?? []).sort()).toEqual([
      'AWSCURRENT',
      'AWSPREVIOUS',
    ]);
  });
});

describe('deletion window', () => {
  it('forgets a deleted secret once its recovery window has passed', async () => {
    // Prepare
    const arn = await t.createSecret();
    const deleted = await t.sm.send(new DeleteSecretCommand({ SecretId: arn, RecoveryWindowInDays: 7 }));
    const stillThere = await t.sm.send(new DescribeSecretCommand({ SecretId: arn }));

    // Act
    now = new Date((deleted.DeletionDate?.getTime() ?? 0) + 1000);
    const error = await failure(() => t.sm.send(new DescribeSecretCommand({ SecretId: arn })));

    // Assess
    expect(deleted.DeletionDate?.toISOString()).toBe('2030-06-08T00:00:00.000Z');
    expect(stillThere.DeletedDate?.toISOString()).toBe('2030-06-01T00:00:00.000Z');
    expect(error.name).toBe('ResourceNotFoundException');
  });
});
