/**
 * What the CLI writes and how: injected streams (tests drive `run` in-process), colours on a
 * terminal or with FORCE_COLOR and never with NO_COLOR, progress on stderr, the output format
 * (`--json`, `-o/--output json|table`), and every line scrubbed by the redactor
 * against the secret values this process has read — the last guard behind the rule that the CLI
 * prints names, ARNs, labels, dates, engines and strategies, never a value.
 */
import { type Command, Option } from 'commander';
import { redactor } from '../handlers/redact.js';
import type { AnyRotator } from '../rotators/types.js';

/** The part of a stream the CLI writes to. */
export interface TextOutput {
  write(chunk: string): unknown;
  readonly isTTY?: boolean;
}

/** Everything `run` needs from its surroundings. */
export interface Io {
  stdout: TextOutput;
  stderr: TextOutput;
  /** The environment (default: the process's, read by handlers/config.ts). */
  env?: Readonly<Record<string, string | undefined>>;
  /** The rotators (default: every engine rotor ships, configured from the environment). */
  rotators?: readonly AnyRotator[];
  /** Pause between polls while following a rotation (default 2000 ms). */
  pollIntervalMs?: number;
  /** Aborted to stop a long command (`local`, `rotate --wait`): the entry point wires Ctrl-C to it. */
  signal?: AbortSignal;
  /** The clock, epoch milliseconds (default `Date.now`). */
  now?: () => number;
  /**
   * Asks the person at the terminal and returns the answer; absent when nobody can answer (not
   * a terminal, a script): then a question is a refusal. The entry point sets it on a terminal.
   */
  ask?: (question: string) => Promise<string>;
}

const CODES = {
  red: [31, 39],
  green: [32, 39],
  yellow: [33, 39],
  dim: [2, 22],
  bold: [1, 22],
} as const;
export type Colour = keyof typeof CODES;

/** A line writer over one stream. */
export class Printer {
  constructor(
    private readonly stream: TextOutput,
    private readonly colours: boolean,
  ) {}

  line(text = ''): void {
    this.stream.write(`${redactor.scrub(text)}\n`);
  }

  paint(colour: Colour, text: string): string {
    if (!this.colours) return text;
    const [open, close] = CODES[colour];
    return `\u001b[${open}m${text}\u001b[${close}m`;
  }

  /** Pretty JSON, for `--json`. */
  json(value: unknown): void {
    this.stream.write(`${JSON.stringify(redactor.scrubDeep(value), null, 2)}\n`);
  }
}

export interface Terminal {
  out: Printer;
  err: Printer;
  /** Progress of a long operation, on stderr (never mixed into what a script parses). */
  progress(text: string): void;
}

/**
 * `colour` is false under NO_COLOR, which always wins. Otherwise FORCE_COLOR decides as Node reads
 * it (`1`, `2`, `3`, `true` or empty: colours even into a pipe; any other value: none), and without
 * it a stream is painted only when it is a terminal.
 */
export function createTerminal(io: Io, colour: boolean): Terminal {
  const forced = forcedColour(io.env?.FORCE_COLOR);
  const paints = (stream: TextOutput) => colour && (forced ?? stream.isTTY === true);
  const out = new Printer(io.stdout, paints(io.stdout));
  const err = new Printer(io.stderr, paints(io.stderr));
  return { out, err, progress: (text) => err.line(err.paint('dim', text)) };
}

function forcedColour(value: string | undefined): boolean | undefined {
  if (value === undefined) return undefined;
  return ['', '1', '2', '3', 'true'].includes(value.trim().toLowerCase());
}

// ---------------------------------------------------------------- output format

/**
 * Gives every command that has `--json` an `-o, --output json|table` option too (the AWS CLI's
 * habit): `--output json` is `--json`, `--output table` the default text. Commands keep reading
 * only `json`; `--json --output table` is a usage error.
 */
export function addOutputOption(program: Command): void {
  for (const command of program.commands) {
    if (!command.options.some((option) => option.long === '--json')) continue;
    command.addOption(
      new Option('-o, --output <format>', 'output format; --json is --output json').choices([
        'json',
        'table',
      ]),
    );
    command.hook('preAction', (self) => {
      const { output, json } = self.opts<{ output?: string; json?: boolean }>();
      if (output === 'json') self.setOptionValue('json', true);
      if (output === 'table' && json === true) {
        self.error('error: --json and --output table ask for different formats: use one.', {
          exitCode: 2,
          code: 'rotor.outputConflict',
        });
      }
    });
  }
}

// ---------------------------------------------------------------- formatting

/** `2026-11-25 17:53Z`, or `-`. */
export function formatDate(date: Date | undefined): string {
  if (date === undefined) return '-';
  return `${date.toISOString().slice(0, 16).replace('T', ' ')}Z`;
}

/** `2026-11-25`, or `-` (AWS records some dates, such as last access, by the day only). */
export function formatDay(date: Date | undefined): string {
  return date === undefined ? '-' : date.toISOString().slice(0, 10);
}

/** `2026-11-25 17:53:12Z`. */
export function formatTime(date: Date): string {
  return `${date.toISOString().slice(0, 19).replace('T', ' ')}Z`;
}

/** A duration in a unit an operator reads at a glance: `850 ms`, `42 s`, `17 min`, `5 h`, `3 d`. */
export function formatAge(ms: number): string {
  const abs = Math.abs(ms);
  if (abs < 1_000) return `${Math.round(ms)} ms`;
  if (abs < 120_000) return `${Math.round(ms / 1_000)} s`;
  if (abs < 120 * 60_000) return `${Math.round(ms / 60_000)} min`;
  if (abs < 48 * 3_600_000) return `${Math.round(ms / 3_600_000)} h`;
  return `${Math.round(ms / 86_400_000)} d`;
}

/** A colour code (ESC [ n m), built from the character code: a literal would be a control character. */
const ANSI = new RegExp(`${String.fromCharCode(27)}\\[\\d+m`, 'g');

/** Left-aligned columns, two spaces apart; the header in bold. Widths ignore colour codes. */
export function table(
  printer: Printer,
  header: readonly string[],
  rows: readonly (readonly string[])[],
): void {
  const visible = (text: string) => text.replace(ANSI, '').length;
  const widths = header.map((title, i) =>
    Math.max(visible(title), ...rows.map((row) => visible(row[i] ?? ''))),
  );
  const render = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell + ' '.repeat((widths[i] ?? 0) - visible(cell))))
      .join('  ')
      .trimEnd();
  printer.line(printer.paint('bold', render(header)));
  for (const row of rows) printer.line(render(row));
}

/** How old something is, from whole seconds (AWS dates have no finer grain): `just now`, `42 s`, `3 d`. */
export function formatAgeSeconds(seconds: number): string {
  return seconds < 1 ? 'just now' : formatAge(seconds * 1000);
}

/** `3 h old`, or `just created`. */
export function oldNote(seconds: number): string {
  return seconds < 1 ? 'just created' : `${formatAge(seconds * 1000)} old`;
}

/**
 * Parses a duration such as `90s`, `5m`, `4h`, `7d` into milliseconds: the one unit syntax every
 * CLI option takes. A bare number is read in `bareUnit` (what each option meant before units:
 * minutes for `--min-age`, seconds for `--timeout`), kept for compatibility and deprecated.
 * Returns undefined when the text is not one.
 */
export function parseDuration(text: string, bareUnit: 's' | 'm' = 'm'): number | undefined {
  const match = /^(\d{1,7})\s*(s|m|min|h|d)?$/.exec(text.trim());
  if (match === null) return undefined;
  const value = Number(match[1]);
  const unit = match[2] ?? bareUnit;
  const factor = { s: 1_000, m: 60_000, min: 60_000, h: 3_600_000, d: 86_400_000 }[unit] ?? 60_000;
  return value * factor;
}
