/**
 * `rotor heal <secret>`: explains what the Healer would do with a failed or stuck rotation (roll
 * forward, abandon, leave for a person) and does it only with `--yes`. Whether the rotation is
 * failed, stuck or still running is the rotation state model's answer (handlers/rotationState.ts),
 * from the same events `rotor status` reads, so the two never disagree: a failed rotation is healed
 * without `--force`. The decision rests on the rotator's own non-mutating test of each credential,
 * so it is the judgement the rotation itself would make; each failure names its cause's class.
 *
 * Exit codes: 0 when nothing is left to do (healthy, a rotation still running, or healed now);
 * 1 while a failed or stuck rotation is left (not carried out without --yes, or a person must look).
 */
import { EventPublisher } from '../../handlers/events.js';
import { Healer, type HealReport } from '../../handlers/heal.js';
import { redactor } from '../../handlers/redact.js';
import { runbookUrl } from '../../handlers/runbook.js';
import { SecretsStore } from '../../handlers/secrets.js';
import { CAUSE_WORDS } from '../../rotators/causes.js';
import { EXIT, type GlobalOptions } from '../aws.js';
import { oldNote } from '../io.js';
import { describeSecret } from '../secrets.js';
import type { Session } from '../session.js';
import { readEvents, STATE_EVENTS_MS } from '../state.js';
import { failureSentences } from './status.js';

export interface HealOptions extends GlobalOptions {
  yes?: boolean;
  force?: boolean;
  /** Milliseconds. */
  minAge: number;
  json?: boolean;
}

/** What carrying the decision out does (or did), in words. */
function plan(report: HealReport, done: boolean): string {
  const pending = report.pendingVersionId ?? '?';
  if (report.decision === 'roll-forward') {
    return done
      ? `promoted version ${pending} to AWSCURRENT, ran the rotator's finish step and cleared AWSPENDING`
      : `promote version ${pending} to AWSCURRENT (the current one becomes AWSPREVIOUS), run the rotator's finish step, and clear AWSPENDING`;
  }
  return done
    ? `cleared AWSPENDING from version ${pending}; AWSCURRENT is unchanged`
    : `clear AWSPENDING from version ${pending}; AWSCURRENT stays as it is and keeps working`;
}

function works(ok: boolean | undefined, error: string | undefined): string {
  if (ok === undefined) return 'not tested';
  return ok ? 'works' : `fails: ${error ?? 'unknown error'}`;
}

export async function healCommand(session: Session, secretId: string, options: HealOptions): Promise<number> {
  const context = await session.aws(options);
  const { out } = session.term;
  // Described here first, so that a wrong name or a missing permission is explained.
  const secret = await describeSecret(context, secretId);
  const name = secret.Name ?? secretId;
  const config = session.config();
  const healer = new Healer({
    store: new SecretsStore(context.sm),
    registry: session.registry(),
    redactor,
    minAgeMs: options.minAge,
    discovery: context.discovery,
    // The same events `rotor status` judges with.
    events: async () => {
      const read = await readEvents(context, secret, new Date(session.now() - STATE_EVENTS_MS));
      if (read.note !== undefined) {
        session.term.progress(`judging without events: ${read.note}`);
        throw new Error(read.note);
      }
      return read.events;
    },
    serviceEventsVisible: context.events.includesServiceEvents,
    trust: config,
    now: () => session.now(),
    ...(config.eventsEnabled
      ? {
          publisher: new EventPublisher(context.eb, {
            busName: config.eventBusName,
            source: config.eventSource,
            redactor,
            onFailure: (count, reason) =>
              session.term.progress(`${count} heal event(s) not published to EventBridge (${reason})`),
          }),
        }
      : {}),
  });
  session.term.progress(`${name}: reading the versions and testing the credentials...`);
  const report = await healer.heal(secret.ARN ?? secretId, {
    apply: options.yes === true,
    force: options.force === true,
    // Looking is not news: only what was done is published (Rotation Healed).
    announceNeeded: false,
    signal: AbortSignal.any([AbortSignal.timeout(120_000), session.signal]),
  });

  const stuck = report.decision === 'roll-forward' || report.decision === 'abandon';
  const code = report.decision === 'manual' || (stuck && !report.acted) ? EXIT.failure : EXIT.ok;
  if (options.json) {
    out.json({ secret: name, ...report });
    return code;
  }
  const colour = report.decision === 'healthy' ? 'green' : report.decision === 'manual' ? 'red' : 'yellow';
  out.line(`heal ${name} (${report.secretArn})`);
  out.line(`  state     ${report.state}`);
  out.line(`  decision  ${out.paint(colour, report.decision)}`);
  out.line(`  why       ${report.reason}`);
  if (report.pendingVersionId !== undefined && report.decision !== 'healthy') {
    const age = report.pendingAgeSeconds === undefined ? '' : ` (${oldNote(report.pendingAgeSeconds)})`;
    out.line(
      `  pending   version ${report.pendingVersionId}${age}: ${works(report.pendingWorks, report.pendingError)}`,
    );
  }
  if (report.currentVersionId !== undefined) {
    out.line(
      `  current   version ${report.currentVersionId}: ${works(report.currentWorks, report.currentError)}`,
    );
  }
  // What the failure's own event said (the step machine tested AWSCURRENT right after it): shown
  // beside the heal's own test, so that neither silently overrides the other.
  if (report.failure !== undefined && report.decision !== 'healthy') {
    for (const { text } of failureSentences(report.failure)) out.line(`  failure   ${text}`);
  }
  if (stuck && report.acted) {
    out.line(`${out.paint('green', 'done')}: ${plan(report, true)}; rotation can run again`);
  } else if (stuck) {
    out.line(`would ${plan(report, false)}. Nothing was changed: run again with --yes to do it`);
  } else if (report.decision === 'manual') {
    const cause = report.cause ?? report.currentCause ?? report.pendingCause;
    out.line(
      `nothing was changed: a person must look${cause === undefined ? '' : ` (cause: ${CAUSE_WORDS[cause]})`}; fix it, then run heal again`,
    );
  } else if (report.decision === 'in-progress') {
    out.line('nothing was changed: the rotation is running; wait for it to end (or use --force)');
  }
  const error = report.failure?.error;
  if (error !== undefined && report.decision !== 'healthy') out.line(`runbook: ${runbookUrl(error)}`);
  return code;
}
