/**
 * A local stand-in for AWS Secrets Manager, with the real service's staging-label rules, error
 * types and messages.
 *
 * Behaviour is taken from the Secrets Manager API reference and from responses recorded against
 * the real service; where the real wording is unknown the message says what happened plainly.
 * This file is the service's front: the operation table, counting, recorded requests and injected
 * faults. The rest lives in `./secrets/`, one file per concern: `state` (secrets, versions,
 * labels), `checks` (the API's input rules and error messages), `wire` (answer shapes), one file
 * per group of operations (`values`, `stages`, `catalogue`, `lifecycle`) and `rotation`
 * (RotateSecret, the schedule, the calls back from the rotation engine). Running a rotation
 * (invoking a function step by step, retries, events) is `LocalRotations` (./rotations.js),
 * attached with `attachRotations`.
 */
import { randomUUID } from 'node:crypto';
import {
  AwsError,
  CallCounter,
  type FaultHandle,
  FaultPlan,
  type FaultSpec,
  type JsonInput,
} from './http.js';
import { describeSecret, getRandomPassword, listSecrets } from './secrets/catalogue.js';
import { isServiceName } from './secrets/checks.js';
import {
  deleteSecret,
  removeRegionsFromReplication,
  replicateSecretToRegions,
  restoreSecret,
  tagResource,
  untagResource,
} from './secrets/lifecycle.js';
import { type RotationDriver, SecretRotation, type ServiceEventSink } from './secrets/rotation.js';
import { listSecretVersionIds, updateSecretVersionStage } from './secrets/stages.js';
import { type SecretsSnapshot, SecretsState, type StoredValue } from './secrets/state.js';
import { createSecret, getSecretValue, putSecretValue, updateSecret } from './secrets/values.js';

export type { RotationDriver, RotationJobRequest, ServiceEventSink } from './secrets/rotation.js';
export {
  AWSCURRENT,
  AWSPENDING,
  AWSPREVIOUS,
  type RotationRules,
  type SecretsSnapshot,
  type StoredValue,
  type Tag,
} from './secrets/state.js';

export interface LocalSecretsManagerOptions {
  readonly region: string;
  readonly accountId: string;
  readonly clock?: () => Date;
  readonly serviceEvents?: ServiceEventSink;
}

/** A read-only copy of a secret, for tests and the CLI (values included: this is a test tool). */
export interface SecretView {
  readonly arn: string;
  readonly name: string;
  readonly deletedAt: Date | undefined;
  readonly rotationEnabled: boolean | undefined;
  readonly lastRotatedAt: Date | undefined;
  readonly nextRotationAt: Date | undefined;
  readonly versions: readonly {
    readonly id: string;
    readonly stages: readonly string[];
    readonly value: StoredValue | undefined;
    readonly createdAt: Date;
  }[];
  readonly replicas: readonly { readonly region: string; readonly arn: string }[];
}

/** A request as received, with secret values masked (for tests: "was RotationToken passed?"). */
export interface RecordedRequest {
  readonly operation: string;
  readonly input: JsonInput;
  readonly at: Date;
}

/** How many recent requests `requests()` remembers. */
const RECENT_REQUESTS = 1000;

type Operation = (input: JsonInput) => unknown;

export class LocalSecretsManager {
  readonly region: string;
  readonly accountId: string;
  private readonly state: SecretsState;
  private readonly rotation: SecretRotation;
  private readonly faults = new FaultPlan({
    type: 'InternalServiceError',
    message: 'An error occurred on the server side (injected fault).',
    status: 500,
  });
  private readonly counter = new CallCounter();
  private readonly recent: RecordedRequest[] = [];
  private readonly operations: Readonly<Record<string, Operation>>;

  constructor(options: LocalSecretsManagerOptions) {
    this.region = options.region;
    this.accountId = options.accountId;
    const state = new SecretsState(options.region, options.accountId, options.clock ?? (() => new Date()));
    const rotation = new SecretRotation(state, options.serviceEvents ?? (() => undefined));
    this.state = state;
    this.rotation = rotation;
    this.operations = {
      CancelRotateSecret: (input) => rotation.cancelRotateSecret(input),
      CreateSecret: (input) => createSecret(state, input),
      DeleteSecret: (input) => deleteSecret(state, rotation, input),
      DescribeSecret: (input) => describeSecret(state, input),
      GetRandomPassword: (input) => getRandomPassword(input),
      GetSecretValue: (input) => getSecretValue(state, input),
      ListSecretVersionIds: (input) => listSecretVersionIds(state, input),
      ListSecrets: (input) => listSecrets(state, input),
      PutSecretValue: (input) => putSecretValue(state, rotation, input),
      RemoveRegionsFromReplication: (input) => removeRegionsFromReplication(state, input),
      ReplicateSecretToRegions: (input) => replicateSecretToRegions(state, input),
      RestoreSecret: (input) => restoreSecret(state, input),
      RotateSecret: (input) => rotation.rotateSecret(input),
      TagResource: (input) => tagResource(state, input),
      UntagResource: (input) => untagResource(state, input),
      UpdateSecret: (input) => updateSecret(state, rotation, input),
      UpdateSecretVersionStage: (input) => updateSecretVersionStage(state, input),
    };
  }

  // ---------------------------------------------------------------- wiring, faults, counting

  /** Connects the rotation engine (done once by `startLocalStack`). */
  attachRotations(driver: RotationDriver): void {
    this.rotation.attach(driver);
  }

  /** Calls `listener` after every change of state (used to persist it). Returns an unsubscribe. */
  onChange(listener: () => void): () => void {
    return this.state.onChange(listener);
  }

  /** Runs one API operation as the HTTP server does: counted, then faults, then the operation. */
  async handle(operation: string, input: JsonInput): Promise<unknown> {
    this.counter.count(operation);
    this.record(operation, input);
    const run = this.operations[operation];
    if (run === undefined) {
      throw new AwsError('UnknownOperationException', `Unknown operation secretsmanager.${operation}`);
    }
    this.state.purgeExpired();
    return this.faults.run(operation, input, () => run(input));
  }

  /**
   * Makes the next `spec.times` calls of `operation` (matching `spec.match`) fail, either before
   * anything is applied or after (a lost response). See `FaultSpec`.
   */
  injectFault(operation: string, spec?: FaultSpec): FaultHandle {
    return this.faults.add(operation, spec);
  }

  clearFaults(): void {
    this.faults.clear();
  }

  /** Calls received per operation since the start or the last `resetCalls()`. */
  get calls(): Record<string, number> {
    return this.counter.snapshot();
  }

  get totalCalls(): number {
    return this.counter.total();
  }

  resetCalls(): void {
    this.counter.reset();
  }

  /** The last requests received (all, or of one operation), oldest first; values are masked. */
  requests(operation?: string): RecordedRequest[] {
    return this.recent.filter((request) => operation === undefined || request.operation === operation);
  }

  private record(operation: string, input: JsonInput): void {
    const masked = { ...input };
    for (const member of ['SecretString', 'SecretBinary']) if (member in masked) masked[member] = '<masked>';
    this.recent.push({ operation, input: masked, at: this.state.clock() });
    if (this.recent.length > RECENT_REQUESTS) this.recent.splice(0, this.recent.length - RECENT_REQUESTS);
  }

  // ---------------------------------------------------------------- not reachable over the wire

  /**
   * Creates a secret the way another AWS service creates its own: RDS names its master secrets
   * `rds!db-…` / `rds!cluster-…` (a name the CreateSecret API refuses to customers) and tags them
   * `aws:rds:primaryDBInstanceArn` / `aws:rds:primaryDBClusterArn`. Not reachable over the wire.
   */
  createServiceSecret(input: {
    Name: string;
    SecretString: string;
    Tags?: readonly { Key: string; Value: string }[];
  }): { ARN: string; Name: string } {
    if (!isServiceName(input.Name)) {
      throw new Error(`a service's secret is named "<service>!<name>", not "${input.Name}"`);
    }
    const out = createSecret(
      this.state,
      { ...input, Tags: input.Tags?.map((tag) => ({ ...tag })), ClientRequestToken: randomUUID() },
      true,
    ) as { ARN: string; Name: string };
    return { ARN: out.ARN, Name: out.Name };
  }

  /**
   * Starts the rotations the schedule says are due (`NextRotationDate` reached), the way the
   * service's scheduler does. A stuck rotation is reattempted with its token instead.
   * Returns the jobs started.
   */
  rotateDue(): { secretArn: string; token: string }[] {
    return this.rotation.rotateDue();
  }

  // ---------------------------------------------------------------- used by the rotation engine

  /** The labels on a version, or undefined when the secret or the version is gone. */
  versionStages(secretArn: string, token: string): readonly string[] | undefined {
    return this.rotation.versionStages(secretArn, token);
  }

  /** Whether rotation is still enabled and the secret not deleted (checked before each step). */
  rotationActive(secretArn: string): boolean {
    return this.rotation.rotationActive(secretArn);
  }

  /** Records a successful rotation: dates move on; AWSPENDING leaves the token's version if asked. */
  finishRotation(secretArn: string, token: string, clearPending: boolean): void {
    this.rotation.finishRotation(secretArn, token, clearPending);
  }

  /** Removes the temporary version of a configuration test (unless someone promoted it). */
  endConfigurationTest(secretArn: string, token: string): void {
    this.rotation.endConfigurationTest(secretArn, token);
  }

  // ---------------------------------------------------------------- inspection and persistence

  /** A copy of a secret's state (values included), by name, full or partial ARN. */
  inspect(secretId: string): SecretView | undefined {
    const secret = this.state.find(secretId);
    if (secret === undefined) return undefined;
    return {
      arn: secret.arn,
      name: secret.name,
      deletedAt: secret.deletedAt,
      rotationEnabled: secret.rotationEnabled,
      lastRotatedAt: secret.lastRotatedAt,
      nextRotationAt: secret.nextRotationAt,
      versions: [...secret.versions.values()].map((version) => ({
        id: version.id,
        stages: [...version.stages],
        value: version.value,
        createdAt: version.createdAt,
      })),
      replicas: secret.replicas.map(({ region, arn }) => ({ region, arn })),
    };
  }

  /** The full ARN of a secret, by name, full or partial ARN. */
  arnOf(secretId: string): string | undefined {
    return this.state.find(secretId)?.arn;
  }

  snapshot(): SecretsSnapshot {
    return this.state.snapshot();
  }

  restore(snapshot: SecretsSnapshot): void {
    this.state.restore(snapshot);
  }
}
