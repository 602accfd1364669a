/**
 * `rotor history <secret>`: every version (deprecated ones too) with its labels and dates, newest
 * first, each with rotor's events for it (matched by version id: the rotation's token).
 */
import { EXIT, type GlobalOptions } from '../aws.js';
import type { RotorEventRecord } from '../events.js';
import { formatAge, formatDate, formatDay, formatTime, type Printer } from '../io.js';
import { describeSecret, listVersions } from '../secrets.js';
import type { Session } from '../session.js';
import { shortError } from './rotate.js';

export interface HistoryOptions extends GlobalOptions {
  json?: boolean;
}

const KIND_WORDS: Readonly<Record<RotorEventRecord['kind'], string>> = {
  'step-started': 'started',
  'step-succeeded': 'succeeded',
  'step-failed': 'FAILED',
  'rotation-succeeded': 'rotation succeeded',
  'rotation-failed': 'rotation FAILED',
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
    event.error === undefined ? '' : shortError(event.error),
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
  const versions = (await listVersions(context, arn)).sort(
    (a, b) => (b.CreatedDate?.getTime() ?? 0) - (a.CreatedDate?.getTime() ?? 0),
  );
  const oldest = versions.at(-1)?.CreatedDate;
  let events: RotorEventRecord[] = [];
  let eventsNote: string | undefined;
  try {
    events = await context.events.forSecret(arn, {
      ...(oldest === undefined ? {} : { since: new Date(oldest.getTime() - 3_600_000) }),
      ...(secret.RotationLambdaARN === undefined ? {} : { functionArn: secret.RotationLambdaARN }),
    });
  } catch (error) {
    eventsNote = `events unavailable from ${context.events.description} (${error instanceof Error ? error.name : 'error'})`;
    session.term.progress(eventsNote);
  }
  const byVersion = new Map<string, RotorEventRecord[]>();
  const unattributed: RotorEventRecord[] = [];
  for (const event of events) {
    if (event.kind === 'step-started') continue; // The outcome line says the same, with a duration.
    if (event.versionId === undefined) unattributed.push(event);
    else byVersion.set(event.versionId, [...(byVersion.get(event.versionId) ?? []), event]);
  }

  if (options.json) {
    out.json({
      secret: name,
      arn,
      versions: versions.map((version) => ({
        versionId: version.VersionId,
        labels: version.VersionStages ?? [],
        created: version.CreatedDate?.toISOString(),
        lastAccessed: version.LastAccessedDate?.toISOString(),
        events: (byVersion.get(version.VersionId ?? '') ?? []).map(eventJson),
      })),
      otherEvents: unattributed.map(eventJson),
      ...(eventsNote === undefined ? {} : { eventsNote }),
    });
    return EXIT.ok;
  }
  out.line(`history of ${name} (${arn}), newest first`);
  for (const version of versions) {
    const labels = version.VersionStages?.length ? version.VersionStages.join(', ') : 'deprecated';
    out.line(
      `  ${out.paint('bold', version.VersionId ?? '?')}  ${labels}  created ${formatDate(version.CreatedDate)}  last accessed ${formatDay(version.LastAccessedDate)}`,
    );
    for (const event of byVersion.get(version.VersionId ?? '') ?? []) out.line(historyLine(out, event));
  }
  if (unattributed.length > 0) {
    out.line('  events of the secret (no version):');
    for (const event of unattributed) out.line(historyLine(out, event));
  }
  return EXIT.ok;
}
