/**
 * `npm run bench`: what a rotation costs and how it scales (issue 11). Not a test: CI does not
 * run it. Everything printed is measured in the run; `--help` lists the flags, `--quick` checks
 * the harness in about a minute.
 *
 * 1. Per rotation (rotations.ts): each engine and strategy rotated through RotateSecret on the local
 *    stack against a real server, one rotation at a time, by a warm and by a cold function.
 * 2. Cold start (coldStart.ts): each function of serverless.yml bundled, weighed and imported.
 * 3. Scale (scale.ts): many secrets rotated with `--concurrency` rotations in flight.
 * Then the issue's targets are judged on the figures (targets.ts).
 *
 * Progress goes to stderr; the report to stdout and bench/results/<date>.json (`-quick.json`
 * for --quick). The run exits 1 when a rotation failed or a rotated credential did not log in.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Config, readConfig } from '../handlers/config.js';
import { scramSha256Verifier } from '../rotators/postgres/scram.js';
import { measureColdStart } from './coldStart.js';
import { startApiKeyFixture } from './fixtures/apikey.js';
import { type Case, type EngineFixture, newPassword } from './fixtures/fixture.js';
import { startMysqlFixture } from './fixtures/mysql.js';
import { startPostgresFixture } from './fixtures/postgres.js';
import { describeMachine } from './machine.js';
import { Meter } from './meter.js';
import { type BenchOptions, parseOptions, USAGE, UsageError } from './options.js';
import {
  defaultPython,
  type ReferenceFlavour,
  type ReferenceRuntime,
  referenceProblem,
  startReferenceRuntime,
} from './reference.js';
import { formatReport } from './report.js';
import { measureInterleaved, type StrategyResult } from './rotations.js';
import { runScale, type ScaleResult } from './scale.js';
import { median } from './stats.js';
import { type BenchResults, evaluateTargets } from './targets.js';
import { startWorld, type World } from './world.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** API-key secrets per provider account in the scale runs (a description allows 1000 live keys). */
const SECRETS_PER_ACCOUNT = 100;

/** `2025-11-25T18-05-12`: a date that sorts, and is a valid file name everywhere. */
const fileDate = (date: Date) => date.toISOString().replace(/:/g, '-').slice(0, 19);

const progress = (message: string) => process.stderr.write(`[bench] ${message}\n`);

/**
 * The functions' stdout (Powertools logs and EMF metrics, as deployed) is counted and dropped
 * while they run, so that the report stays readable and the cost of producing it is still paid.
 */
function captureStdout(): { lines: number; bytes: number; restore(): void } {
  const original = process.stdout.write.bind(process.stdout);
  const captured = {
    lines: 0,
    bytes: 0,
    restore: () => {
      process.stdout.write = original;
    },
  };
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    captured.bytes += Buffer.byteLength(text);
    captured.lines += text.split('\n').length - 1;
    const callback = rest.find((arg) => typeof arg === 'function') as (() => void) | undefined;
    callback?.();
    return true;
  }) as typeof process.stdout.write;
  return captured;
}

function functionConfig(options: BenchOptions): Config {
  return readConfig(
    options.functionLogs
      ? { ROTOR_LOG_LEVEL: 'INFO', ROTOR_METRICS: 'on' }
      : { ROTOR_LOG_LEVEL: 'SILENT', ROTOR_METRICS: 'off' },
  );
}

/** Median time of one SCRAM verifier, the CPU work the PostgreSQL function does for a new password. */
function measureScram(runs = 21): number {
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const password = newPassword();
    const started = performance.now();
    scramSha256Verifier(password);
    samples.push(performance.now() - started);
  }
  return median(samples);
}

interface Session {
  results: BenchResults;
  cleanups: (() => Promise<void>)[];
  failed: boolean;
}

async function perRotation(session: Session, options: BenchOptions, meter: Meter, config: Config) {
  const { results } = session;
  const fixtures: EngineFixture[] = [];
  for (const engine of options.engines) {
    progress(`starting ${engine}`);
    try {
      const fixture =
        engine === 'postgres'
          ? await startPostgresFixture(meter, options.tlsKey)
          : engine === 'mysql'
            ? await startMysqlFixture(meter, options.tlsKey)
            : await startApiKeyFixture(meter);
      session.cleanups.push(() => fixture.close());
      results.servers[engine] = fixture.server;
      fixtures.push(fixture);
    } catch (error) {
      results.skipped.push(`${engine}: could not start its target (${(error as Error).message})`);
    }
  }
  const world = await startWorld({ meter, config, detailed: true });
  session.cleanups.push(() => world.close());
  const reference = referenceRuntime(session, options, world);
  const strategies: StrategyResult[] = [];
  const referenceResults: StrategyResult[] = [];
  const rotationsRun = { count: 0 };
  const output = options.functionLogs ? captureStdout() : undefined;
  try {
    for (const fixture of fixtures) {
      const warm = world.register(`bench-${fixture.engine}-warm`, fixture.rotators, 'warm');
      const cold = world.register(`bench-${fixture.engine}-cold`, fixture.rotators, 'cold');
      // The variants of one strategy (plaintext, TLS) are measured together, rotation by rotation.
      const groups = new Map<string, Case[]>();
      for (const kase of await fixture.cases(world)) {
        groups.set(kase.strategy, [...(groups.get(kase.strategy) ?? []), kase]);
      }
      // AWS's single-user function, in turn with rotor's single-user cases (warm container only).
      const referenceCases = await referenceCasesOf(session, fixture, world, reference);
      for (const kases of groups.values()) {
        let failed = false;
        for (const [container, functionArn, rotations, warmup] of [
          ['warm', warm, options.rotations, options.warmup],
          ['cold', cold, options.coldRotations, 0],
        ] as const) {
          // After a failure the secret's AWSPENDING is stuck (nothing retries it): go on with the next.
          if (rotations === 0 || failed) continue;
          const first = kases[0] as Case;
          const measured =
            container === 'warm' && first.strategy === 'single-user' ? [...kases, ...referenceCases] : kases;
          progress(
            `${first.engine} ${first.strategy} (${measured.map((k) => `${k.implementation === 'aws-reference' ? 'AWS reference ' : ''}${k.transport}`).join(', ')}, interleaved), ${container} container: ${warmup} + ${rotations} rotations each`,
          );
          const results = await measureInterleaved({
            world,
            meter,
            fixture,
            kases: measured,
            functionArn,
            container,
            warmup,
            rotations,
          });
          for (const result of results) {
            if (result.implementation === 'aws-reference') {
              referenceResults.push(result);
              if (result.failure !== undefined || result.verified !== 'ok') session.failed = true;
              continue;
            }
            rotationsRun.count += warmup + result.rotations;
            strategies.push(result);
            if (result.failure !== undefined) failed = true;
            if (result.failure !== undefined || result.verified !== 'ok') session.failed = true;
          }
        }
      }
    }
  } finally {
    output?.restore();
  }
  if (options.reference !== undefined) {
    results.reference = {
      dir: options.reference,
      python: options.referencePython ?? defaultPython(),
      strategies: referenceResults,
    };
  }
  results.rotation = {
    strategies,
    ...(options.engines.includes('postgres') ? { scramVerifierMs: measureScram() } : {}),
    ...(output === undefined || rotationsRun.count === 0
      ? {}
      : {
          functionOutputPerRotation: {
            lines: output.lines / rotationsRun.count,
            bytes: output.bytes / rotationsRun.count,
          },
        }),
  };
}

/** AWS's reference functions, when `--reference` names a checkout. */
function referenceRuntime(
  session: Session,
  options: BenchOptions,
  world: World,
): ReferenceRuntime | undefined {
  if (options.reference === undefined) return undefined;
  const runtime = startReferenceRuntime({
    dir: options.reference,
    python: options.referencePython ?? defaultPython(),
    stack: world.stack,
  });
  session.cleanups.push(() => runtime.close());
  return runtime;
}

async function referenceCasesOf(
  session: Session,
  fixture: EngineFixture,
  world: World,
  reference: ReferenceRuntime | undefined,
): Promise<Case[]> {
  if (reference === undefined || fixture.referenceCases === undefined) return [];
  const flavour: ReferenceFlavour =
    fixture.engine === 'postgres' ? 'postgres' : /mariadb/i.test(fixture.server) ? 'mariadb' : 'mysql';
  const problem = referenceProblem(session.results.options.reference ?? '', flavour);
  if (problem !== undefined) {
    session.results.skipped.push(`AWS reference ${flavour}: ${problem}`);
    return [];
  }
  try {
    return await fixture.referenceCases(world, reference);
  } catch (error) {
    session.results.skipped.push(`AWS reference ${flavour}: could not start (${(error as Error).message})`);
    return [];
  }
}

async function scale(session: Session, options: BenchOptions, meter: Meter, config: Config) {
  const { results } = session;
  if (options.engines.includes('mysql')) {
    results.skipped.push('mysql: no scale run (the issue scales API keys and PostgreSQL)');
  }
  const runs: ScaleResult[] = [];
  results.scale = runs;
  const output = options.functionLogs ? captureStdout() : undefined;
  try {
    if (options.engines.includes('apikey')) {
      for (const secrets of options.scaleApiKey) {
        // Accounts of at most SECRETS_PER_ACCOUNT secrets, with room for each one's current and
        // previous key: the provider's key list (read twice per rotation) is as long in every run.
        const accounts = Math.ceil(secrets / SECRETS_PER_ACCOUNT);
        const perAccount = Math.ceil(secrets / accounts);
        const fixture = await startApiKeyFixture(meter, { accounts, maxLiveKeys: 2 * perAccount + 2 });
        const world = await startWorld({ meter, config, detailed: false });
        try {
          progress(`scale: ${secrets} API-key secrets, ${options.concurrency} in flight`);
          runs.push(await runScale({ world, fixture, secrets, concurrency: options.concurrency, meter }));
        } finally {
          await world.close();
          await fixture.close();
        }
      }
    }
    if (options.engines.includes('postgres')) {
      const fixture = await startPostgresFixture(meter, options.tlsKey);
      session.cleanups.push(() => fixture.close());
      results.servers.postgres ??= fixture.server;
      for (const secrets of options.scalePostgres) {
        const world = await startWorld({ meter, config, detailed: false });
        try {
          progress(`scale: ${secrets} PostgreSQL secrets, ${options.concurrency} in flight`);
          runs.push(await runScale({ world, fixture, secrets, concurrency: options.concurrency, meter }));
        } finally {
          await world.close();
        }
      }
    }
  } finally {
    output?.restore();
  }
  if (runs.some((run) => run.failures.length > 0 || run.notVerified > 0)) session.failed = true;
}

async function main(): Promise<number> {
  let options: BenchOptions | undefined;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`${error.message}\n\n${USAGE}\n`);
    return 2;
  }
  if (options === undefined) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const startedAt = new Date();
  const session: Session = {
    results: {
      startedAt: startedAt.toISOString(),
      finishedAt: '',
      options,
      machine: describeMachine(),
      servers: {},
      setup: [
        'local AWS stack (local/stack.ts) in this process, real SDK v3 clients over HTTP on 127.0.0.1; rotations are not retried (attempts: 1)',
        `functions: rotor's step machine (handlers/createHandler.ts) with events on, logs ${options.functionLogs ? 'INFO and EMF metrics on (output counted, not printed)' : 'and metrics off'}`,
        `TLS: the servers present ${options.tlsKey === 'rsa' ? 'an RSA 2048' : 'an ECDSA P-256'} certificate from a test CA${options.tlsKey === 'rsa' ? ' (as RDS does with its default CA, rds-ca-rsa2048-g1)' : ''}`,
        ...(options.reference === undefined
          ? []
          : [
              `AWS reference functions from ${options.reference}, each in one warm Python process (bench/reference/harness.py), SECRETS_MANAGER_ENDPOINT = the local stack; their TLS trusts this machine's CA bundle plus the test CA instead of Lambda's /etc/pki/tls/cert.pem`,
            ]),
      ],
      skipped: [],
      targets: [],
    },
    cleanups: [],
    failed: false,
  };
  const { results } = session;
  let cleaning: Promise<void> | undefined;
  const cleanUp = () => {
    cleaning ??= (async () => {
      for (const cleanup of session.cleanups.reverse()) await cleanup().catch(() => undefined);
    })();
    return cleaning;
  };
  process.once('SIGINT', () => {
    progress('interrupted: dropping what the run created');
    void cleanUp().finally(() => process.exit(130));
  });

  try {
    if (options.parts.includes('coldstart')) {
      // First, while no server of the benchmark runs.
      progress(`cold start: bundling and importing each function (${options.importRuns} runs)`);
      results.coldStart = await measureColdStart(ROOT, options.importRuns);
    }
    const meter = new Meter();
    meter.countSecureContexts();
    const config = functionConfig(options);
    if (options.parts.includes('rotation')) await perRotation(session, options, meter, config);
    if (options.parts.includes('scale')) await scale(session, options, meter, config);
  } finally {
    await cleanUp();
  }

  results.finishedAt = new Date().toISOString();
  results.targets = evaluateTargets(results);
  process.stdout.write(`${formatReport(results)}\n`);
  const file =
    options.out ??
    join(ROOT, 'bench', 'results', `${fileDate(startedAt)}${options.quick ? '-quick' : ''}.json`);
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(`\nresults: ${file}\n`);
  return session.failed ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`bench failed: ${(error as Error).stack ?? String(error)}\n`);
    process.exitCode = 1;
  },
);
