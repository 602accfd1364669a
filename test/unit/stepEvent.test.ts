import { describe, expect, it } from 'vitest';
import { parseEvent } from '../../handlers/stepMachine.js';
import { InvalidEventError } from '../../rotators/errors.js';

const token = '3f1c1a0e-5b7d-4e43-9b55-0c4a8d7e9f11';

describe('rotation event validation', () => {
  it('accepts the event Secrets Manager sends', () => {
    // Act
    const event = parseEvent({
      Step: 'createSecret',
      SecretId: 'arn:x',
      ClientRequestToken: token,
      RotationToken: 'opaque',
    });
    // Assess
    expect(event).toEqual({
      Step: 'createSecret',
      SecretId: 'arn:x',
      ClientRequestToken: token,
      RotationToken: 'opaque',
    });
  });

  it.each([
    ['not an object', null, '(event)'],
    ['missing Step', { SecretId: 'x', ClientRequestToken: token }, 'Step'],
    ['unknown Step', { Step: 'dropSecret', SecretId: 'x', ClientRequestToken: token }, 'Step'],
    ['step in the wrong case', { Step: 'CreateSecret', SecretId: 'x', ClientRequestToken: token }, 'Step'],
    ['missing SecretId', { Step: 'setSecret', ClientRequestToken: token }, 'SecretId'],
    ['empty SecretId', { Step: 'setSecret', SecretId: '', ClientRequestToken: token }, 'SecretId'],
    ['missing token', { Step: 'setSecret', SecretId: 'x' }, 'ClientRequestToken'],
    ['short token', { Step: 'setSecret', SecretId: 'x', ClientRequestToken: 'abc' }, 'ClientRequestToken'],
    [
      'token with quotes',
      { Step: 'setSecret', SecretId: 'x', ClientRequestToken: `${token}'--` },
      'ClientRequestToken',
    ],
    [
      'RotationToken not a string',
      { Step: 'setSecret', SecretId: 'x', ClientRequestToken: token, RotationToken: 5 },
      'RotationToken',
    ],
  ])('refuses %s with an InvalidEventError naming the field', (_name, raw, field) => {
    // Act
    let thrown: unknown;
    try {
      parseEvent(raw);
    } catch (error) {
      thrown = error;
    }
    // Assess
    expect(thrown).toBeInstanceOf(InvalidEventError);
    expect((thrown as InvalidEventError).field).toBe(field);
  });
});
