/**
 * The benchmark's command-line flags. Sizes and concurrency are flags so that the harness can be
 * checked quickly on a busy machine (`--quick`) and run in full on a quiet one.
 */
import { parseArgs } from 'node:util';

export const PARTS = ['rotation', 'coldstart', 'scale'] as const;
export type Part = (typeof PARTS)[number];

export const ENGINES = ['postgres', 'mysql', 'apikey'] as const;
export type Engine = (typeof ENGINES)[number];

export interface BenchOptions {
  quick: boolean;
  parts: readonly Part[];
  engines: readonly Engine[];
  /** Measured rotations per strategy, warm container. */
  rotations: number;
  /** Rotations per strategy run first and left out of the figures (JIT, first connections). */
  warmup: number;
  /** Measured rotations per strategy with a fresh handler per step (cold container). */
  coldRotations: number;
  /** Fresh Node processes per bundle (and as many bare `node -e 0` runs). */
  importRuns: number;
  /** Rotations in flight at once in the scale runs. */
  concurrency: number;
  /** Secret counts of the API-key scale runs. */
  scaleApiKey: readonly number[];
  /** Secret counts of the PostgreSQL scale runs. */
  scalePostgres: readonly number[];
  /** Whether the functions log (INFO) and emit metrics as deployed; their output is counted, not printed. */
  functionLogs: boolean;
  /** Where the JSON goes; default bench/results/<date>.json. */
  out?: string;
  /**
   * A checkout of github.com/aws-samples/aws-secrets-manager-rotation-lambdas: its single-user
   * PostgreSQL and MariaDB functions are rotated side by side with rotor's (bench/reference.ts).
   */
  reference?: string;
  /** The Python that runs them (with boto3, PyMySQL, PyGreSQL). */
  referencePython?: string;
  /** Key type of the test certificates the servers present. */
  tlsKey: 'rsa' | 'ecdsa';
}

export const USAGE = `npm run bench -- [flags]

  --quick                 small sizes, to check the harness (about a minute)
  --only <parts>          comma list of ${PARTS.join(', ')} (default: all)
  --engines <engines>     comma list of ${ENGINES.join(', ')} (default: all)
  --rotations <n>         measured rotations per strategy, warm container (default 50)
  --warmup <n>            unmeasured rotations per strategy first (default 3)
  --cold-rotations <n>    measured rotations per strategy, fresh handler per step (default 20)
  --import-runs <n>       fresh Node processes per bundle for the import time (default 15)
  --concurrency <n>       rotations in flight at once in the scale runs (default 8; PostgreSQL's
                          max_connections of 100 allows about 45)
  --scale-apikey <list>   API-key secret counts (default 10,100,1000)
  --scale-postgres <list> PostgreSQL secret counts (default 10,100,200)
  --function-logs <on|off> functions log and emit metrics as deployed, output swallowed (default on)
  --out <file>            JSON output (default bench/results/<date>.json)
  --reference <dir>       a checkout of github.com/aws-samples/aws-secrets-manager-rotation-lambdas:
                          its single-user PostgreSQL and MariaDB functions are rotated too, in turn
                          with rotor's, on the same servers and endpoint (needs Python 3 with boto3,
                          PyMySQL and PyGreSQL: apt-get install python3-boto3 python3-pymysql
                          python3-pygresql)
  --reference-python <bin> the Python for --reference (default /usr/bin/python3 when present)
  --tls-key <rsa|ecdsa>   key type of the servers' test certificates (default rsa: RDS's default CA,
                          rds-ca-rsa2048-g1; ecdsa: P-256)
  --help`;

const FULL = {
  rotations: 50,
  warmup: 3,
  coldRotations: 20,
  importRuns: 15,
  concurrency: 8,
  scaleApiKey: [10, 100, 1000],
  scalePostgres: [10, 100, 200],
};

const QUICK = {
  rotations: 5,
  warmup: 1,
  coldRotations: 2,
  importRuns: 5,
  concurrency: 4,
  scaleApiKey: [10, 50],
  scalePostgres: [10],
};

export class UsageError extends Error {
  override name = 'UsageError';
}

function count(flag: string, raw: string | undefined, fallback: number, min: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > 100_000) {
    throw new UsageError(`--${flag} must be an integer from ${min} to 100000, not "${raw}"`);
  }
  return value;
}

function counts(flag: string, raw: string | undefined, fallback: readonly number[]): readonly number[] {
  if (raw === undefined) return fallback;
  const values = raw.split(',').map((item) => count(flag, item.trim(), 0, 1));
  if (values.length === 0) throw new UsageError(`--${flag} must list at least one secret count`);
  return values;
}

function choices<T extends string>(flag: string, raw: string | undefined, all: readonly T[]): readonly T[] {
  if (raw === undefined) return all;
  const picked = raw.split(',').map((item) => item.trim());
  for (const item of picked) {
    if (!(all as readonly string[]).includes(item)) {
      throw new UsageError(`--${flag} takes a comma list of ${all.join(', ')}, not "${item}"`);
    }
  }
  return all.filter((item) => picked.includes(item));
}

/** Parses argv; returns `undefined` when help was asked for. Throws UsageError on a bad flag. */
export function parseOptions(argv: readonly string[]): BenchOptions | undefined {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values } = parsed;
  if (values.help) return undefined;
  const quick = values.quick === true;
  const base = quick ? QUICK : FULL;
  const logs = values['function-logs'] ?? 'on';
  if (logs !== 'on' && logs !== 'off') throw new UsageError('--function-logs must be "on" or "off"');
  const tlsKey = values['tls-key'] ?? 'rsa';
  if (tlsKey !== 'rsa' && tlsKey !== 'ecdsa') throw new UsageError('--tls-key must be "rsa" or "ecdsa"');
  return {
    quick,
    parts: choices('only', values.only, PARTS),
    engines: choices('engines', values.engines, ENGINES),
    rotations: count('rotations', values.rotations, base.rotations, 1),
    warmup: count('warmup', values.warmup, base.warmup, 0),
    coldRotations: count('cold-rotations', values['cold-rotations'], base.coldRotations, 0),
    importRuns: count('import-runs', values['import-runs'], base.importRuns, 1),
    concurrency: count('concurrency', values.concurrency, base.concurrency, 1),
    scaleApiKey: counts('scale-apikey', values['scale-apikey'], base.scaleApiKey),
    scalePostgres: counts('scale-postgres', values['scale-postgres'], base.scalePostgres),
    functionLogs: logs === 'on',
    ...(values.out === undefined ? {} : { out: values.out }),
    ...(values.reference === undefined ? {} : { reference: values.reference }),
    ...(values['reference-python'] === undefined ? {} : { referencePython: values['reference-python'] }),
    tlsKey,
  };
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: false,
    options: {
      quick: { type: 'boolean' },
      only: { type: 'string' },
      engines: { type: 'string' },
      rotations: { type: 'string' },
      warmup: { type: 'string' },
      'cold-rotations': { type: 'string' },
      'import-runs': { type: 'string' },
      concurrency: { type: 'string' },
      'scale-apikey': { type: 'string' },
      'scale-postgres': { type: 'string' },
      'function-logs': { type: 'string' },
      out: { type: 'string' },
      reference: { type: 'string' },
      'reference-python': { type: 'string' },
      'tls-key': { type: 'string' },
      help: { type: 'boolean' },
    },
  });
}
