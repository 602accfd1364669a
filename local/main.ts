/**
 * `npm run local`: serves the local AWS stack until Ctrl-C.
 *
 *   npm run local -- [--port 4566] [--host 127.0.0.1] [--state .rotor-local/state.json]
 *                    [--region us-east-1] [--schedule-seconds 60]
 *
 * Prints the endpoints and the `export` lines that point the AWS SDK (and rotor's CLI) at it.
 */
import { parseArgs } from 'node:util';
import { defaultFunctions } from './functions.js';
import { type LocalStack, startLocalStack } from './stack.js';

const USAGE = `usage: npm run local -- [--port 4566] [--host 127.0.0.1] [--state <file>] [--region us-east-1] [--schedule-seconds 60]`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '4566' },
      host: { type: 'string', default: '127.0.0.1' },
      state: { type: 'string' },
      region: { type: 'string', default: 'us-east-1' },
      'schedule-seconds': { type: 'string', default: '60' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const port = Number(values.port);
  const scheduleSeconds = Number(values['schedule-seconds']);
  if (!Number.isInteger(port) || port < 0 || port > 65_535 || !(scheduleSeconds >= 0)) {
    console.error(USAGE);
    process.exitCode = 2;
    return;
  }

  const stack = await startLocalStack({
    port,
    host: values.host,
    region: values.region,
    ...(values.state === undefined ? {} : { stateFile: values.state }),
    // 0 turns the schedule off; otherwise due rotations start as the real service starts them.
    ...(scheduleSeconds === 0 ? {} : { scheduleIntervalMs: scheduleSeconds * 1000 }),
  });
  const functions = await defaultFunctions(stack);
  for (const [name, fn] of Object.entries(functions)) stack.registerFunction(name, fn);

  printBanner(stack, Object.keys(functions), values.state);
  stopOnSignal(stack);
}

function printBanner(stack: LocalStack, functions: readonly string[], stateFile: string | undefined): void {
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
  console.log(lines.join('\n'));
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

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
