/**
 * Zero downtime under live load: rotations run back to back while application clients log in
 * continuously with whatever AWSCURRENT holds (read through the SDK, kept 200 ms, re-read once
 * when a login is refused).
 *
 * Alternating users, dual passwords and API keys with a grace period must lose no login at all.
 * Single-user rotation cannot promise that: between setSecret's password change and finishSecret's
 * promotion only AWSPENDING's password works. The suite measures that window (failed logins, and
 * the time from the first to the last failure of each rotation) and asserts that failures happen
 * inside it only. Figures are printed, never asserted: timings depend on the machine.
 */
import { describe, expect, it } from 'vitest';
import { SCALE, skip } from './support/lab.js';
import { failureWindows, type LoadResult, rotationOf, underLoad } from './support/load.js';
import { SUBJECTS, type Subject } from './support/subjects.js';
import { describeNoLeaks, useLab } from './support/suite.js';

const OPTIONS = { postgres: !skip.postgres, mariadb: !skip.mariadb, apikey: !skip.apikey };
const LOAD = { rotations: Math.round(20 * SCALE), clients: 3, cacheMs: 200 };
const SUBJECTS_UNDER_LOAD: readonly Subject[] = [
  ...SUBJECTS.postgres,
  ...SUBJECTS.mariadb,
  SUBJECTS.apikey[0],
];

function summary(result: LoadResult): string {
  return `${result.subject.name}: ${result.rotations.length} rotations, ${result.logins} logins attempted, ${result.refused} refused, ${result.failed} failed after re-reading the secret`;
}

describe.skipIf(skip.postgres && skip.mariadb && skip.apikey)('zero downtime under load', () => {
  const ref = useLab(
    `zero downtime under load (${LOAD.rotations} rotations per strategy, ${LOAD.clients} clients, ${LOAD.cacheMs} ms cache, one re-read on refusal)`,
    OPTIONS,
  );

  for (const subject of SUBJECTS_UNDER_LOAD) {
    if (subject.zeroDowntime) {
      it.skipIf(skip[subject.engine])(
        `${subject.name}: rotations back to back while clients log in, and no client login fails`,
        async () => {
          // Prepare (the clients and the secret are made by underLoad)
          // Act
          const result = await underLoad(ref.lab, subject, LOAD);
          // Assess
          ref.report(summary(result));
          expect(result.rotations.map((rotation) => rotation.status)).toEqual(
            result.rotations.map(() => 'succeeded'),
          );
          expect(result.errors).toEqual([]);
          expect(result.logins).toBeGreaterThan(LOAD.rotations);
          // The clients followed the rotations: they logged in with many successive versions.
          expect(result.versionsSeen).toBeGreaterThan(LOAD.rotations / 2);
          expect(result.failed).toBe(0);
          expect(result.finalLogin).toBe(true);
        },
        600_000,
      );
    } else {
      it.skipIf(skip[subject.engine])(
        `${subject.name}: clients fail only between a rotation's setSecret and finishSecret, and log in again once they re-read the secret`,
        async () => {
          // Prepare (the clients and the secret are made by underLoad)
          // Act
          const result = await underLoad(ref.lab, subject, LOAD);
          // Assess
          const windows = failureWindows(result);
          const longest = Math.max(0, ...windows.map((window) => window.spanMs));
          const bound = Math.max(...result.rotations.map((r) => r.finishEnd - r.setStart));
          ref.report(
            `${summary(result)}; failures in ${windows.length} of ${result.rotations.length} rotations; ` +
              `longest first-to-last failure in one rotation ${Math.round(longest)} ms; ` +
              `longest setSecret-to-finishSecret window ${Math.round(bound)} ms`,
          );
          ref.report(
            `  retry advice (${subject.name}): treat a refused login as "the secret may be rotating": re-read the secret, bypassing any cache, and retry with backoff for longer than setSecret-to-finishSecret takes (${Math.round(bound)} ms here; on AWS add the Lambda invocations of testSecret and finishSecret, seconds); or choose alternating-users / dual-password`,
          );
          expect(result.rotations.map((rotation) => rotation.status)).toEqual(
            result.rotations.map(() => 'succeeded'),
          );
          expect(result.errors).toEqual([]);
          expect(result.logins).toBeGreaterThan(LOAD.rotations);
          expect(result.versionsSeen).toBeGreaterThan(LOAD.rotations / 2);
          expect(result.failures.filter((failure) => rotationOf(result, failure) === undefined)).toEqual([]);
          expect(result.finalLogin).toBe(true);
        },
        600_000,
      );
    }
  }

  describeNoLeaks(ref, OPTIONS);
});
