/**
 * `rotor attach --adopt <name> --function ...`: adopting and preflight share one read of each
 * secret (DescribeSecret and AWSCURRENT's GetSecretValue once, not once each). Local stack, real
 * SDK, the CLI in-process. The secrets use an engine the CLI does not rotate, so attach refuses
 * them after preflight and no rotation function reads them behind the count.
 */
import { randomUUID } from 'node:crypto';
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFakeRotator } from '../../rotators/fake/index.js';
import { type RotationHarness, startRotationHarness } from '../support/rotation.js';
import { CliRunner } from './support.js';

let h: RotationHarness;
let cli: CliRunner;

beforeAll(async () => {
  h = await startRotationHarness({ rotators: [createFakeRotator(new Map())] });
  cli = new CliRunner(h.stack.endpoint, { env: { ROTOR_OPERATOR: 'alice@ops', NO_COLOR: '1' } });
});

afterAll(async () => {
  await h.close();
});

/** The reads of one secret (by name or ARN) the stack received since its calls were reset. */
function readsOf(name: string, arn: string): { describe: number; get: number } {
  const about = (operation: string) =>
    h.stack.secretsManager
      .requests(operation)
      .filter((request) => request.input.SecretId === name || request.input.SecretId === arn).length;
  return { describe: about('DescribeSecret'), get: about('GetSecretValue') };
}

describe('rotor attach --adopt --function', () => {
  it('describes and reads each secret once, adopts, then refuses it as preflight does', async () => {
    // Prepare
    const names = [`attach-adopt/${randomUUID().slice(0, 8)}`, `attach-adopt/${randomUUID().slice(0, 8)}`];
    const arns = [
      await h.createSecret(
        { engine: 'fake', target: 't', username: 'app', password: randomUUID() },
        names[0],
      ),
      await h.createSecret(
        { engine: 'fake', target: 't', username: 'app', password: randomUUID() },
        names[1],
      ),
    ];
    const before = names.map((name, index) => readsOf(name, arns[index] as string));

    // Act
    const result = await cli.run(
      'attach',
      ...names,
      '--adopt',
      'legacy_app',
      '--function',
      'rotor-test',
      '--schedule',
      'rate(30 days)',
    );

    // Assess
    const after = names.map((name, index) => readsOf(name, arns[index] as string));
    expect(after.map((reads, index) => reads.describe - (before[index]?.describe ?? 0))).toEqual([1, 1]);
    expect(after.map((reads, index) => reads.get - (before[index]?.get ?? 0))).toEqual([1, 1]);
    expect(result.stdout).toContain(`adopted user "legacy_app" for ${names[0]}`);
    expect(result.stdout).toContain(`adopted user "legacy_app" for ${names[1]}`);
    expect(result.stderr).toContain(`refused ${names[0]}:`);
    expect(result.stderr).toContain(`refused ${names[1]}:`);
    expect(result.code).toBe(2);
    const record = await h.sm.send(new GetSecretValueCommand({ SecretId: 'rotor/adoptions' }));
    expect(JSON.parse(record.SecretString ?? '{}').adoptions).toHaveLength(2);
  });
});
