/** Prints a run's results as plain-text tables. */
import type { CountStat, CountStats, StrategyResult } from './rotations.js';
import { type BenchResults, formatOps, rotorCounterpart } from './targets.js';

function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((header, i) =>
    Math.max(header.length, ...rows.map((row) => (row[i] ?? '').length)),
  );
  // Text columns (the first ones) align left, figures right.
  const numeric = headers.map(
    (_, i) => rows.length > 0 && rows.every((row) => /^[\d.\s/–-]*$|^-$/.test(row[i] ?? '')),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (numeric[i] ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

const ms = (value: number) => (Number.isFinite(value) ? value.toFixed(1) : '-');
const MB = (bytes: number) => (bytes / 1_000_000).toFixed(1);
const kB = (bytes: number | undefined) => (bytes === undefined ? '-' : (bytes / 1000).toFixed(0));

/** A count per rotation: its median, with the range when it varied. */
function count(stat: CountStat | undefined): string {
  if (stat === undefined) return '0';
  const median = Number.isInteger(stat.median) ? String(stat.median) : stat.median.toFixed(1);
  return stat.min === stat.max ? median : `${median} (${stat.min}–${stat.max})`;
}

function medians(stats: CountStats): Record<string, number> {
  return Object.fromEntries(Object.entries(stats).map(([key, stat]) => [key, stat.median]));
}

function sumOf(stats: CountStats): CountStat {
  const values = Object.values(stats);
  return {
    median: values.reduce((sum, stat) => sum + stat.median, 0),
    min: values.reduce((sum, stat) => sum + stat.min, 0),
    max: values.reduce((sum, stat) => sum + stat.max, 0),
  };
}

function label(s: StrategyResult): string[] {
  return [s.engine, s.strategy, s.transport === 'tls' ? 'TLS' : 'plain'];
}

function latencyTable(strategies: readonly StrategyResult[]): string {
  return table(
    [
      'engine',
      'strategy',
      'transport',
      'n',
      'total p50',
      'p95',
      'window p50/p95',
      'function p50',
      'p95',
      'create p50/p95',
      'set',
      'test',
      'finish',
      'db/provider',
      'overhead',
      'of it AWS',
    ],
    strategies.map((s) => [
      ...label(s),
      String(s.rotations),
      ms(s.totalMs.p50),
      ms(s.totalMs.p95),
      s.windowMs === undefined ? '-' : `${ms(s.windowMs.p50)}/${ms(s.windowMs.p95)}`,
      ms(s.functionMs.p50),
      ms(s.functionMs.p95),
      ...['createSecret', 'setSecret', 'testSecret', 'finishSecret'].map((step) => {
        const stat = s.stepMs[step];
        return stat === undefined ? '-' : `${ms(stat.p50)}/${ms(stat.p95)}`;
      }),
      ms(s.targetMs.p50),
      ms(s.overheadMs.p50),
      ms(s.awsMs.p50),
    ]),
  );
}

function callsTable(strategies: readonly StrategyResult[]): string {
  return table(
    [
      'engine',
      'strategy',
      'transport',
      'container',
      'Secrets Manager',
      'by operation',
      'PutEvents',
      'awaited',
      'TLS contexts',
      'TLS handshakes (resumed)',
      'db attempts',
      'sessions',
      'statements',
      'HTTP',
      'provider requests',
    ],
    strategies.map((s) => {
      const { total: _total, ...byOperation } = s.secretsManager;
      return [
        ...label(s),
        s.container,
        count(s.secretsManager.total),
        formatOps(medians(byOperation)),
        count(sumOf(s.eventBridge)),
        count(s.target['events.awaitedPutEvents']),
        count(s.target['tls.secureContexts']),
        s.transport === 'tls'
          ? `${count(s.target['tls.handshakes'])} (${count(s.target['tls.resumed'])})`
          : '-',
        count(s.target['db.connectAttempts']),
        count(s.target['db.sessions']),
        count(s.target['db.queries']),
        count(s.target['http.requests']),
        formatOps(medians(s.served)),
      ];
    }),
  );
}

function stepsTable(strategies: readonly StrategyResult[]): string {
  const rows = strategies.flatMap((s) =>
    Object.entries(s.perStep).map(([step, cost]) => [
      ...label(s),
      step,
      formatOps(cost.secretsManager),
      String(cost.target['db.connectAttempts'] ?? 0),
      String(cost.target['db.sessions'] ?? 0),
      String(cost.target['db.queries'] ?? 0),
      String(cost.target['http.requests'] ?? 0),
    ]),
  );
  return table(
    [
      'engine',
      'strategy',
      'transport',
      'step',
      'Secrets Manager calls',
      'db attempts',
      'sessions',
      'statements',
      'HTTP',
    ],
    rows,
  );
}

/** TLS p50 against plaintext p50 for every strategy measured both ways. */
function tlsTable(strategies: readonly StrategyResult[]): string | undefined {
  const rows = strategies
    .filter((s) => s.transport === 'tls' && s.rotations > 0)
    .flatMap((tls) => {
      const plain = strategies.find(
        (p) =>
          p.transport === 'plaintext' &&
          p.engine === tls.engine &&
          p.strategy === tls.strategy &&
          p.container === tls.container &&
          p.rotations > 0,
      );
      if (plain === undefined) return [];
      return [
        [
          tls.engine,
          tls.strategy,
          tls.container,
          ms(plain.totalMs.p50),
          ms(tls.totalMs.p50),
          (tls.totalMs.p50 / plain.totalMs.p50).toFixed(2),
        ],
      ];
    });
  if (rows.length === 0) return undefined;
  return table(['engine', 'strategy', 'container', 'plaintext', 'TLS', 'TLS / plaintext'], rows);
}

/** AWS's reference functions next to rotor's single-user rotations of the same run. */
function referenceTable(results: BenchResults): string | undefined {
  const strategies = results.rotation?.strategies ?? [];
  const rows = (results.reference?.strategies ?? []).map((ref) => {
    const rotor = rotorCounterpart(strategies, ref);
    return [
      ref.engine,
      ref.transport === 'tls' ? 'TLS' : 'plain',
      String(ref.rotations),
      rotor ? `${ms(rotor.totalMs.p50)}/${ms(rotor.totalMs.p95)}` : '-',
      `${ms(ref.totalMs.p50)}/${ms(ref.totalMs.p95)}`,
      rotor && ref.rotations > 0 ? (rotor.totalMs.p50 / ref.totalMs.p50).toFixed(2) : '-',
      rotor ? count(rotor.secretsManager.total) : '-',
      count(ref.secretsManager.total),
      ref.windowMs === undefined ? '-' : ms(ref.windowMs.p50),
    ];
  });
  if (rows.length === 0) return undefined;
  return table(
    [
      'engine',
      'transport',
      'n',
      'rotor p50/p95',
      'AWS reference p50/p95',
      'rotor / AWS',
      'SM calls rotor',
      'AWS',
      'AWS window p50',
    ],
    rows,
  );
}

function targetTable(results: BenchResults): string {
  return table(
    ['', 'subject', 'figure', 'target'],
    results.targets.map((t) => [t.met ? 'met' : 'MISSED', t.subject, t.figure, t.target]),
  );
}

export function formatReport(results: BenchResults): string {
  return [
    ...headerSection(results),
    ...rotationSection(results),
    ...coldStartSection(results),
    ...scaleSection(results),
    ...targetsSection(results),
  ].join('\n');
}

/** What ran where: the machine, the commit, the servers. */
function headerSection(results: BenchResults): string[] {
  const out: string[] = [];
  const { machine } = results;
  out.push(
    `rotor benchmark ${results.startedAt}${results.options.quick ? ' (--quick: small sizes, figures indicative only)' : ''}`,
  );
  out.push(
    `machine: ${machine.cpuModel}, ${machine.cores} cores, ${(machine.memoryBytes / 2 ** 30).toFixed(1)} GiB, ${machine.os}; Node ${machine.node}; load average at start ${machine.loadAverageAtStart.join(' ')}`,
  );
  if (machine.git)
    out.push(`commit ${machine.git.commit}${machine.git.dirty ? ' (working tree has changes)' : ''}`);
  for (const [engine, server] of Object.entries(results.servers)) out.push(`${engine}: ${server}`);
  for (const line of results.setup) out.push(`setup: ${line}`);
  for (const line of results.skipped) out.push(`skipped: ${line}`);
  return out;
}

/** Part 1: one rotation at a time, warm and cold, with TLS and reference comparisons. */
function rotationSection(results: BenchResults): string[] {
  const out: string[] = [];
  const rotation = results.rotation;
  if (rotation !== undefined) {
    const warm = rotation.strategies.filter((s) => s.container === 'warm');
    const cold = rotation.strategies.filter((s) => s.container === 'cold');
    out.push(
      '',
      `1. PER ROTATION — RotateSecret → settled, one rotation at a time; times in ms; warm container (one handler for every step), ${results.options.warmup} warm-up rotation(s) left out`,
      latencyTable(warm),
      '',
      '   function = the four invocations measured at the function; db/provider = time inside connect/statements/HTTP;',
      '   overhead = function − db/provider (the target); "of it AWS" = time inside the function’s Secrets Manager and',
      '   EventBridge calls while no db/provider call ran; the rest of the overhead is rotor’s own work in the process',
    );
    if (cold.length > 0) {
      out.push(
        '',
        '   cold container (a fresh handler and SDK clients for every step, no version cache):',
        latencyTable(cold),
      );
    }
    // In run order: each strategy's warm run, then its cold run.
    out.push('', '   Calls per rotation (median; range when it varied)', callsTable(rotation.strategies));
    out.push('', '   Per step, warm container (medians)', stepsTable(warm));
    const tls = tlsTable(rotation.strategies);
    if (tls !== undefined) {
      out.push(
        '',
        '   Verified TLS against plaintext, same server, engine, strategy and container (total p50 ms)',
        tls,
      );
    }
    const reference = referenceTable(results);
    if (reference !== undefined) {
      out.push(
        '',
        `   AWS's reference single-user functions (${results.reference?.dir}), rotated in turn with rotor's on the same servers and endpoint, warm (total ms)`,
        reference,
      );
      for (const s of results.reference?.strategies ?? []) {
        if (s.failure !== undefined)
          out.push(`   FAILED AWS reference ${s.engine} ${s.transport}: ${s.failure}`);
        if (s.verified !== 'ok')
          out.push(`   NOT VERIFIED AWS reference ${s.engine} ${s.transport}: ${s.verified}`);
      }
    }
    out.push(
      '',
      '   window = single-user: the password change in setSecret → AWSCURRENT moved in finishSecret (a client holding',
      '   the old password is refused meanwhile); awaited = PutEvents that ended while nothing else of the step ran;',
      '   TLS contexts = tls.createSecureContext calls in the process (rotor or driver) during the rotation',
    );
    if (rotation.scramVerifierMs !== undefined) {
      out.push(
        '',
        `   one SCRAM-SHA-256 verifier (computed in the function for each new PostgreSQL password): ${ms(rotation.scramVerifierMs)} ms`,
      );
    }
    if (rotation.functionOutputPerRotation !== undefined) {
      const { lines, bytes } = rotation.functionOutputPerRotation;
      out.push(
        `   function logs and metrics written per rotation: ${lines.toFixed(1)} lines, ${kB(bytes)} kB (counted, not printed)`,
      );
    }
    for (const s of rotation.strategies) {
      if (s.failure !== undefined)
        out.push(`   FAILED ${s.engine} ${s.strategy} ${s.transport} (${s.container}): ${s.failure}`);
      if (s.verified !== 'ok')
        out.push(`   NOT VERIFIED ${s.engine} ${s.strategy} ${s.transport} (${s.container}): ${s.verified}`);
    }
  }
  return out;
}

/** Part 2: bundle sizes and import times per function. */
function coldStartSection(results: BenchResults): string[] {
  const out: string[] = [];
  const coldStart = results.coldStart;
  if (coldStart !== undefined) {
    out.push(
      '',
      `2. COLD START — esbuild with serverless.yml's custom.esbuild; zipped as serverless-esbuild packs it; import = median of ${coldStart.runs} fresh Node processes minus bare start-up (${ms(coldStart.nodeStartMs)} ms)`,
      `   imported with this machine's Node ${results.machine.node}; Lambda runs ${coldStart.lambdaRuntime}`,
      table(
        [
          'function',
          'entry',
          'raw kB',
          'zip kB',
          'import ms',
          'require() ms',
          'largest parts (kB in bundle)',
        ],
        coldStart.bundles.map((b) => [
          b.function,
          b.entry,
          kB(b.rawBytes),
          kB(b.zipBytes),
          ms(b.importMs ?? Number.NaN),
          ms(b.requireMs ?? Number.NaN),
          b.error ?? (b.contributors ?? []).map((c) => `${c.name} ${kB(c.bytes)}`).join(', '),
        ]),
      ),
    );
  }
  return out;
}

/** Part 3: many secrets through one warm function. */
function scaleSection(results: BenchResults): string[] {
  const out: string[] = [];
  const scale = results.scale;
  if (scale !== undefined && scale.length > 0) {
    out.push(
      '',
      `3. SCALE — N secrets rotated through RotateSecret, ${results.options.concurrency} in flight, one warm function, a fresh local stack per run`,
      table(
        [
          'engine',
          'secrets',
          'wall s',
          'rotations/s',
          'latency p50',
          'p95',
          'p99',
          'function p50',
          'SM/rot',
          'EB/rot',
          'db att/rot',
          'HTTP/rot',
          'RSS MB before→peak',
          'failed',
        ],
        scale.map((r) => [
          r.engine,
          String(r.secrets),
          (r.wallMs / 1000).toFixed(1),
          r.rotationsPerSecond.toFixed(1),
          ms(r.latencyMs.p50),
          ms(r.latencyMs.p95),
          ms(r.latencyMs.p99),
          ms(r.functionMs.p50),
          r.perRotation.secretsManager.toFixed(1),
          r.perRotation.eventBridge.toFixed(1),
          r.perRotation.connectAttempts.toFixed(1),
          r.perRotation.httpRequests.toFixed(1),
          `${MB(r.rssBeforeBytes)}→${MB(r.peakRssBytes)}`,
          String(r.failures.length + r.notVerified),
        ]),
      ),
    );
    for (const engine of new Set(scale.map((r) => r.engine))) {
      const runs = scale.filter((r) => r.engine === engine);
      if (runs.length < 2) continue;
      const first = runs[0] as (typeof runs)[number];
      const last = runs.at(-1) as (typeof runs)[number];
      out.push(
        `   ${engine} growth ${runs.map((r) => r.secrets).join(' → ')} secrets: function p50 ${runs.map((r) => ms(r.functionMs.p50)).join(' → ')} ms (×${(last.functionMs.p50 / first.functionMs.p50).toFixed(2)}), SM calls/rotation ${runs.map((r) => r.perRotation.secretsManager.toFixed(1)).join(' → ')}, HTTP/rotation ${runs.map((r) => r.perRotation.httpRequests.toFixed(1)).join(' → ')}`,
      );
    }
    for (const target of new Set(scale.map((r) => `${r.engine}: ${r.target}`))) out.push(`   ${target}`);
    for (const r of scale) {
      for (const failure of r.failures.slice(0, 5))
        out.push(`   FAILED ${r.engine} x${r.secrets}: ${failure}`);
      if (r.notVerified > 0)
        out.push(`   NOT VERIFIED ${r.engine} x${r.secrets}: ${r.notVerified} secret(s)`);
    }
  }
  return out;
}

/** Every target, met or missed, and why the missed ones were. */
function targetsSection(results: BenchResults): string[] {
  const out: string[] = [];
  if (results.targets.length > 0) {
    const missed = results.targets.filter((t) => !t.met);
    out.push(
      '',
      `TARGETS — ${results.targets.length - missed.length} met, ${missed.length} missed (load average at start ${results.machine.loadAverageAtStart.join(' ')})`,
      targetTable(results),
    );
    if (missed.length > 0) {
      out.push('', 'Why each missed target was missed:');
      for (const t of missed) out.push(`  ${t.subject}: ${t.target}`, `    ${t.why ?? '-'}`);
    }
  }
  return out;
}
