/**
 * Secrets Manager's rotation schedule rules (deploy/schedule.ts, pure logic), checked with the
 * examples of AWS's own documentation (Secrets Manager user guide, "Rotation schedules" /
 * "Schedule expressions in Secrets Manager rotation") and expressions that break each documented
 * rule; and the stage file refuses what Secrets Manager would.
 */
import { describe, expect, it } from 'vitest';
import { DeployConfigError, parseDeployConfig } from '../../deploy/config.js';
import { scheduleProblem, scheduleShape, windowHours, windowProblem } from '../../deploy/schedule.js';

describe("Secrets Manager's schedule expressions", () => {
  it.each([
    // AWS's examples of rate expressions
    ['rate(4 hours)', 'every four hours'],
    ['rate(1 day)', 'every day'],
    ['rate(10 days)', 'every 10 days'],
    ['rate(8 days)', 'every eight days'],
    ['rate(999 days)', 'the longest rotation period'],
    // AWS's examples of cron expressions
    ['cron(0 4/12 * * ? *)', '4:00 and 16:00 every day (increments of hours reset each day)'],
    ['cron(0 8/8 * * ? *)', 'every 8 hours from 8:00'],
    ['cron(0 2/10 * * ? *)', 'every 10 hours from 2:00'],
    ['cron(0 8 1/7 * ? *)', 'every 7 days from the 1st at 8:00'],
    ['cron(0 0 ? * SUN#1 *)', 'the first Sunday of every month at midnight'],
    ['cron(0 16 L * ? *)', 'the last day of every month at 16:00'],
    // Others the documented rules allow
    ['cron(0 10 * * ? *)', 'every day at 10:00'],
    ['cron(0 4 ? * SUN *)', 'every Sunday at 4:00'],
    ['cron(0 9 ? JAN,APR,JUL,OCT MON-FRI *)', 'weekdays of the quarters’ first months at 9:00'],
  ])('accepts %s (%s)', (expression) => {
    // Assess
    expect(scheduleProblem(expression)).toBeUndefined();
  });

  it.each([
    ['cron(30 22 ? * SUN 2027)', /cron minutes must be 0, not "30" \(.*on the hour\)/],
    ['cron(0 22 ? * SUN 2027)', /cron year must be \*, not "2027" \(.*more than a year apart\)/],
    ['rate(3 hours)', /at most every 4 hours/],
    ['rate(1000 days)', /at least every 999 days/],
    ['rate(0 days)', /positive integer/],
    ['rate(1 week)', /rate unit must be hour, hours, day or days/],
    ['rate(30days)', /must be rate\(<n> days\|hours\) or cron/],
    ['cron(0 10 * * * *)', /day-of-month and day-of-week cannot both be given/],
    ['cron(0 10 ? * ? *)', /day-of-month and day-of-week cannot both be given/],
    ['cron(0 */2 * * ? *)', /rotate 2 hours apart: .*at most every 4 hours/],
    ['cron(0 22,0 * * ? *)', /rotate 2 hours apart/],
    ['cron(0 25 * * ? *)', /cron hours "25": "25" must be values 0-23/],
    ['cron(0 10 * * ?)', /cron needs six fields/],
    ['cron(0 10 15W * ? *)', /cron day-of-month "15W"/],
    ['cron(0 10 ? * SUN#6 *)', /<weekday>#<1-5>/],
    ['cron(0 10 ? L * *)', /cron month "L": L is allowed only in day-of-month and day-of-week/],
    ['cron(0 10 ? 13 MON *)', /cron month "13": "13" must be values 1-12 or JAN-DEC/],
    ['every month', /must be rate\(<n> days\|hours\) or cron/],
  ])('refuses %s, naming the rule', (expression, message) => {
    // Act
    const problem = scheduleProblem(expression);

    // Assess
    expect(problem).toMatch(message);
  });

  it('reads what a schedule means for its windows', () => {
    // Assess
    expect(scheduleShape('rate(6 hours)')).toEqual({
      kind: 'rate',
      unit: 'hours',
      startHours: [0],
      intervalHours: 6,
    });
    expect(scheduleShape('rate(30 days)')).toEqual({ kind: 'rate', unit: 'days', startHours: [0] });
    expect(scheduleShape('cron(0 4/12 * * ? *)')).toEqual({
      kind: 'cron',
      unit: 'hours',
      startHours: [4, 16],
      intervalHours: 12,
    });
    expect(scheduleShape('cron(0 22 ? * SUN *)')).toEqual({ kind: 'cron', unit: 'days', startHours: [22] });
  });
});

describe("Secrets Manager's rotation windows", () => {
  it.each([
    ['1h', 1],
    ['4h', 4],
    ['24h', 24],
    ['04h', undefined],
    ['004h', undefined],
    ['0h', undefined],
    ['25h', undefined],
    ['4', undefined],
    ['4H', undefined],
    [' 4h', undefined],
    ['240m', undefined],
  ])('reads the window %s as %s hours (one form, without a leading zero)', (window, hours) => {
    // Act
    const read = windowHours(window);

    // Assess
    expect(read).toBe(hours);
  });

  it.each([
    ['rate(30 days)', '24h'],
    ['rate(6 hours)', '6h'],
    ['cron(0 22 ? * SUN *)', '2h'],
    ['cron(0 4/12 * * ? *)', '8h'],
    ['cron(0 8 1/7 * ? *)', '16h'],
  ])('accepts %s with a window of %s', (expression, window) => {
    // Assess
    expect(windowProblem(expression, window)).toBeUndefined();
  });

  it.each([
    ['cron(0 22 ? * SUN *)', '4h', /22 \+ 4 > 24 hours.*next UTC day/],
    ['cron(0 16 L * ? *)', '9h', /opening at 16:00 UTC would pass midnight/],
    ['rate(6 hours)', '8h', /8h is longer than the 6 hours between rotations/],
    ['cron(0 4/12 * * ? *)', '13h', /longer than the 12 hours between rotations/],
    ['rate(30 days)', '25h', /must be 1h to 24h/],
    ['rate(30 days)', '0h', /must be 1h to 24h/],
    ['rate(30 days)', '04h', /must be 1h to 24h/],
  ])('refuses %s with a window of %s', (expression, window, message) => {
    // Assess
    expect(windowProblem(expression, window)).toMatch(message);
  });
});

describe('the stage file enforces the schedule rules', () => {
  const entry = { id: 'prod/app/db', engine: 'postgres', strategy: 'single-user' };

  function refusal(secret: Record<string, unknown>): string {
    try {
      parseDeployConfig({ region: 'eu-west-1', secrets: [{ ...entry, ...secret }] }, 'test.yml');
    } catch (error) {
      expect(error).toBeInstanceOf(DeployConfigError);
      return (error as Error).message;
    }
    throw new Error('expected the stage file to be refused');
  }

  it.each([
    [
      { schedule: 'cron(30 22 ? * SUN 2027)' },
      /secrets\.0\.schedule \(prod\/app\/db\): cron minutes must be 0/,
    ],
    [
      { schedule: 'cron(0 22 ? * SUN *)', window: '4h' },
      /secrets\.0\.window \(prod\/app\/db\): the window opening at 22:00 UTC would pass midnight/,
    ],
    [
      { schedule: 'rate(6 hours)', window: '8h' },
      /secrets\.0\.window \(prod\/app\/db\): 8h is longer than the 6 hours between rotations/,
    ],
  ])('refuses %j', (secret, message) => {
    // Assess
    expect(refusal(secret)).toMatch(message);
  });

  it('accepts the documented schedules with fitting windows', () => {
    // Act
    const config = parseDeployConfig(
      {
        region: 'eu-west-1',
        secrets: [
          { ...entry, id: 'a', schedule: 'cron(0 4/12 * * ? *)', window: '8h' },
          { ...entry, id: 'b', schedule: 'cron(0 16 L * ? *)', window: '8h' },
        ],
      },
      'test.yml',
    );

    // Assess
    expect(config.secrets.map((secret) => secret.window)).toEqual(['8h', '8h']);
  });
});
