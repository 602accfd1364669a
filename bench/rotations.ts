/**
 * Part 1: what one rotation costs, per engine and strategy. Rotations run one at a time through
 * RotateSecret, so that every counter read around an invocation belongs to that invocation.
 */
import { randomUUID } from 'node:crypto';
import type { Case, EngineFixture } from './fixtures/fixture.js';
import { COUNT, type Meter } from './meter.js';
import { addCounts, type Counts, diffCounts, median, type Summary, summarize } from './stats.js';
import type { Container, Invocation, World } from './world.js';

export const STEPS = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'] as const;

interface StepSample {
  step: string;
  ms: number;
  secretsManager: Counts;
  eventBridge: Counts;
  /** Database / provider counters (see meter.ts COUNT). */
  target: Counts;
}

interface RotationSample {
  /** Single-user window: password changed (setSecret) → AWSCURRENT moved (finishSecret). */
  windowMs?: number;
  totalMs: number;
  functionMs: number;
  targetMs: number;
  awsMs: number;
  steps: StepSample[];
  served: Counts;
}

/** A count per rotation: its median and range over the measured rotations. */
export interface CountStat {
  median: number;
  min: number;
  max: number;
}
export type CountStats = Record<string, CountStat>;

export interface StrategyResult {
  engine: string;
  strategy: string;
  transport: 'plaintext' | 'tls';
  container: Container;
  /** Whose function rotated: rotor's or AWS's reference function (bench/reference.ts). */
  implementation: 'rotor' | 'aws-reference';
  /** Rotations measured (warm-up left out). */
  rotations: number;
  /** Why the run stopped early, when a rotation failed. */
  failure?: string;
  /** Whether AWSCURRENT logged in at the target after the run ("ok" or what was wrong). */
  verified: string;
  /** RotateSecret sent → rotation settled. */
  totalMs: Summary;
  /** The four invocations, measured at the function. */
  functionMs: Summary;
  stepMs: Record<string, Summary>;
  /** Time inside database / provider calls. */
  targetMs: Summary;
  /**
   * Time inside the function's AWS SDK calls (Secrets Manager, EventBridge) while no database or
   * provider call ran (an event published in the background overlaps the step's own work).
   */
  awsMs: Summary;
  /**
   * Single-user strategies: from the password change in setSecret to AWSCURRENT moving in
   * finishSecret, when a client holding the old password is refused.
   */
  windowMs?: Summary;
  /** Orchestration overhead: function time minus database / provider time. */
  overheadMs: Summary;
  /** The overhead without the AWS SDK calls: rotor's own work in the process. */
  inProcessMs: Summary;
  /** The function's Secrets Manager calls per rotation, by operation and in all (`total`). */
  secretsManager: CountStats;
  eventBridge: CountStats;
  /** Connection attempts, sessions, statements, HTTP requests, retry waits. */
  target: CountStats;
  /** Requests the provider served, by operation (API keys). */
  served: CountStats;
  /** Per step: Secrets Manager calls by operation and target counters (medians). */
  perStep: Record<string, { secretsManager: Counts; target: Counts }>;
  /** Whether every step of every measured rotation read the labels afresh (DescribeSecret). */
  describedEveryStep: boolean;
  /** Each measured rotation, in order, for analyses the summaries do not cover. */
  samples: CompactSample[];
}

export interface CompactSample {
  totalMs: number;
  functionMs: number;
  targetMs: number;
  awsMs: number;
  windowMs?: number;
  secretsManager: number;
  eventBridge: number;
  connectAttempts: number;
  /** Secrets Manager calls by step, e.g. `{ createSecret: 4, ... }`. */
  secretsManagerByStep: Counts;
}

function compact(sample: RotationSample): CompactSample {
  const total = (pick: (step: StepSample) => Counts) =>
    sample.steps.reduce((sum, step) => sum + Object.values(pick(step)).reduce((a, b) => a + b, 0), 0);
  const round = (value: number) => Math.round(value * 1000) / 1000;
  return {
    totalMs: round(sample.totalMs),
    functionMs: round(sample.functionMs),
    targetMs: round(sample.targetMs),
    awsMs: round(sample.awsMs),
    ...(sample.windowMs === undefined ? {} : { windowMs: round(sample.windowMs) }),
    secretsManager: total((step) => step.secretsManager),
    eventBridge: total((step) => step.eventBridge),
    connectAttempts: sample.steps.reduce((sum, step) => sum + (step.target[COUNT.connectAttempt] ?? 0), 0),
    secretsManagerByStep: Object.fromEntries(
      sample.steps.map((step) => [step.step, Object.values(step.secretsManager).reduce((a, b) => a + b, 0)]),
    ),
  };
}

function countStats(samples: readonly Counts[], withTotal = false): CountStats {
  const keys = new Set(samples.flatMap((sample) => Object.keys(sample)));
  const stats: CountStats = {};
  const stat = (values: number[]): CountStat => ({
    median: median(values),
    min: Math.min(...values),
    max: Math.max(...values),
  });
  for (const key of [...keys].sort()) stats[key] = stat(samples.map((sample) => sample[key] ?? 0));
  if (withTotal && samples.length > 0) {
    stats.total = stat(samples.map((sample) => Object.values(sample).reduce((a, b) => a + b, 0)));
  }
  return stats;
}

function medianCounts(samples: readonly Counts[]): Counts {
  const stats = countStats(samples);
  return Object.fromEntries(Object.entries(stats).map(([key, value]) => [key, value.median]));
}

function stepSample(invocation: Invocation): StepSample {
  const cost = invocation.cost;
  return {
    step: invocation.step,
    ms: invocation.ms,
    secretsManager: cost?.secretsManager ?? {},
    eventBridge: cost?.eventBridge ?? {},
    target: cost?.meter.counts ?? {},
  };
}

function sampleOf(totalMs: number, invocations: readonly Invocation[], served: Counts): RotationSample {
  return {
    totalMs,
    functionMs: invocations.reduce((sum, invocation) => sum + invocation.ms, 0),
    targetMs: invocations.reduce((sum, invocation) => sum + (invocation.cost?.meter.targetMs ?? 0), 0),
    awsMs: invocations.reduce((sum, invocation) => sum + (invocation.cost?.meter.awsMs ?? 0), 0),
    steps: invocations.map(stepSample),
    served,
  };
}

/** Why a rotation did not succeed, from its record (never a value: rotor's messages hold none). */
export function failureOf(record: Awaited<ReturnType<World['rotate']>>): string {
  if (typeof record === 'string') return record;
  const attempt = record.attempts.at(-1);
  const step = attempt?.steps.at(-1);
  const error = attempt?.error;
  return `rotation ${record.status}${step ? ` in ${step.step}` : ''}${error ? `: ${error.name}: ${error.message}` : ''}`;
}

export interface MeasureOptions {
  world: World;
  meter: Meter;
  fixture: EngineFixture;
  kase: Case;
  functionArn: string;
  container: Container;
  warmup: number;
  rotations: number;
}

/** One rotation of `kase`: its sample, or why it failed. */
async function rotateOnce(options: MeasureOptions, kase: Case): Promise<RotationSample | string> {
  const { world, fixture, functionArn } = options;
  const token = randomUUID();
  const servedBefore = fixture.served?.() ?? {};
  const first = world.invocations.length;
  const { marks } = options.meter;
  marks.changedAt = undefined;
  marks.promotedAt = undefined;
  const started = performance.now();
  const record = await world.rotate(kase.arn, kase.functionArn ?? functionArn, token);
  const totalMs = performance.now() - started;
  if (typeof record === 'string' || record.status !== 'succeeded') return failureOf(record);
  const invocations = world.invocations.slice(first).filter((invocation) => invocation.token === token);
  const sample = sampleOf(totalMs, invocations, diffCounts(fixture.served?.() ?? {}, servedBefore));
  if (marks.changedAt !== undefined && marks.promotedAt !== undefined && marks.promotedAt > marks.changedAt) {
    sample.windowMs = marks.promotedAt - marks.changedAt;
  }
  return sample;
}

/**
 * Rotates several secrets (the plaintext and TLS variants of one strategy, and AWS's reference
 * function's) in turn, one rotation of each per round, so that every variant sees the same load on
 * a shared machine: their ratio then means something even when absolute times drift.
 */
export async function measureInterleaved(
  options: Omit<MeasureOptions, 'kase'> & { kases: readonly Case[] },
): Promise<StrategyResult[]> {
  const runs = options.kases.map((kase) => ({
    kase,
    samples: [] as RotationSample[],
    failure: undefined as string | undefined,
  }));
  for (let i = 0; i < options.warmup + options.rotations; i++) {
    // Every other round in reverse, so that no variant always runs right after the same other one.
    for (const run of i % 2 === 0 ? runs : [...runs].reverse()) {
      if (run.failure !== undefined) continue;
      const outcome = await rotateOnce({ ...options, kase: run.kase }, run.kase);
      if (typeof outcome === 'string') run.failure = `rotation ${i + 1}: ${outcome}`;
      else if (i >= options.warmup) run.samples.push(outcome);
    }
  }
  const results: StrategyResult[] = [];
  for (const run of runs)
    results.push(await summarise({ ...options, kase: run.kase }, run.samples, run.failure));
  return results;
}

async function summarise(
  options: MeasureOptions,
  samples: RotationSample[],
  failure: string | undefined,
): Promise<StrategyResult> {
  const { world, fixture, kase } = options;
  const problem = await fixture.verify(world, kase.arn);
  const perStep: StrategyResult['perStep'] = {};
  for (const step of STEPS) {
    const steps = samples.flatMap((sample) => sample.steps.filter((s) => s.step === step));
    perStep[step] = {
      secretsManager: medianCounts(steps.map((s) => s.secretsManager)),
      target: medianCounts(steps.map((s) => s.target)),
    };
  }
  const windows = samples.flatMap((s) => (s.windowMs === undefined ? [] : [s.windowMs]));
  return {
    engine: kase.engine,
    strategy: kase.strategy,
    transport: kase.transport,
    container: options.container,
    implementation: kase.implementation ?? 'rotor',
    rotations: samples.length,
    ...(failure === undefined ? {} : { failure }),
    verified: problem ?? 'ok',
    totalMs: summarize(samples.map((s) => s.totalMs)),
    functionMs: summarize(samples.map((s) => s.functionMs)),
    stepMs: Object.fromEntries(
      STEPS.map((step) => [
        step,
        summarize(samples.flatMap((s) => s.steps.filter((x) => x.step === step).map((x) => x.ms))),
      ]),
    ),
    targetMs: summarize(samples.map((s) => s.targetMs)),
    awsMs: summarize(samples.map((s) => s.awsMs)),
    ...(kase.strategy === 'single-user' && windows.length > 0 ? { windowMs: summarize(windows) } : {}),
    overheadMs: summarize(samples.map((s) => s.functionMs - s.targetMs)),
    inProcessMs: summarize(samples.map((s) => s.functionMs - s.targetMs - s.awsMs)),
    secretsManager: countStats(
      samples.map((s) => s.steps.reduce((all, step) => addCounts(all, step.secretsManager), {} as Counts)),
      true,
    ),
    eventBridge: countStats(
      samples.map((s) => s.steps.reduce((all, step) => addCounts(all, step.eventBridge), {} as Counts)),
    ),
    target: countStats(
      samples.map((s) =>
        s.steps.reduce((all, step) => addCounts(all, step.target), {
          [COUNT.connectAttempt]: 0,
          [COUNT.session]: 0,
          [COUNT.secureContext]: 0,
          [COUNT.awaitedPutEvents]: 0,
        } as Counts),
      ),
    ),
    served: countStats(samples.map((s) => s.served)),
    perStep,
    describedEveryStep:
      samples.length > 0 &&
      samples.every(
        (s) =>
          s.steps.length === STEPS.length &&
          s.steps.every((step) => (step.secretsManager.DescribeSecret ?? 0) >= 1),
      ),
    samples: samples.map(compact),
  };
}
