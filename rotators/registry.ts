import { InvalidSecretError, UnknownEngineError } from './errors.js';
import type { AnyRotator } from './types.js';

/** Maps a secret's `engine` field to the rotator that handles it. */
export interface Registry {
  /** Every engine name this registry knows. */
  readonly engines: readonly string[];
  /** The rotator for a secret value (already JSON-parsed), chosen by its `engine` field. */
  resolve(value: unknown, label: string): { engine: string; rotator: AnyRotator };
}

export function createRegistry(rotators: readonly AnyRotator[]): Registry {
  const byEngine = new Map<string, AnyRotator>();
  for (const rotator of rotators) {
    for (const engine of rotator.engines) {
      if (byEngine.has(engine)) throw new Error(`two rotators claim engine "${engine}"`);
      byEngine.set(engine, rotator);
    }
  }
  const engines = [...byEngine.keys()];
  return {
    engines,
    resolve(value, label) {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        throw new InvalidSecretError('(json)', 'must be a JSON object', label);
      }
      const engine = (value as { engine?: unknown }).engine;
      if (typeof engine !== 'string' || engine === '') {
        throw new InvalidSecretError('engine', `must be one of: ${engines.join(', ')}`, label);
      }
      const rotator = byEngine.get(engine);
      if (rotator === undefined) throw new UnknownEngineError(engine, engines);
      return { engine, rotator };
    },
  };
}
