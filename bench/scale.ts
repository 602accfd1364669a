/**
 * Part 3: many secrets rotated through RotateSecret, `concurrency` rotations in flight at once,
 * by one warm function (as one container would serve them in turn; the step machine keeps its
 * per-rotation bookkeeping apart). Each run gets a fresh local stack, so that a run's figures do
 * not carry the state the previous run left.
 */
import { randomUUID } from 'node:crypto';
import type { EngineFixture } from './fixtures/fixture.js';
import { COUNT, type Meter } from './meter.js';
import { failureOf } from './rotations.js';
import { type Counts, diffCounts, type Summary, sumCounts, summarize } from './stats.js';
import type { World } from './world.js';

export interface ScaleResult {
  engine: string;
  /** The target as set up for this run. */
  target: string;
  secrets: number;
  concurrency: number;
  /** First RotateSecret sent → last rotation settled. */
  wallMs: number;
  rotationsPerSecond: number;
  /** RotateSecret sent → settled, per rotation (includes waiting for a turn on the event loop). */
  latencyMs: Summary;
  /** The four invocations of a rotation, measured at the function. */
  functionMs: Summary;
  /** Per rotation, on average. */
  perRotation: {
    secretsManager: number;
    secretsManagerByOperation: Counts;
    eventBridge: number;
    connectAttempts: number;
    sessions: number;
    httpRequests: number;
  };
  /** Resident set size of this process (benchmark, local stack, provider and functions). */
  rssBeforeBytes: number;
  peakRssBytes: number;
  failures: string[];
  /** Secrets whose AWSCURRENT did not log in afterwards. */
  notVerified: number;
}

/** Runs `work` for 0..count-1, at most `limit` at a time. */
async function inBatches(
  count: number,
  limit: number,
  work: (index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) await work(next++);
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, worker));
}

/** Samples the process's RSS until stopped; returns the peak. */
function rssSampler(): () => number {
  let peak = process.memoryUsage.rss();
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 20);
  return () => {
    clearInterval(timer);
    return Math.max(peak, process.memoryUsage.rss());
  };
}

export interface ScaleOptions {
  world: World;
  fixture: EngineFixture;
  secrets: number;
  concurrency: number;
  meter: Meter;
}

export async function runScale(options: ScaleOptions): Promise<ScaleResult> {
  const { world, fixture, secrets, concurrency } = options;
  const functionArn = world.register(`bench-scale-${fixture.engine}`, fixture.rotators, 'warm');
  const arns = await fixture.scaleSecrets(world, secrets);
  const latencies: number[] = [];
  const failures: string[] = [];
  const tokens = new Set<string>();

  const smBefore = world.stack.secretsManager.calls;
  const ebBefore = world.stack.eventBridge.calls;
  const meterBefore = options.meter.read();
  const rssBefore = process.memoryUsage.rss();
  const peakRss = rssSampler();
  const started = performance.now();
  await inBatches(arns.length, concurrency, async (index) => {
    const arn = arns[index] as string;
    const token = randomUUID();
    tokens.add(token);
    const sent = performance.now();
    const record = await world.rotate(arn, functionArn, token);
    latencies.push(performance.now() - sent);
    if (typeof record === 'string' || record.status !== 'succeeded') {
      failures.push(`${arn}: ${failureOf(record)}`);
    }
  });
  const wallMs = performance.now() - started;
  const peakRssBytes = peakRss();

  const sm = diffCounts(world.stack.secretsManager.calls, smBefore);
  // RotateSecret is the benchmark's own call, not the function's.
  delete sm.RotateSecret;
  const eb = diffCounts(world.stack.eventBridge.calls, ebBefore);
  const target = diffCounts(options.meter.read().counts, meterBefore.counts);
  const functionMs = new Map<string, number>();
  for (const invocation of world.invocations) {
    if (!tokens.has(invocation.token)) continue;
    functionMs.set(invocation.token, (functionMs.get(invocation.token) ?? 0) + invocation.ms);
  }
  let notVerified = 0;
  await inBatches(arns.length, 4, async (index) => {
    if ((await fixture.verify(world, arns[index] as string)) !== undefined) notVerified++;
  });
  const per = (value: number) => value / secrets;
  return {
    engine: fixture.engine,
    target: fixture.server,
    secrets,
    concurrency,
    wallMs,
    rotationsPerSecond: secrets / (wallMs / 1000),
    latencyMs: summarize(latencies),
    functionMs: summarize([...functionMs.values()]),
    perRotation: {
      secretsManager: per(sumCounts(sm)),
      secretsManagerByOperation: Object.fromEntries(Object.entries(sm).map(([op, n]) => [op, per(n)])),
      eventBridge: per(sumCounts(eb)),
      connectAttempts: per(target[COUNT.connectAttempt] ?? 0),
      sessions: per(target[COUNT.session] ?? 0),
      httpRequests: per(target[COUNT.httpRequest] ?? 0),
    },
    rssBeforeBytes: rssBefore,
    peakRssBytes,
    failures,
    notVerified,
  };
}
