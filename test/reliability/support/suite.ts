/**
 * What every reliability file shares: one lab for the file, a report printed when the file ends
 * (the figures the README quotes), and the leak canary's check as the file's last test.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab, type LabOptions, skip } from './lab.js';
import type { Engine } from './subjects.js';

export interface LabRef {
  readonly lab: Lab;
  /** Adds a line to the summary printed at the end of the file. */
  report(line: string): void;
}

export function useLab(title: string, options: LabOptions): LabRef {
  const lines: string[] = [];
  let lab: Lab | undefined;
  beforeAll(async () => {
    lab = await Lab.start(options);
  }, 180_000);
  afterAll(async () => {
    await lab?.stop();
    // Printed once the canary stopped capturing the streams.
    if (lines.length > 0) console.log([`${title}:`, ...lines.map((line) => `  ${line}`)].join('\n'));
  }, 180_000);
  return {
    get lab() {
      if (lab === undefined) throw new Error('the lab did not start');
      return lab;
    },
    report: (line) => lines.push(line),
  };
}

/**
 * The leak canary's check, as the last test of a file: everything the file produced is searched
 * for every secret it made or met.
 */
export function describeNoLeaks(ref: LabRef, options: LabOptions): void {
  describe('no leaks', () => {
    it('no secret value, key, admin credential or RotationToken appears in any log line, event, error, metric or database server log', async () => {
      // Prepare
      const { lab } = ref;
      // Act
      await lab.collect();
      const leaks = lab.canary.leaks();
      // Assess
      ref.report(
        `leak canary: ${lab.canary.needles} secrets searched for in ${Math.round(lab.canary.searched / 1024)} KiB of logs, events, errors and server logs: ${leaks.length} found`,
      );
      // The haystacks are real: Powertools logs, EMF metrics, events, and the statements the servers got.
      expect(lab.canary.holds('stdout', '"message":"step succeeded"')).toBe(true);
      expect(lab.canary.holds('stdout', '"_aws"')).toBe(true);
      expect(lab.canary.holds('EventBridge', 'Rotation Step Succeeded')).toBe(true);
      if (options.postgres) expect(lab.canary.holds('PostgreSQL statement log', 'ALTER ROLE')).toBe(true);
      if (options.mariadb) expect(lab.canary.holds('MariaDB general log', 'PASSWORD')).toBe(true);
      // The canary finds a secret where there is one: a secret planted in a log line.
      expect(lab.canary.plantedLeakFound()).toBe(true);
      expect(leaks).toEqual([]);
    });
  });
}

/**
 * Table-driven tests, one `it` per row, each named by `name`; a row whose engine
 * ROTOR_TEST_ENGINES leaves out is reported as skipped.
 */
export function itEach<T>(
  rows: readonly T[],
  engineOf: (row: T) => Engine,
  name: (row: T) => string,
  test: (row: T) => Promise<void>,
): void {
  for (const row of rows) it.skipIf(skip[engineOf(row)])(name(row), () => test(row));
}
