/**
 * `rotor local`: the local AWS stack (Secrets Manager, EventBridge, rotor's rotation functions),
 * exactly as `npm run local` serves it, until Ctrl-C.
 */
import { serveLocalStack } from '../../local/main.js';
import { EXIT } from '../aws.js';
import type { Session } from '../session.js';

export interface LocalOptions {
  port: number;
  host: string;
  region: string;
  state?: string;
  scheduleSeconds: number;
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
  session.term.progress('serving until Ctrl-C');
  await new Promise<void>((resolve) => {
    if (session.signal.aborted) return resolve();
    session.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  session.term.progress('stopping the local stack');
  await stack.stop();
  return EXIT.ok;
}
