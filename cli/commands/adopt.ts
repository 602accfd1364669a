/**
 * `rotor attach <secret> --adopt <username-or-key-id>`: an operator's explicit decision that rotor
 * may act for an account (or revoke an API key) of a secret without the rotation first proving
 * that the secret's own credential holds it (a legacy account whose password was never in the
 * secret, say). Without it a master acts only for a user the secret's AWSCURRENT or AWSPREVIOUS
 * logged in as during the rotation: whoever can write one secret must not gain another account.
 *
 * The decision is recorded in the adoption record (`ROTOR_ADOPTIONS_SECRET`, default
 * `rotor/adoptions`), a secret only operators may write (IAM: the functions may only read it, the
 * secrets' writers not even that), as JSON
 * `{"adoptions": [{"secret": "<rotated secret ARN>", "username" | "keyId": "...", "adoptedAt", "by"}]}`.
 * It never holds a credential: only those four fields of each entry are ever written.
 */
import {
  CreateSecretCommand,
  type DescribeSecretResponse,
  GetSecretValueCommand,
  PutSecretValueCommand,
} from '@aws-sdk/client-secrets-manager';
import { type AdoptionEntry, parseAdoptions } from '../../handlers/masters.js';
import { ConfigurationError, InvalidSecretError } from '../../rotators/errors.js';
import { type AwsContext, aws } from '../aws.js';
import { describeSecret, engineNamed, readCurrentString } from '../secrets.js';
import type { Session } from '../session.js';

/** The engine whose adopted names are API key ids rather than user names. */
const KEY_ENGINE = 'apikey';

export interface AdoptionResult {
  secret: string;
  arn: string;
  /** `username` or `keyId`. */
  field: 'username' | 'keyId';
  adopted: string;
  /** `recorded`: added; `already`: the record had it. */
  outcome: 'recorded' | 'already';
  record: string;
  /** Whether the record secret was created by this call. */
  createdRecord: boolean;
}

const DESCRIPTION =
  "rotor's adoption record: accounts and API keys operators adopted for rotated secrets (rotor attach --adopt). Holds no credential. Only operators may write it.";

/** Refuses (InvalidSecretError) a name `checkName` refuses: checked before any secret is read. */
export function checkAdoptedNames(names: readonly string[]): void {
  for (const name of names) checkName(name);
}

/** A user name or key id: printable, no quotes or control characters, at most 256 characters. */
function checkName(name: string): void {
  const printable = [...name].every((char) => {
    const code = char.codePointAt(0) ?? 0;
    return code >= 0x20 && code !== 0x7f && char !== '"';
  });
  if (name === '' || name.length > 256 || !printable) {
    throw new InvalidSecretError(
      '--adopt',
      'must be a user name or API key id of 1 to 256 printable characters without quotes',
    );
  }
}

async function readRecord(
  context: AwsContext,
  recordId: string,
): Promise<{ entries: AdoptionEntry[]; exists: boolean }> {
  try {
    const out = await context.sm.send(
      new GetSecretValueCommand({ SecretId: recordId, VersionStage: 'AWSCURRENT' }),
    );
    return { entries: parseAdoptions(out.SecretString ?? '', recordId).adoptions, exists: true };
  } catch (error) {
    if ((error as { name?: string } | null)?.name === 'ResourceNotFoundException') {
      return { entries: [], exists: false };
    }
    if (error instanceof ConfigurationError) throw error;
    return aws(context, 'secretsmanager:GetSecretValue', recordId, Promise.reject(error));
  }
}

/** Only the record's four fields, so that nothing else (a credential pasted by mistake) survives a rewrite. */
function clean(entry: AdoptionEntry): AdoptionEntry {
  return {
    secret: entry.secret,
    ...(entry.username === undefined ? {} : { username: entry.username }),
    ...(entry.keyId === undefined ? {} : { keyId: entry.keyId }),
    adoptedAt: entry.adoptedAt,
    by: entry.by,
  };
}

/**
 * A secret as adopting reads it: its description and AWSCURRENT's text (undefined for a binary
 * value). `attach --adopt --function` hands the same read to preflight, so each secret is read once.
 */
export interface ReadSecret {
  readonly secret: DescribeSecretResponse;
  readonly arn: string;
  readonly currentText: string | undefined;
}

/** Describes a secret and reads its AWSCURRENT (the text joins the redaction scope). */
export async function readSecret(
  session: Session,
  context: AwsContext,
  secretId: string,
): Promise<ReadSecret> {
  const secret = await describeSecret(context, secretId);
  const arn = secret.ARN ?? secretId;
  const currentText = await readCurrentString(context, arn, session.scope, secret.Name ?? arn);
  return { secret, arn, currentText };
}

/** Records the adoption of `names` for a secret (as `readSecret` read it), creating the record when it is absent. */
export async function adopt(
  session: Session,
  context: AwsContext,
  read: ReadSecret,
  names: readonly string[],
): Promise<AdoptionResult[]> {
  checkAdoptedNames(names);
  const recordId = session.config().adoptionsSecret;
  const { arn } = read;
  const label = read.secret.Name ?? arn;
  // Which kind of name: the secret's engine (descriptive only; nothing of the value is kept).
  const field = engineNamed(read.currentText ?? '') === KEY_ENGINE ? 'keyId' : 'username';

  const { entries, exists } = await readRecord(context, recordId);
  const results: AdoptionResult[] = [];
  const added: AdoptionEntry[] = [];
  for (const name of names) {
    const already = entries.some((entry) => entry.secret === arn && entry[field] === name);
    if (!already && !added.some((entry) => entry[field] === name)) {
      added.push({
        secret: arn,
        [field]: name,
        adoptedAt: new Date(session.now()).toISOString(),
        by: session.cli.operator ?? 'unknown operator',
      } as AdoptionEntry);
    }
    results.push({
      secret: label,
      arn,
      field,
      adopted: name,
      outcome: already ? 'already' : 'recorded',
      record: recordId,
      createdRecord: false,
    });
  }
  if (added.length === 0) return results;
  const text = JSON.stringify({ adoptions: [...entries, ...added].map(clean) }, null, 2);
  if (exists) {
    await aws(
      context,
      'secretsmanager:PutSecretValue',
      recordId,
      context.sm.send(new PutSecretValueCommand({ SecretId: recordId, SecretString: text })),
    );
  } else {
    if (recordId.startsWith('arn:')) {
      throw new ConfigurationError(
        `the adoption record ${recordId} does not exist, and a secret cannot be created by ARN: create it by name (ROTOR_ADOPTIONS_SECRET)`,
      );
    }
    await aws(
      context,
      'secretsmanager:CreateSecret',
      recordId,
      context.sm.send(
        new CreateSecretCommand({
          Name: recordId,
          Description: DESCRIPTION,
          SecretString: text,
          Tags: [{ Key: 'rotor:purpose', Value: 'adoption-record' }],
        }),
      ),
    );
  }
  return results.map((result) => ({ ...result, createdRecord: !exists && result.outcome === 'recorded' }));
}

/** One line per adoption: what was done, and where it is recorded. */
export function printAdoptions(session: Session, results: readonly AdoptionResult[]): void {
  const { out } = session.term;
  for (const result of results) {
    const what = result.field === 'keyId' ? `API key "${result.adopted}"` : `user "${result.adopted}"`;
    out.line(
      result.outcome === 'already'
        ? `${out.paint('green', 'adopted')} ${what} for ${result.secret}: already in ${result.record}; nothing changed`
        : `${out.paint('green', 'adopted')} ${what} for ${result.secret} (${result.arn}): recorded in ${result.record}${result.createdRecord ? ' (created)' : ''}; rotor may now act for it without proof that the secret holds it`,
    );
  }
}
