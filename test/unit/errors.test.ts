import { describe, expect, it } from 'vitest';
import {
  asRotorError,
  InternalError,
  InvalidSecretError,
  RotorError,
  safeCause,
  TargetUnreachableError,
  UnknownEngineError,
} from '../../rotators/errors.js';
import { createFakeRotator } from '../../rotators/fake/index.js';
import { createRegistry } from '../../rotators/registry.js';

describe('error family', () => {
  it('names the secret, step and field in the message once context is added', () => {
    // Act
    const error = new InvalidSecretError('port', 'must be a port number', 'AWSPENDING').withContext({
      secretId: 'arn:aws:secretsmanager:us-east-1:1:secret:db-abc123',
      step: 'setSecret',
    });
    // Assess
    expect(error.message).toBe(
      'setSecret of arn:aws:secretsmanager:us-east-1:1:secret:db-abc123: secret value (AWSPENDING): field "port" must be a port number',
    );
    expect(error.toJSON()).toMatchObject({
      name: 'InvalidSecretError',
      field: 'port',
      label: 'AWSPENDING',
      step: 'setSecret',
    });
  });

  it('keeps only the name and code of a foreign error, never its message', () => {
    // Prepare
    const foreign = Object.assign(
      new Error("syntax error at or near 'SCRAM-SHA-256$4096:...' password hunter2"),
      {
        code: '42601',
      },
    );
    // Act
    const wrapped = asRotorError(foreign);
    // Assess
    expect(wrapped).toBeInstanceOf(InternalError);
    expect(wrapped.message).toBe('unexpected Error (42601)');
    expect(wrapped.cause).toEqual({ name: 'Error', code: '42601' });
    expect(JSON.stringify(wrapped)).not.toContain('hunter2');
  });

  it('passes rotor errors through unchanged', () => {
    // Prepare
    const error = new TargetUnreachableError('dns', 'db: host name does not resolve');
    // Assess
    expect(asRotorError(error)).toBe(error);
    expect(safeCause(error)).toBe(error);
    expect(error.retryable).toBe(true);
    expect(error).toBeInstanceOf(RotorError);
  });
});

describe('registry', () => {
  const registry = createRegistry([createFakeRotator(new Map())]);

  it('resolves a rotator by the secret engine', () => {
    // Assess
    expect(registry.resolve({ engine: 'fake' }, 'AWSCURRENT').engine).toBe('fake');
  });

  it('refuses an unknown engine, a missing engine and a value that is not an object', () => {
    // Assess
    expect(() => registry.resolve({ engine: 'oracle' }, 'AWSCURRENT')).toThrow(UnknownEngineError);
    expect(() => registry.resolve({}, 'AWSCURRENT')).toThrow(InvalidSecretError);
    expect(() => registry.resolve([1], 'AWSCURRENT')).toThrow(InvalidSecretError);
  });

  it('refuses two rotators claiming one engine', () => {
    // Assess
    expect(() => createRegistry([createFakeRotator(new Map()), createFakeRotator(new Map())])).toThrow(
      /two rotators/,
    );
  });
});
