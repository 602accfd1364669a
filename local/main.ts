/**
 * `npm run local`: serves the local AWS stack until Ctrl-C.
 *
 *   npm run local -- [--port 4566] [--host 127.0.0.1] [--state .rotor-local/state.json]
 *                    [--region us-east-1] [--schedule-seconds 60]
 *
 * Prints the endpoints and the `export` lines that point the AWS SDK (and rotor's CLI) at it.
 */
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { defaultFunctions, LOCAL_FUNCTION_TAGS } from './functions.js';
import type { RotationSettings } from './rotations.js';
import { type LocalStack, startLocalStack } from './stack.js';

const USAGE = `usage: npm run local -- [--port 4566] [--host 127.0.0.1] [--state <file>] [--region us-east-1] [--schedule-seconds 60]
                     [--attempts 3] [--backoff-ms 20] [--config-test-pending copy-of-current|empty]
  (the last three are inferences about Secrets Manager, not documented by AWS: see README, "The local stack")`;

/** What `npm run local` and `rotor local` take. */
export interface ServeOptions {
  readonly port: number;
  readonly host: string;
  readonly region: string;
  readonly stateFile?: string;
  /** How often due rotations start; 0 turns the schedule off. */
  readonly scheduleSeconds: number;
  /** The service behaviour that rests on inference (retries, the configuration test's AWSPENDING). */
  readonly rotation?: Partial<Pick<RotationSettings, 'attempts' | 'backoffMs' | 'configurationTestPending'>>;
}

/**
 * Starts the stack with rotor's rotation functions registered and returns it with the banner to
 * print (endpoints, functions, and the `export` lines). Shared by `npm run local` and `rotor local`.
 */
export async function serveLocalStack(options: ServeOptions): Promise<{ stack: LocalStack; banner: string }> {
  const stack = await startLocalStack({
    port: options.port,
    host: options.host,
    region: options.region,
    ...(options.stateFile === undefined ? {} : { stateFile: options.stateFile }),
    // 0 turns the schedule off; otherwise due rotations start as the real service starts them.
    ...(options.scheduleSeconds === 0 ? {} : { scheduleIntervalMs: options.scheduleSeconds * 1000 }),
    ...(options.rotation === undefined ? {} : { rotation: options.rotation }),
  });
  const functions = await defaultFunctions(stack);
  for (const [name, fn] of Object.entries(functions))
    stack.registerFunction(name, fn, LOCAL_FUNCTION_TAGS[name]);
  return { stack, banner: banner(stack, Object.keys(functions), options.stateFile) };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '4566' },
      host: { type: 'string', default: '127.0.0.1' },
      state: { type: 'string' },
      region: { type: 'string', default: 'us-east-1' },
      'schedule-seconds': { type: 'string', default: '60' },
      attempts: { type: 'string' },
      'backoff-ms': { type: 'string' },
      'config-test-pending': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const port = Number(values.port);
  const scheduleSeconds = Number(values['schedule-seconds']);
  const rotation = rotationFlags(values.attempts, values['backoff-ms'], values['config-test-pending']);
  if (
    !Number.isInteger(port) ||
    port < 0 ||
    port > 65_535 ||
    !(scheduleSeconds >= 0) ||
    rotation === undefined
  ) {
    console.error(USAGE);
    process.exitCode = 2;
    return;
  }

  const { stack, banner } = await serveLocalStack({
    port,
    host: values.host,
    region: values.region,
    ...(values.state === undefined ? {} : { stateFile: values.state }),
    scheduleSeconds,
    rotation,
  });
  console.log(banner);
  stopOnSignal(stack);
}

/** The inference settings from their flags, or undefined when one is not valid. */
export function rotationFlags(
  attempts: string | undefined,
  backoffMs: string | undefined,
  configTestPending: string | undefined,
): NonNullable<ServeOptions['rotation']> | undefined {
  const count = attempts === undefined ? undefined : Number(attempts);
  const pause = backoffMs === undefined ? undefined : Number(backoffMs);
  if (count !== undefined && !(Number.isInteger(count) && count >= 1 && count <= 20)) return undefined;
  if (pause !== undefined && !(Number.isInteger(pause) && pause >= 0 && pause <= 600_000)) return undefined;
  if (
    configTestPending !== undefined &&
    configTestPending !== 'copy-of-current' &&
    configTestPending !== 'empty'
  ) {
    return undefined;
  }
  return {
    ...(count === undefined ? {} : { attempts: count }),
    ...(pause === undefined ? {} : { backoffMs: pause }),
    ...(configTestPending === undefined ? {} : { configurationTestPending: configTestPending }),
  };
}

function banner(stack: LocalStack, functions: readonly string[], stateFile: string | undefined): string {
  const lines = [
    `rotor local AWS stack on ${stack.endpoint} (region ${stack.region}, account ${stack.accountId})`,
    `  Secrets Manager  ${stack.endpoint}`,
    `  EventBridge      ${stack.endpoint}`,
    `  events           ${stack.endpoint}/_rotor/events`,
    `  rotations        ${stack.endpoint}/_rotor/rotations`,
    `  state file       ${stateFile ?? '(none: state is lost on exit)'}`,
    `  functions        ${functions.length === 0 ? '(none registered)' : functions.map((name) => stack.functionArn(name)).join(', ')}`,
    '',
    'Point the AWS SDK at it:',
    ...Object.entries(stack.env).map(([name, value]) => `export ${name}=${value}`),
  ];
  return lines.join('\n');
}

function stopOnSignal(stack: LocalStack): void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping`);
    stack.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

// Run only as a script: `rotor local` imports serveLocalStack from here.
if (isEntryPoint(import.meta.url)) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}

/** Whether the module at `url` is the script Node was started with. */
function isEntryPoint(url: string): boolean {
  try {
    return process.argv[1] !== undefined && url === pathToFileURL(realpathSync(process.argv[1])).href;
  } catch {
    return false; // No script path (a REPL, `node -e`): imported, not run.
  }
}
