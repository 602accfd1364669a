// osls resolves `${file(...)}` only from .js/.cjs files; this shim loads the TypeScript that builds
// the stage's configuration and resources (deploy/*.ts) through tsx, fully offline.
const path = require('node:path');

async function load(resolveVariable) {
  const { tsImport } = await import('tsx/esm/api');
  const { loadStage } = await tsImport('./stage.ts', __filename);
  const stage = await resolveVariable('sls:stage');
  const service = await resolveVariable('self:service');
  return loadStage(path.join(__dirname, 'stages', `${stage}.yml`), { service, stage });
}

module.exports.config = async ({ resolveVariable }) => (await load(resolveVariable)).config;
module.exports.resources = async ({ resolveVariable }) => (await load(resolveVariable)).resources;
module.exports.vpc = async ({ resolveVariable }) => (await load(resolveVariable)).vpc;
