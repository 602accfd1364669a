/**
 * "Crash anywhere": enumerate every point at which a rotation changes (or reads) the world with a
 * recording run, then rotate a fresh secret once per point with a crash injected there, and
 * collect what the invariants need.
 *
 * Points: every rotator operation (database statement, provider call), every Secrets Manager
 * write (PutSecretValue in createSecret, UpdateSecretVersionStage in finishSecret), each
 * interrupted before it is sent and after it was carried out (the answer lost). New statements
 * are covered without touching this file: the recording finds them.
 *
 * Retries as Secrets Manager does them: the local stack retries the whole rotation with the same
 * token (3 attempts); when that is not enough, a later RotateSecret is refused with "A previous
 * rotation isn't complete" and reattempts the stuck rotation, as the service does.
 */
import { randomUUID } from 'node:crypto';
import { RotateSecretCommand } from '@aws-sdk/client-secrets-manager';
import type { Step } from '../../../rotators/errors.js';
import { describe as describeOperation, InjectedCrash, type Operation, type Phase } from './injector.js';
import type { Lab, Value } from './lab.js';
import type { Instance, Subject } from './subjects.js';

const STEPS: readonly Step[] = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'];

/** An operation in rotation order, with whether AWSCURRENT logged in right after it (recording run). */
export interface RecordedOperation extends Operation {
  /** Rotator operations: their number in the rotation; Secrets Manager writes have none. */
  readonly ordinal?: number;
  readonly currentLogsInAfter: boolean;
}

export interface Point {
  /** Position in the recording. */
  readonly index: number;
  readonly operation: RecordedOperation;
  readonly phase: Phase;
}

export interface PointResult {
  readonly point: Point;
  /** Whether the crash happened where it was aimed. */
  fired: boolean;
  /** When the flow differed from the recording. */
  mismatch?: string;
  /** Right after the crash, before Secrets Manager retried. */
  afterCrash?: {
    currentLogsIn: boolean;
    /** Undefined while the pending version has no value. */
    pendingLogsIn: boolean | undefined;
    /** Whether this point lies in the single-user window (password changed, not yet promoted). */
    inWindow: boolean;
  };
  /** Status of the rotation once the same-token attempts were spent. */
  firstStatus?: string;
  /** Whether a later RotateSecret (the service's reattempt) was needed, and was refused as it must be. */
  reattempt?: { refusedWith: string };
  finalStatus?: string;
  end?: {
    currentIsToken: boolean;
    pendingSettled: boolean;
    currentLogsIn: boolean;
    previousLogsIn: boolean;
    identities: string[];
    documented: string[];
  };
  /** Anything unexpected while driving the point (not the injected crash). */
  problems: string[];
}

export interface CrashRun {
  readonly subject: Subject;
  readonly rotationsBefore: number;
  readonly recording: readonly RecordedOperation[];
  /** Index in `recording` of the operation after which AWSCURRENT stopped logging in (single-user). */
  readonly changeIndex: number | undefined;
  /** Index in `recording` of the promotion (UpdateSecretVersionStage). */
  readonly promoteIndex: number;
  readonly results: PointResult[];
}

/** Whether the secret's AWSCURRENT, read as an application reads it, logs in now. */
async function currentLogsIn(lab: Lab, subject: Subject, instance: Instance): Promise<boolean> {
  return subject.logsIn(lab, instance, await lab.value(instance.arn));
}

/** A new secret, rotated `rotationsBefore` times with the injector passive. */
async function fresh(lab: Lab, subject: Subject, rotationsBefore: number): Promise<Instance> {
  lab.injector.reset();
  lab.around = undefined;
  const instance = await subject.create(lab);
  for (let i = 0; i < rotationsBefore; i++) {
    const token = await lab.rotate(instance.arn);
    const status = lab.record(instance.arn, token)?.status;
    if (status !== 'succeeded') throw new Error(`the rotation before the crash ended ${status}`);
  }
  return instance;
}

/** The uninterrupted rotation, every operation recorded with the state of AWSCURRENT after it. */
async function record(lab: Lab, subject: Subject, rotationsBefore: number) {
  const instance = await fresh(lab, subject, rotationsBefore);
  const operations = lab.injector.record();
  lab.injector.mask(instance.base);
  const after: boolean[] = [];
  const stepEnd = new Map<Step, boolean>();
  lab.injector.afterOperation = async () => {
    after.push(await currentLogsIn(lab, subject, instance));
  };
  lab.around = async (event, run) => {
    lab.injector.beginInvocation(event.Step);
    try {
      return await run();
    } finally {
      lab.injector.endInvocation();
      stepEnd.set(event.Step, await currentLogsIn(lab, subject, instance));
    }
  };
  const token = await lab.rotate(instance.arn);
  lab.around = undefined;
  const status = lab.record(instance.arn, token)?.status;
  lab.injector.reset();
  if (status !== 'succeeded') throw new Error(`the recording rotation ended ${status}`);

  const recording: RecordedOperation[] = [];
  for (const step of STEPS) {
    if (step === 'finishSecret') {
      recording.push({
        kind: 'sm',
        step,
        label: 'UpdateSecretVersionStage',
        currentLogsInAfter: stepEnd.get(step) ?? false,
      });
    }
    operations.forEach((operation, ordinal) => {
      if (operation.step === step)
        recording.push({ ...operation, ordinal, currentLogsInAfter: after[ordinal] ?? false });
    });
    if (step === 'createSecret') {
      recording.push({
        kind: 'sm',
        step,
        label: 'PutSecretValue',
        currentLogsInAfter: stepEnd.get(step) ?? false,
      });
    }
  }
  return recording;
}

/** Crashes a fresh secret's rotation at `point` and follows it to the end. */
async function crashAt(
  lab: Lab,
  subject: Subject,
  run: Pick<CrashRun, 'rotationsBefore' | 'changeIndex' | 'promoteIndex'>,
  point: Point,
): Promise<PointResult> {
  const result: PointResult = { point, fired: false, problems: [] };
  const instance = await fresh(lab, subject, run.rotationsBefore);
  const { arn } = instance;
  const token = randomUUID();
  const { operation, phase } = point;
  const fault =
    operation.kind === 'sm'
      ? lab.stack.secretsManager.injectFault(operation.label, {
          when: phase,
          // The fault strikes the rotation's call: the Lambda dies there, whatever it would do next.
          match: (input) => {
            const hit = input.SecretId === arn;
            if (hit) lab.injector.die(operation, phase);
            return hit;
          },
          // A client error the SDK does not retry: the Lambda sees it as its end.
          error: {
            type: 'AccessDeniedException',
            message: `the Lambda died (injected) ${phase}`,
            status: 400,
          },
        })
      : undefined;
  if (operation.ordinal !== undefined) lab.injector.arm(operation.ordinal, phase, operation);
  lab.injector.mask(instance.base);
  const applied = point.index + (phase === 'after' ? 1 : 0);
  const inWindow =
    !subject.zeroDowntime &&
    run.changeIndex !== undefined &&
    applied > run.changeIndex &&
    applied <= run.promoteIndex;

  let checked = false;
  const checkAfterCrash = async () => {
    checked = true;
    const pending = await lab.version(arn, token);
    result.afterCrash = {
      currentLogsIn: await currentLogsIn(lab, subject, instance),
      pendingLogsIn:
        pending === undefined ? undefined : await subject.logsIn(lab, instance, JSON.parse(pending) as Value),
      inWindow,
    };
  };
  lab.around = async (event, invoke) => {
    lab.injector.beginInvocation(event.Step);
    try {
      const outcome = await invoke();
      // A dead Lambda returns nothing, even when the rotator swallowed the interruption.
      if (lab.injector.crashedInvocation) throw new InjectedCrash('(the invocation swallowed it)');
      return outcome;
    } catch (error) {
      if (lab.injector.crashedInvocation && !checked) await checkAfterCrash();
      throw error;
    } finally {
      lab.injector.endInvocation();
    }
  };

  try {
    await lab.rotate(arn, token);
    result.fired = lab.injector.fired !== undefined && (fault === undefined || fault.remaining === 0);
    if (lab.injector.mismatch !== undefined) result.mismatch = lab.injector.mismatch;
    result.firstStatus = lab.record(arn, token)?.status ?? 'none';
    lab.around = undefined;
    lab.injector.reset();
    fault?.clear();
    if (result.firstStatus !== 'succeeded') {
      // The service's reattempt: a later RotateSecret is refused and retries the stuck rotation.
      const refusal = await lab.sm
        .send(
          new RotateSecretCommand({
            SecretId: arn,
            RotationLambdaARN: lab.functionArn,
            RotationRules: { AutomaticallyAfterDays: 30 },
          }),
        )
        .then(
          () => 'accepted',
          (error: Error) => `${error.name}: ${error.message}`,
        );
      result.reattempt = { refusedWith: refusal };
      await lab.stack.idle();
    }
    result.finalStatus = lab.record(arn, token)?.status ?? 'none';
    const labels = await lab.labels(arn);
    const current = await lab.value(arn);
    const previous = labels.AWSPREVIOUS === undefined ? undefined : await lab.value(arn, 'AWSPREVIOUS');
    result.end = {
      currentIsToken: labels.AWSCURRENT === token,
      pendingSettled: labels.AWSPENDING === undefined || labels.AWSPENDING === labels.AWSCURRENT,
      currentLogsIn: await subject.logsIn(lab, instance, current),
      previousLogsIn: previous !== undefined && (await subject.logsIn(lab, instance, previous)),
      identities: await subject.identities(lab, instance),
      documented: subject.documented(instance, current, previous),
    };
  } catch (error) {
    result.problems.push(`${(error as Error).name}: ${(error as Error).message}`);
  } finally {
    lab.around = undefined;
    lab.injector.reset();
    fault?.clear();
  }
  return result;
}

/** Records, then crashes a rotation at every point before and after. */
export async function crashEverywhere(
  lab: Lab,
  subject: Subject,
  rotationsBefore: number,
): Promise<CrashRun> {
  const recording = await record(lab, subject, rotationsBefore);
  const change = recording.findIndex((operation) => !operation.currentLogsInAfter);
  const promoteIndex = recording.findIndex((operation) => operation.label === 'UpdateSecretVersionStage');
  const run = {
    subject,
    rotationsBefore,
    recording,
    changeIndex: change < 0 ? undefined : change,
    promoteIndex,
    results: [] as PointResult[],
  };
  for (const [index, operation] of recording.entries()) {
    for (const phase of ['before', 'after'] as const) {
      run.results.push(await crashAt(lab, subject, run, { index, operation, phase }));
    }
  }
  return run;
}

/** `setSecret db "set the password of role …" (after)`: how a point is named in failures. */
export function pointName(point: Point): string {
  return `#${point.index} ${describeOperation(point.operation)} (${point.phase})`;
}
