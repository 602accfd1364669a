/**
 * The CLI as an on-call laptop gets it, with no checkout: `npm pack`, the tarball installed into an
 * empty folder outside the repository and globally into a prefix of its own (offline: the package
 * needs nothing but itself), and the installed `rotor` run by Node alone (no tsx, no TypeScript
 * sources, no node_modules of the repository within reach) against the local stack.
 */
import { execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeTarget } from '../../rotators/fake/client.js';
import { createFakeRotator } from '../../rotators/fake/index.js';
import { type RotationHarness, startRotationHarness } from '../support/rotation.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const COMMANDS = ['attach', 'status', 'rotate', 'preflight', 'heal', 'replicate', 'history', 'local'];

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * The environment of a fresh shell: none of the `npm_*` settings `npm test` passes down, no
 * NODE_OPTIONS or NODE_PATH (no loader, no module path into the repository), no AWS settings of the
 * machine; Node first on PATH.
 */
function shellEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (/^(npm_|aws_|node_options$|node_path$)/i.test(name)) continue;
    env[name] = value;
  }
  env.PATH = [dirname(process.execPath), process.env.PATH ?? ''].join(delimiter);
  return { ...env, ...extra };
}

function exec(file: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      { cwd, env, timeout: 45_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Every file under `dir`, as paths relative to it with `/`. */
async function filesUnder(dir: string, prefix = ''): Promise<string[]> {
  const files: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.isDirectory())
      files.push(...(await filesUnder(join(dir, entry.name), `${prefix}${entry.name}/`)));
    else files.push(`${prefix}${entry.name}`);
  }
  return files;
}

describe('rotor, packed and installed', () => {
  const targets = new Map<string, FakeTarget>();
  let work: string;
  let app: string;
  let rotor: string;
  let h: RotationHarness;
  let installed: Ran;
  let tarballPath: string;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'rotor-pack-'));
    const packDir = join(work, 'pack');
    app = join(work, 'app');
    await mkdir(packDir);
    await mkdir(app);
    // `npm pack` runs `prepack`, which builds the bundle (even where npm is set to ignore scripts).
    const packed = await exec(
      'npm',
      ['pack', '--ignore-scripts=false', '--pack-destination', packDir],
      ROOT,
      shellEnv(),
    );
    if (packed.code !== 0) throw new Error(`npm pack failed:\n${packed.stderr}`);
    const tarball = (await readdir(packDir)).find((file) => file.endsWith('.tgz'));
    if (tarball === undefined) throw new Error('npm pack wrote no tarball');
    tarballPath = join(packDir, tarball);
    installed = await exec(
      'npm',
      ['install', '--offline', '--no-audit', '--no-fund', '--prefix', app, tarballPath],
      app,
      shellEnv(),
    );
    rotor = join(app, 'node_modules', '.bin', 'rotor');
    h = await startRotationHarness({ rotators: [createFakeRotator(targets)] });
  });

  afterAll(async () => {
    await h?.close();
    if (work !== undefined) await rm(work, { recursive: true, force: true });
  });

  /** Runs the installed `rotor` from the empty folder, pointed at the local stack. */
  function installedRotor(...argv: string[]): Promise<Ran> {
    const env = shellEnv({
      ...h.stack.env,
      // No profile or credentials of this machine.
      AWS_CONFIG_FILE: join(work, 'no-aws-config'),
      AWS_SHARED_CREDENTIALS_FILE: join(work, 'no-aws-credentials'),
      NO_COLOR: '1',
    });
    return exec(rotor, argv, app, env);
  }

  it('installs offline from the tarball alone: no dependency to fetch', async () => {
    // Act: the install ran in beforeAll (every test uses it); read what it left.
    const modules = (await readdir(join(app, 'node_modules'))).filter((entry) => !entry.startsWith('.'));
    const manifest = JSON.parse(
      await readFile(join(app, 'node_modules', 'rotor', 'package.json'), 'utf8'),
    ) as {
      dependencies?: Record<string, string>;
    };

    // Assess
    expect(installed, installed.stderr).toMatchObject({ code: 0 });
    expect(modules).toEqual(['rotor']);
    expect(manifest.dependencies ?? {}).toEqual({});
  });

  it('installs globally (npm install -g) and runs from the global bin folder', async () => {
    // Prepare
    const prefix = join(work, 'global');

    // Act
    const install = await exec(
      'npm',
      ['install', '--global', '--offline', '--no-audit', '--no-fund', '--prefix', prefix, tarballPath],
      work,
      shellEnv(),
    );
    const version = await exec(join(prefix, 'bin', 'rotor'), ['--version'], work, shellEnv());

    // Assess
    expect(install, install.stderr).toMatchObject({ code: 0 });
    expect(version).toMatchObject({ code: 0, stderr: '' });
    expect(version.stdout).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('the tarball holds the executable, the bundle and its licenses, README and package.json: no sources, no tests', async () => {
    // Act
    const files = (await filesUnder(join(app, 'node_modules', 'rotor'))).sort();

    // Assess
    expect(files).toEqual([
      'README.md',
      'cli/rotor.mjs',
      'dist/THIRD-PARTY-LICENSES.txt',
      'dist/cli.mjs',
      'package.json',
    ]);
  });

  it('the licenses file names every bundled library with its license text', async () => {
    // Act
    const text = await readFile(
      join(app, 'node_modules', 'rotor', 'dist', 'THIRD-PARTY-LICENSES.txt'),
      'utf8',
    );

    // Assess
    for (const name of ['commander', 'pg', 'mysql2', '@aws-sdk/client-secrets-manager', 'valibot']) {
      const { version } = JSON.parse(
        await readFile(join(ROOT, 'node_modules', name, 'package.json'), 'utf8'),
      ) as {
        version: string;
      };
      expect(text).toContain(`\n${name}@${version} (`);
    }
    expect(text).toContain('Permission is hereby granted, free of charge');
    expect(text).toContain('Apache License');
  });

  it('the installed rotor prints its help, every command and its version', async () => {
    // Act
    const help = await installedRotor('--help');
    const version = await installedRotor('--version');

    // Assess
    expect(help).toMatchObject({ code: 0, stderr: '' });
    expect(help.stdout).toContain('Usage: rotor [options] [command]');
    for (const command of COMMANDS) expect(help.stdout).toMatch(new RegExp(`^ {2}${command} `, 'm'));
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(version).toEqual({ code: 0, stdout: `${pkg.version}\n`, stderr: '' });
  });

  it('the installed rotor ends quietly (exit 0) when its reader closes the pipe early, as `| head` does', async () => {
    // Prepare: the reading end is closed before rotor, still starting, writes anything.
    const child = spawn(rotor, ['--help'], {
      cwd: app,
      env: shellEnv({ NO_COLOR: '1' }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });

    // Act
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));

    // Assess
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
  });

  it('the installed rotor reads a rotated secret and its events from the local stack (history --json)', async () => {
    // Prepare: a secret rotated once by rotor's function in the stack.
    const target = new FakeTarget();
    const password = `initial-${randomUUID()}`;
    target.addAccount('app', password);
    const targetName = `target-${randomUUID()}`;
    targets.set(targetName, target);
    const name = `pack/${randomUUID()}`;
    await h.createSecret({ engine: 'fake', target: targetName, username: 'app', password }, name);
    await h.rotate(name);
    const labels = await h.labels(name);

    // Act
    const result = await installedRotor('history', name, '--json');

    // Assess
    expect(result).toMatchObject({ code: 0, stderr: '' });
    const history = JSON.parse(result.stdout) as {
      secret: string;
      versions: { versionId: string; labels: string[]; events: { kind: string }[] }[];
    };
    expect(history.secret).toBe(name);
    const current = history.versions.find((version) => version.versionId === labels.AWSCURRENT);
    expect(current?.labels).toContain('AWSCURRENT');
    expect(current?.events.map((event) => event.kind)).toContain('rotation-succeeded');
    expect(history.versions.find((version) => version.versionId === labels.AWSPREVIOUS)?.labels).toEqual([
      'AWSPREVIOUS',
    ]);
    expect(result.stdout).not.toContain(password);
  });
});
