#!/usr/bin/env node
// The `rotor` executable. In a checkout it runs the TypeScript sources through tsx (a dev
// dependency), so what runs is what is checked out, with nothing to build. The installed package
// holds no sources: there it runs dist/cli.mjs, the bundle `npm run build:cli` writes when the
// package is packed (a plain ES module with every library inside; Node alone runs it).
import { existsSync } from 'node:fs';

// Under Node 20 the AWS SDK warns on every run that its future versions need Node 22: nothing an
// operator can act on per command. Left alone when the user has set it either way.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

// A reader that stops early (`rotor history x | head`) closes the pipe: not a failure of rotor's, so
// it ends quietly instead of with a stack trace.
process.stdout.on('error', (error) => {
  if (error.code === 'EPIPE') process.exit();
  throw error;
});

const sources = new URL('./main.ts', import.meta.url);
let cli;
if (existsSync(sources)) {
  const { register } = await import('tsx/esm/api');
  register();
  cli = await import(sources.href);
} else {
  cli = await import('../dist/cli.mjs');
}
await cli.main();
