/**
 * `npm run build:cli` (and `prepack`): bundles the CLI into one JavaScript file, dist/cli.mjs, so
 * the installed package runs on Node alone: no tsx, no TypeScript sources, no dependencies to
 * install. cli/rotor.mjs (the `rotor` executable) runs it where the sources are absent.
 *
 * The bundle lives in dist/ at the package root because cli/main.ts reads its version from
 * `../package.json` relative to itself. Only Node's own modules stay outside the bundle: the build
 * fails when anything else would have to be installed next to it.
 */
import { builtinModules } from 'node:module';
import { fileURLToPath } from 'node:url';
import { build, type Metafile } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));

/** Where the bundle is written, relative to the package root (cli/rotor.mjs imports it). */
const CLI_BUNDLE = 'dist/cli.mjs';

/**
 * What the bundle may import at run time without shipping it: Node's own modules, and `pg-native`,
 * which pg loads only when asked for its native binding (rotor never asks).
 */
const RUNTIME_PROVIDED = new Set([...builtinModules, 'pg-native']);

/** The bundle's imports that neither Node nor the bundle provides. */
function missingAtRunTime(metafile: Metafile): string[] {
  const external = Object.values(metafile.outputs).flatMap((output) =>
    output.imports.filter((entry) => entry.external).map((entry) => entry.path),
  );
  const provided = (path: string) => path.startsWith('node:') || RUNTIME_PROVIDED.has(path);
  return [...new Set(external.filter((path) => !provided(path)))].sort();
}

const result = await build({
  absWorkingDir: root,
  entryPoints: ['cli/main.ts'],
  outfile: CLI_BUNDLE,
  bundle: true,
  platform: 'node',
  format: 'esm',
  // package.json's `engines`.
  target: 'node20',
  // ES modules first (the SDK's dist-es), as serverless.yml builds the functions.
  mainFields: ['module', 'main'],
  // The bundled CommonJS packages (commander, pg, mysql2) call require() for Node's modules, which
  // an ES module does not have.
  banner: {
    js: "import { createRequire as rotorCreateRequire } from 'node:module';\nconst require = rotorCreateRequire(import.meta.url);",
  },
  // mysql2's character-set tables: the MySQL function's stand-in (rotor connects with utf8mb4).
  alias: { 'iconv-lite': './deploy/shims/iconv-lite.cjs' },
  legalComments: 'eof',
  metafile: true,
  logLevel: 'warning',
});

const missing = missingAtRunTime(result.metafile);
if (missing.length > 0) {
  console.error(
    `rotor: the CLI bundle would need ${missing.join(', ')} installed next to it: bundle them (or, if they must stay outside, list them in package.json "dependencies" and allow them here).`,
  );
  process.exit(1);
}
const bytes = Object.values(result.metafile.outputs).reduce((sum, output) => sum + output.bytes, 0);
console.log(`${CLI_BUNDLE}: ${(bytes / 1024 / 1024).toFixed(1)} MB`);
