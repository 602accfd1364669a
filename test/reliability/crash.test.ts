/**
 * Crash anywhere: for every engine and strategy, a rotation is interrupted at every point where it
 * changes (or reads) something, before and after, then retried the way Secrets Manager retries it.
 *
 * The points come from a recording run (support/crash.ts), so a statement added to a rotator is
 * covered without touching this file. After each interruption, before any retry, the credentials
 * in AWSCURRENT are tried; at the end the rotation must be complete and the target tidy.
 *
 * What single-user cannot promise: from setSecret's password change until finishSecret promotes
 * the new value, the database accepts only AWSPENDING's password. A crash in that window leaves
 * it so until the retry (or the heal function) finishes the rotation; the suite asserts exactly
 * that, and that AWSPENDING logs in meanwhile, so the credential is never lost.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { type CrashRun, crashEverywhere, pointName } from './support/crash.js';
import { skip } from './support/lab.js';
import { SUBJECTS, type Subject } from './support/subjects.js';
import { describeNoLeaks, useLab } from './support/suite.js';

const OPTIONS = { postgres: !skip.postgres, mariadb: !skip.mariadb, apikey: !skip.apikey };

interface Scenario {
  readonly subject: Subject;
  /** Rotations completed before the one that is interrupted. */
  readonly rotationsBefore: number;
  readonly label: string;
}

const [pgSingle, pgAlternating] = SUBJECTS.postgres;
const [mariaSingle, mariaDual, mariaAlternating] = SUBJECTS.mariadb;
const [keyGrace, keyNone] = SUBJECTS.apikey;

const SCENARIOS: readonly Scenario[] = [
  { subject: pgSingle, rotationsBefore: 0, label: 'a rotation' },
  { subject: pgAlternating, rotationsBefore: 0, label: 'the first rotation (creates the clone)' },
  { subject: pgAlternating, rotationsBefore: 1, label: 'the rotation back to the owner' },
  { subject: mariaSingle, rotationsBefore: 0, label: 'a rotation' },
  { subject: mariaDual, rotationsBefore: 0, label: 'the first rotation' },
  { subject: mariaDual, rotationsBefore: 1, label: 'a rotation that drops the older password' },
  { subject: mariaAlternating, rotationsBefore: 0, label: 'the first rotation (creates the clone)' },
  { subject: mariaAlternating, rotationsBefore: 1, label: 'the rotation back to the first account' },
  { subject: keyGrace, rotationsBefore: 0, label: 'the first rotation' },
  {
    subject: keyGrace,
    rotationsBefore: 1,
    label: 'a rotation at the live-key limit (revokes the previous key)',
  },
  { subject: keyNone, rotationsBefore: 0, label: 'a rotation' },
];

/** The names of the points where `failed` holds, for readable failures. */
function where(run: CrashRun, failed: (result: CrashRun['results'][number]) => boolean): string[] {
  return run.results.filter(failed).map((result) => pointName(result.point));
}

describe.skipIf(skip.postgres && skip.mariadb && skip.apikey)('crash anywhere', () => {
  const ref = useLab('crash anywhere (injection points per engine and strategy)', OPTIONS);

  for (const { subject, rotationsBefore, label } of SCENARIOS) {
    describe.skipIf(skip[subject.engine])(`${subject.name}, ${label}`, () => {
      let run: CrashRun;

      beforeAll(async () => {
        // Prepare and Act, once for every test below: the recording run, then one rotation per
        // point with a crash there, each followed until Secrets Manager's retries settled.
        run = await crashEverywhere(ref.lab, subject, rotationsBefore);
        const operations = run.recording.filter((operation) => operation.kind !== 'sm').length;
        const reattempts = run.results.filter((result) => result.reattempt !== undefined).length;
        const window = run.results.filter((result) => result.afterCrash?.inWindow).length;
        ref.report(
          `${subject.name}, ${label}: ${run.results.length} points (${operations} ${subject.engine === 'apikey' ? 'provider call' : 'statement'}${operations === 1 ? '' : 's'} + 2 Secrets Manager writes, before and after each)` +
            `; ${reattempts} needed the service's reattempt` +
            (subject.zeroDowntime ? '' : `; ${window} fell in the single-user window`),
        );
      }, 900_000);

      it('the recording finds every operation and both Secrets Manager writes, and every crash strikes where it was aimed', () => {
        // Assess
        const labels = run.recording.map((operation) => operation.label);
        expect(labels).toContain('PutSecretValue');
        expect(labels).toContain('UpdateSecretVersionStage');
        expect(run.recording.filter((operation) => operation.kind !== 'sm').length).toBeGreaterThan(0);
        expect(run.results).toHaveLength(2 * run.recording.length);
        expect(where(run, (result) => !result.fired)).toEqual([]);
        expect(run.results.flatMap((result) => result.mismatch ?? [])).toEqual([]);
        expect(run.results.flatMap((result) => result.problems)).toEqual([]);
      });

      if (subject.zeroDowntime) {
        it('without a crash, AWSCURRENT logs in after every single operation', () => {
          // Assess
          expect(run.recording.filter((operation) => !operation.currentLogsInAfter)).toEqual([]);
        });

        it('right after every crash, before any retry, the credentials in AWSCURRENT log in', () => {
          // Assess
          expect(where(run, (result) => result.afterCrash?.currentLogsIn !== true)).toEqual([]);
        });
      } else {
        it("without a crash, AWSCURRENT stops logging in at setSecret's password change and logs in again once finishSecret promotes", () => {
          // Assess
          const { recording, changeIndex, promoteIndex } = run;
          expect(changeIndex).toBeDefined();
          const change = recording[changeIndex ?? 0];
          expect(change?.step).toBe('setSecret');
          expect(change?.label).toMatch(/password/);
          const states = recording.map((operation) => operation.currentLogsInAfter);
          expect(states).toEqual(
            recording.map((_, index) => index < (changeIndex ?? 0) || index >= promoteIndex),
          );
        });

        it('right after every crash, AWSCURRENT logs in outside that window, and inside it the stored AWSPENDING does', () => {
          // Assess
          expect(where(run, (result) => result.afterCrash === undefined)).toEqual([]);
          expect(
            where(
              run,
              ({ afterCrash }) =>
                afterCrash !== undefined && !afterCrash.inWindow && !afterCrash.currentLogsIn,
            ),
          ).toEqual([]);
          expect(
            where(
              run,
              ({ afterCrash }) =>
                afterCrash?.inWindow === true &&
                (afterCrash.currentLogsIn || afterCrash.pendingLogsIn !== true),
            ),
          ).toEqual([]);
          expect(run.results.filter((result) => result.afterCrash?.inWindow).length).toBeGreaterThan(0);
        });
      }

      it('every interrupted rotation completes when Secrets Manager retries it with the same token', () => {
        // Assess
        expect(where(run, (result) => result.firstStatus !== 'succeeded')).toEqual([]);
        expect(where(run, (result) => result.finalStatus !== 'succeeded')).toEqual([]);
      });

      it('each ends with the new version AWSCURRENT, logging in, and AWSPENDING absent or on it', () => {
        // Assess
        expect(where(run, (result) => result.end?.currentIsToken !== true)).toEqual([]);
        expect(where(run, (result) => result.end?.pendingSettled !== true)).toEqual([]);
        expect(where(run, (result) => result.end?.currentLogsIn !== true)).toEqual([]);
      });

      if (subject.previousStaysValid) {
        it('each ends with AWSPREVIOUS still logging in, the overlap the strategy promises', () => {
          // Assess
          expect(where(run, (result) => result.end?.previousLogsIn !== true)).toEqual([]);
        });
      }

      it(`each leaves nothing behind on the target beyond the ${subject.engine === 'apikey' ? 'live keys' : 'accounts'} the strategy documents`, () => {
        // Assess
        const extra = run.results
          .filter(
            (result) => JSON.stringify(result.end?.identities) !== JSON.stringify(result.end?.documented),
          )
          .map(
            (result) =>
              `${pointName(result.point)}: ${JSON.stringify(result.end?.identities)} instead of ${JSON.stringify(result.end?.documented)}`,
          );
        expect(extra).toEqual([]);
      });
    });
  }

  describeNoLeaks(ref, OPTIONS);
});
