/** Causes named: the class of a failure, and SQLSTATE / MySQL error numbers in words. */
import { describe, expect, it } from 'vitest';
import { decisiveCause } from '../../handlers/heal.js';
import {
  causeClass,
  causeLine,
  describeCause,
  explainCodes,
  mysqlErrnoWords,
  sqlStateWords,
} from '../../rotators/causes.js';
import {
  AuthenticationFailedError,
  MasterBindingError,
  PermissionDeniedError,
  ProviderError,
  TargetUnreachableError,
  VerificationFailedError,
} from '../../rotators/errors.js';

describe('cause classes', () => {
  it('tells a missing probe table from a refused connection', () => {
    // Prepare
    const probe = new VerificationFailedError(
      'the probe query failed: db.example.com:5432: could not run the probe query (SQLSTATE 42P01)',
    );
    const refused = new TargetUnreachableError('refused', 'db.example.com:5432: connection refused');

    // Act
    const probeLine = causeLine(probe);
    const refusedLine = causeLine(refused.toJSON());

    // Assess
    expect(causeClass(probe)).toBe('probe-query');
    expect(causeClass(refused.toJSON())).toBe('network');
    expect(probeLine).toBe(
      'probe query (VerificationFailedError): the probe query failed: db.example.com:5432: could not run the probe query (SQLSTATE 42P01: undefined table)',
    );
    expect(refusedLine).toMatch(/^network \(TargetUnreachableError\)/);
    expect(describeCause(probe).fix).toContain('the password is not the problem');
    expect(describeCause(refused.toJSON()).fix).toContain('the credentials were not tested');
  });

  it('names TLS, authentication, privilege, provider and security classes', () => {
    // Act
    const classes = [
      new TargetUnreachableError('tls', 'TLS verification failed').toJSON(),
      new AuthenticationFailedError('refused the login (SQLSTATE 28P01)'),
      new PermissionDeniedError('permission denied (SQLSTATE 42501)'),
      new ProviderError('provider answered 503', 503),
      new MasterBindingError('the rotated secret names another host').toJSON(),
      { name: 'InvalidSecretError' },
      { name: 'Sandbox.Timedout' },
      { name: 'SomethingNew' },
    ].map(causeClass);

    // Assess
    expect(classes).toEqual([
      'tls',
      'authentication',
      'privilege',
      'provider',
      'security',
      'configuration',
      'network',
      'internal',
    ]);
  });

  it('reads a code in an unexpected error: a connection exception is network, not internal', () => {
    // Act
    const cls = causeClass({ name: 'InternalError', message: 'could not run a statement (SQLSTATE 08006)' });
    // Assess
    expect(cls).toBe('network');
  });
});

describe('codes in words', () => {
  it('translates SQLSTATEs, by code and by class', () => {
    // Act
    const words = ['42P01', '28P01', '42501', '08123', 'not-a-code'].map(sqlStateWords);
    // Assess
    expect(words).toEqual([
      'undefined table',
      'invalid password',
      'insufficient privilege',
      'connection exception',
      undefined,
    ]);
  });

  it('translates MySQL / MariaDB error numbers', () => {
    // Act
    const words = [1146, 1045, 2003, 1, 1142].map(mysqlErrnoWords);
    // Assess
    expect(words).toEqual([
      'table does not exist',
      'access denied (wrong password, or no such account for this host)',
      'cannot connect to the server (refused or unreachable)',
      undefined,
      'command denied on the table (privilege)',
    ]);
  });

  it('explains the codes a message quotes, once, and leaves unknown ones', () => {
    // Prepare
    const text =
      'the probe query failed: db:3306: failed to run the probe query (error 1146); also (SQLSTATE 42P01) and error 9999';

    // Act
    const once = explainCodes(text);
    const twice = explainCodes(once);

    // Assess
    expect(once).toBe(
      'the probe query failed: db:3306: failed to run the probe query (error 1146: table does not exist); also (SQLSTATE 42P01: undefined table) and error 9999',
    );
    expect(twice).toBe(once);
  });
});

describe('the cause to fix first', () => {
  it('is the failure after a login (probe, privilege) over a refused login, whichever credential has it', () => {
    // Act
    const causes = [
      decisiveCause('probe-query', 'authentication'),
      decisiveCause('authentication', 'privilege'),
      decisiveCause('network', 'network'),
      decisiveCause('authentication', 'tls'),
      decisiveCause(undefined, undefined),
    ];
    // Assess
    expect(causes).toEqual(['probe-query', 'privilege', 'network', 'tls', 'internal']);
  });
});
