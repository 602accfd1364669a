/**
 * Secrets Manager conformance: the staging-label rules of shared/PROTOCOL.md and the service's
 * errors, checked through the real SDK only. Runs against the local stack, or against the
 * endpoint in ROTOR_CONFORMANCE_ENDPOINT (see ./target.ts).
 *
 * Rules that need a rotation function (RotateSecret's empty AWSPENDING version, retries, stuck
 * rotations) live in test/local/rotation.test.ts.
 */
import {
  CancelRotateSecretCommand,
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetRandomPasswordCommand,
  GetSecretValueCommand,
  ListSecretsCommand,
  ListSecretVersionIdsCommand,
  PutSecretValueCommand,
  RemoveRegionsFromReplicationCommand,
  ReplicateSecretToRegionsCommand,
  RestoreSecretCommand,
  RotateSecretCommand,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateSecretCommand,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConformanceTarget, failure, labelsOf, startConformanceTarget, token } from './target.js';

let target: ConformanceTarget;

beforeAll(async () => {
  target = await startConformanceTarget();
});

afterAll(async () => {
  await target.cleanup();
});

/** Label → version id of a secret. */
async function labels(secretId: string): Promise<Record<string, string>> {
  const out = await target.sm.send(new DescribeSecretCommand({ SecretId: secretId }));
  return labelsOf(out.VersionIdsToStages);
}

async function put(secretId: string, value: string, stages?: string[], versionId = token()): Promise<string> {
  const out = await target.sm.send(
    new PutSecretValueCommand({
      SecretId: secretId,
      SecretString: value,
      ClientRequestToken: versionId,
      ...(stages === undefined ? {} : { VersionStages: stages }),
    }),
  );
  return out.VersionId ?? '';
}

describe('CreateSecret', () => {
  it('creates one version, labelled AWSCURRENT, whose id is the ClientRequestToken', async () => {
    // Prepare
    const versionId = token();

    // Act
    const created = await target.createSecret({ SecretString: 'v1', ClientRequestToken: versionId });

    // Assess
    expect(created.versionId).toBe(versionId);
    expect(await labels(created.arn)).toEqual({ AWSCURRENT: versionId });
  });

  it('returns an ARN of the form arn:aws:secretsmanager:<region>:<account>:secret:<name>-<6 alphanumerics>', async () => {
    // Prepare
    const name = target.uniqueName('arn-format');

    // Act
    const created = await target.createSecret({ Name: name });

    // Assess
    const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    expect(created.arn).toMatch(
      new RegExp(`^arn:aws:secretsmanager:${target.region}:\\d{12}:secret:${escaped}-[A-Za-z0-9]{6}$`),
    );
  });

  it('without a value creates no version, so GetSecretValue finds nothing for AWSCURRENT', async () => {
    // Prepare
    const name = target.uniqueName('empty');
    const out = await target.sm.send(new CreateSecretCommand({ Name: name }));
    target.track(out.ARN ?? name);

    // Act
    const error = await failure(() => target.sm.send(new GetSecretValueCommand({ SecretId: name })));

    // Assess
    expect(out.VersionId).toBeUndefined();
    expect(error.name).toBe('ResourceNotFoundException');
    expect(error.message).toBe(
      "Secrets Manager can't find the specified secret value for staging label: AWSCURRENT",
    );
  });

  it('refuses a name already in use with ResourceExistsException', async () => {
    // Prepare
    const { name } = await target.createSecret();

    // Act
    const error = await failure(() =>
      target.sm.send(new CreateSecretCommand({ Name: name, SecretString: 'x' })),
    );

    // Assess
    expect(error.name).toBe('ResourceExistsException');
    expect(error.message).toBe(`The operation failed because the secret ${name} already exists.`);
  });

  it('refuses an invalid name with ValidationException', async () => {
    // Act
    const error = await failure(() =>
      target.sm.send(new CreateSecretCommand({ Name: 'has spaces and *', SecretString: 'x' })),
    );

    // Assess
    expect(error.name).toBe('ValidationException');
    expect(error.message).toBe(
      'Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!',
    );
  });

  it('refuses SecretString and SecretBinary together with InvalidParameterException', async () => {
    // Act
    const error = await failure(() =>
      target.sm.send(
        new CreateSecretCommand({
          Name: target.uniqueName('both'),
          SecretString: 'x',
          SecretBinary: new Uint8Array([1, 2, 3]),
        }),
      ),
    );

    // Assess
    expect(error.name).toBe('InvalidParameterException');
    expect(error.message).toBe(
      "You can't specify both a binary secret value and a string secret value in the same secret.",
    );
  });
});

describe('SecretId', () => {
  it('accepts the name, the full ARN and the partial ARN (without the random suffix)', async () => {
    // Prepare
    const { arn, name } = await target.createSecret({ SecretString: 'by-id' });
    const partial = arn.slice(0, -7);

    // Act
    const byName = await target.sm.send(new GetSecretValueCommand({ SecretId: name }));
    const byArn = await target.sm.send(new GetSecretValueCommand({ SecretId: arn }));
    const byPartial = await target.sm.send(new GetSecretValueCommand({ SecretId: partial }));

    // Assess
    expect([byName.ARN, byArn.ARN, byPartial.ARN]).toEqual([arn, arn, arn]);
    expect(byPartial.SecretString).toBe('by-id');
  });

  it('names an unknown secret: ResourceNotFoundException for reads and writes', async () => {
    // Prepare
    const missing = target.uniqueName('missing');

    // Act
    const errors = await Promise.all([
      failure(() => target.sm.send(new DescribeSecretCommand({ SecretId: missing }))),
      failure(() => target.sm.send(new GetSecretValueCommand({ SecretId: missing }))),
      failure(() => target.sm.send(new PutSecretValueCommand({ SecretId: missing, SecretString: 'x' }))),
      failure(() => target.sm.send(new ListSecretVersionIdsCommand({ SecretId: missing }))),
    ]);

    // Assess
    for (const error of errors) {
      expect(error.name).toBe('ResourceNotFoundException');
      expect(error.message).toBe("Secrets Manager can't find the specified secret.");
    }
  });

  it('is required: a missing member is a ValidationException worded by the model', async () => {
    // Act
    const error = await failure(() =>
      target.sm.send(new GetSecretValueCommand({} as unknown as { SecretId: string })),
    );

    // Assess
    expect(error.name).toBe('ValidationException');
    expect(error.message).toBe(
      "1 validation error detected: Value null at 'secretId' failed to satisfy constraint: Member must not be null",
    );
  });
});

describe('PutSecretValue', () => {
  it('without VersionStages moves AWSCURRENT to the new version and AWSPREVIOUS to the old one', async () => {
    // Prepare
    const { arn, versionId: first } = await target.createSecret({ SecretString: 'v1' });

    // Act
    const second = await put(arn, 'v2');

    // Assess
    expect(await labels(arn)).toEqual({ AWSCURRENT: second, AWSPREVIOUS: first });
    const current = await target.sm.send(new GetSecretValueCommand({ SecretId: arn }));
    expect(current.SecretString).toBe('v2');
  });

  it('with VersionStages [AWSPENDING] leaves AWSCURRENT where it is', async () => {
    // Prepare
    const { arn, versionId: first } = await target.createSecret({ SecretString: 'v1' });

    // Act
    const pending = await put(arn, 'v2', ['AWSPENDING']);

    // Assess
    expect(await labels(arn)).toEqual({ AWSCURRENT: first, AWSPENDING: pending });
    const current = await target.sm.send(new GetSecretValueCommand({ SecretId: arn }));
    expect(current.SecretString).toBe('v1');
  });

  it('takes a label off the version that had it: a label sits on one version at a time', async () => {
    // Prepare
    const { arn } = await target.createSecret({ SecretString: 'v1' });
    const firstPending = await put(arn, 'p1', ['AWSPENDING']);

    // Act
    const secondPending = await put(arn, 'p2', ['AWSPENDING']);

    // Assess
    expect((await labels(arn)).AWSPENDING).toBe(secondPending);
    const versions = await target.sm.send(
      new ListSecretVersionIdsCommand({ SecretId: arn, IncludeDeprecated: true }),
    );
    const first = versions.Versions?.find((version) => version.VersionId === firstPending);
    expect(first?.VersionStages).toBeUndefined();
  });

  it('keeps a single AWSPREVIOUS: the version two steps back loses every label', async () => {
    // Prepare
    const { arn, versionId: v1 } = await target.createSecret({ SecretString: 'v1' });
    const v2 = await put(arn, 'v2');

    // Act
    const v3 = await put(arn, 'v3');

    // Assess
    expect(await labels(arn)).toEqual({ AWSCURRENT: v3, AWSPREVIOUS: v2 });
    const described = await target.sm.send(new DescribeSecretCommand({ SecretId: arn }));
    expect(Object.keys(described.VersionIdsToStages ?? {})).not.toContain(v1);
  });

  it('with an existing token and the same value succeeds and changes nothing', async () => {
    // Prepare
    const { arn } = await target.createSecret({ SecretString: 'v1' });
    const versionId = await put(arn, 'v2');
    const before = await labels(arn);

    // Act
    const again = await target.sm.send(
      new PutSecretValueCommand({ SecretId: arn, SecretString: 'v2', ClientRequestToken: versionId }),
    );

    // Assess
    expect(again.VersionId).toBe(versionId);
    expect(await labels(arn)).toEqual(before);
    const versions = await target.sm.send(
      new ListSecretVersionIdsCommand({ SecretId: arn, IncludeDeprecated: true }),
    );
    expect(versions.Versions).toHaveLength(2);
  });

  it('with an existing token and another value fails with ResourceExistsException', async () => {
    // Prepare
    const { arn } = await target.createSecret({ SecretString: 'v1' });
    const versionId = await put(arn, 'v2');

    // Act
    const error = await failure(() =>
      target.sm.send(
        new PutSecretValueCommand({ SecretId: arn, SecretString: 'other', ClientRequestToken: versionId }),
      ),
    );

    // Assess
    expect(error.name).toBe('ResourceExistsException');
    expect((await target.sm.send(new GetSecretValueCommand({ SecretId: arn }))).SecretString).toBe('v2');
  });

  it('needs SecretString or SecretBinary', async () => {
    // Prepare
    const { arn } = await target.createSecret();

    // Act
    const error = await failure(() => target.sm.send(new PutSecretValueCommand({ SecretId: arn })));

    // Assess
    expect(['InvalidRequestException', 'InvalidParameterException']).toContain(error.name);
  });

  it('making a new AWSCURRENT by hand clears an AWSPENDING left on another version', async () => {
    // Prepare
    const { arn } = await target.createSecret({ SecretString: 'v1' });
    await put(arn, 'half-done', ['AWSPENDING']);

    // Act
    const manual = await put(arn, 'set by hand');

    // Assess
    const after = await labels(arn);
    expect(after.AWSCURRENT).toBe(manual);
    expect(after.AWSPENDING).toBeUndefined();
  });

  it('stores and returns a binary value byte for byte', async () => {
    // Prepare
    const bytes = new Uint8Array([0, 1, 2, 250, 255]);
    const { arn } = await target.createSecret({ SecretString: 'text' });

    // Act
    await target.sm.send(new PutSecretValueCommand({ SecretId: arn, SecretBinary: bytes }));
    const out = await target.sm.send(new GetSecretValueCommand({ SecretId: arn }));

    // Assess
    expect(out.SecretString).toBeUndefined();
    expect([...(out.SecretBinary ?? [])]).toEqual([...bytes]);
  });
});

describe('UpdateSecretVersionStage', () => {
  it('moving AWSCURRENT without RemoveFromVersionId fails and names the version that has it', async () => {
    // Prepare
    const { arn, versionId: current } = await target.createSecret({ SecretString: 'v1' });
    const pending = await put(arn, 'v2', ['AWSPENDING']);

    // Act
    const error = await failure(() =>
      target.sm.send(
        new UpdateSecretVersionStageCommand({
          SecretId: arn,
          VersionStage: 'AWSCURRENT',
          MoveToVersionId: pending,
        }),
      ),
    );

    // Assess
    expect(error.name).toBe('InvalidParameterException');
    expect(error.message).toBe(
      `The parameter RemoveFromVersionId can't be empty. Staging label AWSCURRENT is currently attached to version ${current}, so you must explicitly reference that version in RemoveFromVersionId.`,
    );
    expect(await labels(arn)).toEqual({ AWSCURRENT: current, AWSPENDING: pending });
  });

  it('moving AWSCURRENT puts AWSPREVIOUS on the version it left, and AWSPENDING stays with the new one', async () => {
    // Prepare
    const { arn, versionId: current } = await target.createSecret({ SecretString: 'v1' });
    const pending = await put(arn, 'v2', ['AWSPENDING']);

    // Act
    await target.sm.send(
      new UpdateSecretVersionStageCommand({
        SecretId: arn,
        VersionStage: 'AWSCURRENT',
        MoveToVersionId: pending,
        RemoveFromVersionId: current,
      }),
    );

    // Assess
    const described = await target.sm.send(new DescribeSecretCommand({ SecretId: arn }));
    expect(described.VersionIdsToStages).toEqual({
      [current ?? '']: ['AWSPREVIOUS'],
      [pending]: ['AWSCURRENT', 'AWSPENDING'],
    });
    expect((await target.sm.send(new GetSecretValueCommand({ SecretId: arn }))).SecretString).toBe('v2');
  });

  it('removing AWSPENDING with RemoveFromVersionId alone clears it (how a stuck rotation is unblocked)', async () => {
    // Prepare
    const { arn, versionId: current } = await target.createSecret({ SecretString: 'v1' });
    const pending = await put(arn, 'v2', ['AWSPENDING']);

    // Act
    await target.sm.send(
      new UpdateSecretVersionStageCommand({
        SecretId: arn,
        VersionStage: 'AWSPENDING',
        RemoveFromVersionId: pending,
      }),
    );

    // Assess
    expect(await labels(arn)).toEqual({ AWSCURRENT: current });
  });

  it('moving a custom label held by another version also needs RemoveFromVersionId', async () => {
    // Prepare
    const { arn } = await target.createSecret({ SecretString: 'v1' });
    const holder = await put(arn, 'v2', ['BLUE']);
    const other = await put(arn, 'v3', ['GREEN']);

    // Act
    const refused = await failure(() =>
      target.sm.send(
        new UpdateSecretVersionStageCommand({ SecretId: arn, VersionStage: 'BLUE', MoveToVersionId: other }),
      ),
    );
    await target.sm.send(
      new UpdateSecretVersionStageCommand({
        SecretId: arn,
        VersionStage: 'BLUE',
        MoveToVersionId: other,
        RemoveFromVersionId: holder,
      }),
    );

    // Assess
    expect(refused.name).toBe('InvalidParameterException');
    expect(refused.message).toContain(`Staging label BLUE is currently attached to version ${holder}`);
    expect((await labels(arn)).BLUE).toBe(other);
  });

  it('refuses a RemoveFromVersionId that does not hold the label', async () => {
    // Prepare
    const { arn, versionId: current } = await target.createSecret({ SecretString: 'v1' });
    const pending = await put(arn, 'v2', ['AWSPENDING']);

    // Act
    const error = await failure(() =>
      target.sm.send(
        new UpdateSecretVersionStageCommand({
          SecretId: arn,
          VersionStage: 'AWSCURRENT',
          MoveToVersionId: current,
          RemoveFromVersionId: pending,
        }),
      ),
    );

    // Assess
    expect(error.name).toBe('InvalidParameterException');
    expect(await labels(arn)).toEqual({ AWSCURRENT: current, AWSPENDING: pending });
  });
});

describe('GetSecretValue', () => {
  it('finds nothing for a label no version has', async () => {
    // Prepare
    const { arn } = await target.createSecret();

    // Act
    const error = await failure(() =>
      target.sm.send(new GetSecretValueCommand({ SecretId: arn, VersionStage: 'AWSPENDING' })),
    );

    // Assess
    expect(error.name).toBe('ResourceNotFoundException');
    expect(error.message).toBe(
      "Secrets Manager can't find the specified secret value for staging label: AWSPENDING",
    );
  });

  it('finds nothing for an unknown VersionId', async () => {
    // Prepare
    const { arn } = await target.createSecret();
    const unknown = token();

    // Act
    const error = await failure(() =>
      target.sm.send(new GetSecretValueCommand({ SecretId: arn, VersionId: unknown })),
    );

    // Assess
    expect(error.name).toBe('ResourceNotFoundException');
    expect(error.message).toBe(
      `Secrets Manager can't find the specified secret value for VersionId: ${unknown}`,
    );
  });

  it('refuses a VersionStage that is not on the given VersionId', async () => {
    // Prepare
    const { arn, versionId } = await target.createSecret();

    // Act
    const error = await failure(() =>
      target.sm.send(
        new GetSecretValueCommand({ SecretId: arn, VersionId: versionId, VersionStage: 'AWSPENDING' }),
      ),
    );

    // Assess
    expect(error.name).toBe('InvalidRequestException');
    expect(error.message).toBe(
      'You provided a VersionStage that is not associated to the provided VersionId.',
    );
  });

  it('reads an older version by VersionId with the labels it has now', async () => {
    // Prepare
    const { arn, versionId: first } = await target.createSecret({ SecretString: 'v1' });
    await put(arn, 'v2');

    // Act
    const old = await target.sm.send(new GetSecretValueCommand({ SecretId: arn, VersionId: first }));

    // Assess
    expect(old.SecretString).toBe('v1');
    expect(old.VersionStages).toEqual(['AWSPREVIOUS']);
  });

  it('records LastAccessedDate, to the day', async () => {
    // Prepare
    const { arn } = await target.createSecret();

    // Act
    await target.sm.send(new GetSecretValueCommand({ SecretId: arn }));

    // Assess
    const described = await target.sm.send(new DescribeSecretCommand({ SecretId: arn }));
    expect(described.LastAccessedDate?.toISOString()).toMatch(/T00:00:00\.000Z$/);
  });
});

describe('ListSecretVersionIds', () => {
  it('leaves out unlabelled (deprecated) versions unless IncludeDeprecated', async () => {
    // Prepare
    const { arn, versionId: v1 } = await target.createSecret({ SecretString: 'v1' });
    const v2 = await put(arn, 'v2');
    const v3 = await put(arn, 'v3');

    // Act
    const labelled = await target.sm.send(new ListSecretVersionIdsCommand({ SecretId: arn }));
    const all = await target.sm.send(
      new ListSecretVersionIdsCommand({ SecretId: arn, IncludeDeprecated: true }),
    );

    // Assess
    expect(labelled.Versions?.map((version) => version.VersionId).sort()).toEqual([v2, v3].sort());
    const deprecated = all.Versions?.find((version) => version.VersionId === v1);
    expect(deprecated).toBeDefined();
    expect(deprecated?.VersionStages).toBeUndefined();
    expect(all.Versions).toHaveLength(3);
  });

  it('pages with MaxResults and NextToken', async () => {
    // Prepare
    const { arn } = await target.createSecret({ SecretString: 'v1' });
    await put(arn, 'v2', ['A']);
    await put(arn, 'v3', ['B']);

    // Act
    const first = await target.sm.send(new ListSecretVersionIdsCommand({ SecretId: arn, MaxResults: 2 }));
    const second = await target.sm.send(
      new ListSecretVersionIdsCommand({ SecretId: arn, MaxResults: 2, NextToken: first.NextToken }),
    );

    // Assess
    expect(first.Versions).toHaveLength(2);
    expect(first.NextToken).toBeDefined();
    expect(second.Versions).toHaveLength(1);
    expect(second.NextToken).toBeUndefined();
  });
});

describe('deletion', () => {
  it('a secret scheduled for deletion refuses reads, still describes, and comes back with RestoreSecret', async () => {
    // Prepare
    const { arn } = await target.createSecret({ SecretString: 'v1' });
    await target.sm.send(new DeleteSecretCommand({ SecretId: arn, RecoveryWindowInDays: 7 }));

    // Act
    const error = await failure(() => target.sm.send(new GetSecretValueCommand({ SecretId: arn })));
    const described = await target.sm.send(new DescribeSecretCommand({ SecretId: arn }));
    await target.sm.send(new RestoreSecretCommand({ SecretId: arn }));

    // Assess
    expect(error.name).toBe('InvalidRequestException');
    expect(error.message).toBe(
      "You can't perform this operation on the secret because it was marked for deletion.",
    );
    expect(described.DeletedDate).toBeInstanceOf(Date);
    expect((await target.sm.send(new GetSecretValueCommand({ SecretId: arn }))).SecretString).toBe('v1');
  });

  it('the recovery window is counted in days from now', async () => {
    // Prepare
    const { arn } = await target.createSecret();
    const before = Date.now();

    // Act
    const out = await target.sm.send(new DeleteSecretCommand({ SecretId: arn, RecoveryWindowInDays: 10 }));

    // Assess
    const days = ((out.DeletionDate?.getTime() ?? 0) - before) / 86_400_000;
    expect(days).toBeGreaterThan(9.9);
    expect(days).toBeLessThan(10.1);
  });

  it('a name scheduled for deletion cannot be created again', async () => {
    // Prepare
    const { arn, name } = await target.createSecret();
    await target.sm.send(new DeleteSecretCommand({ SecretId: arn, RecoveryWindowInDays: 7 }));

    // Act
    const error = await failure(() =>
      target.sm.send(new CreateSecretCommand({ Name: name, SecretString: 'x' })),
    );

    // Assess
    expect(error.name).toBe('InvalidRequestException');
    expect(error.message).toBe(
      "You can't create this secret because a secret with this name is already scheduled for deletion.",
    );
  });

  it('refuses a recovery window outside 7 to 30 days', async () => {
    // Prepare
    const { arn } = await target.createSecret();

    // Act
    const error = await failure(() =>
      target.sm.send(new DeleteSecretCommand({ SecretId: arn, RecoveryWindowInDays: 3 })),
    );

    // Assess
    expect(error.name).toBe('InvalidParameterException');
  });

  it('refuses ForceDeleteWithoutRecovery together with RecoveryWindowInDays', async () => {
    // Prepare
    const { arn } = await target.createSecret();

    // Act
    const error = await failure(() =>
      target.sm.send(
        new DeleteSecretCommand({ SecretId: arn, RecoveryWindowInDays: 7, ForceDeleteWithoutRecovery: true }),
      ),
    );

    // Assess
    expect(error.name).toBe('InvalidParameterException');
  });

  it('ForceDeleteWithoutRecovery deletes at once', async () => {
    // Prepare
    const { arn } = await target.createSecret();

    // Act
    await target.sm.send(new DeleteSecretCommand({ SecretId: arn, ForceDeleteWithoutRecovery: true }));

    // Assess
    const error = await failure(() => target.sm.send(new DescribeSecretCommand({ SecretId: arn })));
    expect(error.name).toBe('ResourceNotFoundException');
  });
});

describe('tags', () => {
  it('TagResource merges by key; UntagResource removes; an emptied list stays an empty list', async () => {
    // Prepare
    const { arn } = await target.createSecret({ Tags: [{ Key: 'team', Value: 'a' }] });

    // Act
    await target.sm.send(
      new TagResourceCommand({
        SecretId: arn,
        Tags: [
          { Key: 'team', Value: 'b' },
          { Key: 'engine', Value: 'postgres' },
        ],
      }),
    );
    const tagged = await target.sm.send(new DescribeSecretCommand({ SecretId: arn }));
    await target.sm.send(new UntagResourceCommand({ SecretId: arn, TagKeys: ['team', 'engine'] }));
    const untagged = await target.sm.send(new DescribeSecretCommand({ SecretId: arn }));

    // Assess
    const sorted = [...(tagged.Tags ?? [])].sort((a, b) => (a.Key ?? '').localeCompare(b.Key ?? ''));
    expect(sorted).toEqual([
      { Key: 'engine', Value: 'postgres' },
      { Key: 'team', Value: 'b' },
    ]);
    expect(untagged.Tags ?? []).toEqual([]);
  });
});

describe('ListSecrets', () => {
  it('filters by name prefix and by tag key, and pages', async () => {
    // Prepare
    const prefix = target.uniqueName('list');
    const names = [`${prefix}/a`, `${prefix}/b`, `${prefix}/c`];
    for (const name of names) {
      await target.createSecret({
        Name: name,
        Tags: name.endsWith('b') ? [{ Key: `${prefix}-key`, Value: 'x' }] : [],
      });
    }

    // Act
    const first = await target.sm.send(
      new ListSecretsCommand({
        Filters: [{ Key: 'name', Values: [prefix] }],
        MaxResults: 2,
        SortOrder: 'asc',
      }),
    );
    const second = await target.sm.send(
      new ListSecretsCommand({
        Filters: [{ Key: 'name', Values: [prefix] }],
        MaxResults: 2,
        SortOrder: 'asc',
        NextToken: first.NextToken,
      }),
    );
    const byTag = await target.sm.send(
      new ListSecretsCommand({ Filters: [{ Key: 'tag-key', Values: [`${prefix}-key`] }] }),
    );

    // Assess
    const listed = [...(first.SecretList ?? []), ...(second.SecretList ?? [])].map((secret) => secret.Name);
    expect(listed).toEqual(names);
    expect(byTag.SecretList?.map((secret) => secret.Name)).toEqual([`${prefix}/b`]);
    expect(first.SecretList?.[0]?.SecretVersionsToStages).toBeDefined();
  });

  it('sorts by name in either order', async () => {
    // Prepare
    const prefix = target.uniqueName('sorted');
    for (const name of [`${prefix}/b`, `${prefix}/a`]) await target.createSecret({ Name: name });

    // Act
    const descending = await target.sm.send(
      new ListSecretsCommand({
        Filters: [{ Key: 'name', Values: [prefix] }],
        SortBy: 'name',
        SortOrder: 'desc',
      }),
    );

    // Assess
    expect(descending.SecretList?.map((secret) => secret.Name)).toEqual([`${prefix}/b`, `${prefix}/a`]);
  });

  it('leaves out secrets scheduled for deletion unless IncludePlannedDeletion', async () => {
    // Prepare
    const prefix = target.uniqueName('planned');
    const { arn } = await target.createSecret({ Name: `${prefix}/gone` });
    await target.sm.send(new DeleteSecretCommand({ SecretId: arn, RecoveryWindowInDays: 7 }));
    const filters = [{ Key: 'name' as const, Values: [prefix] }];

    // Act
    const without = await target.sm.send(new ListSecretsCommand({ Filters: filters }));
    const withDeleted = await target.sm.send(
      new ListSecretsCommand({ Filters: filters, IncludePlannedDeletion: true }),
    );

    // Assess
    expect(without.SecretList ?? []).toEqual([]);
    expect(withDeleted.SecretList?.map((secret) => secret.ARN)).toEqual([arn]);
  });
});

describe('GetRandomPassword', () => {
  it('returns 32 characters by default, one of each included type', async () => {
    // Act
    const out = await target.sm.send(new GetRandomPasswordCommand({}));

    // Assess
    const password = out.RandomPassword ?? '';
    expect(password).toHaveLength(32);
    expect(password).toMatch(/[a-z]/);
    expect(password).toMatch(/[A-Z]/);
    expect(password).toMatch(/[0-9]/);
    expect(password).toMatch(/[^A-Za-z0-9]/);
  });

  it('honours ExcludeCharacters, ExcludePunctuation and the length', async () => {
    // Act
    const out = await target.sm.send(
      new GetRandomPasswordCommand({
        PasswordLength: 64,
        ExcludePunctuation: true,
        ExcludeCharacters: 'abcABC012',
      }),
    );

    // Assess
    expect(out.RandomPassword).toMatch(/^[D-Zd-z3-9]{64}$/);
  });

  it('refuses a length above 4096 with ValidationException', async () => {
    // Act
    const error = await failure(() => target.sm.send(new GetRandomPasswordCommand({ PasswordLength: 5000 })));

    // Assess
    expect(error.name).toBe('ValidationException');
    expect(error.message).toContain('Member must have value less than or equal to 4096');
  });
});

describe('RotateSecret and CancelRotateSecret', () => {
  it('refuses a Lambda function Secrets Manager cannot invoke, and leaves rotation unconfigured', async () => {
    // Prepare
    const { arn } = await target.createSecret();
    const account = arn.split(':')[4];
    const missing = `arn:aws:lambda:${target.region}:${account}:function:rotor-conformance-missing`;

    // Act
    const error = await failure(() =>
      target.sm.send(
        new RotateSecretCommand({
          SecretId: arn,
          RotationLambdaARN: missing,
          RotationRules: { AutomaticallyAfterDays: 1 },
        }),
      ),
    );

    // Assess
    expect(error.name).toBe('AccessDeniedException');
    expect(error.message).toBe(
      'Secrets Manager cannot invoke the specified Lambda function. Ensure that the function policy grants access to the principal secretsmanager.amazonaws.com.',
    );
    const described = await target.sm.send(new DescribeSecretCommand({ SecretId: arn }));
    expect(described.RotationEnabled).toBeUndefined();
    expect(described.RotationLambdaARN).toBeUndefined();
  });

  it('CancelRotateSecret on a secret never configured for rotation is an InvalidRequestException', async () => {
    // Prepare
    const { arn } = await target.createSecret();

    // Act
    const error = await failure(() => target.sm.send(new CancelRotateSecretCommand({ SecretId: arn })));

    // Assess
    expect(error.name).toBe('InvalidRequestException');
  });
});

describe('UpdateSecret', () => {
  it('with a value makes a new AWSCURRENT version; with a description only, no version', async () => {
    // Prepare
    const { arn, versionId: first } = await target.createSecret({ SecretString: 'v1' });

    // Act
    const described = await target.sm.send(
      new UpdateSecretCommand({ SecretId: arn, Description: 'new words' }),
    );
    const valued = await target.sm.send(new UpdateSecretCommand({ SecretId: arn, SecretString: 'v2' }));

    // Assess
    expect(described.VersionId).toBeUndefined();
    expect(await labels(arn)).toEqual({ AWSCURRENT: valued.VersionId, AWSPREVIOUS: first });
    expect((await target.sm.send(new DescribeSecretCommand({ SecretId: arn }))).Description).toBe(
      'new words',
    );
  });
});

describe('replication', () => {
  it('records replica regions in ReplicationStatus and removes them again', async () => {
    // Prepare
    const { arn } = await target.createSecret();
    const replicaRegion = target.region === 'eu-west-1' ? 'eu-west-2' : 'eu-west-1';

    // Act
    const replicated = await target.sm.send(
      new ReplicateSecretToRegionsCommand({ SecretId: arn, AddReplicaRegions: [{ Region: replicaRegion }] }),
    );
    const described = await target.sm.send(new DescribeSecretCommand({ SecretId: arn }));
    const removed = await target.sm.send(
      new RemoveRegionsFromReplicationCommand({ SecretId: arn, RemoveReplicaRegions: [replicaRegion] }),
    );

    // Assess
    expect(replicated.ReplicationStatus?.map((status) => status.Region)).toEqual([replicaRegion]);
    expect(['InSync', 'InProgress']).toContain(described.ReplicationStatus?.[0]?.Status);
    expect(removed.ReplicationStatus ?? []).toEqual([]);
  });

  it('refuses the primary region as a replica', async () => {
    // Prepare
    const { arn } = await target.createSecret();

    // Act
    const error = await failure(() =>
      target.sm.send(
        new ReplicateSecretToRegionsCommand({
          SecretId: arn,
          AddReplicaRegions: [{ Region: target.region }],
        }),
      ),
    );

    // Assess
    expect(error.name).toBe('InvalidParameterException');
  });
});
