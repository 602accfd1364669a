/**
 * Secrets Manager's rotation schedule rules, checked before AWS checks them: the stage file, and
 * later `rotor attach` and the local stack, refuse what Secrets Manager would refuse, with the rule
 * named. Pure logic, no dependencies, so any part of rotor can import it.
 *
 * The rules, from the Secrets Manager user guide ("Rotation schedules" / "Schedule expressions in
 * Secrets Manager rotation") and the RotationRulesType API reference:
 * - `rate(Value Unit)`: Value a positive integer, Unit `hour`, `hours`, `day` or `days`; at most
 *   every four hours; at most 999 days apart.
 * - `cron(Minutes Hours Day-of-month Month Day-of-week Year)`: Minutes must be 0 (windows open on
 *   the hour); Hours 0-23 (`, - * /`); Day-of-month 1-31 (`, - * ? / L`); Month 1-12 or JAN-DEC
 *   (`, - * /`); Day-of-week 1-7 or SUN-SAT (`# , - * ? / L`); Year must be `*` (schedules are at
 *   most a year apart). Day-of-month and Day-of-week cannot both be given: one of them is `?`.
 *   Increments of hours reset each day (`cron(0 4/12 * * ? *)` is 4:00 and 16:00 every day).
 * - The rotation window (Duration, `<n>h`) is 1 to 24 hours, opens on the schedule's hour (midnight
 *   for rate()), and must not extend into the next UTC day (start hour + window <= 24) nor into
 *   the next rotation window (for a schedule in hours, window <= hours between rotations).
 * - Rotations are at most every four hours, so a cron schedule's hours are at least 4 apart.
 */

/** What a schedule means for its windows: the hours of the day its windows open, and how far apart. */
export interface ScheduleShape {
  readonly kind: 'rate' | 'cron';
  /** `hours`: several rotations a day (or a rate in hours); `days`: at most one a day. */
  readonly unit: 'hours' | 'days';
  /** UTC hours at which a window opens on a day with a rotation (rate: midnight only). */
  readonly startHours: readonly number[];
  /** For a schedule in hours, the shortest time between two rotations in hours. */
  readonly intervalHours?: number;
}

export const MIN_ROTATION_HOURS = 4;
export const MAX_RATE_DAYS = 999;

const FORMAT = 'must be rate(<n> days|hours) or cron(<six fields>)';

/** A problem with a schedule expression as Secrets Manager sees it, or undefined if it accepts it. */
export function scheduleProblem(expression: string): string | undefined {
  const result = shapeOrProblem(expression);
  return typeof result === 'string' ? result : undefined;
}

/** The shape of a valid schedule expression (throws on an invalid one: check it first). */
export function scheduleShape(expression: string): ScheduleShape {
  const result = shapeOrProblem(expression);
  if (typeof result === 'string') throw new Error(`${expression}: ${result}`);
  return result;
}

/** What a window that is not `<n>h` with n from 1 to 24 is told (by the stage file, the CLI, the local stack). */
export const WINDOW_FORMAT = 'must be 1h to 24h (the rotation window in hours)';

/**
 * The hours of a rotation window (Duration): `<n>h` with n from 1 to 24, written without a
 * leading zero (`4h`, not `04h`); undefined for anything else. The one reading of the window's
 * form: the stage file, `rotor attach --window` and the local Secrets Manager all use it.
 */
export function windowHours(window: string): number | undefined {
  const match = /^([1-9]|1\d|2[0-4])h$/.exec(window);
  return match === null ? undefined : Number(match[1]);
}

/**
 * A problem with a rotation window (Duration) for a schedule, or undefined. The schedule itself
 * must be valid (see scheduleProblem).
 */
export function windowProblem(expression: string, window: string): string | undefined {
  const hours = windowHours(window);
  if (hours === undefined) return WINDOW_FORMAT;
  const shape = shapeOrProblem(expression);
  if (typeof shape === 'string') return undefined;
  if (shape.intervalHours !== undefined && hours > shape.intervalHours) {
    return `${window} is longer than the ${shape.intervalHours} hours between rotations of ${expression}: a window must not extend into the next one`;
  }
  const last = Math.max(...shape.startHours);
  if (last + hours > 24) {
    return `the window opening at ${String(last).padStart(2, '0')}:00 UTC would pass midnight (${last} + ${hours} > 24 hours): a window must not extend into the next UTC day`;
  }
  return undefined;
}

function shapeOrProblem(expression: string): ScheduleShape | string {
  const rate = /^rate\(\s*(\S+)\s+(\S+)\s*\)$/.exec(expression);
  if (rate) return rateShape(rate[1] as string, rate[2] as string);
  const cron = /^cron\((.*)\)$/.exec(expression);
  if (cron) return cronShape((cron[1] as string).trim().split(/\s+/));
  return FORMAT;
}

function rateShape(value: string, unit: string): ScheduleShape | string {
  if (!/^[1-9]\d*$/.test(value)) return `rate value must be a positive integer, not "${value}"`;
  if (!['hour', 'hours', 'day', 'days'].includes(unit)) {
    return `rate unit must be hour, hours, day or days, not "${unit}"`;
  }
  const n = Number(value);
  if (unit.startsWith('hour')) {
    if (n < MIN_ROTATION_HOURS)
      return `must rotate at most every ${MIN_ROTATION_HOURS} hours, not every ${n}`;
    return { kind: 'rate', unit: 'hours', startHours: [0], intervalHours: n };
  }
  if (n > MAX_RATE_DAYS) return `must rotate at least every ${MAX_RATE_DAYS} days, not every ${n}`;
  return { kind: 'rate', unit: 'days', startHours: [0] };
}

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

interface FieldRule {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  readonly names?: readonly string[];
  /** Allows `?` (no specific value). */
  readonly question: boolean;
  /** Allows `L` (last). */
  readonly last: boolean;
  /** Allows `#` (nth weekday). */
  readonly nth: boolean;
}

const HOURS: FieldRule = { name: 'hours', min: 0, max: 23, question: false, last: false, nth: false };
const DAY_OF_MONTH: FieldRule = {
  name: 'day-of-month',
  min: 1,
  max: 31,
  question: true,
  last: true,
  nth: false,
};
const MONTH: FieldRule = {
  name: 'month',
  min: 1,
  max: 12,
  names: MONTHS,
  question: false,
  last: false,
  nth: false,
};
const DAY_OF_WEEK: FieldRule = {
  name: 'day-of-week',
  min: 1,
  max: 7,
  names: DAYS,
  question: true,
  last: true,
  nth: true,
};

function cronShape(fields: string[]): ScheduleShape | string {
  if (fields.length !== 6) {
    return `cron needs six fields (minutes hours day-of-month month day-of-week year), not ${fields.length}`;
  }
  const [minutes, hours, dayOfMonth, month, dayOfWeek, year] = fields as [
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  if (minutes !== '0')
    return `cron minutes must be 0, not "${minutes}" (Secrets Manager rotation windows open on the hour)`;
  if (year !== '*') {
    return `cron year must be *, not "${year}" (Secrets Manager does not support schedules more than a year apart)`;
  }
  for (const [rule, text] of [
    [HOURS, hours],
    [DAY_OF_MONTH, dayOfMonth],
    [MONTH, month],
    [DAY_OF_WEEK, dayOfWeek],
  ] as const) {
    const problem = fieldProblem(rule, text);
    if (problem !== undefined) return problem;
  }
  if ((dayOfMonth === '?') === (dayOfWeek === '?')) {
    return 'cron day-of-month and day-of-week cannot both be given: one of them must be ? (no specific value)';
  }
  const startHours = expand(HOURS, hours);
  if (startHours.length === 1) return { kind: 'cron', unit: 'days', startHours };
  let interval = 24;
  for (let i = 1; i < startHours.length; i++) {
    interval = Math.min(interval, (startHours[i] as number) - (startHours[i - 1] as number));
  }
  // Across midnight, when every day rotates: the last hour of one day and the first of the next.
  const everyDay = (dayOfMonth === '*' || dayOfMonth === '?') && (dayOfWeek === '*' || dayOfWeek === '?');
  if (everyDay) {
    interval = Math.min(interval, 24 - (startHours.at(-1) as number) + (startHours[0] as number));
  }
  if (interval < MIN_ROTATION_HOURS) {
    return `cron hours "${hours}" rotate ${interval} hours apart: Secrets Manager rotates at most every ${MIN_ROTATION_HOURS} hours`;
  }
  return { kind: 'cron', unit: 'hours', startHours, intervalHours: interval };
}

/** A field's problem, or undefined: the values, wildcards and ranges its rule allows. */
function fieldProblem(rule: FieldRule, text: string): string | undefined {
  const bad = (why: string) => `cron ${rule.name} "${text}": ${why}`;
  if (text === '?')
    return rule.question ? undefined : bad('? is allowed only in day-of-month and day-of-week');
  for (const item of text.split(',')) {
    if (item === '') return bad('empty list item');
    if (item === 'L') {
      if (!rule.last) return bad('L is allowed only in day-of-month and day-of-week');
      continue;
    }
    if (rule.nth && item.includes('#')) {
      const [day, nth] = item.split('#') as [string, string];
      if (value(rule, day) === undefined || !/^[1-5]$/.test(nth ?? '')) {
        return bad(`"${item}" must be <weekday>#<1-5> (for example SUN#1, the first Sunday)`);
      }
      continue;
    }
    if (rule.last && rule.nth && /^.+L$/.test(item)) {
      if (value(rule, item.slice(0, -1)) === undefined)
        return bad(`"${item}" must be <weekday>L (the last one of the month)`);
      continue;
    }
    const [range, step] = item.split('/') as [string, string | undefined];
    if (step !== undefined && !/^[1-9]\d*$/.test(step))
      return bad(`increment "${step}" must be a positive integer`);
    if (range === '*') continue;
    const [from, to] = range.split('-') as [string, string | undefined];
    const start = value(rule, from);
    const end = to === undefined ? start : value(rule, to);
    const allowed = `${rule.min}-${rule.max}${rule.names ? ` or ${rule.names[0]}-${rule.names.at(-1)}` : ''}`;
    if (start === undefined || end === undefined) return bad(`"${item}" must be values ${allowed}`);
    if (to !== undefined && end < start) return bad(`range "${range}" runs backwards`);
  }
  return undefined;
}

function value(rule: FieldRule, text: string): number | undefined {
  const named = rule.names?.indexOf(text.toUpperCase()) ?? -1;
  if (named >= 0) return named + rule.min;
  if (!/^\d+$/.test(text)) return undefined;
  const n = Number(text);
  return n >= rule.min && n <= rule.max ? n : undefined;
}

/** The values a (valid) field selects, sorted. */
function expand(rule: FieldRule, text: string): number[] {
  const values = new Set<number>();
  for (const item of text.split(',')) {
    const [range, step] = item.split('/') as [string, string | undefined];
    const increment = step === undefined ? 1 : Number(step);
    let start = rule.min;
    let end = rule.max;
    if (range !== '*') {
      const [from, to] = range.split('-') as [string, string | undefined];
      start = value(rule, from) as number;
      end = to !== undefined ? (value(rule, to) as number) : step !== undefined ? rule.max : start;
    }
    for (let v = start; v <= end; v += increment) values.add(v);
  }
  return [...values].sort((a, b) => a - b);
}
