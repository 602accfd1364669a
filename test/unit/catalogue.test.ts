/**
 * The function catalogue: the data (handlers/functions.ts, read by deploy and the CLI without any
 * driver) and the wiring (handlers/catalogue/, read by the Lambda entries, the heal function, the
 * CLI and the local stack) say the same thing about every function.
 */
import { describe, expect, it } from 'vitest';
import { allRotators, CATALOGUE } from '../../handlers/catalogue/index.js';
import { readConfig } from '../../handlers/config.js';
import { ROTATION_FUNCTION_KEYS, ROTATION_FUNCTIONS, STRATEGIES } from '../../handlers/functions.js';
import { STRATEGIES as MYSQL_STRATEGIES } from '../../rotators/mysql/secret.js';
import { STRATEGIES as POSTGRES_STRATEGIES } from '../../rotators/postgres/secret.js';

describe('function catalogue', () => {
  const config = readConfig({});

  it.each(ROTATION_FUNCTION_KEYS)('%s: the wiring rotates exactly the engines the data names', (key) => {
    // Prepare / Act
    const wiring = CATALOGUE[key];
    const engines = wiring.rotators(config).flatMap((rotator) => rotator.engines);
    // Assess
    expect(wiring.key).toBe(key);
    expect(engines).toEqual([...ROTATION_FUNCTIONS[key].engines]);
    expect(wiring.discovery !== undefined).toBe(ROTATION_FUNCTIONS[key].discovery === 'rds');
  });

  it("lists the strategies each SQL engine's secret schema accepts", () => {
    // Prepare / Act / Assess
    expect([...ROTATION_FUNCTIONS.postgres.strategies]).toEqual([...POSTGRES_STRATEGIES]);
    expect([...ROTATION_FUNCTIONS.mysql.strategies]).toEqual([...MYSQL_STRATEGIES]);
    const used = new Set(ROTATION_FUNCTION_KEYS.flatMap((key) => ROTATION_FUNCTIONS[key].strategies));
    expect([...used].sort()).toEqual([...STRATEGIES].sort());
  });

  it('allRotators is every function’s rotators, each engine once', () => {
    // Act
    const engines = allRotators(config).flatMap((rotator) => rotator.engines);
    // Assess
    expect(engines).toEqual(ROTATION_FUNCTION_KEYS.flatMap((key) => ROTATION_FUNCTIONS[key].engines));
    expect(new Set(engines).size).toBe(engines.length);
  });
});
