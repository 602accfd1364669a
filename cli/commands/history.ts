/**
 * `rotor history <secret>`: the rotation state, then every version (deprecated ones too) with its
 * labels and dates, newest first, each with rotor's events for it (matched by version id: the
 * rotation's token). Configuration tests, whose temporary version the service deletes when they
 * end, are listed by their token with their outcome; the service's own rotation events (started,
 * failed, abandoned, test passed or failed) follow.
 */

import { testTokens } from '../../handlers/rotationState.js';
import { EXIT, type GlobalOptions } from '../aws.js';
import type { RotorEventRecord } from '../events.js';
import { formatAge, formatDate, formatDay, formatTime, type Printer } from '../io.js';
import { describeSecret, listVersions } from '../secrets.js';
import type { Session } from '../session.js';
import { readEvents, readState, STATE_EVENTS_MS } from '../state.js';
import { errorWithCause } from './rotate.js';

export interface HistoryOptions extends GlobalOptions {
  json?: boolean;
}

const KIND_WORDS: Readonly<Record<RotorEventRecord['kind'], string>> = {
  'step-started': 'started',
  'step-succeeded': 'succeeded',
  'step-failed': 'FAILED',
  'rotation-succeeded': 'rotation succeeded',
  'rotation-failed': 'rotation FAILED (Secrets Manager gave up)',
  'rotation-started': 'rotation started (Secrets Manager)',
  'rotation-abandoned': 'rotation ABANDONED: AWSCURRENT was put by hand',
  'test-started': 'configuration test started',
  'test-passed': 'configuration test passed',
  'test-failed': 'configuration test FAILED',
  healed: 'healed',
  'heal-needed': 'heal needed',
};

/** One event as a line of history. */
export function historyLine(printer: Printer, event: RotorEventRecord): string {
  const word = KIND_WORDS[event.kind];
  const painted = /FAILED/.test(word) ? printer.paint('red', word) : word;
  const parts = [
    formatTime(event.time),
    event.step ?? '',
    painted,
    event.durationMs === undefined ? '' : formatAge(event.durationMs),
    event.attempt === undefined ? '' : `attempt ${event.attempt}`,
    event.decision === undefined ? '' : `decision ${event.decision}`,
    event.error === undefined ? '' : errorWithCause(event.error),
    event.currentVerified === undefined
      ? ''
      : event.currentVerified
        ? 'AWSCURRENT still passes its test'
        : printer.paint('red', 'AWSCURRENT FAILS its test too'),
    event.fallback === undefined ? '' : `WARNING: logged in with ${event.fallback}`,
    ...(event.warnings ?? []).map((warning) => `warning: ${warning}`),
    event.note ?? '',
  ];
  return `    ${parts.filter((part) => part !== '').join('  ')}`;
}

export function eventJson(event: RotorEventRecord) {
  return { ...event, time: event.time.toISOString() };
}

export async function historyCommand(
  session: Session,
  secretId: string,
  options: HistoryOptions,
): Promise<number> {
  const context = await session.aws(options);
  const { out } = session.term;
  const secret = await describeSecret(context, secretId);
  const arn = secret.ARN ?? secretId;
  const name = secret.Name ?? arn;
  // Newest first. Creation dates have whole seconds: within one, the labels tell the order.
  const rank = (labels: readonly string[] | undefined) =>
    labels?.includes('AWSPENDING')
      ? 0
      : labels?.includes('AWSCURRENT')
        ? 1
        : labels?.includes('AWSPREVIOUS')
          ? 2
          : 3;
  const versions = (await listVersions(context, arn)).sort(
    (a, b) =>
      (b.CreatedDate?.getTime() ?? 0) - (a.CreatedDate?.getTime() ?? 0) ||
      rank(a.VersionStages) - rank(b.VersionStages),
  );
  const oldest = versions.at(-1)?.CreatedDate;
  const since = new Date(
    Math.min(
      oldest === undefined ? session.now() : oldest.getTime() - 3_600_000,
      session.now() - STATE_EVENTS_MS,
    ),
  );
  const read = await readEvents(context, secret, since);
  const events = read.events;
  const eventsNote = read.note === undefined ? undefined : `events unavailable: ${read.note}`;
  if (eventsNote !== undefined) session.term.progress(eventsNote);
  // Events that could not be read say nothing about the service: readState must know they were not.
  const { state } = await readState(context, secret, session.now(), {
    events,
    eventsNote: read.note,
    versions,
  });
  const known = new Set(versions.map((version) => version.VersionId));
  const tests = testTokens(events);
  const byVersion = new Map<string, RotorEventRecord[]>();
  const unattributed: RotorEventRecord[] = [];
  for (const event of events) {
    if (event.kind === 'step-started') continue; // The outcome line says the same, with a duration.
    if (event.versionId === undefined) unattributed.push(event);
    else byVersion.set(event.versionId, [...(byVersion.get(event.versionId) ?? []), event]);
  }
  // Tokens with events but no version any more: configuration tests, and versions deleted since.
  const gone = [...byVersion.keys()].filter((token) => !known.has(token));

  if (options.json) {
    out.json({
      secret: name,
      arn,
      state,
      versions: versions.map((version) => ({
        versionId: version.VersionId,
        labels: version.VersionStages ?? [],
        created: version.CreatedDate?.toISOString(),
        lastAccessed: version.LastAccessedDate?.toISOString(),
        events: (byVersion.get(version.VersionId ?? '') ?? []).map(eventJson),
      })),
      gone: gone.map((token) => ({
        versionId: token,
        configurationTest: tests.has(token),
        events: (byVersion.get(token) ?? []).map(eventJson),
      })),
      otherEvents: unattributed.map(eventJson),
      ...(eventsNote === undefined ? {} : { eventsNote }),
    });
    return EXIT.ok;
  }
  out.line(`history of ${name} (${arn}), newest first`);
  out.line(`  state: ${state.state}: ${state.reason}`);
  for (const version of versions) {
    const labels = version.VersionStages?.length ? version.VersionStages.join(', ') : 'deprecated';
    out.line(
      `  ${out.paint('bold', version.VersionId ?? '?')}  ${labels}  created ${formatDate(version.CreatedDate)}  last accessed ${formatDay(version.LastAccessedDate)}`,
    );
    for (const event of byVersion.get(version.VersionId ?? '') ?? []) out.line(historyLine(out, event));
  }
  for (const token of gone) {
    out.line(
      `  ${out.paint('bold', token)}  ${tests.has(token) ? 'configuration test (its temporary version is gone)' : 'version no longer kept'}`,
    );
    for (const event of byVersion.get(token) ?? []) out.line(historyLine(out, event));
  }
  if (unattributed.length > 0) {
    out.line("  Secrets Manager's events (they carry no version):");
    for (const event of unattributed) out.line(historyLine(out, event));
  }
  return EXIT.ok;
}
