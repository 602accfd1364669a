/**
 * `rotor local`: the local AWS stack (Secrets Manager, EventBridge, rotor's rotation functions),
 * exactly as `npm run local` serves it, until Ctrl-C. With `--rehearse`, it also stages one secret
 * per common failure (local/rehearsal.ts) for on-call to practise on.
 */
import { serveLocalStack } from '../../local/main.js';
import type { Rehearsal, stageRehearsal } from '../../local/rehearsal.js';
import { ConfigurationError } from '../../rotators/errors.js';
import { EXIT } from '../aws.js';
import type { Session } from '../session.js';

export interface LocalOptions {
  port: number;
  host: string;
  region: string;
  state?: string;
  scheduleSeconds: number;
  /** Stage the failures of the rehearsal (a database and a provider start on this machine). */
  rehearse?: boolean;
}

/**
 * The rehearsal starts an embedded PostgreSQL, which is a development dependency: it is loaded
 * from the checkout at run time, never bundled into the installed CLI (which says so instead).
 */
async function loadRehearsal(): Promise<typeof stageRehearsal> {
  const path = '../../local/rehearsal.js';
  try {
    return ((await import(path)) as { stageRehearsal: typeof stageRehearsal }).stageRehearsal;
  } catch (error) {
    throw new ConfigurationError(
      `rotor local --rehearse needs a checkout of rotor with its development dependencies (npm ci), not the installed CLI (${error instanceof Error ? error.name : 'error'})`,
    );
  }
}

export async function localCommand(session: Session, options: LocalOptions): Promise<number> {
  const { stack, banner } = await serveLocalStack({
    port: options.port,
    host: options.host,
    region: options.region,
    ...(options.state === undefined ? {} : { stateFile: options.state }),
    scheduleSeconds: options.scheduleSeconds,
  });
  session.term.out.line(banner);
  let rehearsal: Rehearsal | undefined;
  if (options.rehearse === true) {
    session.term.progress(
      'staging the rehearsal (PostgreSQL, an API-key provider, one secret per failure)...',
    );
    try {
      rehearsal = await (await loadRehearsal())(stack);
    } catch (error) {
      await stack.stop();
      throw error;
    }
    session.term.out.line(rehearsal.banner);
  }
  session.term.progress('serving until Ctrl-C');
  await new Promise<void>((resolve) => {
    if (session.signal.aborted) return resolve();
    session.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  session.term.progress('stopping the local stack');
  await stack.stop();
  await rehearsal?.close();
  return EXIT.ok;
}
