/**
 * An optional field for an object literal under `exactOptionalPropertyTypes`: `{ key: value }`
 * when `value` is defined, `{}` otherwise. Read `...optional('note', note)` for
 * `...(note === undefined ? {} : { note })`.
 */
export function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}
