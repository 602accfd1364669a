/**
 * Bundling a function exactly as `osls package` does (serverless-esbuild with serverless.yml's
 * `custom.esbuild`), without osls: for the benchmark's cold-start figures and for the test that
 * runs the bundles themselves.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { type BuildOptions, type BuildResult, build, type Plugin } from 'esbuild';
import { parse } from 'yaml';

/** serverless-esbuild's own options, which it removes before calling esbuild. */
const PLUGIN_OPTIONS = new Set([
  'concurrency',
  'zipConcurrency',
  'exclude',
  'nativeZip',
  'packager',
  'packagePath',
  'watch',
  'keepOutputDirectory',
  'packagerOptions',
  'installExtraArgs',
  'outputFileExtension',
  'outputBuildFolder',
  'outputWorkFolder',
  'nodeExternals',
  'skipBuild',
  'skipRebuild',
  'skipBuildExcludeFns',
  'stripEntryResolveExtensions',
  'disposeContext',
  'config',
  // A path to a file exporting the plugins: serverless-esbuild requires it (below: the same).
  'plugins',
]);

export interface ServerlessFunctions {
  /** What Lambda runs the bundles on, e.g. `nodejs22.x arm64`. */
  runtime: string;
  /** The esbuild options serverless-esbuild passes on. */
  esbuildOptions: BuildOptions;
  /** Function name → its source entry (relative to the root), e.g. `lambda/postgres.ts`. */
  functions: Record<string, string>;
}

interface ServerlessFile {
  provider?: { runtime?: string; architecture?: string };
  custom?: { esbuild?: Record<string, unknown> };
  functions?: Record<string, { handler?: string }>;
}

/** Reads serverless.yml: the esbuild options and each function's entry file. */
export async function readServerlessFunctions(root: string): Promise<ServerlessFunctions> {
  const file = parse(await readFile(join(root, 'serverless.yml'), 'utf8')) as ServerlessFile;
  const fromFile = file.custom?.esbuild ?? {};
  const exclude = Array.isArray(fromFile.exclude) ? (fromFile.exclude as string[]) : [];
  const options = Object.fromEntries(Object.entries(fromFile).filter(([key]) => !PLUGIN_OPTIONS.has(key)));
  const external = [
    ...(Array.isArray(fromFile.external) ? (fromFile.external as string[]) : []),
    ...(exclude.includes('*') ? [] : exclude),
  ];
  const functions: Record<string, string> = {};
  for (const [name, fn] of Object.entries(file.functions ?? {})) {
    const handler = fn.handler ?? '';
    const base = handler.slice(0, handler.lastIndexOf('.'));
    const entry = ['.ts', '.js', '.mjs']
      .map((ext) => `${base}${ext}`)
      .find((path) => existsSync(join(root, path)));
    if (entry === undefined)
      throw new Error(`serverless.yml: no source file for handler "${handler}" of ${name}`);
    functions[name] = entry;
  }
  const plugins =
    typeof fromFile.plugins === 'string'
      ? (createRequire(join(root, 'package.json'))(join(root, fromFile.plugins)) as Plugin[])
      : [];
  return {
    runtime: `${file.provider?.runtime ?? '?'} ${file.provider?.architecture ?? 'x86_64'}`,
    esbuildOptions: { ...(options as BuildOptions), external, plugins },
    functions,
  };
}

/** Bundles one entry with the serverless.yml options into `outfile`. */
export function bundleFunction(
  root: string,
  config: ServerlessFunctions,
  entry: string,
  outfile: string,
): Promise<BuildResult<{ metafile: true }>> {
  return build({
    ...config.esbuildOptions,
    entryPoints: [join(root, entry)],
    outfile,
    absWorkingDir: root,
    metafile: true,
    logLevel: 'silent',
  });
}
