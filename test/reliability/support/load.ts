/**
 * Rotations back to back while application clients log in continuously.
 *
 * A client behaves like an application using the AWS SDK: it reads AWSCURRENT with
 * GetSecretValue, keeps it for a short while (a cache), logs in with it, and when the login is
 * refused it re-reads the secret once (bypassing the cache) and tries again. A client operation
 * fails when that second login is refused too.
 *
 * Every rotation's setSecret start and finishSecret end are recorded, so that a failure can be
 * placed in the window of the rotation that caused it.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import type { Lab, Value } from './lab.js';
import type { Instance, Subject } from './subjects.js';

export interface LoadOptions {
  readonly rotations: number;
  readonly clients: number;
  /** How long a client keeps the value it read. */
  readonly cacheMs: number;
}

export interface RotationTiming {
  readonly token: string;
  status: string;
  /** performance.now() when setSecret was first invoked, and when finishSecret last returned. */
  setStart: number;
  finishEnd: number;
}

export interface Failure {
  /** When the client started re-reading the secret, and when its second login was refused. */
  readonly reReadAt: number;
  readonly endedAt: number;
}

export interface LoadResult {
  readonly subject: Subject;
  readonly rotations: RotationTiming[];
  /** Login calls made (first tries and retries after a re-read). */
  logins: number;
  /** Login calls refused. */
  refused: number;
  /** Client operations that failed even after re-reading the secret. */
  failed: number;
  readonly failures: Failure[];
  /** Anything but a refusal (a network error, say): never expected. */
  readonly errors: string[];
  /** Distinct AWSCURRENT versions clients logged in with: proof they followed the rotations. */
  versionsSeen: number;
  /** Whether a client reading AWSCURRENT after the last rotation logs in. */
  finalLogin: boolean;
}

/** One client: read (cached), log in, re-read once on a refusal. */
async function client(
  lab: Lab,
  subject: Subject,
  instance: Instance,
  options: LoadOptions,
  result: LoadResult,
  seen: Set<string>,
  running: () => boolean,
): Promise<void> {
  let cache: { value: Value; versionId: string; at: number } | undefined;
  const read = async (fresh: boolean) => {
    if (!fresh && cache !== undefined && performance.now() - cache.at < options.cacheMs) return cache;
    const out = await lab.app.send(new GetSecretValueCommand({ SecretId: instance.arn }));
    cache = {
      value: JSON.parse(out.SecretString ?? '{}') as Value,
      versionId: String(out.VersionId),
      at: performance.now(),
    };
    return cache;
  };
  const login = async (read: { value: Value; versionId: string }) => {
    result.logins++;
    const ok = await subject.logsIn(lab, instance, read.value);
    if (ok) seen.add(read.versionId);
    else result.refused++;
    return ok;
  };
  while (running()) {
    try {
      if (await login(await read(false))) continue;
      const reReadAt = performance.now();
      if (await login(await read(true))) continue;
      result.failed++;
      result.failures.push({ reReadAt, endedAt: performance.now() });
    } catch (error) {
      result.errors.push(`${(error as Error).name}: ${(error as Error).message}`);
    }
  }
}

export async function underLoad(lab: Lab, subject: Subject, options: LoadOptions): Promise<LoadResult> {
  const instance = await subject.create(lab);
  const result: LoadResult = {
    subject,
    rotations: [],
    logins: 0,
    refused: 0,
    failed: 0,
    failures: [],
    errors: [],
    versionsSeen: 0,
    finalLogin: false,
  };
  const timings = new Map<string, RotationTiming>();
  lab.around = async (event, run) => {
    const timing = timings.get(event.ClientRequestToken);
    if (event.Step === 'setSecret' && timing !== undefined && Number.isNaN(timing.setStart)) {
      timing.setStart = performance.now();
    }
    try {
      return await run();
    } finally {
      if (event.Step === 'finishSecret' && timing !== undefined) timing.finishEnd = performance.now();
    }
  };
  let running = true;
  const seen = new Set<string>();
  const clients = Array.from({ length: options.clients }, () =>
    client(lab, subject, instance, options, result, seen, () => running),
  );
  try {
    for (let i = 0; i < options.rotations; i++) {
      const token = randomUUID();
      const timing: RotationTiming = { token, status: 'none', setStart: Number.NaN, finishEnd: Number.NaN };
      timings.set(token, timing);
      result.rotations.push(timing);
      await lab.rotate(instance.arn, token);
      timing.status = lab.record(instance.arn, token)?.status ?? 'none';
    }
  } finally {
    running = false;
    await Promise.all(clients);
    lab.around = undefined;
  }
  result.versionsSeen = seen.size;
  result.finalLogin = await subject.logsIn(lab, instance, await lab.value(instance.arn));
  return result;
}

/** The rotation whose setSecret…finishSecret window a failure overlaps, if any. */
export function rotationOf(result: LoadResult, failure: Failure): RotationTiming | undefined {
  return result.rotations.find(
    (rotation) => failure.reReadAt < rotation.finishEnd && failure.endedAt > rotation.setStart,
  );
}

/** Per rotation with failures: how many, and the time from the first to the last, in ms. */
export function failureWindows(result: LoadResult): { failures: number; spanMs: number }[] {
  const byRotation = new Map<RotationTiming, Failure[]>();
  for (const failure of result.failures) {
    const rotation = rotationOf(result, failure);
    if (rotation !== undefined) byRotation.set(rotation, [...(byRotation.get(rotation) ?? []), failure]);
  }
  return [...byRotation.values()].map((failures) => {
    const ends = failures.map((failure) => failure.endedAt);
    return { failures: failures.length, spanMs: Math.max(...ends) - Math.min(...ends) };
  });
}
