/** Loads and validates a stage file, and derives what serverless.yml needs from it. */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { type DeployConfig, DeployConfigError, parseDeployConfig } from './config.js';
import { buildResources, HEAL_FUNCTION, mastersJson, rdsMastersJson, type ServiceNames } from './template.js';

export interface Stage {
  config: DeployConfig & {
    serviceName: string;
    providersJson: string;
    /** ROTOR_MASTERS / ROTOR_RDS_MASTERS by function: each database function gets its engines' only. */
    mastersJson: Record<'postgres' | 'mysql' | 'heal', string>;
    rdsMastersJson: Record<'postgres' | 'mysql' | 'heal', string>;
  };
  resources: ReturnType<typeof buildResources>;
  /** Lambda VPC settings for the database functions, or an empty object when not in a VPC. */
  vpc: { subnetIds?: string[]; securityGroupIds?: string[] };
}

const cache = new Map<string, Stage>();

export function loadStage(file: string, names: ServiceNames): Stage {
  const key = `${file}\n${names.service}\n${names.stage}`;
  const cached = cache.get(key);
  if (cached) return cached;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new DeployConfigError(
      `no stage file ${file}: copy deploy/stages/example.yml to it and list your secrets`,
    );
  }
  let value: unknown;
  try {
    value = parse(text);
  } catch (error) {
    throw new DeployConfigError(`${file}: not valid YAML (${(error as Error).message.split('\n')[0]})`);
  }
  const config = parseDeployConfig(value ?? {}, file);
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
    },
    resources: buildResources(config, names),
    vpc: config.vpc ? { subnetIds: config.vpc.subnetIds, securityGroupIds: config.vpc.securityGroupIds } : {},
  };
  cache.set(key, stage);
  return stage;
}
