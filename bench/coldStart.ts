/**
 * Part 2: what a cold start loads. Each function of serverless.yml is bundled with esbuild using
 * the options of the file's `custom.esbuild` (what serverless-esbuild passes on), weighed raw and
 * zipped as serverless-esbuild packs it, and imported in fresh Node processes.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import type { Metafile } from 'esbuild';
import { bundleFunction, readServerlessFunctions } from '../deploy/bundle.js';
import { median } from './stats.js';
import { zip } from './zip.js';

export interface Contributor {
  /** An npm package, or `rotor` for the repository's own code. */
  name: string;
  bytes: number;
}

export interface BundleResult {
  function: string;
  entry: string;
  rawBytes?: number;
  zipBytes?: number;
  /** Median wall time of `node -e "require(bundle)"` minus the median of `node -e 0`. */
  importMs?: number;
  /** Median time of the `require` call itself, measured inside the process. */
  requireMs?: number;
  /** The largest contributors to the bundle, by bytes in the output. */
  contributors?: Contributor[];
  error?: string;
}

export interface ColdStartResult {
  esbuildOptions: Record<string, unknown>;
  /** What Lambda runs the bundles on (serverless.yml), as opposed to the Node measured here. */
  lambdaRuntime: string;
  runs: number;
  /** Median wall time of a bare `node -e 0`. */
  nodeStartMs: number;
  bundles: BundleResult[];
}

/** `node_modules/@scope/name/...` → `@scope/name`; the repository's own files → `rotor`. */
function packageOf(path: string): string {
  const parts = path.split('/');
  const at = parts.lastIndexOf('node_modules');
  if (at === -1) return 'rotor';
  const first = parts[at + 1] ?? '?';
  return first.startsWith('@') ? `${first}/${parts[at + 2] ?? '?'}` : first;
}

function contributors(metafile: Metafile, limit = 5): Contributor[] {
  const bytes = new Map<string, number>();
  for (const output of Object.values(metafile.outputs)) {
    for (const [path, input] of Object.entries(output.inputs)) {
      const name = packageOf(path);
      bytes.set(name, (bytes.get(name) ?? 0) + input.bytesInOutput);
    }
  }
  return [...bytes]
    .map(([name, size]) => ({ name, bytes: size }))
    .sort((a, b) => b.bytes - a.bytes)
    .slice(0, limit);
}

/** Wall time of one fresh Node process, and what it printed. */
function timeNode(args: readonly string[]): { ms: number; stdout: string } {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
  const started = performance.now();
  const result = spawnSync(process.execPath, args, {
    env,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const ms = performance.now() - started;
  if (result.status !== 0) {
    throw new Error(`node ${args[0]} ... exited with ${result.status}: ${result.stderr.slice(0, 300)}`);
  }
  return { ms, stdout: result.stdout };
}

/** Requires the bundle, checks it exports a handler, prints how long the require took. */
const IMPORT_SCRIPT = [
  'const started = performance.now();',
  'const exported = require(process.argv[1]);',
  'const ms = performance.now() - started;',
  "if (typeof exported.handler !== 'function') process.exit(3);",
  'process.stdout.write(String(ms));',
].join('');

export async function measureColdStart(root: string, runs: number): Promise<ColdStartResult> {
  const config = await readServerlessFunctions(root);

  const out = await mkdtemp(join(tmpdir(), 'rotor-bench-bundles-'));
  const bundles: BundleResult[] = [];
  const nodeStart: number[] = [];
  try {
    for (const [name, entry] of Object.entries(config.functions)) {
      const outfile = join(out, `${entry.slice(0, entry.lastIndexOf('.'))}.js`);
      try {
        const result = await bundleFunction(root, config, entry, outfile);
        const data = await readFile(outfile);
        const archive = zip([{ name: relative(out, outfile), data }]);
        await writeFile(`${outfile}.zip`, archive);
        bundles.push({
          function: name,
          entry,
          rawBytes: (await stat(outfile)).size,
          zipBytes: archive.length,
          contributors: contributors(result.metafile),
        });
      } catch (error) {
        bundles.push({
          function: name,
          entry,
          error: `esbuild failed: ${(error as Error).message.slice(0, 300)}`,
        });
      }
    }

    const built = bundles.filter((bundle) => bundle.error === undefined);
    const walls = new Map<BundleResult, number[]>(built.map((bundle) => [bundle, []]));
    const requires = new Map<BundleResult, number[]>(built.map((bundle) => [bundle, []]));
    const pathOf = (bundle: BundleResult) =>
      join(out, `${bundle.entry.slice(0, bundle.entry.lastIndexOf('.'))}.js`);
    // One unmeasured round first (the files into the page cache), then rounds that interleave the
    // bare start-up with every bundle, so that drift in the machine's load hits all alike.
    for (let round = -1; round < runs; round++) {
      const bare = timeNode(['-e', '0']);
      if (round >= 0) nodeStart.push(bare.ms);
      for (const bundle of built) {
        try {
          const run = timeNode(['-e', IMPORT_SCRIPT, pathOf(bundle)]);
          if (round >= 0) {
            walls.get(bundle)?.push(run.ms);
            requires.get(bundle)?.push(Number(run.stdout));
          }
        } catch (error) {
          bundle.error = `import failed: ${(error as Error).message}`;
        }
      }
    }
    const nodeStartMs = median(nodeStart);
    for (const bundle of built) {
      if (bundle.error !== undefined) continue;
      bundle.importMs = median(walls.get(bundle) ?? []) - nodeStartMs;
      bundle.requireMs = median(requires.get(bundle) ?? []);
    }
    return {
      esbuildOptions: config.esbuildOptions as Record<string, unknown>,
      lambdaRuntime: config.runtime,
      runs,
      nodeStartMs,
      bundles,
    };
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}
