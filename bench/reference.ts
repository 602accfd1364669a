/**
 * AWS's reference rotation functions (github.com/aws-samples/aws-secrets-manager-rotation-lambdas),
 * run side by side with rotor's on the same servers and the same local Secrets Manager endpoint.
 *
 * Their code is not part of rotor: `--reference DIR` names a checkout of that repository, and each
 * function used runs in a warm Python process of its own (bench/reference/harness.py: imported
 * once, `lambda_handler` called per step, as a warm Lambda container runs it), with the endpoint
 * in `SECRETS_MANAGER_ENDPOINT`, the variable their code reads. Their TLS trusts
 * `/etc/pki/tls/cert.pem` (Amazon Linux's bundle on Lambda); the harness hands the driver a file
 * with this machine's CA bundle and the benchmark's test CA instead, leaving every other option
 * (verify-full / host name check) as written.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { LocalStack, RotationFunction } from '../local/stack.js';

const HARNESS = resolve(dirname(fileURLToPath(import.meta.url)), 'reference', 'harness.py');

/** The reference function per engine flavour (single user: the secret logs in and changes its own password). */
export const REFERENCE_FUNCTIONS = {
  postgres: 'SecretsManagerRDSPostgreSQLRotationSingleUser',
  mariadb: 'SecretsManagerRDSMariaDBRotationSingleUser',
  mysql: 'SecretsManagerRDSMySQLRotationSingleUser',
} as const;
export type ReferenceFlavour = keyof typeof REFERENCE_FUNCTIONS;

/** Debian's python3 (where apt puts python3-boto3, -pymysql, -pygresql) when there, else `python3`. */
export function defaultPython(): string {
  return existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
}

/** Why `dir` is not a usable checkout for `flavour`, or `undefined`. */
export function referenceProblem(dir: string, flavour: ReferenceFlavour): string | undefined {
  const file = join(dir, REFERENCE_FUNCTIONS[flavour], 'lambda_function.py');
  return existsSync(file) ? undefined : `${file} not found`;
}

export interface ReferenceRuntime {
  /** A warm "container" for the flavour's function: started on first use, one per flavour. */
  function(flavour: ReferenceFlavour): Promise<RotationFunction>;
  /** Adds a test CA to the file the functions trust (functions started later trust it). */
  trust(caPem: string): void;
  close(): Promise<void>;
}

/** Where the CA bundle of this machine is (the functions' `/etc/pki/tls/cert.pem` stands for it). */
const SYSTEM_BUNDLES = ['/etc/ssl/certs/ca-certificates.crt', '/etc/pki/tls/cert.pem'];

export function startReferenceRuntime(options: {
  dir: string;
  python: string;
  stack: LocalStack;
}): ReferenceRuntime {
  const extraCas: string[] = [];
  const processes: ChildProcess[] = [];
  const started = new Map<ReferenceFlavour, Promise<RotationFunction>>();
  let workDir: Promise<string> | undefined;

  /** The CA file of one function: the machine's bundle and every test CA trusted so far. */
  const caFile = async (flavour: ReferenceFlavour) => {
    workDir ??= mkdtemp(join(tmpdir(), 'rotor-bench-reference-'));
    const file = join(await workDir, `${flavour}-ca.pem`);
    const system = SYSTEM_BUNDLES.find((candidate) => existsSync(candidate));
    await writeFile(file, [system === undefined ? '' : readFileSync(system, 'utf8'), ...extraCas].join('\n'));
    return file;
  };

  const start = async (flavour: ReferenceFlavour): Promise<RotationFunction> => {
    const functionDir = join(options.dir, REFERENCE_FUNCTIONS[flavour]);
    const { env } = options.stack;
    const child = spawn(options.python, [HARNESS, functionDir], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        SECRETS_MANAGER_ENDPOINT: env.AWS_ENDPOINT_URL_SECRETS_MANAGER,
        AWS_DEFAULT_REGION: env.AWS_REGION,
        AWS_REGION: env.AWS_REGION,
        AWS_ACCESS_KEY_ID: env.AWS_ACCESS_KEY_ID,
        AWS_SECRET_ACCESS_KEY: env.AWS_SECRET_ACCESS_KEY,
        AWS_LAMBDA_FUNCTION_NAME: REFERENCE_FUNCTIONS[flavour],
        REFERENCE_CA_FILE: await caFile(flavour),
        PYTHONDONTWRITEBYTECODE: '1',
      },
    });
    processes.push(child);
    // The last lines of stderr (tracebacks, the functions' own warnings), for a failure's message.
    let stderrTail = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      stderrTail = (stderrTail + chunk).slice(-2000);
    });
    const pending = new Map<number, (answer: { ok: boolean; error?: string }) => void>();
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    let onReady: (() => void) | undefined;
    lines.on('line', (line) => {
      const answer = JSON.parse(line) as { ready?: boolean; id?: number; ok: boolean; error?: string };
      if (answer.ready) return onReady?.();
      const settle = pending.get(answer.id ?? -1);
      pending.delete(answer.id ?? -1);
      settle?.(answer);
    });
    await new Promise<void>((resolveReady, reject) => {
      onReady = resolveReady;
      child.once('exit', (code) =>
        reject(
          new Error(`${REFERENCE_FUNCTIONS[flavour]} exited (${code}) before it was ready: ${stderrTail}`),
        ),
      );
      child.once('error', reject);
    });
    // A process that dies after it was ready fails the calls it still owed (instead of leaving
    // the benchmark waiting for answers that never come).
    child.once('exit', (code) => {
      for (const settle of pending.values()) {
        settle({ ok: false, error: `${REFERENCE_FUNCTIONS[flavour]} exited (${code})` });
      }
      pending.clear();
    });
    let next = 0;
    return (event, context) => {
      const id = next++;
      return new Promise((resolveCall, reject) => {
        if (child.exitCode !== null || child.signalCode !== null) {
          reject(new Error(`${REFERENCE_FUNCTIONS[flavour]} has exited`));
          return;
        }
        pending.set(id, (answer) =>
          answer.ok ? resolveCall(undefined) : reject(new Error(answer.error ?? 'the function failed')),
        );
        child.stdin?.write(
          `${JSON.stringify({ id, event, timeoutMs: context.getRemainingTimeInMillis() })}\n`,
        );
      });
    };
  };

  return {
    trust(caPem) {
      extraCas.push(caPem);
    },
    function(flavour) {
      let fn = started.get(flavour);
      if (fn === undefined) {
        fn = start(flavour);
        started.set(flavour, fn);
      }
      return fn;
    },
    async close() {
      for (const child of processes) {
        child.stdin?.end();
        child.kill();
      }
      if (workDir !== undefined) await rm(await workDir, { recursive: true, force: true });
    },
  };
}
