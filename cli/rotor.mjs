#!/usr/bin/env node
// The `rotor` executable: registers tsx (a dependency) so that Node runs the TypeScript sources,
// then hands over to cli/main.ts.
import { register } from 'tsx/esm/api';

// Under Node 20 the AWS SDK warns on every run that its future versions need Node 22: nothing an
// operator can act on per command. Left alone when the user has set it either way.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

register();
const { main } = await import('./main.ts');
await main();
