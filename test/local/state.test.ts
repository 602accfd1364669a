/**
 * The state file: secrets, versions, labels, values, stored events and the rotation history
 * survive a restart of the local stack; writes are atomic and happen without waiting for stop.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  RotateSecretCommand,
} from '@aws-sdk/client-secrets-manager';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { eventually, protocolFunction, startTestStack } from './support.js';

let directory: string;

beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'rotor-state-'));
});

afterEach(async () => {
  await rm(directory, { recursive: true, force: true });
});

describe('state file', () => {
  it('restores secrets, versions, labels and values after a restart', async () => {
    // Prepare
    const stateFile = join(directory, 'nested', 'state.json');
    const first = await startTestStack({ stateFile });
    const arn = await first.createSecret('{"password":"one"}');
    const second = await first.sm.send(
      new PutSecretValueCommand({ SecretId: arn, SecretString: '{"password":"two"}' }),
    );
    const labels = await first.labels(arn);
    await first.close();

    // Act
    const restarted = await startTestStack({ stateFile });
    const value = await restarted.sm.send(new GetSecretValueCommand({ SecretId: arn }));
    const restoredLabels = await restarted.labels(arn);
    const described = await restarted.sm.send(new DescribeSecretCommand({ SecretId: arn }));
    await restarted.close();

    // Assess
    expect(value.SecretString).toBe('{"password":"two"}');
    expect(value.VersionId).toBe(second.VersionId);
    expect(restoredLabels).toEqual(labels);
    expect(described.ARN).toBe(arn);
    expect(described.CreatedDate).toBeInstanceOf(Date);
  });

  it('restores stored events and the rotation history', async () => {
    // Prepare
    const stateFile = join(directory, 'state.json');
    const first = await startTestStack({ stateFile });
    const functionArn = first.stack.registerFunction('persisted', protocolFunction(first.sm).fn);
    const arn = await first.createSecret();
    await first.sm.send(new RotateSecretCommand({ SecretId: arn, RotationLambdaARN: functionArn }));
    await first.stack.idle();
    await first.eb.send(
      new PutEventsCommand({ Entries: [{ Source: 'rotor', DetailType: 'Kept', Detail: '{}' }] }),
    );
    const events = first.stack.eventBridge.events.length;
    await first.close();

    // Act
    const restarted = await startTestStack({ stateFile });
    const history = restarted.stack.rotations.history;
    const kept = restarted.stack.eventBridge.find({ detailType: 'Kept' });
    const rotated = await restarted.sm.send(new DescribeSecretCommand({ SecretId: arn }));
    await restarted.close();

    // Assess
    expect(restarted.stack.eventBridge.events.length).toBe(events);
    expect(kept).toHaveLength(1);
    expect(history.map((record) => [record.secretArn, record.status])).toEqual([[arn, 'succeeded']]);
    expect(rotated.LastRotatedDate).toBeInstanceOf(Date);
    expect(rotated.RotationEnabled).toBe(true);
  });

  it('saves soon after a change, without waiting for stop, and leaves no temporary file', async () => {
    // Prepare
    const stateFile = join(directory, 'state.json');
    const running = await startTestStack({ stateFile });

    // Act
    const arn = await running.createSecret('{"password":"saved"}');
    await eventually(async () => (await readFile(stateFile, 'utf8').catch(() => '')).includes(arn));
    const files = await readdir(directory);
    await running.close();

    // Assess
    expect(files).toEqual(['state.json']);
  });

  it('starts empty when the file does not exist yet', async () => {
    // Prepare
    const stateFile = join(directory, 'absent.json');

    // Act
    const fresh = await startTestStack({ stateFile });
    const listed = fresh.stack.secretsManager.snapshot().secrets;
    await fresh.close();

    // Assess
    expect(listed).toEqual([]);
  });
});
