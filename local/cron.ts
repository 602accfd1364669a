/**
 * Rotation schedules: when the next rotation of a secret is due.
 *
 * Secrets Manager accepts `RotationRules` with either `AutomaticallyAfterDays` or a
 * `ScheduleExpression` (`rate(N days)`, `rate(N hours)` or a six-field `cron(...)` expression in
 * UTC), plus an optional `Duration` window. The real service picks a random time inside the
 * window; the local stack uses the window's start so tests can predict `NextRotationDate`.
 */

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/** A parsed schedule. */
export type Schedule =
  | { kind: 'interval'; everyMs: number }
  | { kind: 'cron'; fields: CronFields; expression: string };

interface CronFields {
  minutes: Set<number>;
  hours: Set<number>;
  daysOfMonth: Set<number> | 'any';
  months: Set<number>;
  daysOfWeek: Set<number> | 'any';
  years: Set<number> | 'any';
  /** Day-of-month `L`: the last day of the month. */
  lastDayOfMonth?: boolean;
  /** Day-of-week `<day>L`: the last such weekday of the month (0 = Sunday). */
  lastWeekdays?: Set<number>;
  /** Day-of-week `<day>#<n>`: the n-th such weekday of the month. */
  nthWeekdays?: { day: number; nth: number }[];
}

/** Why an expression was refused; the caller words the AWS error. */
export class ScheduleError extends Error {
  override readonly name = 'ScheduleError';
}

/** A schedule from `AutomaticallyAfterDays`. */
export function everyDays(days: number): Schedule {
  return { kind: 'interval', everyMs: days * DAY_MS };
}

/** Parses `rate(...)` or `cron(...)`. Throws `ScheduleError` with a reason. */
export function parseScheduleExpression(expression: string): Schedule {
  const rate = /^rate\((\d+) (hour|hours|day|days)\)$/.exec(expression.trim());
  if (rate !== null) {
    const amount = Number(rate[1]);
    const unitMs = rate[2]?.startsWith('hour') === true ? HOUR_MS : DAY_MS;
    if (unitMs === HOUR_MS && (amount < 4 || amount > 23)) {
      throw new ScheduleError('a rate in hours must be between 4 and 23 hours');
    }
    if (unitMs === DAY_MS && (amount < 1 || amount > 1000)) {
      throw new ScheduleError('a rate in days must be between 1 and 1000 days');
    }
    return { kind: 'interval', everyMs: amount * unitMs };
  }
  const cron = /^cron\((.*)\)$/.exec(expression.trim());
  if (cron === null) throw new ScheduleError('expected rate(...) or cron(...)');
  return { kind: 'cron', fields: parseCronFields(cron[1] ?? ''), expression };
}

/** The first due time strictly after `from`, or undefined when the schedule never fires again. */
export function nextOccurrence(schedule: Schedule, from: Date): Date | undefined {
  if (schedule.kind === 'interval') return new Date(from.getTime() + schedule.everyMs);
  return nextCronMatch(schedule.fields, from);
}

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

/** AWS cron: minutes hours day-of-month month day-of-week year; one of the two days is `?`. */
function parseCronFields(body: string): CronFields {
  const parts = body.trim().split(/\s+/);
  if (parts.length !== 6) throw new ScheduleError('a cron expression has six fields');
  const [minutes, hours, dom, month, dow, year] = parts as [string, string, string, string, string, string];
  if ((dom === '?') === (dow === '?')) {
    throw new ScheduleError('exactly one of day-of-month and day-of-week must be ?');
  }
  // `L` (last day of the month), `<day>L` (last such weekday) and `<day>#<n>` (n-th weekday) are
  // days of their own; the other items are values and ranges.
  const domItems = dom === '?' ? [] : dom.split(',');
  const dowItems = dow === '?' ? [] : dow.split(',');
  const plainDom = domItems.filter((item) => item !== 'L');
  const lastWeekdays = new Set<number>();
  const nthWeekdays: { day: number; nth: number }[] = [];
  const plainDow: string[] = [];
  for (const item of dowItems) {
    const nth = /^(.+)#([1-5])$/.exec(item);
    if (nth !== null)
      nthWeekdays.push({ day: fieldValue(nth[1] ?? '', 1, 7, DAYS) - 1, nth: Number(nth[2]) });
    else if (item === 'L') lastWeekdays.add(6);
    else if (/^.+L$/.test(item)) lastWeekdays.add(fieldValue(item.slice(0, -1), 1, 7, DAYS) - 1);
    else plainDow.push(item);
  }
  return {
    minutes: parseField(minutes, 0, 59),
    hours: parseField(hours, 0, 23),
    daysOfMonth:
      dom === '?' ? 'any' : plainDom.length === 0 ? new Set() : parseField(plainDom.join(','), 1, 31),
    months: parseField(month, 1, 12, MONTHS),
    // AWS numbers days of the week 1 (SUN) to 7 (SAT); store them as JavaScript's 0 to 6.
    daysOfWeek:
      dow === '?'
        ? 'any'
        : plainDow.length === 0
          ? new Set()
          : new Set([...parseField(plainDow.join(','), 1, 7, DAYS)].map((day) => day - 1)),
    years: year === '*' ? 'any' : parseField(year, 1970, 2199),
    lastDayOfMonth: domItems.includes('L'),
    lastWeekdays,
    nthWeekdays,
  };
}

/** One field: `*`, `a`, `a-b`, `a/n`, `*\/n`, `a-b/n` and comma lists; names when given. */
function parseField(field: string, min: number, max: number, names?: readonly string[]): Set<number> {
  const values = new Set<number>();
  for (const item of field.split(',')) {
    const [range = '', stepText] = item.split('/');
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step < 1) throw new ScheduleError(`invalid step in "${item}"`);
    let [from, to] = [min, max];
    if (range !== '*') {
      const [a = '', b] = range.split('-');
      from = fieldValue(a, min, max, names);
      to = b === undefined ? (stepText === undefined ? from : max) : fieldValue(b, min, max, names);
    }
    if (from > to) throw new ScheduleError(`invalid range "${item}"`);
    for (let value = from; value <= to; value += step) values.add(value);
  }
  return values;
}

function fieldValue(text: string, min: number, max: number, names?: readonly string[]): number {
  const named = names?.indexOf(text.toUpperCase()) ?? -1;
  // Names are 1-based in AWS cron (JAN = 1, SUN = 1).
  const value = named >= 0 ? named + 1 : Number(text);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ScheduleError(`"${text}" is not between ${min} and ${max}`);
  }
  return value;
}

/** Walks forward day by day (at most ~5 years) and returns the first matching minute. */
function nextCronMatch(fields: CronFields, from: Date): Date | undefined {
  const start = new Date(from.getTime() + 60_000);
  start.setUTCSeconds(0, 0);
  const day = new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth(), start.getUTCDate()));
  for (let i = 0; i < 5 * 366; i++, day.setUTCDate(day.getUTCDate() + 1)) {
    if (!dayMatches(fields, day)) continue;
    const sameDay =
      day.getTime() === Date.UTC(start.getUTCFullYear(), start.getUTCMonth(), start.getUTCDate());
    const earliest = sameDay ? start.getUTCHours() * 60 + start.getUTCMinutes() : 0;
    const minute = firstMinute(fields, earliest);
    if (minute !== undefined) return new Date(day.getTime() + minute * 60_000);
  }
  return undefined;
}

function dayMatches(fields: CronFields, day: Date): boolean {
  if (fields.years !== 'any' && !fields.years.has(day.getUTCFullYear())) return false;
  if (!fields.months.has(day.getUTCMonth() + 1)) return false;
  const date = day.getUTCDate();
  const weekday = day.getUTCDay();
  const daysInMonth = new Date(Date.UTC(day.getUTCFullYear(), day.getUTCMonth() + 1, 0)).getUTCDate();
  if (fields.daysOfMonth !== 'any') {
    const last = fields.lastDayOfMonth === true && date === daysInMonth;
    if (!last && !fields.daysOfMonth.has(date)) return false;
  }
  if (fields.daysOfWeek === 'any') return true;
  if (fields.daysOfWeek.has(weekday)) return true;
  if (fields.lastWeekdays?.has(weekday) === true && date + 7 > daysInMonth) return true;
  return (
    fields.nthWeekdays?.some((rule) => rule.day === weekday && Math.ceil(date / 7) === rule.nth) === true
  );
}

/** The first minute of the day (0 to 1439) at or after `earliest` that the schedule allows. */
function firstMinute(fields: CronFields, earliest: number): number | undefined {
  const hours = [...fields.hours].sort((a, b) => a - b);
  const minutes = [...fields.minutes].sort((a, b) => a - b);
  for (const hour of hours) {
    for (const minute of minutes) {
      if (hour * 60 + minute >= earliest) return hour * 60 + minute;
    }
  }
  return undefined;
}
