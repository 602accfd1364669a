/**
 * RUNBOOK.md covers every error name rotor can emit. The names are read from the code (the error
 * family's classes, every `readonly name = '...'` in the source, the local service's own failure
 * names, the paging detail types), never from a list kept by hand beside the runbook.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_RUNBOOK_URL, runbookAnchor, runbookUrl } from '../../handlers/runbook.js';
import * as errors from '../../rotators/errors.js';

const root = join(import.meta.dirname, '..', '..');
const runbook = readFileSync(join(root, 'RUNBOOK.md'), 'utf8');

/** `### <name>` headings and the text under each, up to the next heading. */
function entries(markdown: string): Map<string, string> {
  const result = new Map<string, string>();
  const parts = markdown.split(/^### /m).slice(1);
  for (const part of parts) {
    const [heading = '', ...body] = part.split('\n');
    result.set(heading.trim(), body.join('\n').split(/^## /m)[0] ?? '');
  }
  return result;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

/** Every error class exported by the family, with the `name` its instances carry. */
function familyNames(): string[] {
  const names = new Set<string>();
  for (const value of Object.values(errors)) {
    if (typeof value !== 'function' || value === errors.RotorError) continue;
    if (!(value.prototype instanceof errors.RotorError)) continue;
    names.add(value.name);
    // Constructors differ: two strings fit most (reason, detail / field, expected), lists the rest.
    const Ctor = value as unknown as new (...args: unknown[]) => Error;
    let instance: Error;
    try {
      instance = new Ctor('network', 'detail');
    } catch {
      instance = new Ctor(['network'], ['detail']);
    }
    if (instance.name !== 'Error') names.add(instance.name);
  }
  return [...names];
}

/** `readonly name = '...'` anywhere in the shipped source: errors defined outside the family file. */
function declaredNames(): string[] {
  const names = new Set<string>();
  for (const dir of ['rotators', 'handlers', 'cli']) {
    for (const file of sourceFiles(join(root, dir))) {
      for (const match of readFileSync(file, 'utf8').matchAll(/readonly name = '([^']+)'/g)) {
        if (match[1] !== undefined) names.add(match[1]);
      }
    }
  }
  return [...names];
}

/** The error names the local service puts in its RotationFailed (as Lambda and the service do). */
function serviceNames(): string[] {
  const text = readFileSync(join(root, 'local', 'rotations.ts'), 'utf8');
  return [...text.matchAll(/name: '([A-Z][\w.]+)'/g)].flatMap((match) => (match[1] ? [match[1]] : []));
}

/** rotor's detail types that report a failure or a heal: they page or follow a page. */
function pagingDetailTypes(): string[] {
  const text = readFileSync(join(root, 'handlers', 'events.ts'), 'utf8');
  return [...text.matchAll(/'(Rotation [A-Za-z ]+)'/g)]
    .flatMap((match) => (match[1] ? [match[1]] : []))
    .filter((type) => /Failed|Heal/.test(type));
}

describe('RUNBOOK.md', () => {
  const byHeading = entries(runbook);

  it('finds the names in the code (the derivation itself works)', () => {
    // Act
    const family = familyNames();
    const declared = declaredNames();

    // Assess
    expect(family).toEqual(
      expect.arrayContaining(['InvalidSecretError', 'TargetUnreachableError', 'TrustBoundaryError']),
    );
    expect(family).toContain('MasterBindingError');
    expect(declared).toEqual(expect.arrayContaining(['InternalError', 'UnboundDatabaseError']));
    expect(serviceNames()).toEqual(expect.arrayContaining(['RotationNotFinished', 'Sandbox.Timedout']));
    expect(pagingDetailTypes()).toEqual(
      expect.arrayContaining(['Rotation Step Failed', 'Rotation Heal Needed']),
    );
  });

  it('has an entry for every error name rotor can emit, each saying what it means, how to confirm, what to do, whom to call', () => {
    // Prepare
    const names = [...new Set([...familyNames(), ...declaredNames(), ...serviceNames()])];

    // Act
    const missing = names.filter((name) => !byHeading.has(name));
    const incomplete = names.filter((name) => {
      const body = byHeading.get(name) ?? '';
      return !['**Means.**', '**Confirm', '**Do', '**Call'].every((part) => body.includes(part));
    });

    // Assess
    expect(names.length).toBeGreaterThan(25);
    expect(missing).toEqual([]);
    expect(incomplete.filter((name) => !missing.includes(name))).toEqual([]);
  });

  it('has an entry for every paging event and AWS rotation failure event', () => {
    // Prepare
    const names = [...pagingDetailTypes(), 'RotationFailed', 'RotationAbandoned', 'TestRotationFailed'];

    // Act
    const missing = names.filter((name) => !byHeading.has(name));

    // Assess
    expect(missing).toEqual([]);
  });

  it('gives every entry a distinct anchor, and runbookUrl() points at it', () => {
    // Prepare
    const anchors = [...byHeading.keys()].map(runbookAnchor);

    // Act
    const url = runbookUrl('Sandbox.Timedout', 'https://wiki.example.com/rotor/RUNBOOK.md#old');

    // Assess
    expect(new Set(anchors).size).toBe(anchors.length);
    expect(runbookUrl('AuthenticationFailedError')).toBe(`${DEFAULT_RUNBOOK_URL}#authenticationfailederror`);
    expect(runbookUrl('Rotation Heal Needed')).toBe('RUNBOOK.md#rotation-heal-needed');
    expect(url).toBe('https://wiki.example.com/rotor/RUNBOOK.md#sandboxtimedout');
    expect(anchors).toContain('sandboxtimedout');
  });

  it('links only to anchors that exist', () => {
    // Prepare
    const anchors = new Set([...byHeading.keys(), 'Rotation states (`rotor status`)'].map(runbookAnchor));

    // Act
    const links = [...runbook.matchAll(/\]\(#([^)]+)\)/g)].map((match) => match[1]);

    // Assess
    expect(links.length).toBeGreaterThan(3);
    expect(links.filter((link) => link === undefined || !anchors.has(link))).toEqual([]);
  });
});
