/**
 * `npm run build:cli` (and `prepack`): bundles the CLI into one JavaScript file, dist/cli.mjs, so
 * the installed package runs on Node alone: no tsx, no TypeScript sources, no dependencies to
 * install. cli/rotor.mjs (the `rotor` executable) runs it where the sources are absent. Next to it,
 * dist/THIRD-PARTY-LICENSES.txt carries the license of every package the bundle contains (their
 * licenses ask that copies keep the notice).
 *
 * The bundle lives in dist/ at the package root because cli/main.ts reads its version from
 * `../package.json` relative to itself. Only Node's own modules stay outside the bundle: the build
 * fails when anything else would have to be installed next to it.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Metafile } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));

/** Where the bundle is written, relative to the package root (cli/rotor.mjs imports it). */
const CLI_BUNDLE = 'dist/cli.mjs';
const LICENSES = 'dist/THIRD-PARTY-LICENSES.txt';

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

/** The folders of the packages whose files went into the bundle, e.g. `node_modules/pg`. */
function bundledPackages(metafile: Metafile): string[] {
  const folders = new Set<string>();
  for (const input of Object.keys(metafile.inputs)) {
    const at = input.lastIndexOf('node_modules/');
    if (at === -1) continue;
    const parts = input.slice(at + 'node_modules/'.length).split('/');
    const name = parts[0]?.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
    folders.add(`${input.slice(0, at)}node_modules/${name}`);
  }
  return [...folders];
}

/** Each bundled package's name, version, license and license file(s), as one text. */
async function licenseNotices(folders: readonly string[]): Promise<string> {
  const notices = await Promise.all(
    folders.map(async (folder) => {
      const dir = join(root, folder);
      const pkg = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as {
        name: string;
        version: string;
        license?: string;
      };
      const files = (await readdir(dir))
        .filter((file) => /^(licen[cs]e|copying|notice)(\..*)?$/i.test(file))
        .sort();
      const texts = await Promise.all(files.map((file) => readFile(join(dir, file), 'utf8')));
      const heading = `${pkg.name}@${pkg.version} (${pkg.license ?? 'no license field'})`;
      const body =
        texts.length > 0
          ? texts.map((text) => text.trim()).join('\n\n')
          : '(the package ships no license file)';
      return { name: pkg.name, text: `${heading}\n\n${body}` };
    }),
  );
  const rule = `\n\n${'-'.repeat(78)}\n\n`;
  return `${[
    `rotor's CLI bundle (${CLI_BUNDLE}) contains these ${notices.length} packages; their licenses follow.`,
    ...notices.sort((a, b) => a.name.localeCompare(b.name)).map((notice) => notice.text),
  ].join(rule)}\n`;
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
await writeFile(join(root, LICENSES), await licenseNotices(bundledPackages(result.metafile)));
const bytes = Object.values(result.metafile.outputs).reduce((sum, output) => sum + output.bytes, 0);
console.log(`${CLI_BUNDLE}: ${(bytes / 1024 / 1024).toFixed(1)} MB`);
