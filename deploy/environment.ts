/**
 * Lambda's limit on a function's environment: the variables together may hold at most 4 KB. rotor
 * puts API-key provider descriptions and master bindings there, so a stage with many of them
 * would package fine and then fail at deploy; packaging refuses it instead, naming what is big.
 */

/** Lambda's documented limit on the total size of a function's environment variables. */
export const LAMBDA_ENVIRONMENT_LIMIT = 4096;

/** Which stage-file key fills a variable, to say what to shorten. */
const SOURCES: Record<string, string> = {
  ROTOR_APIKEY_PROVIDERS: 'apiKeyProviders',
  ROTOR_MASTERS: 'masters',
  ROTOR_RDS_MASTERS: 'rdsMasters',
};

/**
 * The size counted: the variables serialised as JSON, as the Lambda API carries them (quotes and
 * escapes included). This errs on the safe side of what Lambda counts.
 */
export function environmentSize(variables: Readonly<Record<string, unknown>>): number {
  return Buffer.byteLength(JSON.stringify(variables), 'utf8');
}

/** Why a function's environment is over the limit, or undefined when it fits. */
export function environmentProblem(
  functionName: string,
  variables: Readonly<Record<string, unknown>>,
): string | undefined {
  const size = environmentSize(variables);
  if (size <= LAMBDA_ENVIRONMENT_LIMIT) return undefined;
  const largest = Object.entries(variables)
    .map(([name, value]) => ({ name, bytes: environmentSize({ [name]: value }) }))
    .sort((a, b) => b.bytes - a.bytes)
    .slice(0, 2)
    .map(
      ({ name, bytes }) => `${name}${SOURCES[name] ? ` (stage file: ${SOURCES[name]})` : ''} ${bytes} bytes`,
    );
  const keys = [...new Set(Object.keys(variables).flatMap((name) => SOURCES[name] ?? []))];
  return `${keys.length > 0 ? `${keys.join(' / ')}: ` : ''}the ${functionName} function's environment would be ${size} bytes, over Lambda's ${LAMBDA_ENVIRONMENT_LIMIT}-byte limit (largest: ${largest.join(', ')}); shorten or remove entries (provider descriptions: drop optional fields, or keep fewer providers per stage)`;
}
