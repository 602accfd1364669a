/**
 * Rotation as the local Secrets Manager sees it: RotateSecret and CancelRotateSecret, the
 * schedule, and the calls the rotation engine makes back (`versionStages`, `finishRotation`, ...).
 * Running a rotation (invoking the function step by step, retrying, reporting events) is the
 * `RotationDriver`'s job: `LocalRotations` (../rotations.js).
 */
import { randomUUID } from 'node:crypto';
import { everyDays, nextOccurrence, parseScheduleExpression, type Schedule } from '../cron.js';
import { AwsError, InputValidator, type JsonInput } from '../http.js';
import {
  NEED_TOKEN,
  NO_FUNCTION,
  PREVIOUS_ROTATION,
  readRotationRules,
  readSecretId,
  readSecretIdMember,
  readToken,
} from './checks.js';
import {
  AWSCURRENT,
  AWSPENDING,
  holderOf,
  type RotationRules,
  removeStage,
  type Secret,
  type SecretsState,
  type SecretVersion,
  stuckPending,
} from './state.js';
import { compact } from './wire.js';

/** What a rotation job is. `test` is the configuration test of `RotateImmediately: false`. */
export interface RotationJobRequest {
  readonly secretArn: string;
  readonly secretName: string;
  readonly token: string;
  /** The function as configured on the secret (ARN or name). */
  readonly lambdaArn: string;
  readonly kind: 'rotation' | 'test';
  /** Why it started: an API call, a reattempt of a stuck rotation, or the schedule. */
  readonly trigger: 'api' | 'reattempt' | 'schedule';
}

/** What the service needs from the rotation engine. */
export interface RotationDriver {
  /** Whether the configured function resolves to a registered one. */
  canInvoke(lambdaArn: string): boolean;
  /** Starts a job in the background, unless one already runs for this secret and token. */
  start(job: RotationJobRequest): void;
  /** Whether a job runs for this secret (and this token, when given). */
  isRunning(secretArn: string, token?: string): boolean;
  /** Stops the secret's running job before its next step. */
  stop(secretArn: string, reason: 'cancelled' | 'abandoned'): void;
  /** What a configuration test's AWSPENDING holds (an inference: AWS does not document it). */
  readonly configurationTestPending?: 'copy-of-current' | 'empty';
}

/** Publishes one of AWS's own CloudTrail service events (RotationAbandoned, ...). */
export type ServiceEventSink = (
  eventName: string,
  secretArn: string,
  details?: Record<string, unknown>,
) => void;

export class SecretRotation {
  private driver: RotationDriver | undefined;

  constructor(
    private readonly state: SecretsState,
    private readonly serviceEvents: ServiceEventSink,
  ) {}

  /** Connects the rotation engine (done once by `startLocalStack`). */
  attach(driver: RotationDriver): void {
    this.driver = driver;
  }

  rotateSecret(input: JsonInput): unknown {
    const v = new InputValidator(input);
    const secretId = readSecretIdMember(v);
    const token = readToken(v);
    const lambdaArn = v.string('RotationLambdaARN', { max: 2048 });
    const rules = readRotationRules(v);
    const rotateImmediately = v.boolean('RotateImmediately') ?? true;
    v.check();
    if (token === undefined) throw new AwsError('InvalidParameterException', NEED_TOKEN);
    const secret = this.state.requireActive(secretId ?? '');
    const functionArn = lambdaArn ?? secret.rotationLambdaArn;
    if (functionArn === undefined) throw new AwsError('InvalidRequestException', NO_FUNCTION);
    if (this.driver === undefined || !this.driver.canInvoke(functionArn)) {
      throw new AwsError(
        'AccessDeniedException',
        'Secrets Manager cannot invoke the specified Lambda function. Ensure that the function policy grants access to the principal secretsmanager.amazonaws.com.',
      );
    }
    const stuck = stuckPending(secret);
    if (stuck !== undefined && stuck.id !== token) {
      this.reattemptStuck(secret, stuck);
      throw new AwsError('InvalidRequestException', PREVIOUS_ROTATION);
    }
    this.configureRotation(secret, functionArn, rules);
    const response = { ARN: secret.arn, Name: secret.name, VersionId: token };
    if (stuck !== undefined) {
      // The same token as the stuck rotation: Secrets Manager reattempts that rotation.
      this.startJob(secret, token, 'rotation', 'api');
      return response;
    }
    this.startRotation(secret, token, rotateImmediately);
    return response;
  }

  /** RotateSecret for a token with no unfinished rotation: a new pending version and its job. */
  private startRotation(secret: Secret, token: string, rotateImmediately: boolean): void {
    const existing = secret.versions.get(token);
    if (existing !== undefined) {
      // A replay of a RotateSecret that already finished: nothing left to do.
      if (existing.stages.includes(AWSCURRENT)) return;
      throw new AwsError(
        'ResourceExistsException',
        `A version with the ClientRequestToken ${token} already exists and is not being rotated.`,
      );
    }
    if (!rotateImmediately) {
      // Configuration test: a temporary pending version holding a copy of the current value (or,
      // configured, none: what AWS puts there is inferred, not documented).
      const copy = this.driver?.configurationTestPending !== 'empty';
      this.state.addVersion(secret, token, copy ? holderOf(secret, AWSCURRENT)?.value : undefined, [
        AWSPENDING,
      ]);
      this.state.changed();
      this.startJob(secret, token, 'test', 'api');
      return;
    }
    this.state.addVersion(secret, token, undefined, [AWSPENDING]);
    this.state.changed();
    this.startJob(secret, token, 'rotation', 'api');
  }

  private configureRotation(secret: Secret, functionArn: string, rules: RotationRules | undefined): void {
    const now = this.state.clock();
    secret.rotationEnabled = true;
    secret.rotationLambdaArn = functionArn;
    if (rules !== undefined) secret.rotationRules = rules;
    secret.nextRotationAt = nextRotation(secret, secret.lastRotatedAt ?? now);
    secret.lastChangedAt = now;
    this.state.changed();
  }

  /** Reattempts a stuck rotation in the background, as the error message promises. */
  private reattemptStuck(secret: Secret, stuck: SecretVersion): void {
    const driver = this.driver;
    if (driver === undefined || secret.rotationLambdaArn === undefined) return;
    if (secret.rotationEnabled === false || driver.isRunning(secret.arn)) return;
    this.startJob(secret, stuck.id, 'rotation', 'reattempt');
  }

  private startJob(
    secret: Secret,
    token: string,
    kind: RotationJobRequest['kind'],
    trigger: RotationJobRequest['trigger'],
  ): void {
    if (secret.rotationLambdaArn === undefined) return;
    this.driver?.start({
      secretArn: secret.arn,
      secretName: secret.name,
      token,
      lambdaArn: secret.rotationLambdaArn,
      kind,
      trigger,
    });
  }

  cancelRotateSecret(input: JsonInput): unknown {
    const secret = this.state.requireActive(readSecretId(input));
    if (secret.rotationLambdaArn === undefined) throw new AwsError('InvalidRequestException', NO_FUNCTION);
    secret.rotationEnabled = false;
    secret.lastChangedAt = this.state.clock();
    // AWSPENDING stays where it is: cancelling does not clean up a half-done rotation.
    this.driver?.stop(secret.arn, 'cancelled');
    this.state.changed();
    return compact({ ARN: secret.arn, Name: secret.name, VersionId: stuckPending(secret)?.id });
  }

  /** Stops the secret's running job (the secret is being deleted). */
  stop(secretArn: string): void {
    this.driver?.stop(secretArn, 'cancelled');
  }

  /**
   * A new AWSCURRENT value put by hand while AWSPENDING sits on another version abandons that
   * rotation: the service removes AWSPENDING (so later rotations can start) and reports
   * `RotationAbandoned`.
   */
  abandonStuckRotation(secret: Secret, newCurrent: SecretVersion): void {
    const pending = holderOf(secret, AWSPENDING);
    if (pending === undefined || pending === newCurrent || pending.stages.includes(AWSCURRENT)) return;
    removeStage(pending, AWSPENDING);
    this.driver?.stop(secret.arn, 'abandoned');
    this.serviceEvents('RotationAbandoned', secret.arn, { versionId: pending.id });
  }

  /**
   * Starts the rotations the schedule says are due (`NextRotationDate` reached), the way the
   * service's scheduler does. A stuck rotation is reattempted with its token instead.
   * Returns the jobs started.
   */
  rotateDue(): { secretArn: string; token: string }[] {
    const now = this.state.clock().getTime();
    const started: { secretArn: string; token: string }[] = [];
    for (const secret of this.state.all()) {
      const due = secret.nextRotationAt !== undefined && secret.nextRotationAt.getTime() <= now;
      const lambdaArn = secret.rotationLambdaArn;
      if (
        !due ||
        secret.rotationEnabled !== true ||
        secret.deletedAt !== undefined ||
        lambdaArn === undefined
      ) {
        continue;
      }
      if (this.driver === undefined || this.driver.isRunning(secret.arn)) continue;
      const token = stuckPending(secret)?.id ?? randomUUID();
      if (!secret.versions.has(token)) this.state.addVersion(secret, token, undefined, [AWSPENDING]);
      this.state.changed();
      this.startJob(secret, token, 'rotation', 'schedule');
      started.push({ secretArn: secret.arn, token });
    }
    return started;
  }

  // ---------------------------------------------------------------- used by the rotation engine

  /** The labels on a version, or undefined when the secret or the version is gone. */
  versionStages(secretArn: string, token: string): readonly string[] | undefined {
    return this.state.byArn(secretArn)?.versions.get(token)?.stages.slice();
  }

  /** Whether rotation is still enabled and the secret not deleted (checked before each step). */
  rotationActive(secretArn: string): boolean {
    const secret = this.state.byArn(secretArn);
    return secret !== undefined && secret.deletedAt === undefined && secret.rotationEnabled === true;
  }

  /** Records a successful rotation: dates move on; AWSPENDING leaves the token's version if asked. */
  finishRotation(secretArn: string, token: string, clearPending: boolean): void {
    const secret = this.state.byArn(secretArn);
    const version = secret?.versions.get(token);
    if (secret === undefined || version === undefined) return;
    if (clearPending) removeStage(version, AWSPENDING);
    const now = this.state.clock();
    secret.lastRotatedAt = now;
    secret.nextRotationAt = nextRotation(secret, now);
    this.state.changed();
  }

  /** Removes the temporary version of a configuration test (unless someone promoted it). */
  endConfigurationTest(secretArn: string, token: string): void {
    const secret = this.state.byArn(secretArn);
    const version = secret?.versions.get(token);
    if (secret === undefined || version === undefined) return;
    if (version.stages.some((stage) => stage !== AWSPENDING)) {
      removeStage(version, AWSPENDING);
    } else {
      secret.versions.delete(token);
    }
    this.state.changed();
  }
}

function nextRotation(secret: Secret, from: Date): Date | undefined {
  const schedule = scheduleOf(secret.rotationRules);
  return schedule === undefined ? undefined : nextOccurrence(schedule, from);
}

function scheduleOf(rules: RotationRules | undefined): Schedule | undefined {
  if (rules?.ScheduleExpression !== undefined) return parseScheduleExpression(rules.ScheduleExpression);
  if (rules?.AutomaticallyAfterDays !== undefined) return everyDays(rules.AutomaticallyAfterDays);
  return undefined;
}
