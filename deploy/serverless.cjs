// osls resolves `${file(...)}` only from .js/.cjs files; this shim loads the TypeScript that builds
// the stage's configuration and resources (deploy/*.ts) through tsx, fully offline.
//
// A stage-file mistake is reported as one line on stderr (the file, the entry, the field and what
// was expected) and the command exits 1: osls would otherwise print it with a stack trace once per
// variable that reads the stage (five times and more).
const path = require('node:path');

async function loadOrExit(options, resolveVariable) {
  const { tsImport } = await import('tsx/esm/api');
  const { loadStageFor } = await tsImport('./stage.ts', __filename);
  try {
    return loadStageFor({
      root: path.join(__dirname, '..'),
      stage: options.stage,
      region: options.region,
      service: await resolveVariable('self:service'),
    });
  } catch (error) {
    if (error?.name !== 'DeployConfigError') throw error;
    // Several variables resolve concurrently: only the first one reports.
    if (!process.rotorStageErrorReported) {
      process.rotorStageErrorReported = true;
      process.stderr.write(`rotor: ${error.message}\n`);
    }
    process.exit(1);
  }
}

// null reads as "not found" to osls, so a `${..., fallback}` in serverless.yml applies.
const part =
  (name) =>
  async ({ options, resolveVariable }) =>
    (await loadOrExit(options, resolveVariable))[name] ?? null;

module.exports.config = part('config');
module.exports.resources = part('resources');
// No `vpc:` block: nothing here, and serverless.yml's `, null` fallback leaves the functions out of
// any VPC (osls refuses an empty object).
module.exports.vpc = part('vpc');
