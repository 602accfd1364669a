/**
 * Concurrency: the same step invoked twice at once, two rotations of one secret racing, and a new
 * AWSCURRENT put by hand while a rotation runs.
 *
 * Secrets Manager runs one step at a time, but a step can still run twice at once: an operator or
 * a script invoking the function while a rotation runs, a RotateSecret replayed by a client. Each
 * must end with one stored value and a target that matches it.
 */
import { randomUUID } from 'node:crypto';
import { PutSecretValueCommand, RotateSecretCommand } from '@aws-sdk/client-secrets-manager';
import { describe, expect, it } from 'vitest';
import type { RotationEvent } from '../../local/stack.js';
import type { Step } from '../../rotators/errors.js';
import { type Lab, skip } from './support/lab.js';
import { type Instance, SUBJECTS, type Subject } from './support/subjects.js';
import { describeNoLeaks, itEach, useLab } from './support/suite.js';

const OPTIONS = { postgres: !skip.postgres, mariadb: !skip.mariadb, apikey: !skip.apikey };
const STEPS: readonly Step[] = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'];
const ALL: readonly Subject[] = [...SUBJECTS.postgres, ...SUBJECTS.mariadb, ...SUBJECTS.apikey];
const [keyGrace] = SUBJECTS.apikey;

/** A gate a rotation waits at: `arrived` once it is there; it goes on after `open()`. */
function gate() {
  let open: () => void = () => undefined;
  let arrive: () => void = () => undefined;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  const arrived = new Promise<void>((resolve) => {
    arrive = resolve;
  });
  return { opened, open, arrived, arrive };
}

/** Holds rotor's function for `token` before it runs `step`, until the gate opens. */
function holdBefore(lab: Lab, token: string, step: Step) {
  const held = gate();
  lab.around = async (event: RotationEvent, run) => {
    if (event.ClientRequestToken === token && event.Step === step) {
      held.arrive();
      await held.opened;
    }
    return run();
  };
  return held;
}

/** Starts a rotation with RotateSecret without waiting for it. */
async function startRotation(lab: Lab, arn: string, token: string): Promise<void> {
  await lab.sm.send(
    new RotateSecretCommand({
      SecretId: arn,
      ClientRequestToken: token,
      RotationLambdaARN: lab.functionArn,
      RotationRules: { AutomaticallyAfterDays: 30 },
    }),
  );
}

/** The failure (name and message) of RotateSecret, or "accepted". */
function rotateOutcome(lab: Lab, arn: string, token: string): Promise<string> {
  return startRotation(lab, arn, token).then(
    () => 'accepted',
    (error: Error) => `${error.name}: ${error.message}`,
  );
}

/** Each step twice at once; what each invocation ended with. */
async function everyStepTwice(lab: Lab, arn: string, token: string): Promise<Record<string, string[]>> {
  const outcomes: Record<string, string[]> = {};
  for (const step of STEPS) {
    const settled = await Promise.allSettled([lab.invoke(step, arn, token), lab.invoke(step, arn, token)]);
    outcomes[step] = settled.map((outcome) => {
      if (outcome.status === 'fulfilled') return 'completed';
      lab.canary.error(outcome.reason);
      return `${(outcome.reason as Error).name}: ${(outcome.reason as Error).message}`;
    });
  }
  return outcomes;
}

/** The target matches the secret: AWSCURRENT (and AWSPREVIOUS where promised) log in, nothing extra. */
async function assessTarget(lab: Lab, subject: Subject, instance: Instance): Promise<void> {
  const current = await lab.value(instance.arn);
  const previous = await lab.value(instance.arn, 'AWSPREVIOUS');
  expect(await subject.logsIn(lab, instance, current)).toBe(true);
  expect(await subject.logsIn(lab, instance, previous)).toBe(subject.previousStaysValid);
  expect(await subject.identities(lab, instance)).toEqual(subject.documented(instance, current, previous));
}

describe.skipIf(skip.postgres && skip.mariadb && skip.apikey)('concurrency', () => {
  const ref = useLab('concurrency', OPTIONS);

  describe('the same step invoked twice at once', () => {
    const CASES = ALL.flatMap((subject) => [
      [`${subject.name}, first rotation`, subject, 0] as const,
      [`${subject.name}, second rotation`, subject, 1] as const,
    ]);

    itEach(
      CASES,
      ([, subject]) => subject.engine,
      ([name]) =>
        `${name}: both invocations of every step complete, one pending value is stored, and the target ends as after one rotation`,
      async ([, subject, rotationsBefore]) => {
        // Prepare (API keys: room beside the current and previous keys for both createSecret runs
        // to mint one; the losing run's key is revoked at finish. At the limit, see the next test.)
        const { lab } = ref;
        const instance = await subject.create(lab, { maxLiveKeys: 4 });
        for (let i = 0; i < rotationsBefore; i++) await lab.rotate(instance.arn);
        const token = await lab.stage(instance.arn);
        const versionsBefore = await lab.versionIds(instance.arn);
        // Act
        const outcomes = await everyStepTwice(lab, instance.arn, token);
        // Assess
        expect(outcomes).toEqual(Object.fromEntries(STEPS.map((step) => [step, ['completed', 'completed']])));
        expect(await lab.versionIds(instance.arn)).toEqual(versionsBefore);
        const labels = await lab.labels(instance.arn);
        expect(labels.AWSCURRENT).toBe(token);
        expect([undefined, token]).toContain(labels.AWSPENDING);
        await assessTarget(lab, subject, instance);
      },
    );

    it.skipIf(skip.apikey)(
      'API key at a live-key limit of 2: the provider refuses the second createSecret (ProviderError, HTTP 409) and nothing is minted for it; the other stores the value and the rotation completes',
      async () => {
        // Prepare
        const { lab } = ref;
        const instance = await keyGrace.create(lab, { maxLiveKeys: 2 });
        const token = await lab.stage(instance.arn);
        // Act
        const settled = await Promise.allSettled([
          lab.invoke('createSecret', instance.arn, token),
          lab.invoke('createSecret', instance.arn, token),
        ]);
        for (const step of STEPS.slice(1)) await lab.invoke(step, instance.arn, token);
        // Assess
        const refused = settled.flatMap((outcome) => (outcome.status === 'rejected' ? [outcome.reason] : []));
        for (const error of refused) lab.canary.error(error);
        expect(settled.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(1);
        expect(refused.map((error: Error & { status?: number }) => [error.name, error.status])).toEqual([
          ['ProviderError', 409],
        ]);
        expect(instance.provider?.keys.all().filter((key) => key.name.endsWith(`-${token}`))).toHaveLength(1);
        expect((await lab.labels(instance.arn)).AWSCURRENT).toBe(token);
        await assessTarget(lab, keyGrace, instance);
      },
    );
  });

  describe('two rotations of one secret racing', () => {
    itEach(
      ALL,
      (subject) => subject.engine,
      (subject) =>
        `${subject.name}: a second RotateSecret while the first runs is refused with "A previous rotation isn't complete" (the first staged AWSPENDING synchronously) and starts nothing; the first completes, and the next RotateSecret works`,
      async (subject) => {
        // Prepare
        const { lab } = ref;
        const instance = await subject.create(lab);
        const first = randomUUID();
        const second = randomUUID();
        const held = holdBefore(lab, first, 'setSecret');
        await startRotation(lab, instance.arn, first);
        await held.arrived;
        // Act
        const refusal = await rotateOutcome(lab, instance.arn, second);
        held.open();
        await lab.stack.idle();
        lab.around = undefined;
        // Assess
        expect(refusal).toBe(
          "InvalidRequestException: A previous rotation isn't complete. That rotation will be reattempted.",
        );
        expect(
          lab.stack.rotations.history
            .filter((r) => r.secretArn === instance.arn)
            .map((r) => [r.token, r.status]),
        ).toEqual([[first, 'succeeded']]);
        expect(await lab.versionIds(instance.arn)).not.toContain(second);
        expect((await lab.labels(instance.arn)).AWSCURRENT).toBe(first);
        await assessTarget(lab, subject, instance);
        const third = await lab.rotate(instance.arn);
        expect(lab.record(instance.arn, third)?.status).toBe('succeeded');
        await assessTarget(lab, subject, instance);
      },
    );

    it.skipIf(skip.postgres && skip.mariadb && skip.apikey)(
      'RotateSecret replayed with the same token while the rotation runs is accepted (idempotent) and runs the rotation once',
      async () => {
        // Prepare
        const { lab } = ref;
        const subject = ALL.find((s) => !skip[s.engine]) ?? keyGrace;
        const instance = await subject.create(lab);
        const token = randomUUID();
        const held = holdBefore(lab, token, 'testSecret');
        await startRotation(lab, instance.arn, token);
        await held.arrived;
        // Act
        const replay = await rotateOutcome(lab, instance.arn, token);
        held.open();
        await lab.stack.idle();
        lab.around = undefined;
        // Assess
        expect(replay).toBe('accepted');
        const records = lab.stack.rotations.history.filter((r) => r.secretArn === instance.arn);
        expect(records.map((r) => [r.token, r.status, r.attempts.length])).toEqual([[token, 'succeeded', 1]]);
        await assessTarget(lab, subject, instance);
      },
    );
  });

  describe('a new AWSCURRENT put by hand during a rotation', () => {
    itEach(
      ALL,
      (subject) => subject.engine,
      (subject) =>
        `${subject.name}: the service takes AWSPENDING off the rotation, whose later steps then fail with StageConflictError and change nothing; the value put by hand works, and the next rotation starts from it`,
      async (subject) => {
        // Prepare: the rotation is held after setSecret applied its pending value.
        const { lab } = ref;
        const instance = await subject.create(lab);
        const original = await lab.value(instance.arn);
        const token = randomUUID();
        const held = holdBefore(lab, token, 'testSecret');
        await startRotation(lab, instance.arn, token);
        await held.arrived;
        // Act: an operator makes a credential by hand and stores it as AWSCURRENT.
        const byHand = await subject.byHand(lab, instance, original);
        await lab.sm.send(
          new PutSecretValueCommand({ SecretId: instance.arn, SecretString: JSON.stringify(byHand) }),
        );
        const labelsAfterPut = await lab.labels(instance.arn);
        held.open();
        await lab.stack.idle();
        lab.around = undefined;
        const targetBefore = await subject.targetState(lab, instance);
        const late = await lab.invoke('finishSecret', instance.arn, token).then(
          () => undefined,
          (error: Error) => error,
        );
        if (late !== undefined) lab.canary.error(late);
        // Assess
        expect(labelsAfterPut.AWSPENDING).toBeUndefined();
        const record = lab.record(instance.arn, token);
        expect(record?.status).toBe('abandoned');
        expect(record?.attempts.at(-1)?.steps.at(-1)).toMatchObject({
          step: 'testSecret',
          outcome: 'failed',
          error: { name: 'StageConflictError' },
        });
        expect(late?.name).toBe('StageConflictError');
        expect(await subject.targetState(lab, instance)).toEqual(targetBefore);
        const labels = await lab.labels(instance.arn);
        expect(labels.AWSPENDING).toBeUndefined();
        expect(await lab.value(instance.arn)).toEqual(byHand);
        expect(await lab.value(instance.arn, 'AWSPREVIOUS')).toEqual(original);
        expect(await subject.logsIn(lab, instance, byHand)).toBe(true);
        const next = await lab.rotate(instance.arn);
        expect(lab.record(instance.arn, next)?.status).toBe('succeeded');
        expect(await lab.value(instance.arn, 'AWSPREVIOUS')).toEqual(byHand);
        await assessTarget(lab, subject, instance);
      },
    );
  });

  describeNoLeaks(ref, OPTIONS);
});
