/**
 * The CLI's AWS clients and what it tells an operator when AWS says no.
 *
 * Clients use the SDK's default credential chain, `--region` and `--profile`, and `--endpoint`
 * (or `AWS_ENDPOINT_URL_SECRETS_MANAGER`). An endpoint that answers `GET /_rotor/health` is
 * rotor's local stack: it gets the stack's own dummy credentials (real ones are never sent to it),
 * its region by default, and its event store as the source of rotation events. On AWS the events
 * come from the rotation function's CloudWatch Logs.
 */
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { RDSClient } from '@aws-sdk/client-rds';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { type AwsErrorClass, classifyAwsError, classifyAwsErrorCode } from '../handlers/awsErrors.js';
import type { CliConfig } from '../handlers/config.js';
import { RdsDiscovery } from '../handlers/rds.js';
import { redactor } from '../handlers/redact.js';
import type { Discovery } from '../handlers/versions.js';
import {
  AwsCallError,
  ConfigurationError,
  InvalidEventError,
  InvalidSecretError,
  PermissionDeniedError,
  RotorError,
  StageConflictError,
  safeCause,
  TargetUnreachableError,
  UnknownEngineError,
} from '../rotators/errors.js';
import { optional } from '../rotators/optional.js';
import { CloudWatchEvents, LocalStackEvents, probeLocalStack, type RotationEvents } from './events.js';

/** Options every command takes. */
export interface GlobalOptions {
  region?: string;
  profile?: string;
  endpoint?: string;
  logGroup?: string;
}

export interface AwsContext {
  readonly sm: SecretsManagerClient;
  readonly eb: EventBridgeClient;
  readonly events: RotationEvents;
  /**
   * RDS endpoint discovery, as the rotation function does it: a secret that names its RDS database
   * (or is one of RDS's own) is parsed with the database's host, port and engine filled in.
   */
  readonly discovery: Discovery;
  /** Lambda, built on first use: the rotation function's tags (`rotor:engines`). */
  readonly lambda: () => LambdaClient;
  /** The endpoint is rotor's local stack. */
  readonly local: boolean;
  /** Where Secrets Manager is, for messages: an URL or `AWS`. */
  readonly where: string;
  close(): void;
}

const LOCAL_CREDENTIALS = { accessKeyId: 'rotor-local', secretAccessKey: 'rotor-local' };

export async function connectAws(
  options: GlobalOptions,
  config: CliConfig,
  rotorSource: string,
): Promise<AwsContext> {
  const endpoint = options.endpoint ?? config.secretsManagerEndpoint;
  const local = endpoint === undefined ? undefined : await probeLocalStack(endpoint);
  if (endpoint !== undefined && local !== undefined) {
    const base = {
      region: options.region ?? local.region,
      credentials: LOCAL_CREDENTIALS,
    };
    const sm = new SecretsManagerClient({ ...base, endpoint });
    const eb = new EventBridgeClient({
      ...base,
      endpoint: options.endpoint ?? config.eventBridgeEndpoint ?? endpoint,
    });
    // The local stack serves no RDS: a secret naming a database gets its refusal, never real AWS.
    const rds = lazy(() => new RDSClient({ ...base, endpoint }));
    // The local stack's Lambda stand-in answers GetFunction for its registered functions.
    const lambda = lazy(() => new LambdaClient({ ...base, endpoint }));
    return {
      sm,
      eb,
      events: new LocalStackEvents(endpoint.replace(/\/+$/, ''), rotorSource),
      discovery: new RdsDiscovery({ rds: rds.get, secretsManager: sm }),
      lambda: lambda.get,
      local: true,
      where: endpoint,
      close: () => {
        sm.destroy();
        eb.destroy();
        rds.built?.destroy();
        lambda.built?.destroy();
      },
    };
  }
  const base = {
    ...optional('region', options.region),
    ...optional('profile', options.profile),
  };
  const sm = new SecretsManagerClient({ ...base, ...optional('endpoint', endpoint) });
  const eb = new EventBridgeClient({
    ...base,
    ...optional('endpoint', config.eventBridgeEndpoint),
  });
  const logs = new CloudWatchLogsClient(base);
  const rds = lazy(() => new RDSClient(base));
  const lambda = lazy(() => new LambdaClient(base));
  return {
    sm,
    eb,
    events: new CloudWatchEvents(logs, options.logGroup),
    discovery: new RdsDiscovery({ rds: rds.get, secretsManager: sm }),
    lambda: lambda.get,
    local: false,
    where: endpoint ?? 'AWS',
    close: () => {
      sm.destroy();
      eb.destroy();
      logs.destroy();
      rds.built?.destroy();
      lambda.built?.destroy();
    },
  };
}

/** A value built on first use (most secrets never need an RDS client). */
function lazy<T>(build: () => T): { get: () => T; readonly built: T | undefined } {
  let value: T | undefined;
  return {
    get: () => {
      value ??= build();
      return value;
    },
    get built() {
      return value;
    },
  };
}

// ---------------------------------------------------------------- errors

/** AWS's own message for the errors where it helps (which parameter, which state), scrubbed. */
function awsMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : '';
  return redactor.scrub(message.length > 300 ? `${message.slice(0, 300)}...` : message);
}

/**
 * Turns an SDK failure into an error that says what happened and what to do. `permission` is the
 * IAM action the call needed (`secretsmanager:DescribeSecret`), `target` the secret it was about.
 */
export function awsFailure(
  error: unknown,
  permission: string,
  target: string | undefined,
  where: string,
): RotorError {
  if (error instanceof RotorError) return error;
  const cause = safeCause(error);
  const found = classifyAwsError(error);
  const { name, code } = found;
  const on = target === undefined ? '' : ` on ${target}`;
  const message = awsMessage(error);
  switch (found.kind) {
    case 'denied':
      if (permission === 'secretsmanager:RotateSecret' && /invoke/i.test(message)) {
        // Secrets Manager's own call was denied: the caller's permissions are not at fault.
        return new AwsCallError(
          `Secrets Manager cannot invoke the rotation function${on}: the function's resource policy must allow lambda:InvokeFunction to the principal secretsmanager.amazonaws.com (and the function must exist)`,
          { cause },
        );
      }
      return new PermissionDeniedError(
        `AWS denied ${permission}${on} (${name}): allow ${permission} in the caller's IAM policy${permission === 'secretsmanager:GetSecretValue' ? ", and kms:Decrypt on the secret's KMS key" : ''}`,
        { cause },
      );
    case 'credentials':
      return new AwsCallError(
        `AWS did not accept the credentials (${name}): refresh them (e.g. aws sso login) or pick another with --profile`,
        { cause },
      );
    case 'deadline':
    case 'network':
      return new TargetUnreachableError(
        'network',
        `cannot reach ${where} (${code ?? name}): check the network, --endpoint and --region`,
        { cause },
      );
  }
  if (/region is missing/i.test(message)) {
    return new ConfigurationError(
      'no AWS region: pass --region, set AWS_REGION, or use a profile that has one',
    );
  }
  if (found.kind === 'not-found' && name === 'ResourceNotFoundException') {
    return new AwsCallError(
      `${target === undefined ? 'the resource' : `secret ${target}`} was not found in ${where} (${permission}): check the name or ARN, and --region`,
      { cause },
    );
  }
  if (name === 'InvalidRequestException' && /previous rotation isn.t complete/i.test(message)) {
    return new StageConflictError(
      `a previous rotation${on} isn't complete: AWSPENDING is stuck on an older version. Run \`rotor heal ${target ?? '<secret>'}\` to see why and clear it`,
    );
  }
  if (found.kind === 'bad-request' || found.kind === 'not-found') {
    return new AwsCallError(`${permission}${on} was refused (${name}): ${message}`, { cause });
  }
  return new AwsCallError(`${permission}${on} failed (${name}${code === undefined ? '' : ` ${code}`})`, {
    cause,
    retryable: found.retryable,
  });
}

/** Runs one SDK call, turning its failure into an explained error. */
export async function aws<T>(
  context: Pick<AwsContext, 'where'>,
  permission: string,
  target: string | undefined,
  work: Promise<T>,
): Promise<T> {
  try {
    return await work;
  } catch (error) {
    throw awsFailure(error, permission, target, context.where);
  }
}

/**
 * The exit code an error ends the CLI with (the codes `rotor --help` documents). What an AWS
 * failure means is the classifier's (handlers/awsErrors.ts): a request AWS refused as wrong is a
 * usage error, any other AWS failure exits 3.
 */
export function exitCodeOf(error: unknown): number {
  if (
    error instanceof InvalidSecretError ||
    error instanceof UnknownEngineError ||
    error instanceof InvalidEventError ||
    error instanceof ConfigurationError
  ) {
    return EXIT.usage;
  }
  const aws = awsCause(error);
  if (aws !== undefined)
    return aws.kind === 'bad-request' || aws.kind === 'not-found' ? EXIT.usage : EXIT.aws;
  if (error instanceof AwsCallError || error instanceof TargetUnreachableError) return EXIT.aws;
  return EXIT.failure;
}

/** The class of the AWS failure behind an error awsFailure made, if it made it. */
function awsCause(error: unknown): AwsErrorClass | undefined {
  if (!(error instanceof AwsCallError || error instanceof PermissionDeniedError)) return undefined;
  const cause = error.cause as { name?: unknown; code?: unknown } | undefined;
  if (typeof cause?.name !== 'string') return undefined;
  const found = classifyAwsErrorCode(cause.name, typeof cause.code === 'string' ? cause.code : undefined);
  return error instanceof PermissionDeniedError && found.kind !== 'denied' ? undefined : found;
}

export const EXIT = { ok: 0, failure: 1, usage: 2, aws: 3 } as const;
