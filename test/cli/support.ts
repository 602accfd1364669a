/**
 * Drives the CLI in-process (`run(argv, io)`) against a local stack, capturing what it prints, and
 * keeps every output so a suite can search them all for secret values at the end.
 */
import {
  GetSecretValueCommand,
  ListSecretsCommand,
  ListSecretVersionIdsCommand,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { type Io, run } from '../../cli/main.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A stream that keeps what is written. */
export function captured(isTTY = false): {
  write(chunk: string): boolean;
  readonly isTTY: boolean;
  text(): string;
} {
  let text = '';
  return {
    isTTY,
    write(chunk: string) {
      text += chunk;
      return true;
    },
    text: () => text,
  };
}

export class CliRunner {
  /** Everything any run printed, for the leak search. */
  readonly outputs: string[] = [];

  constructor(
    private readonly endpoint: string,
    private readonly io: Partial<Io> = {},
  ) {}

  /** Runs `rotor <argv> --endpoint <stack>`; polls fast (tests never wait on real time). */
  async run(...argv: string[]): Promise<CliResult> {
    const stdout = captured();
    const stderr = captured();
    const code = await run([...argv, '--endpoint', this.endpoint], {
      pollIntervalMs: 20,
      ...this.io,
      stdout,
      stderr,
    });
    this.outputs.push(stdout.text(), stderr.text());
    return { code, stdout: stdout.text(), stderr: stderr.text() };
  }

  /** Runs with `--json` and parses stdout. */
  async json<T = unknown>(...argv: string[]): Promise<{ code: number; value: T; stderr: string }> {
    const result = await this.run(...argv, '--json');
    return { code: result.code, value: JSON.parse(result.stdout) as T, stderr: result.stderr };
  }
}

/** Every string value of every version (deprecated ones too) of every secret in the stack. */
export async function everySecretString(sm: SecretsManagerClient): Promise<string[]> {
  const values: string[] = [];
  const listed = await sm.send(new ListSecretsCommand({ MaxResults: 100 }));
  for (const secret of listed.SecretList ?? []) {
    const versions = await sm.send(
      new ListSecretVersionIdsCommand({ SecretId: secret.ARN, IncludeDeprecated: true, MaxResults: 100 }),
    );
    for (const version of versions.Versions ?? []) {
      const out = await sm
        .send(new GetSecretValueCommand({ SecretId: secret.ARN, VersionId: version.VersionId }))
        .catch(() => undefined);
      if (out?.SecretString !== undefined) values.push(out.SecretString);
    }
  }
  return values;
}

/**
 * The sensitive fields of secret values (passwords, keys, tokens): what no output may contain.
 * Descriptive fields (engine, host, port, username, dbname, ...) may be printed.
 */
export function sensitiveValues(secretStrings: readonly string[]): Set<string> {
  const sensitive = new Set<string>();
  for (const text of secretStrings) {
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(text) as Record<string, unknown>;
    } catch {
      // A secret that is not JSON (someone else's) is sensitive as a whole.
      if (text.length >= 8) sensitive.add(text);
      continue;
    }
    for (const key of ['password', 'apiKey', 'token']) {
      const value = json[key];
      if (typeof value === 'string' && value.length >= 8) sensitive.add(value);
    }
  }
  return sensitive;
}
