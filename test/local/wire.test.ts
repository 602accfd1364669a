/**
 * The JSON 1.1 wire protocol as seen without the SDK: what raw HTTP clients get, including the
 * ClientRequestToken the SDK always fills in.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalStack, startLocalStack } from '../../local/stack.js';

let stack: LocalStack;

beforeAll(async () => {
  stack = await startLocalStack();
});

afterAll(async () => {
  await stack.stop();
});

async function call(
  target: string,
  body: string,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(stack.endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': target },
    body,
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

describe('wire protocol', () => {
  it('answers errors with HTTP 400 and a {__type, message} body', async () => {
    // Act
    const { status, json } = await call('secretsmanager.DescribeSecret', '{"SecretId":"nowhere"}');

    // Assess
    expect(status).toBe(400);
    expect(json).toEqual({
      __type: 'ResourceNotFoundException',
      message: "Secrets Manager can't find the specified secret.",
    });
  });

  it('requires a ClientRequestToken on CreateSecret and PutSecretValue from raw clients', async () => {
    // Act
    const create = await call('secretsmanager.CreateSecret', '{"Name":"raw","SecretString":"x"}');

    // Assess
    expect(create.json).toEqual({
      __type: 'InvalidRequestException',
      message: 'You must provide a ClientRequestToken value. We recommend a UUID-type value.',
    });
  });

  it('requires a ClientRequestToken on RotateSecret, as an InvalidParameterException', async () => {
    // Act
    const rotate = await call('secretsmanager.RotateSecret', '{"SecretId":"raw"}');

    // Assess
    expect(rotate.json.__type).toBe('InvalidParameterException');
  });

  it('rejects an unknown operation and an unknown service prefix', async () => {
    // Act
    const operation = await call('secretsmanager.BakeCake', '{}');
    const service = await call('Kinesis_20131202.PutRecord', '{}');

    // Assess
    expect(operation.json.__type).toBe('UnknownOperationException');
    expect(service.json.__type).toBe('UnknownOperationException');
  });

  it('rejects a body that is not a JSON object', async () => {
    // Act
    const { status, json } = await call('secretsmanager.ListSecrets', '[1,2');

    // Assess
    expect(status).toBe(400);
    expect(json.__type).toBe('SerializationException');
  });

  it('answers timestamps in epoch seconds', async () => {
    // Prepare
    const token = '0123456789abcdef0123456789abcdef';
    await call(
      'secretsmanager.CreateSecret',
      `{"Name":"dated","SecretString":"x","ClientRequestToken":"${token}"}`,
    );

    // Act
    const { json } = await call('secretsmanager.DescribeSecret', '{"SecretId":"dated"}');

    // Assess
    expect(typeof json.CreatedDate).toBe('number');
    expect(Math.abs((json.CreatedDate as number) - Date.now() / 1000)).toBeLessThan(60);
  });

  it('never echoes a secret value in a ValidationException', async () => {
    // Prepare
    const value = `hunter2-${'x'.repeat(65536)}`;

    // Act
    const { status, json } = await call(
      'secretsmanager.CreateSecret',
      JSON.stringify({ Name: 'too-long', ClientRequestToken: 'a'.repeat(32), SecretString: value }),
    );

    // Assess
    expect(status).toBe(400);
    expect(json).toEqual({
      __type: 'ValidationException',
      message:
        "1 validation error detected: Value at 'secretString' failed to satisfy constraint: Member must have length less than or equal to 65536",
    });
  });
});
