/**
 * The operations on a secret's versions and their staging labels: UpdateSecretVersionStage and
 * ListSecretVersionIds.
 */
import { AwsError, epochSeconds, InputValidator, type JsonInput } from '../http.js';
import { readSecretIdMember, readToken } from './checks.js';
import { AWSCURRENT, holderOf, removeStage, requireVersion, type SecretsState } from './state.js';
import { compact, optionalSeconds, paginate } from './wire.js';

export function updateSecretVersionStage(state: SecretsState, input: JsonInput): unknown {
  const v = new InputValidator(input);
  const secretId = readSecretIdMember(v);
  const stage = v.string('VersionStage', { required: true, min: 1, max: 256 });
  const removeFrom = readToken(v, 'RemoveFromVersionId');
  const moveTo = readToken(v, 'MoveToVersionId');
  v.check();
  if (stage === undefined) throw new Error('unreachable: VersionStage is required');
  const secret = state.requireActive(secretId ?? '');
  if (removeFrom === undefined && moveTo === undefined) {
    throw new AwsError(
      'InvalidParameterException',
      'You must specify MoveToVersionId, RemoveFromVersionId, or both.',
    );
  }
  const holder = holderOf(secret, stage);
  const source = removeFrom === undefined ? undefined : requireVersion(secret, removeFrom);
  if (source !== undefined && holder !== source) {
    throw new AwsError(
      'InvalidParameterException',
      `The staging label ${stage} is not attached to version ${removeFrom}, so it can't be removed from it.`,
    );
  }
  if (moveTo === undefined) {
    if (stage === AWSCURRENT) {
      throw new AwsError(
        'InvalidParameterException',
        'The staging label AWSCURRENT can only be moved to another version, not removed.',
      );
    }
    if (source !== undefined) removeStage(source, stage);
  } else {
    const target = requireVersion(secret, moveTo);
    if (holder !== undefined && holder !== target && source === undefined) {
      throw new AwsError(
        'InvalidParameterException',
        `The parameter RemoveFromVersionId can't be empty. Staging label ${stage} is currently attached to version ${holder.id}, so you must explicitly reference that version in RemoveFromVersionId.`,
      );
    }
    state.attachStage(secret, target, stage);
  }
  secret.lastChangedAt = state.clock();
  state.changed();
  return { ARN: secret.arn, Name: secret.name };
}

export function listSecretVersionIds(state: SecretsState, input: JsonInput): unknown {
  const v = new InputValidator(input);
  const secretId = readSecretIdMember(v);
  const maxResults = v.integer('MaxResults', { min: 1, max: 100 });
  const nextToken = v.string('NextToken', { min: 1, max: 4096 });
  const includeDeprecated = v.boolean('IncludeDeprecated') ?? false;
  v.check();
  const secret = state.requireActive(secretId ?? '');
  const versions = [...secret.versions.values()].filter(
    (version) => includeDeprecated || version.stages.length > 0,
  );
  const { page, next } = paginate(versions, maxResults ?? 100, nextToken);
  return compact({
    ARN: secret.arn,
    Name: secret.name,
    NextToken: next,
    Versions: page.map((version) =>
      compact({
        VersionId: version.id,
        VersionStages: version.stages.length === 0 ? undefined : [...version.stages],
        LastAccessedDate: optionalSeconds(version.lastAccessedAt),
        CreatedDate: epochSeconds(version.createdAt),
        KmsKeyIds: ['DefaultEncryptionKey'],
      }),
    ),
  });
}
