/** Loads and validates a stage file, and derives what serverless.yml needs from it. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ENGINES_TAG, enginesTagValue, FUNCTION_ENGINES } from '../handlers/functions.js';
import { type DeployConfig, DeployConfigError, parseDeployConfig } from './config.js';
import { buildResources, HEAL_FUNCTION, mastersJson, rdsMastersJson, type ServiceNames } from './template.js';

export interface Stage {
  config: DeployConfig & {
    serviceName: string;
    providersJson: string;
    /** ROTOR_MASTERS / ROTOR_RDS_MASTERS by function: each database function gets its engines' only. */
    mastersJson: Record<'postgres' | 'mysql' | 'heal', string>;
    rdsMastersJson: Record<'postgres' | 'mysql' | 'heal', string>;
    /**
     * Each rotation function's Lambda tags: `rotor:engines` names the engines it rotates, which
     * `rotor attach` / `rotor preflight` check against a secret's engine (handlers/functions.ts).
     */
    functionTags: Record<'postgres' | 'mysql' | 'apikey', Record<string, string>>;
  };
  resources: ReturnType<typeof buildResources>;
  /**
   * Lambda VPC settings for the database and heal functions, or undefined when the stage has no
   * `vpc:` block (osls refuses an empty object there; serverless.cjs passes null, which it accepts).
   */
  vpc: { subnetIds: string[]; securityGroupIds: string[] } | undefined;
}

const cache = new Map<string, Stage>();

/**
 * The stage osls was asked for, from its command-line options: a stage is required (a run without
 * `--stage` never falls back to the example), and a `--region` that differs from the stage file's
 * region is refused (its ARNs, secrets and databases are in the file's region).
 */
export function loadStageFor(input: {
  root: string;
  /** osls passes null for an option not given. */
  stage: string | null | undefined;
  region: string | null | undefined;
  service: string;
}): Stage {
  const { root, stage, region, service } = input;
  if (stage === undefined || stage === null || stage === '') {
    throw new DeployConfigError(
      'no stage: run with --stage <stage> to use deploy/stages/<stage>.yml (start from a copy of deploy/stages/example.yml); the example itself is packaged only when asked for (--stage example)',
    );
  }
  if (!/^[A-Za-z0-9-]{1,32}$/.test(stage)) {
    throw new DeployConfigError(`--stage ${stage}: must be 1 to 32 letters, digits or hyphens`);
  }
  const display = `deploy/stages/${stage}.yml`;
  const loaded = loadStage(join(root, display), { service, stage }, display);
  if (region !== undefined && region !== null && region !== loaded.config.region) {
    throw new DeployConfigError(
      `${display}: region: the stage is in ${loaded.config.region} but --region says ${region}; its secrets, ARNs and databases are in ${loaded.config.region}: drop --region, or use a stage file for ${region}`,
    );
  }
  return loaded;
}

export function loadStage(file: string, names: ServiceNames, display = file): Stage {
  const key = `${file}\n${names.service}\n${names.stage}`;
  const cached = cache.get(key);
  if (cached) return cached;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new DeployConfigError(
      `no stage file ${display}: copy deploy/stages/example.yml to it and list your secrets`,
    );
  }
  let value: unknown;
  try {
    value = parse(text);
  } catch (error) {
    throw new DeployConfigError(`${display}: not valid YAML (${(error as Error).message.split('\n')[0]})`);
  }
  const config = parseDeployConfig(value ?? {}, display);
  const stage: Stage = {
    config: {
      ...config,
      serviceName: `${names.service}-${names.stage}`,
      providersJson: JSON.stringify(config.apiKeyProviders),
      mastersJson: {
        postgres: mastersJson(config, 'postgres'),
        mysql: mastersJson(config, 'mysql'),
        heal: mastersJson(config, HEAL_FUNCTION),
      },
      rdsMastersJson: {
        postgres: rdsMastersJson(config, 'postgres'),
        mysql: rdsMastersJson(config, 'mysql'),
        heal: rdsMastersJson(config, HEAL_FUNCTION),
      },
      functionTags: {
        postgres: { [ENGINES_TAG]: enginesTagValue(FUNCTION_ENGINES.postgres) },
        mysql: { [ENGINES_TAG]: enginesTagValue(FUNCTION_ENGINES.mysql) },
        apikey: { [ENGINES_TAG]: enginesTagValue(FUNCTION_ENGINES.apikey) },
      },
    },
    resources: buildResources(config, names),
    vpc: config.vpc
      ? { subnetIds: config.vpc.subnetIds, securityGroupIds: config.vpc.securityGroupIds }
      : undefined,
  };
  cache.set(key, stage);
  return stage;
}
