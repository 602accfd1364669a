/**
 * What EventBridge does with a rule, for reading the generated CloudFormation: whether an event
 * matches a rule's pattern (the operators rotor's rules use: values, `exists`, `anything-but`,
 * `$or`) and the text an input transformer makes of it. Pure test logic, no AWS.
 */

type Json = Record<string, unknown>;

/** An event as EventBridge delivers it to rules. */
export interface DeliveredEvent {
  source: string;
  'detail-type': string;
  resources: string[];
  detail: Json;
  [key: string]: unknown;
}

function matchValue(conditions: unknown[], present: boolean, value: unknown): boolean {
  return conditions.some((condition) => {
    if (condition !== null && typeof condition === 'object') {
      const op = condition as Json;
      if ('exists' in op) return op.exists === present;
      if ('anything-but' in op) {
        const excluded = Array.isArray(op['anything-but']) ? op['anything-but'] : [op['anything-but']];
        return present && !excluded.includes(value);
      }
      if ('prefix' in op) return present && typeof value === 'string' && value.startsWith(String(op.prefix));
      throw new Error(`operator not modelled: ${JSON.stringify(op)}`);
    }
    return present && (Array.isArray(value) ? value.includes(condition) : value === condition);
  });
}

/** Whether `event` matches `pattern` (EventBridge's event pattern semantics, as far as rotor uses them). */
export function matches(pattern: Json, event: Json): boolean {
  for (const [key, condition] of Object.entries(pattern)) {
    if (key === '$or') {
      if (!(condition as Json[]).some((branch) => matches(branch, event))) return false;
      continue;
    }
    const present = Object.hasOwn(event, key);
    const value = event[key];
    if (Array.isArray(condition)) {
      if (!matchValue(condition, present, value)) return false;
    } else {
      if (!present || value === null || typeof value !== 'object') return false;
      if (!matches(condition as Json, value as Json)) return false;
    }
  }
  return true;
}

/** The value at an InputPathsMap path (`$.detail.error.name`, `$.resources[0]`). */
export function valueAt(event: Json, path: string): unknown {
  const steps = path
    .replace(/^\$\.?/, '')
    .split('.')
    .flatMap((part) => {
      const indexed = /^([^[]+)\[(\d+)\]$/.exec(part);
      return indexed ? [indexed[1] as string, Number(indexed[2])] : [part];
    });
  let value: unknown = event;
  for (const step of steps) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string | number, unknown>)[step];
  }
  return value;
}

/**
 * The input a target receives: each `<name>` of the template replaced by the value at its path.
 * Inside a JSON string, a string value goes in escaped; a path the event lacks fails the test
 * (a page must use only fields the event carries).
 */
export function transform(
  transformer: { InputPathsMap?: Record<string, string>; InputTemplate: string },
  event: Json,
): string {
  const paths = transformer.InputPathsMap ?? {};
  return transformer.InputTemplate.replace(/<([A-Za-z0-9_-]+)>/g, (_match, name: string) => {
    const path = paths[name];
    if (path === undefined) throw new Error(`placeholder <${name}> has no path`);
    const value = valueAt(event, path);
    if (value === undefined) throw new Error(`the event carries no ${path} for <${name}>`);
    return typeof value === 'string' ? JSON.stringify(value).slice(1, -1) : JSON.stringify(value);
  });
}
