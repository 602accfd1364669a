/**
 * The deployment guidance that cannot be checked by packaging: what the functions in a VPC need to
 * reach (the RDS API for discovery and rds-master, Secrets Manager, EventBridge; a NAT gateway for
 * the heal function's API-key tests). README and the example stage file must both say it.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');

async function deploySection(): Promise<string> {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('## Deploy to an account');
  return readme.slice(start, readme.indexOf('\n## ', start + 1));
}

async function exampleVpcComment(): Promise<string> {
  const example = await readFile(join(ROOT, 'deploy', 'stages', 'example.yml'), 'utf8');
  const end = example.indexOf('\nvpc:');
  const start = example.lastIndexOf('\n\n', end);
  return example.slice(start, end);
}

describe('VPC guidance', () => {
  it.each([
    ['README', deploySection],
    ['the example stage file', exampleVpcComment],
  ])(
    '%s names every endpoint the functions in a VPC need, and NAT for the heal function',
    async (_where, read) => {
      // Act
      const text = (await read()).replace(/\s*#\s*/g, ' ').replace(/\s+/g, ' ');

      // Assess
      expect(text).toMatch(/optional/i);
      for (const service of ['secretsmanager', 'events', 'rds']) {
        expect(text).toContain(`com.amazonaws.<region>.${service}`);
      }
      expect(text).toMatch(/RDS .*(discovery|rds-master)/);
      expect(text).toMatch(/heal function .*API keys? .*NAT gateway|NAT gateway.*heal function.*API keys?/);
    },
  );
});
