/**
 * The rotation engine of the local stack: what Secrets Manager does after `RotateSecret`.
 *
 * The real service invokes the rotation Lambda once per step, in order, waiting for each
 * (createSecret, setSecret, testSecret, finishSecret). A failed step fails the attempt, and the
 * whole rotation is retried from createSecret with the same token a few times. After the last
 * failure AWSPENDING stays where it is, which is how rotations get stuck in real life. The
 * service reports what happened through CloudTrail events (`RotationStarted`, ...).
 *
 * Here "Lambda functions" are plain async functions registered on the stack; they talk to the
 * stack through the real SDK like a deployed function talks to AWS.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Context } from 'aws-lambda';
import {
  AWSCURRENT,
  type LocalSecretsManager,
  type RotationDriver,
  type RotationJobRequest,
  type ServiceEventSink,
} from './secretsManager.js';

export type RotationStep = 'createSecret' | 'setSecret' | 'testSecret' | 'finishSecret';

/** The event Secrets Manager sends to a rotation function. */
export interface RotationEvent {
  Step: RotationStep;
  /** The secret's ARN. */
  SecretId: string;
  /** The version being rotated (the token). */
  ClientRequestToken: string;
  /** Opaque, per rotation; to pass on PutSecretValue. */
  RotationToken?: string;
}

/** A rotation "Lambda": called once per step, awaited; throwing fails the step. */
export type RotationFunction = (event: RotationEvent, context: Context) => Promise<unknown>;

export interface RotationSettings {
  /** Attempts of a whole rotation before it is given up. Default 3. */
  readonly attempts: number;
  /** Pause before attempt n+1 (a number, or a function of the failed attempt n). Default 20 ms. */
  readonly backoffMs: number | ((attempt: number) => number);
  /** The function's timeout: `getRemainingTimeInMillis()` counts down from it. Default 30 s. */
  readonly timeoutMs: number;
  /** Whether a refused RotateSecret reattempts the stuck rotation in the background. Default true. */
  readonly reattemptStuck: boolean;
  /**
   * Whether the service takes AWSPENDING off the new version once a rotation succeeded. Default
   * false: recordings of the real service show it left on the version that became AWSCURRENT.
   */
  readonly clearPendingOnSuccess: boolean;
  /**
   * What the temporary AWSPENDING version of a configuration test (`RotateImmediately: false`)
   * holds: a copy of AWSCURRENT (default) or no value. AWS does not document it: an inference.
   */
  readonly configurationTestPending: 'copy-of-current' | 'empty';
}

export const defaultRotationSettings: RotationSettings = {
  attempts: 3,
  backoffMs: 20,
  timeoutMs: 30_000,
  reattemptStuck: true,
  clearPendingOnSuccess: false,
  configurationTestPending: 'copy-of-current',
};

export interface RotationError {
  readonly name: string;
  readonly message: string;
}

export interface StepRecord {
  readonly step: RotationStep;
  readonly startedAt: string;
  readonly endedAt: string;
  readonly durationMs: number;
  readonly outcome: 'succeeded' | 'failed' | 'timedOut';
  readonly error?: RotationError;
}

export interface AttemptRecord {
  readonly attempt: number;
  readonly startedAt: string;
  endedAt?: string;
  outcome: 'running' | 'succeeded' | 'failed' | 'stopped';
  error?: RotationError;
  readonly steps: StepRecord[];
}

export type RotationStatus = 'running' | 'succeeded' | 'failed' | 'cancelled' | 'abandoned' | 'interrupted';

/** One rotation (or configuration test) from start to end, with every attempt and step. */
export interface RotationRecord {
  readonly id: string;
  readonly kind: 'rotation' | 'test';
  readonly trigger: RotationJobRequest['trigger'];
  readonly secretArn: string;
  readonly secretName: string;
  readonly token: string;
  readonly functionArn: string;
  readonly startedAt: string;
  endedAt?: string;
  status: RotationStatus;
  readonly attempts: AttemptRecord[];
}

/** A flattened attempt, with the rotation it belongs to. */
export interface AttemptSummary extends AttemptRecord {
  readonly secretArn: string;
  readonly token: string;
  readonly kind: 'rotation' | 'test';
}

type StopReason = 'cancelled' | 'abandoned' | 'interrupted';

type AttemptOutcome =
  | { result: 'succeeded' }
  | { result: 'stopped' }
  | { result: 'failed'; error: RotationError | undefined };

interface Job {
  readonly request: RotationJobRequest;
  readonly record: RotationRecord;
  readonly rotationToken: string;
  /** Ends a backoff pause early (cancel, abandon, shutdown). */
  readonly abort: AbortController;
  /** Ends the running step at once: only when the stack shuts down. */
  readonly interrupt: AbortController;
  stopReason: StopReason | undefined;
  done: Promise<void>;
}

interface RegisteredFunction {
  readonly name: string;
  readonly arn: string;
  readonly fn: RotationFunction;
  /** Lambda tags (`rotor:engines` names the engines it rotates): what GetFunction returns. */
  readonly tags: Readonly<Record<string, string>>;
}

export interface LocalRotationsOptions {
  readonly secretsManager: LocalSecretsManager;
  readonly region: string;
  readonly accountId: string;
  readonly clock: () => Date;
  readonly settings: RotationSettings;
  readonly serviceEvents: ServiceEventSink;
}

const STEPS: readonly RotationStep[] = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'];

export class LocalRotations implements RotationDriver {
  private readonly records: RotationRecord[] = [];
  private readonly byName = new Map<string, RegisteredFunction>();
  private readonly byArn = new Map<string, RegisteredFunction>();
  private readonly running = new Map<string, Job>();
  private readonly listeners = new Set<() => void>();

  constructor(private readonly options: LocalRotationsOptions) {}

  // ---------------------------------------------------------------- functions

  /** Registers a rotation function by name or full Lambda ARN. Returns its ARN. */
  register(nameOrArn: string, fn: RotationFunction, tags: Readonly<Record<string, string>> = {}): string {
    const name = functionName(nameOrArn);
    const arn = nameOrArn.startsWith('arn:') ? nameOrArn : this.functionArn(name);
    const registered = { name, arn, fn, tags: { ...tags } };
    this.byName.set(name, registered);
    this.byArn.set(arn, registered);
    return arn;
  }

  /** The ARN a function of this name has in the stack's region and account. */
  functionArn(name: string): string {
    return `arn:aws:lambda:${this.options.region}:${this.options.accountId}:function:${name}`;
  }

  /** A registered function's name, ARN and tags (the local Lambda's GetFunction), or undefined. */
  describe(
    nameOrArn: string,
  ): { name: string; arn: string; tags: Readonly<Record<string, string>> } | undefined {
    const registered = this.resolve(nameOrArn);
    return registered === undefined
      ? undefined
      : { name: registered.name, arn: registered.arn, tags: registered.tags };
  }

  /** What a configuration test's AWSPENDING version holds (RotationSettings). */
  get configurationTestPending(): RotationSettings['configurationTestPending'] {
    return this.options.settings.configurationTestPending;
  }

  canInvoke(lambdaArn: string): boolean {
    return this.resolve(lambdaArn) !== undefined;
  }

  /** By exact ARN first, then by function name (an ARN's name, qualifier ignored). */
  private resolve(lambdaArn: string): RegisteredFunction | undefined {
    return this.byArn.get(lambdaArn) ?? this.byName.get(functionName(lambdaArn));
  }

  // ---------------------------------------------------------------- jobs

  start(request: RotationJobRequest): void {
    const key = jobKey(request.secretArn, request.token);
    if (this.running.has(key)) return;
    if (request.trigger === 'reattempt' && !this.options.settings.reattemptStuck) return;
    const record: RotationRecord = {
      id: randomUUID(),
      kind: request.kind,
      trigger: request.trigger,
      secretArn: request.secretArn,
      secretName: request.secretName,
      token: request.token,
      functionArn: this.resolve(request.lambdaArn)?.arn ?? request.lambdaArn,
      startedAt: this.now(),
      status: 'running',
      attempts: [],
    };
    this.records.push(record);
    const job: Job = {
      request,
      record,
      rotationToken: randomBytes(32).toString('hex'),
      abort: new AbortController(),
      interrupt: new AbortController(),
      stopReason: undefined,
      done: Promise.resolve(),
    };
    this.running.set(key, job);
    // Start after the RotateSecret response is on its way: the API only starts the process.
    job.done = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => this.run(job))
      .catch((error: unknown) => this.end(job, 'failed', asRotationError(error)))
      .finally(() => this.running.delete(key));
    this.changed();
  }

  isRunning(secretArn: string, token?: string): boolean {
    if (token !== undefined) return this.running.has(jobKey(secretArn, token));
    for (const job of this.running.values()) if (job.request.secretArn === secretArn) return true;
    return false;
  }

  /** Stops the secret's running jobs before their next step (or during a backoff pause). */
  stop(secretArn: string, reason: StopReason): void {
    for (const job of this.running.values()) {
      if (job.request.secretArn !== secretArn) continue;
      job.stopReason = reason;
      job.abort.abort();
    }
  }

  /**
   * Stops every job at once, the running step included (the stack is shutting down and its
   * functions could not reach it anyway), and waits for them to settle.
   */
  async shutdown(): Promise<void> {
    for (const job of this.running.values()) {
      job.stopReason = 'interrupted';
      job.abort.abort();
      job.interrupt.abort();
    }
    await this.idle();
  }

  /** Resolves when no rotation runs. */
  async idle(): Promise<void> {
    while (this.running.size > 0) {
      await Promise.allSettled([...this.running.values()].map((job) => job.done));
    }
  }

  /**
   * Waits for the rotation of `secretId` (name or ARN) with `token`, if one runs, and returns its
   * latest record (undefined when there never was one).
   */
  async wait(secretId: string, token: string): Promise<RotationRecord | undefined> {
    const arn = this.options.secretsManager.arnOf(secretId) ?? secretId;
    await this.running.get(jobKey(arn, token))?.done;
    return this.records.findLast((record) => record.secretArn === arn && record.token === token);
  }

  /** Every rotation and configuration test so far, oldest first (live records). */
  get history(): readonly RotationRecord[] {
    return this.records;
  }

  /** Every attempt, flattened, oldest first. */
  attempts(): AttemptSummary[] {
    return this.records.flatMap((record) =>
      record.attempts.map((attempt) => ({
        ...attempt,
        secretArn: record.secretArn,
        token: record.token,
        kind: record.kind,
      })),
    );
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  snapshot(): readonly RotationRecord[] {
    return this.records;
  }

  /** Loads a saved history; rotations that were running when it was saved are interrupted. */
  restore(records: readonly RotationRecord[]): void {
    this.records.length = 0;
    for (const record of records) {
      this.records.push(record.status === 'running' ? { ...record, status: 'interrupted' } : record);
    }
  }

  // ---------------------------------------------------------------- running a job

  private async run(job: Job): Promise<void> {
    const { kind } = job.request;
    this.emit(kind === 'test' ? 'TestRotationStarted' : 'RotationStarted', job);
    // A configuration test runs testSecret once; a rotation retries the whole sequence.
    const attempts = kind === 'test' ? 1 : Math.max(1, this.options.settings.attempts);
    let lastError: RotationError | undefined;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      const outcome = await this.runAttempt(job, attempt);
      if (outcome.result === 'succeeded') return this.end(job, 'succeeded');
      if (outcome.result === 'stopped') return this.end(job, job.stopReason ?? 'cancelled');
      lastError = outcome.error;
      if (attempt < attempts) await this.pause(job, this.backoff(attempt));
      if (job.stopReason !== undefined) return this.end(job, job.stopReason);
    }
    this.end(job, 'failed', lastError);
  }

  private async runAttempt(job: Job, attempt: number): Promise<AttemptOutcome> {
    const record: AttemptRecord = { attempt, startedAt: this.now(), outcome: 'running', steps: [] };
    job.record.attempts.push(record);
    this.changed();
    const steps: readonly RotationStep[] = job.request.kind === 'test' ? ['testSecret'] : STEPS;
    for (const step of steps) {
      if (
        job.stopReason !== undefined ||
        !this.options.secretsManager.rotationActive(job.request.secretArn)
      ) {
        job.stopReason ??= 'cancelled';
        return this.endAttempt(record, { result: 'stopped' });
      }
      const stepRecord = await this.invoke(job, step);
      record.steps.push(stepRecord);
      this.changed();
      if (stepRecord.outcome !== 'succeeded') {
        return this.endAttempt(record, { result: 'failed', error: stepRecord.error });
      }
    }
    if (job.request.kind === 'rotation') {
      const stages = this.options.secretsManager.versionStages(job.request.secretArn, job.request.token);
      if (stages?.includes(AWSCURRENT) !== true) {
        // finishSecret returned, but the rotation did not happen: the service counts it failed.
        const error = {
          name: 'RotationNotFinished',
          message: `finishSecret returned but version ${job.request.token} is not AWSCURRENT`,
        };
        return this.endAttempt(record, { result: 'failed', error });
      }
    }
    return this.endAttempt(record, { result: 'succeeded' });
  }

  private endAttempt(record: AttemptRecord, outcome: AttemptOutcome): AttemptOutcome {
    record.endedAt = this.now();
    record.outcome = outcome.result;
    if (outcome.result === 'failed' && outcome.error !== undefined) record.error = outcome.error;
    this.changed();
    return outcome;
  }

  /** Invokes the function for one step, like a synchronous Lambda invocation with a timeout. */
  private async invoke(job: Job, step: RotationStep): Promise<StepRecord> {
    const startedAt = this.now();
    const t0 = performance.now();
    const finish = (outcome: StepRecord['outcome'], error?: RotationError): StepRecord => ({
      step,
      startedAt,
      endedAt: this.now(),
      durationMs: Math.round((performance.now() - t0) * 1000) / 1000,
      outcome,
      ...(error === undefined ? {} : { error }),
    });
    const target = this.resolve(job.request.lambdaArn);
    if (target === undefined) {
      return finish('failed', {
        name: 'ResourceNotFoundException',
        message: `Function not found: ${job.request.lambdaArn}`,
      });
    }
    const { timeoutMs } = this.options.settings;
    const event: RotationEvent = {
      Step: step,
      SecretId: job.request.secretArn,
      ClientRequestToken: job.request.token,
      RotationToken: job.rotationToken,
    };
    const context = lambdaContext(target, Date.now() + timeoutMs);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    let onInterrupt: () => void = () => undefined;
    const interrupted = new Promise<'interrupted'>((resolve) => {
      onInterrupt = () => resolve('interrupted');
      job.interrupt.signal.addEventListener('abort', onInterrupt, { once: true });
    });
    try {
      const invocation = Promise.resolve().then(() => target.fn(event, context));
      const result = await Promise.race([invocation, timedOut, interrupted]);
      if (result === 'interrupted') {
        invocation.catch(() => undefined);
        return finish('failed', { name: 'Interrupted', message: 'the local stack stopped during this step' });
      }
      if (result === 'timeout') {
        invocation.catch(() => undefined);
        // Lambda's own wording. The function keeps running here (a promise can't be killed);
        // whatever it does afterwards belongs to no attempt, as after a real timeout.
        const seconds = (timeoutMs / 1000).toFixed(2);
        return finish('timedOut', {
          name: 'Sandbox.Timedout',
          message: `Task timed out after ${seconds} seconds`,
        });
      }
      return finish('succeeded');
    } catch (error) {
      return finish('failed', asRotationError(error));
    } finally {
      clearTimeout(timer);
      job.interrupt.signal.removeEventListener('abort', onInterrupt);
    }
  }

  private end(job: Job, status: Exclude<RotationStatus, 'running'>, error?: RotationError): void {
    if (job.record.status !== 'running') return;
    job.record.status = status;
    job.record.endedAt = this.now();
    const { kind, secretArn, token } = job.request;
    if (kind === 'test') this.options.secretsManager.endConfigurationTest(secretArn, token);
    if (kind === 'rotation' && status === 'succeeded')
      this.options.secretsManager.finishRotation(
        secretArn,
        token,
        this.options.settings.clearPendingOnSuccess,
      );
    if (status === 'succeeded')
      this.emit(kind === 'test' ? 'TestRotationSucceeded' : 'RotationSucceeded', job);
    if (status === 'failed') {
      const attempts = job.record.attempts.length;
      const failedStep = job.record.attempts.at(-1)?.steps.at(-1)?.step;
      // Like AWS, the reason is free text only; it names the step and the error class, never
      // the function's message (which could quote a credential).
      const reason = `Rotation failed${failedStep === undefined ? '' : ` in step ${failedStep}`} after ${attempts} attempt${attempts === 1 ? '' : 's'}${error === undefined ? '' : `: ${error.name}`}`;
      this.emit(kind === 'test' ? 'TestRotationFailed' : 'RotationFailed', job, { errorMessage: reason });
    }
    this.changed();
  }

  private emit(eventName: string, job: Job, details?: Record<string, unknown>): void {
    this.options.serviceEvents(eventName, job.request.secretArn, details);
  }

  private backoff(attempt: number): number {
    const { backoffMs } = this.options.settings;
    return typeof backoffMs === 'function' ? backoffMs(attempt) : backoffMs;
  }

  /** Sleeps, unless the job is stopped meanwhile. */
  private async pause(job: Job, ms: number): Promise<void> {
    const { signal } = job.abort;
    if (ms <= 0 || signal.aborted) return;
    await new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      signal.addEventListener('abort', wake, { once: true });
    });
  }

  private now(): string {
    return this.options.clock().toISOString();
  }

  private changed(): void {
    for (const listener of this.listeners) listener();
  }
}

function jobKey(secretArn: string, token: string): string {
  return `${secretArn}\n${token}`;
}

/** `arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]` → `<name>`; a name as is. */
export function functionName(nameOrArn: string): string {
  if (!nameOrArn.startsWith('arn:')) return nameOrArn;
  const parts = nameOrArn.split(':');
  const marker = parts.indexOf('function');
  return (marker >= 0 ? parts[marker + 1] : parts.at(-1)) ?? nameOrArn;
}

function asRotationError(error: unknown): RotationError {
  if (error instanceof Error) return { name: error.name, message: error.message };
  return { name: typeof error, message: String(error) };
}

/** A Lambda context whose remaining time counts down to `deadline` (epoch ms). */
function lambdaContext(target: RegisteredFunction, deadline: number): Context {
  const requestId = randomUUID();
  const day = new Date().toISOString().slice(0, 10).replaceAll('-', '/');
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: target.name,
    functionVersion: '$LATEST',
    invokedFunctionArn: target.arn,
    memoryLimitInMB: '128',
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${target.name}`,
    logStreamName: `${day}/[$LATEST]${randomBytes(16).toString('hex')}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}
