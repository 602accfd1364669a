/**
 * `rotor`: see and steer rotation without the console.
 *
 * `run(argv, io)` is the whole CLI: it parses, runs one command, writes to the injected streams
 * and returns the exit code, so tests drive it in-process. `main()` wires it to the process
 * (streams, Ctrl-C, exit code); cli/rotor.mjs and `npm run rotor` call it.
 */
import { realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { scheduleProblem, windowHours } from '../deploy/schedule.js';
import { asRotorError, RotorError } from '../rotators/errors.js';
import { EXIT, exitCodeOf } from './aws.js';
import { attachCommand } from './commands/attach.js';
import { healCommand } from './commands/heal.js';
import { historyCommand } from './commands/history.js';
import { type LocalOptions, localCommand } from './commands/local.js';
import { DEFAULT_PREFLIGHT_SECONDS, preflightCommand } from './commands/preflight.js';
import { replicateCommand, validRegion } from './commands/replicate.js';
import { rotateCommand } from './commands/rotate.js';
import { statusCommand } from './commands/status.js';
import { addOutputOption, type Io, parseDuration } from './io.js';
import { Session } from './session.js';

export type { Io } from './io.js';

const EXIT_CODES = `
Exit codes:
  0  ok
  1  the operation found a failure (a failed check or rotation, a failed, stuck or overdue
     secret, a failed or stuck rotation not healed)
  2  bad usage or input (unknown option, secret not found, a value that does not parse)
  3  AWS or network error (access denied, bad credentials, endpoint unreachable)

AWS: the default credential chain, --region and --profile. --endpoint (or
AWS_ENDPOINT_URL_SECRETS_MANAGER) points at another endpoint; when it is rotor's local stack
(\`rotor local\`), its events are read from it. On AWS, rotation events are read from the rotation
function's CloudWatch Logs (/aws/lambda/<function>, or --log-group).

No secret value is ever printed: only names, ARNs, labels, dates, engines and strategies.
Colours only on a terminal or with FORCE_COLOR set, never with NO_COLOR set.`;

function examples(...lines: string[]): string {
  return `\nExamples:\n${lines.map((line) => `  $ ${line}`).join('\n')}`;
}

/** Commander argument parsers: a bad value is a usage error (exit 2) naming the option. */
function positiveInteger(what: string, max: number) {
  return (text: string): number => {
    const value = Number(text);
    if (!Number.isInteger(value) || value < 0 || value > max) {
      throw new InvalidArgumentError(`${what} must be a whole number from 0 to ${max}.`);
    }
    return value;
  };
}

function duration(text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined) throw new InvalidArgumentError('expected a duration such as 90s, 60m, 4h or 2d.');
  return ms;
}

/**
 * `--timeout`: a duration (`90s`, `5m`, `1h`) in whole seconds, at most `maxSeconds`. A bare
 * number is seconds, as before units (deprecated: the help says so).
 */
function timeoutSeconds(maxSeconds: number) {
  return (text: string): number => {
    const ms = parseDuration(text, 's');
    if (ms === undefined || ms < 1_000 || ms > maxSeconds * 1_000) {
      throw new InvalidArgumentError(
        `--timeout must be a duration from 1s to ${maxSeconds}s, such as 90s, 5m or 1h.`,
      );
    }
    return Math.ceil(ms / 1_000);
  };
}

const BARE_SECONDS = '; a bare number is seconds (deprecated: add the unit)';

function schedule(text: string): string {
  // Secrets Manager's documented rules (deploy/schedule.ts, shared with the stage file and the local stack).
  const problem = scheduleProblem(text.trim());
  if (problem !== undefined) {
    throw new InvalidArgumentError(
      `expected "rate(N days)", "rate(N hours)" or "cron(...)" as Secrets Manager accepts them: ${problem}.`,
    );
  }
  return text.trim();
}

/** `--window`: its form here (deploy/schedule.ts's reading); how it fits the schedule, once both are known. */
function window(text: string): string {
  if (windowHours(text) === undefined)
    throw new InvalidArgumentError('expected a window of 1h to 24h, e.g. 4h.');
  return text;
}

function regions(text: string): string[] {
  const list = text
    .split(',')
    .map((region) => region.trim())
    .filter((region) => region !== '');
  const bad = list.find((region) => !validRegion(region));
  if (list.length === 0 || bad !== undefined) {
    throw new InvalidArgumentError(
      `expected AWS regions separated by commas, e.g. eu-west-1,us-west-2${bad === undefined ? '' : ` ("${bad}" is not one)`}.`,
    );
  }
  return list;
}

function version(): string {
  const pkg = createRequire(import.meta.url)('../package.json') as { version?: string };
  return pkg.version ?? '0.0.0';
}

/** Receives a command's exit code. */
type Done = (code: number) => void;

function buildProgram(session: Session, done: Done): Command {
  const { io } = session;
  const program = new Command('rotor')
    .description('See and steer credential rotation in AWS Secrets Manager (rotor).')
    .version(version())
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
    })
    .showHelpAfterError('(add --help for usage)')
    // Subcommands inherit this: their help lists --region, --profile, --endpoint and --log-group too.
    .configureHelp({ showGlobalOptions: true })
    .option('--region <region>', "AWS region (default: the SDK chain, or the local stack's)")
    .option('--profile <name>', 'AWS shared-config profile')
    .option('--endpoint <url>', 'Secrets Manager endpoint, e.g. the local stack (http://127.0.0.1:4566)')
    .option('--log-group <name>', 'where the rotation function logs (default /aws/lambda/<function>)')
    .addHelpText('after', EXIT_CODES);

  addAttachCommand(program, session, done);
  addStatusCommand(program, session, done);
  addRotateCommand(program, session, done);
  addPreflightCommand(program, session, done);
  addHealCommand(program, session, done);
  addReplicateCommand(program, session, done);
  addHistoryCommand(program, session, done);
  addLocalCommand(program, session, done);
  addOutputOption(program);
  return program;
}

/** `rotor attach`: turn rotation on, then wait for its first outcome. */
function addAttachCommand(program: Command, session: Session, done: Done): void {
  program
    .command('attach')
    .description(
      'Turn rotation on for existing secrets, then wait for the configuration test (--no-rotate-immediately) or first rotation and print its outcome (exit 1 when it fails or does not end within --timeout; --no-wait returns at once). Refuses (and changes nothing for) a secret whose value does not parse for its engine, or whose preflight fails. With --adopt, records that rotor may act for an account (or API key) the secret does not prove it holds (an operator decision, kept in the adoption record).',
    )
    .argument('<secret...>', 'secret names or ARNs')
    .option(
      '--function <arn|name>',
      "rotor's rotation function (a name is expanded with the secret's region and account); required unless only adopting",
    )
    .option(
      '--schedule <expression>',
      'schedule: "rate(30 days)", "rate(12 hours)" or "cron(...)"; required with --function',
      schedule,
    )
    .option(
      '--adopt <username-or-key-id>',
      'adopt an account (or API key id) for the secret: recorded in the adoption record (ROTOR_ADOPTIONS_SECRET, default rotor/adoptions); repeatable',
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .option('--window <hours>', 'rotation window, 1h to 24h (default: the rest of the day)', window)
    .option('--no-rotate-immediately', 'only test the configuration (testSecret) now; rotate on the schedule')
    .option('--skip-preflight', 'attach even when preflight checks fail (the value must still parse)')
    .option(
      '--replace',
      'replace the rotation function a secret is already configured with (refused otherwise)',
    )
    .option(
      '--no-wait',
      'return once attached, without waiting for the configuration test or first rotation to end',
    )
    .option(
      '--timeout <duration>',
      `how long to wait for the configuration test or first rotation (default 10m; the preflight checks keep their 30s limit); 90s, 5m, 1h${BARE_SECONDS}`,
      timeoutSeconds(86_400),
    )
    .option('--json', 'JSON output (with the outcome of the configuration test or first rotation)')
    .addHelpText(
      'after',
      examples(
        'rotor attach prod/orders-db --function rotor-prod-postgres --schedule "rate(30 days)" --window 4h',
        'rotor attach prod/a prod/b --function arn:aws:lambda:eu-west-1:123456789012:function:rotor-prod-mysql --schedule "cron(0 3 ? * SUN *)" --no-rotate-immediately',
        'rotor attach prod/legacy-db --adopt legacy_app',
      ),
    )
    .action(async (secrets: string[], _options, command: Command) => {
      done(await attachCommand(session, secrets, command.optsWithGlobals()));
    });
}

/** `rotor status`: one row per secret rotor rotates. */
function addStatusCommand(program: Command, session: Session, done: Done): void {
  program
    .command('status')
    .description(
      "A table of the secrets rotor's functions rotate: dates, overdue, state (healthy, rotating, failed, stuck, never-rotated, not-rotor), replicas, last outcome (engine and strategy with --deep). Exits 1 when any row shows a problem (failed, stuck, overdue, invalid value, failed configuration test).",
    )
    .option('--prefix <prefix>', 'only secrets whose name starts with this')
    .option('--all', "include secrets whose rotation by rotor's functions is turned off")
    .option(
      '--deep',
      'read each value: engine, strategy, and a value that does not parse (needs GetSecretValue)',
    )
    .option('--json', 'JSON output')
    .addHelpText(
      'after',
      examples(
        'rotor status',
        'rotor status --prefix prod/ --json',
        'rotor status --all --deep',
        'rotor status --endpoint http://127.0.0.1:4566',
      ),
    )
    .action(async (_options, command: Command) => {
      done(await statusCommand(session, command.optsWithGlobals()));
    });
}

/** `rotor rotate`: rotate now, or follow a rotation already running. */
function addRotateCommand(program: Command, session: Session, done: Done): void {
  program
    .command('rotate')
    .description(
      'Rotate now with the configured function and rules. With --wait, follow it step by step until it ends; with --follow, start nothing and follow the rotation already running. Exits 1 when it fails (AWSPENDING stuck) or times out.',
    )
    .argument('<secret>', 'secret name or ARN')
    .option('--wait', 'follow the rotation step by step until it ends')
    .option('--follow', 'start nothing: follow the rotation already running until it ends')
    .option(
      '--timeout <duration>',
      `how long --wait / --follow follow (5m, 1h)${BARE_SECONDS}`,
      timeoutSeconds(86_400),
      600,
    )
    .option('--json', 'JSON output (the outcome and steps)')
    .addHelpText(
      'after',
      examples(
        'rotor rotate prod/orders-db',
        'rotor rotate prod/orders-db --wait --timeout 5m',
        'rotor rotate prod/orders-db --follow',
      ),
    )
    .action(async (secret: string, _options, command: Command) => {
      done(await rotateCommand(session, secret, command.optsWithGlobals()));
    });
}

/** `rotor preflight`: what a rotation will need, checked without changing anything. */
function addPreflightCommand(program: Command, session: Session, done: Done): void {
  program
    .command('preflight')
    .description(
      "Check, without changing anything, what a rotation will need: rotation settings, no stuck AWSPENDING, the value parses, and the engine's own checks (logins, privileges). Exits 1 if any check fails.",
    )
    .argument('<secret>', 'secret name or ARN')
    .option(
      '--timeout <duration>',
      `time limit of the engine checks (90s, 5m)${BARE_SECONDS}`,
      timeoutSeconds(600),
      DEFAULT_PREFLIGHT_SECONDS,
    )
    .option('--json', 'JSON output')
    .addHelpText('after', examples('rotor preflight prod/orders-db', 'rotor preflight prod/orders-db --json'))
    .action(async (secret: string, _options, command: Command) => {
      done(await preflightCommand(session, secret, command.optsWithGlobals()));
    });
}

/** `rotor heal`: what to do with a failed or stuck rotation. */
function addHealCommand(program: Command, session: Session, done: Done): void {
  program
    .command('heal')
    .description(
      'Explain what to do with a failed or stuck rotation (AWSPENDING left on a version that is not AWSCURRENT): roll forward when the target already accepts the pending credential, abandon when only the current one works, or leave it to a person (naming the cause: network, TLS, authentication, privilege, probe query, ...). Changes something only with --yes. A rotation still running is left alone. Exits 1 while a failed or stuck rotation is left, 0 otherwise.',
    )
    .argument('<secret>', 'secret name or ARN')
    .option('-y, --yes', 'carry the decision out')
    .option('--force', 'judge even a rotation that looks like it is running')
    .addOption(
      new Option(
        '--min-age <duration>',
        'an AWSPENDING with no event for this long counts as stuck, not running (15m, 2h; a bare number is minutes, deprecated: add the unit)',
      )
        .argParser(duration)
        .default(3_600_000, '60m'),
    )
    .option('--json', 'JSON output')
    .addHelpText(
      'after',
      examples(
        'rotor heal prod/orders-db',
        'rotor heal prod/orders-db --yes',
        'rotor heal prod/orders-db --yes --min-age 15m',
      ),
    )
    .action(async (secret: string, _options, command: Command) => {
      done(await healCommand(session, secret, command.optsWithGlobals()));
    });
}

/** `rotor replicate`: copy a secret to other regions. */
function addReplicateCommand(program: Command, session: Session, done: Done): void {
  program
    .command('replicate')
    .description(
      'Replicate a secret to other regions. Rotation stays on the primary: each new version is copied to the replicas, which are read-only and never rotate themselves. `rotor status` shows replica status.',
    )
    .argument('<secret>', 'secret name or ARN')
    .requiredOption('--regions <list>', 'regions, comma-separated', regions)
    .option('--kms-key <id>', "KMS key for the replicas (default: the region's aws/secretsmanager key)")
    .option('--overwrite', 'overwrite a secret of the same name in a replica region')
    .option('--json', 'JSON output')
    .addHelpText('after', examples('rotor replicate prod/orders-db --regions eu-west-1,us-west-2'))
    .action(async (secret: string, _options, command: Command) => {
      done(await replicateCommand(session, secret, command.optsWithGlobals()));
    });
}

/** `rotor history`: a secret's versions and rotor's events for each. */
function addHistoryCommand(program: Command, session: Session, done: Done): void {
  program
    .command('history')
    .description(
      "Every version of a secret with its labels and dates, newest first, and rotor's events for each.",
    )
    .argument('<secret>', 'secret name or ARN')
    .option('--json', 'JSON output')
    .addHelpText('after', examples('rotor history prod/orders-db', 'rotor history prod/orders-db --json'))
    .action(async (secret: string, _options, command: Command) => {
      done(await historyCommand(session, secret, command.optsWithGlobals()));
    });
}

/** `rotor local`: serve the local AWS stack. */
function addLocalCommand(program: Command, session: Session, done: Done): void {
  program
    .command('local')
    .description(
      "Serve the local AWS stack (Secrets Manager, EventBridge and rotor's rotation functions) until Ctrl-C, as `npm run local` does.",
    )
    .option('--port <port>', 'port (0 picks a free one)', positiveInteger('--port', 65_535), 4566)
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--state <file>', 'keep the state in this JSON file across restarts')
    .option(
      '--schedule-seconds <seconds>',
      'start due rotations this often (0: never)',
      positiveInteger('--schedule-seconds', 86_400),
      60,
    )
    .option('--rehearse', 'also stage one secret per common failure under rehearse/ (see RUNBOOK.md)')
    .addHelpText(
      'after',
      examples(
        'rotor local',
        'rotor local --port 4599 --state .rotor-local/state.json',
        'rotor local --rehearse',
      ),
    )
    .action(async (_options, command: Command) => {
      const options = command.optsWithGlobals<Omit<LocalOptions, 'region'> & { region?: string }>();
      done(await localCommand(session, { ...options, region: options.region ?? 'us-east-1' }));
    });
}

/** Runs the CLI on `argv` (without the node and script paths); returns the exit code. */
export async function run(argv: readonly string[], io: Io): Promise<number> {
  const session = new Session(io);
  let code: number = EXIT.ok;
  try {
    const program = buildProgram(session, (result) => {
      code = result;
    });
    await program.parseAsync([...argv], { from: 'user' });
    return code;
  } catch (error) {
    return report(session, error);
  } finally {
    await session.close();
  }
}

function report(session: Session, error: unknown): number {
  const { err } = session.term;
  if (error instanceof CommanderError) {
    // Commander has printed the message (or the help, or the version) already.
    return error.code === 'commander.helpDisplayed' || error.code === 'commander.version'
      ? EXIT.ok
      : EXIT.usage;
  }
  const rotorError = error instanceof RotorError ? error : asRotorError(error);
  err.line(`${err.paint('red', 'rotor: error:')} ${rotorError.message}`);
  return exitCodeOf(rotorError);
}

/** One question on the terminal (stderr, so stdout stays the command's output). */
async function askOnTerminal(question: string): Promise<string> {
  const { createInterface } = await import('node:readline/promises');
  const terminal = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return await terminal.question(question);
  } finally {
    terminal.close();
  }
}

/** The process entry: real streams, Ctrl-C stops long commands (twice: at once), the exit code. */
export async function main(argv: readonly string[] = process.argv.slice(2)): Promise<void> {
  const controller = new AbortController();
  let interrupts = 0;
  const interrupt = () => {
    interrupts++;
    if (interrupts > 1) process.exit(130);
    controller.abort();
  };
  process.on('SIGINT', interrupt);
  process.on('SIGTERM', interrupt);
  try {
    process.exitCode = await run(argv, {
      stdout: process.stdout,
      stderr: process.stderr,
      env: process.env,
      signal: controller.signal,
      ...(process.stdin.isTTY && process.stderr.isTTY ? { ask: askOnTerminal } : {}),
    });
  } finally {
    process.off('SIGINT', interrupt);
    process.off('SIGTERM', interrupt);
  }
}

// `tsx cli/main.ts` runs this file directly; tests and the launcher (cli/rotor.mjs) import it.
if (isEntryPoint(import.meta.url)) await main();

/** Whether the module at `url` is the script Node was started with. */
function isEntryPoint(url: string): boolean {
  try {
    return process.argv[1] !== undefined && url === pathToFileURL(realpathSync(process.argv[1])).href;
  } catch {
    return false; // No script path (a REPL, `node -e`): imported, not run.
  }
}
