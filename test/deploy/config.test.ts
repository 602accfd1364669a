/** The stage configuration's validation (pure logic): every bad entry names itself and its field. */
import { describe, expect, it } from 'vitest';
import { DeployConfigError, parseDeployConfig } from '../../deploy/config.js';

const valid = {
  region: 'eu-west-1',
  secrets: [{ id: 'prod/app/db', engine: 'postgres', strategy: 'single-user', schedule: 'rate(30 days)' }],
};

function refusal(config: unknown): string {
  try {
    parseDeployConfig(config, 'deploy/stages/test.yml');
  } catch (error) {
    expect(error).toBeInstanceOf(DeployConfigError);
    return (error as Error).message;
  }
  throw new Error('expected the configuration to be refused');
}

describe('stage configuration', () => {
  it('accepts a minimal configuration and fills in the defaults', () => {
    // Act
    const config = parseDeployConfig(valid, 'test');
    // Assess
    expect(config).toMatchObject({
      eventBus: 'default',
      eventSource: 'rotor',
      logRetentionDays: 30,
      onCall: { email: [], https: [] },
      kmsKeyArns: [],
      relatedSecrets: { postgres: [], mysql: [], apikey: [] },
      masters: [],
      rdsMasters: [],
      adoptionsSecret: 'rotor/adoptions',
    });
    // As rotor attach and Secrets Manager's own RotationSchedule default.
    expect(config.secrets[0]?.rotateImmediately).toBe(true);
  });

  it.each([
    ['a bad schedule', { schedule: 'every month' }, /secrets\.0\.schedule \(prod\/app\/db\): must be rate/],
    ['a schedule too frequent', { schedule: 'rate(1 hours)' }, /at most every 4 hours/],
    ['an unknown engine', { engine: 'oracle' }, /secrets\.0\.engine \(prod\/app\/db\): must be one of/],
    [
      'a strategy the engine lacks',
      { strategy: 'dual-password' },
      /secrets\.0\.strategy \(prod\/app\/db\): engine postgres supports/,
    ],
    ['a window out of range', { window: '30h' }, /secrets\.0\.window .*1h to 24h/],
    ['a window with a leading zero', { window: '04h' }, /secrets\.0\.window .*1h to 24h/],
    [
      'an unknown key',
      { rotateNow: true },
      /secrets\.0\.rotateNow \(prod\/app\/db\): unknown key `rotateNow` \(known keys: id, engine/,
    ],
    [
      'a mistyped key (not reported as the key it meant, missing)',
      { schedule: undefined, shedule: 'rate(30 days)' },
      /secrets\.0\.shedule \(prod\/app\/db\): unknown key `shedule` \(did you mean `schedule`\?\)$/,
    ],
    [
      'a secret ARN in another region',
      { id: 'arn:aws:secretsmanager:us-east-1:111122223333:secret:x-AbCdEf' },
      /not in region eu-west-1/,
    ],
  ])('refuses %s, naming the entry and field', (_name, change, message) => {
    // Act
    const text = refusal({ ...valid, secrets: [{ ...valid.secrets[0], ...change }] });
    // Assess
    expect(text).toMatch(message);
    expect(text).toContain('deploy/stages/test.yml');
  });

  it.each([
    ['a missing region', { region: undefined }, /region/],
    [
      'an event source in the aws. namespace',
      { eventSource: 'aws.rotor' },
      /eventSource.*must not start with "aws\."/,
    ],
    [
      'a plaintext paging endpoint',
      { onCall: { https: ['http://pager.example.com'] } },
      /onCall\.https\.0.*https/,
    ],
    [
      'a malformed subnet',
      { vpc: { subnetIds: ['net-1'], securityGroupIds: ['sg-1'] } },
      /vpc\.subnetIds\.0/,
    ],
    ['a KMS key that is not an ARN', { kmsKeyArns: ['alias/x'] }, /kmsKeyArns\.0/],
  ])('refuses %s', (_name, change, message) => {
    // Assess
    expect(refusal({ ...valid, ...change })).toMatch(message);
  });

  it('takes a secret without strategy: its own value decides how it rotates', () => {
    // Act
    const config = parseDeployConfig(
      {
        region: 'eu-west-1',
        secrets: [{ id: 'prod/app/db', engine: 'postgres', schedule: 'rate(30 days)' }],
      },
      'test',
    );
    // Assess
    expect(config.secrets[0]?.strategy).toBeUndefined();
  });

  it('refuses a missing key, saying what it needs', () => {
    // Prepare
    const { engine: _engine, ...withoutEngine } = valid.secrets[0] as Record<string, unknown>;

    // Act
    const text = refusal({ ...valid, secrets: [withoutEngine] });

    // Assess
    expect(text).toMatch(/secrets\.0\.engine \(prod\/app\/db\): required: must be one of: postgres/);
  });

  it('refuses a secret listed twice', () => {
    // Assess
    expect(refusal({ ...valid, secrets: [valid.secrets[0], valid.secrets[0]] })).toMatch(/listed twice/);
  });
});
