/**
 * The issue's targets, judged on this run's figures. Where one is missed, the reason and what it
 * would take are worded from the same run's breakdowns: nothing here is a remembered number.
 */
import type { ColdStartResult } from './coldStart.js';
import type { MachineInfo } from './machine.js';
import type { BenchOptions } from './options.js';
import type { StrategyResult } from './rotations.js';
import type { ScaleResult } from './scale.js';
import type { Counts } from './stats.js';

export interface BenchResults {
  startedAt: string;
  finishedAt: string;
  options: BenchOptions;
  machine: MachineInfo;
  /** The targets measured against, by engine. */
  servers: Record<string, string>;
  /** How the functions ran. */
  setup: string[];
  /** Engines or parts left out, and why. */
  skipped: string[];
  rotation?: {
    strategies: StrategyResult[];
    /** Median time of one SCRAM-SHA-256 verifier (4096 PBKDF2 iterations), computed in the function. */
    scramVerifierMs?: number;
    /** What the functions wrote to stdout (logs, EMF metrics), per rotation. */
    functionOutputPerRotation?: { lines: number; bytes: number };
  };
  coldStart?: ColdStartResult;
  scale?: ScaleResult[];
  /** AWS's reference functions, rotated in turn with rotor's single-user cases (`--reference`). */
  reference?: { dir: string; python: string; strategies: StrategyResult[] };
  targets: TargetResult[];
}

export interface TargetResult {
  target: string;
  subject: string;
  figure: string;
  met: boolean;
  why?: string;
}

export const LIMITS = {
  /** Warm container, single-user. */
  secretsManagerCalls: 7,
  /** Warm container, every other strategy. */
  secretsManagerCallsOthers: 8,
  tlsRatio: 1.15,
  /** rotor's median / AWS's reference function's median, same server, endpoint and transport. */
  referenceRatioTls: 0.5,
  referenceRatioPlaintext: 0.7,
  awaitedPutEvents: 4,
  connectAttempts: 2,
  bundleBytes: 1_000_000,
  importMs: 150,
  overheadMs: 5,
} as const;

const kB = (bytes: number) => `${(bytes / 1000).toFixed(0)} kB`;
const ms = (value: number) => `${value.toFixed(1)} ms`;
const SHORT: Record<string, string> = {
  DescribeSecret: 'Describe',
  GetSecretValue: 'GetValue',
  PutSecretValue: 'PutValue',
  UpdateSecretVersionStage: 'UpdateStage',
};

export function formatOps(counts: Counts): string {
  const parts = Object.entries(counts)
    .filter(([, n]) => n > 0)
    .map(([op, n]) => `${SHORT[op] ?? op}${n === 1 ? '' : ` ${n}`}`);
  return parts.length === 0 ? '-' : parts.join(', ');
}

function stepBreakdown(strategy: StrategyResult, pick: (step: StrategyResult['perStep'][string]) => string) {
  return Object.entries(strategy.perStep)
    .map(([step, cost]) => `${step.replace('Secret', '')}: ${pick(cost)}`)
    .join('; ');
}

function singleUser(strategies: readonly StrategyResult[], container: 'warm' | 'cold') {
  return strategies.filter((s) => s.strategy === 'single-user' && s.container === container);
}

/** A strategy with no measured rotation misses every target it is judged on. */
function unmeasured(s: StrategyResult, target: string, subject: string): TargetResult | undefined {
  if (s.rotations > 0) return undefined;
  return { target, subject, figure: 'no successful rotation', met: false, why: s.failure ?? 'none ran' };
}

const name = (s: StrategyResult) => `${s.engine} ${s.strategy}${s.transport === 'tls' ? ' (TLS)' : ''}`;

function callTargets(strategies: readonly StrategyResult[]): TargetResult[] {
  return strategies
    .filter((s) => s.container === 'warm')
    .map((warm) => {
      const single = warm.strategy === 'single-user';
      const limit = single ? LIMITS.secretsManagerCalls : LIMITS.secretsManagerCallsOthers;
      const target = `Secrets Manager calls per successful ${single ? 'single-user' : 'non-single-user'} rotation, warm container <= ${limit}, every protocol check kept`;
      const subject = name(warm);
      const failed = unmeasured(warm, target, subject);
      if (failed !== undefined) return failed;
      const cold = strategies.find(
        (s) =>
          s.container === 'cold' &&
          s.engine === warm.engine &&
          s.strategy === warm.strategy &&
          s.transport === warm.transport &&
          s.rotations > 0,
      );
      const most = warm.secretsManager.total?.max ?? Number.NaN;
      const met = most <= limit && warm.describedEveryStep;
      const coldNote = cold ? `; cold container per step: ${cold.secretsManager.total?.max}` : '';
      return {
        target,
        subject,
        figure: `${most} calls${warm.describedEveryStep ? ', DescribeSecret in every step' : ', a step skipped DescribeSecret'}${coldNote}`,
        met,
        ...(met
          ? {}
          : {
              why: warm.describedEveryStep
                ? `per step: ${stepBreakdown(warm, (c) => formatOps(c.secretsManager))}; it would take ${most - limit} call(s) fewer in the steps above`
                : 'a step ran without reading the labels (DescribeSecret): a protocol check was dropped',
            }),
      };
    });
}

function tlsTargets(strategies: readonly StrategyResult[]): TargetResult[] {
  return strategies
    .filter((s) => s.container === 'warm' && s.transport === 'tls')
    .map((tls) => {
      const target = `TLS rotation median / plaintext rotation median, same engine and strategy <= ${LIMITS.tlsRatio}`;
      const subject = `${tls.engine} ${tls.strategy}`;
      const plain = strategies.find(
        (s) =>
          s.container === 'warm' &&
          s.transport === 'plaintext' &&
          s.engine === tls.engine &&
          s.strategy === tls.strategy,
      );
      const failed =
        unmeasured(tls, target, subject) ?? (plain ? unmeasured(plain, target, subject) : undefined);
      if (failed !== undefined) return failed;
      if (plain === undefined) {
        return { target, subject, figure: 'no plaintext run', met: false, why: 'nothing to compare with' };
      }
      const ratio = tls.totalMs.p50 / plain.totalMs.p50;
      const met = ratio <= LIMITS.tlsRatio;
      return {
        target,
        subject,
        figure: `${ratio.toFixed(2)} (${ms(tls.totalMs.p50)} / ${ms(plain.totalMs.p50)}; database time ${ms(tls.targetMs.p50)} / ${ms(plain.targetMs.p50)})`,
        met,
        ...(met
          ? {}
          : {
              why: `TLS adds ${ms(tls.targetMs.p50 - plain.targetMs.p50)} of database time per rotation: ${tls.target['tls.handshakes']?.median ?? '?'} handshakes (${tls.target['tls.resumed']?.median ?? 0} of them resumed a session) for ${tls.target['db.connectAttempts']?.median ?? '?'} connections, ${tls.target['tls.secureContexts']?.median ?? '?'} secure contexts built`,
            }),
      };
    });
}

function contextTargets(strategies: readonly StrategyResult[]): TargetResult[] {
  return strategies
    .filter((s) => s.container === 'warm' && s.transport === 'tls')
    .map((warm) => {
      const target = 'secure contexts created per rotation, warm container = 0';
      const subject = name(warm);
      const failed = unmeasured(warm, target, subject);
      if (failed !== undefined) return failed;
      const most = warm.target['tls.secureContexts']?.max ?? 0;
      const cold = strategies.find(
        (s) =>
          s.container === 'cold' &&
          s.engine === warm.engine &&
          s.strategy === warm.strategy &&
          s.transport === 'tls' &&
          s.rotations > 0,
      );
      return {
        target,
        subject,
        figure: `${most}${cold ? `; cold container per step: ${cold.target['tls.secureContexts']?.median ?? 0} per rotation` : ''}`,
        met: most === 0,
        ...(most === 0 ? {} : { why: 'a context was built again for a trust configuration already seen' }),
      };
    });
}

function eventTargets(strategies: readonly StrategyResult[]): TargetResult[] {
  return strategies
    .filter((s) => s.container === 'warm')
    .map((warm) => {
      const target = `awaited PutEvents per rotation (default settings) <= ${LIMITS.awaitedPutEvents}`;
      const subject = name(warm);
      const failed = unmeasured(warm, target, subject);
      if (failed !== undefined) return failed;
      const awaited = warm.target['events.awaitedPutEvents']?.max ?? 0;
      const calls = Object.values(warm.eventBridge).reduce((sum, stat) => sum + stat.max, 0);
      const met = awaited <= LIMITS.awaitedPutEvents;
      return {
        target,
        subject,
        figure: `${awaited} awaited of ${calls} PutEvents`,
        met,
        ...(met ? {} : { why: 'a step waited for more than one PutEvents' }),
      };
    });
}

function windowTargets(strategies: readonly StrategyResult[]): TargetResult[] {
  return strategies
    .filter((s) => s.container === 'warm' && s.strategy === 'single-user' && s.windowMs !== undefined)
    .map((s) => ({
      target: 'single-user window (password change → AWSCURRENT moved), median: reported',
      subject: name(s),
      figure: `${ms(s.windowMs?.p50 ?? Number.NaN)} (p95 ${ms(s.windowMs?.p95 ?? Number.NaN)})`,
      met: true,
    }));
}

function connectionTargets(strategies: readonly StrategyResult[]): TargetResult[] {
  return singleUser(strategies, 'warm').map((warm) => {
    const target = `database connection attempts per successful single-user rotation <= ${LIMITS.connectAttempts}`;
    const subject = name(warm);
    const failed = unmeasured(warm, target, subject);
    if (failed !== undefined) return failed;
    const attempts = warm.target['db.connectAttempts']?.max ?? 0;
    const met = attempts <= LIMITS.connectAttempts;
    return {
      target,
      subject,
      figure: `${attempts} attempts, ${warm.target['db.sessions']?.max ?? 0} sessions`,
      met,
      ...(met
        ? {}
        : {
            why: `per step: ${stepBreakdown(warm, (c) => `${c.target['db.connectAttempts'] ?? 0} attempt(s)`)}`,
          }),
    };
  });
}

function bundleTargets(coldStart: ColdStartResult): TargetResult[] {
  return coldStart.bundles.flatMap((bundle): TargetResult[] => {
    if (bundle.rawBytes === undefined || bundle.error !== undefined) {
      return [
        {
          target: 'bundle < 1 MB and import < 150 ms',
          subject: `${bundle.function} function`,
          figure: 'not measured',
          met: false,
          why: bundle.error ?? 'no bundle',
        },
      ];
    }
    const parts = (bundle.contributors ?? []).map((c) => `${c.name} ${kB(c.bytes)}`).join(', ');
    const size: TargetResult = {
      target: `bundle < ${LIMITS.bundleBytes / 1_000_000} MB (raw)`,
      subject: `${bundle.function} function`,
      figure: `${kB(bundle.rawBytes)} raw, ${kB(bundle.zipBytes ?? 0)} zipped`,
      met: bundle.rawBytes < LIMITS.bundleBytes,
    };
    if (!size.met) {
      size.why = `largest parts: ${parts}; it would take ${kB(bundle.rawBytes - LIMITS.bundleBytes + 1)} less, e.g. by leaving out or replacing part of the largest dependencies above`;
    }
    const importMs = bundle.importMs ?? Number.NaN;
    const load: TargetResult = {
      target: `import < ${LIMITS.importMs} ms (fresh Node process, bare start-up subtracted)`,
      subject: `${bundle.function} function`,
      figure: `${ms(importMs)} (require() alone: ${ms(bundle.requireMs ?? Number.NaN)}; bare Node start-up ${ms(coldStart.nodeStartMs)})`,
      met: importMs < LIMITS.importMs,
    };
    if (!load.met) {
      load.why = `the time is spent evaluating ${kB(bundle.rawBytes)} of code at load; largest parts: ${parts}; it would take ${ms(importMs - LIMITS.importMs)} less (${Math.ceil((1 - LIMITS.importMs / importMs) * 100)}%): load less at start-up, e.g. defer what not every invocation needs`;
    }
    return [size, load];
  });
}

function overheadTargets(results: BenchResults): TargetResult[] {
  const strategies = results.rotation?.strategies ?? [];
  return strategies
    .filter((s) => s.container === 'warm')
    .map((s) => {
      const target = `orchestration overhead per rotation (function time minus database/provider time) < ${LIMITS.overheadMs} ms at p50`;
      const subject = name(s);
      const failed = unmeasured(s, target, subject);
      if (failed !== undefined) return failed;
      const met = s.overheadMs.p50 < LIMITS.overheadMs;
      const result: TargetResult = {
        target,
        subject,
        figure: `${ms(s.overheadMs.p50)} (AWS SDK calls ${ms(s.awsMs.p50)}, the rest in-process ${ms(s.inProcessMs.p50)})`,
        met,
      };
      if (!met) {
        const sm = s.secretsManager.total?.median ?? 0;
        const eb = Object.values(s.eventBridge).reduce((sum, stat) => sum + stat.median, 0);
        const share = Math.round((s.awsMs.p50 / s.overheadMs.p50) * 100);
        const reasons = [
          `${sm} Secrets Manager + ${eb} EventBridge calls per rotation (to the local stack, served in this process) take ${ms(s.awsMs.p50)}, about ${ms(s.awsMs.p50 / (sm + eb))} each, ${share}% of the overhead`,
          `rotor's own work in the process takes ${ms(s.inProcessMs.p50)}`,
        ];
        const scram = results.rotation?.scramVerifierMs;
        if (s.engine === 'postgres' && scram !== undefined) {
          reasons.push(
            `of which a SCRAM-SHA-256 verifier per new password, computed in the function: ${ms(scram)}`,
          );
        }
        const logs = results.rotation?.functionOutputPerRotation;
        if (logs !== undefined && logs.lines > 0) {
          reasons.push(`${logs.lines.toFixed(0)} log/metric lines per rotation are written`);
        }
        result.why = `${reasons.join('; ')}. It would take ${ms(s.overheadMs.p50 - LIMITS.overheadMs)} less: with the round trips above counted as overhead, fewer or cheaper AWS calls per rotation`;
      }
      return result;
    });
}

/** The rotor run a reference run is compared with: warm, single-user, same engine and transport. */
export function rotorCounterpart(
  strategies: readonly StrategyResult[],
  reference: StrategyResult,
): StrategyResult | undefined {
  return strategies.find(
    (s) =>
      s.implementation !== 'aws-reference' &&
      s.container === 'warm' &&
      s.strategy === reference.strategy &&
      s.engine === reference.engine &&
      s.transport === reference.transport,
  );
}

function referenceTargets(results: BenchResults): TargetResult[] {
  const strategies = results.rotation?.strategies ?? [];
  return (results.reference?.strategies ?? []).map((ref) => {
    const limit = ref.transport === 'tls' ? LIMITS.referenceRatioTls : LIMITS.referenceRatioPlaintext;
    const target = `rotor median / AWS reference function median, ${ref.transport === 'tls' ? 'verified TLS' : 'plaintext'}, same server and endpoint, in turn <= ${limit}`;
    const subject = `${ref.engine} ${ref.strategy}${ref.transport === 'tls' ? ' (TLS)' : ''}`;
    const rotor = rotorCounterpart(strategies, ref);
    const failed =
      unmeasured(ref, target, `${subject}, AWS reference`) ??
      (rotor === undefined ? undefined : unmeasured(rotor, target, subject));
    if (failed !== undefined) return failed;
    if (rotor === undefined) {
      return { target, subject, figure: 'no rotor run', met: false, why: 'nothing to compare with' };
    }
    const ratio = rotor.totalMs.p50 / ref.totalMs.p50;
    const met = ratio <= limit;
    const calls = (s: StrategyResult) => s.secretsManager.total?.median ?? Number.NaN;
    return {
      target,
      subject,
      figure: `${ratio.toFixed(2)} (${ms(rotor.totalMs.p50)} / ${ms(ref.totalMs.p50)}; Secrets Manager calls ${calls(rotor)} / ${calls(ref)})`,
      met,
      ...(met
        ? {}
        : {
            why: `rotor's rotation would have to take ${ms(rotor.totalMs.p50 - ref.totalMs.p50 * limit)} less; its database time is ${ms(rotor.targetMs.p50)}, its overhead ${ms(rotor.overheadMs.p50)} (AWS SDK calls ${ms(rotor.awsMs.p50)})`,
          }),
    };
  });
}

export function evaluateTargets(results: BenchResults): TargetResult[] {
  const strategies = results.rotation?.strategies ?? [];
  return [
    ...callTargets(strategies),
    ...tlsTargets(strategies),
    ...referenceTargets(results),
    ...contextTargets(strategies),
    ...eventTargets(strategies),
    ...windowTargets(strategies),
    ...connectionTargets(strategies),
    ...(results.coldStart ? bundleTargets(results.coldStart) : []),
    ...overheadTargets(results),
  ];
}
