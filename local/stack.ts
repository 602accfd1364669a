/**
 * `startLocalStack`: Secrets Manager and EventBridge on one local HTTP endpoint, for the real
 * AWS SDK v3 clients, with registered rotation functions standing in for Lambda.
 *
 *   const stack = await startLocalStack({ port: 0 });
 *   const sm = new SecretsManagerClient(stack.clientConfig);
 *   stack.registerFunction('rotator', handler);
 *   ...
 *   await stack.idle();   // every rotation started by RotateSecret has ended
 *   await stack.stop();
 *
 * The stack never reads or writes `process.env`: `env` lists the variables a child process
 * would need, `clientConfig` is what an in-process client needs.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { cloudTrailServiceEvent, LocalEventBridge, type StoredEvent } from './eventBridge.js';
import { AwsError, startJsonServer } from './http.js';
import {
  defaultRotationSettings,
  LocalRotations,
  type RotationFunction,
  type RotationRecord,
  type RotationSettings,
} from './rotations.js';
import { LocalSecretsManager, type SecretsSnapshot } from './secretsManager.js';

export type { LocalEventBridge, StoredEvent } from './eventBridge.js';
export type {
  AttemptRecord,
  AttemptSummary,
  LocalRotations,
  RotationEvent,
  RotationFunction,
  RotationRecord,
  RotationSettings,
  RotationStep,
  StepRecord,
} from './rotations.js';
export type { LocalSecretsManager } from './secretsManager.js';

export interface LocalStackOptions {
  /** 0 (default) picks a free port. */
  readonly port?: number;
  /** Default `127.0.0.1`. */
  readonly host?: string;
  /** Default `us-east-1`. */
  readonly region?: string;
  /** Default `123456789012`. */
  readonly accountId?: string;
  /** Rotation functions by name or Lambda ARN. */
  readonly functions?: Readonly<Record<string, RotationFunction>>;
  readonly rotation?: Partial<RotationSettings>;
  /** Loads state from this JSON file at start and saves it (atomically, debounced) on change. */
  readonly stateFile?: string;
  /** The service's notion of now (dates, schedules, deletion windows). Default: the real time. */
  readonly clock?: () => Date;
  /** Runs the rotation schedule (`rotateDue`) this often. Default: never (tests call it). */
  readonly scheduleIntervalMs?: number;
  /** EventBridge: accept events for buses nobody created. Default true. */
  readonly acceptUnknownEventBuses?: boolean;
}

export interface LocalStack {
  /** `http://127.0.0.1:<port>`: both services. */
  readonly endpoint: string;
  readonly region: string;
  readonly accountId: string;
  readonly secretsManager: LocalSecretsManager;
  readonly eventBridge: LocalEventBridge;
  /** The rotation engine: history, `wait`, `attempts()`. */
  readonly rotations: LocalRotations;
  /**
   * Registers a rotation function by name or Lambda ARN; returns its ARN. `tags` are its Lambda
   * tags (GetFunction returns them): `rotor:engines` names the engines it rotates.
   */
  registerFunction(nameOrArn: string, fn: RotationFunction, tags?: Readonly<Record<string, string>>): string;
  /** `arn:aws:lambda:<region>:<account>:function:<name>`. */
  functionArn(name: string): string;
  /** Spread into `new SecretsManagerClient(...)` / `new EventBridgeClient(...)`. */
  readonly clientConfig: {
    readonly endpoint: string;
    readonly region: string;
    readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
  };
  /** The environment a separate process needs to use this stack. */
  readonly env: {
    readonly AWS_ENDPOINT_URL_SECRETS_MANAGER: string;
    readonly AWS_ENDPOINT_URL_EVENTBRIDGE: string;
    readonly AWS_ENDPOINT_URL_LAMBDA: string;
    readonly AWS_REGION: string;
    readonly AWS_ACCESS_KEY_ID: string;
    readonly AWS_SECRET_ACCESS_KEY: string;
  };
  /** Resolves when no rotation runs. */
  idle(): Promise<void>;
  /** Waits for the rotation of a secret (name or ARN) with this token; returns its record. */
  waitForRotation(secretId: string, token: string): Promise<RotationRecord | undefined>;
  /** Interrupts running rotations, saves the state file, closes the server. */
  stop(): Promise<void>;
}

const CREDENTIALS = { accessKeyId: 'rotor-local', secretAccessKey: 'rotor-local' };

export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const region = options.region ?? 'us-east-1';
  const accountId = options.accountId ?? '123456789012';
  const clock = options.clock ?? (() => new Date());

  const eventBridge = new LocalEventBridge({
    region,
    accountId,
    clock,
    ...(options.acceptUnknownEventBuses === undefined
      ? {}
      : { acceptUnknownBuses: options.acceptUnknownEventBuses }),
  });
  const serviceEvents = (eventName: string, secretArn: string, extra?: Record<string, unknown>): void => {
    eventBridge.recordServiceEvent(
      cloudTrailServiceEvent({
        service: 'secretsmanager',
        eventName,
        region,
        accountId,
        time: clock(),
        additionalEventData: { SecretId: secretArn },
        ...(extra === undefined ? {} : { extra }),
      }),
    );
  };
  const secretsManager = new LocalSecretsManager({ region, accountId, clock, serviceEvents });
  const rotations = new LocalRotations({
    secretsManager,
    region,
    accountId,
    clock,
    settings: { ...defaultRotationSettings, ...options.rotation },
    serviceEvents,
  });
  secretsManager.attachRotations(rotations);
  for (const [nameOrArn, fn] of Object.entries(options.functions ?? {})) rotations.register(nameOrArn, fn);

  const state = options.stateFile === undefined ? undefined : new StateFile(options.stateFile);
  if (state !== undefined) {
    const saved = await state.load();
    if (saved !== undefined) {
      secretsManager.restore(saved.secretsManager);
      eventBridge.restore(saved.events);
      rotations.restore(saved.rotations);
    }
    const save = () => state.schedule(() => snapshotState(secretsManager, eventBridge, rotations));
    secretsManager.onChange(save);
    eventBridge.onChange(save);
    rotations.onChange(save);
  }

  const server = await startJsonServer(
    {
      targets: {
        secretsmanager: (operation, input) => secretsManager.handle(operation, input),
        AWSEvents: (operation, input) => eventBridge.handle(operation, input),
      },
      get: {
        '/_rotor/health': () => ({ ok: true, region, accountId }),
        '/_rotor/events': (query) => eventBridge.find(eventQuery(query)),
        '/_rotor/rotations': (query) => rotationQuery(query, secretsManager, rotations),
        '/_rotor/calls': () => ({ secretsManager: secretsManager.calls, eventBridge: eventBridge.calls }),
      },
      // Lambda stands in as registered functions; GetFunction tells the CLI their tags.
      getPrefix: { '/2015-03-31/functions/': (name) => getFunction(rotations, name) },
    },
    { host: options.host ?? '127.0.0.1', port: options.port ?? 0 },
  );

  const scheduler =
    options.scheduleIntervalMs === undefined
      ? undefined
      : setInterval(() => secretsManager.rotateDue(), options.scheduleIntervalMs);
  scheduler?.unref();

  let stopped: Promise<void> | undefined;
  return {
    endpoint: server.url,
    region,
    accountId,
    secretsManager,
    eventBridge,
    rotations,
    registerFunction: (nameOrArn, fn, tags) => rotations.register(nameOrArn, fn, tags),
    functionArn: (name) => rotations.functionArn(name),
    clientConfig: { endpoint: server.url, region, credentials: { ...CREDENTIALS } },
    env: {
      AWS_ENDPOINT_URL_SECRETS_MANAGER: server.url,
      AWS_ENDPOINT_URL_EVENTBRIDGE: server.url,
      AWS_ENDPOINT_URL_LAMBDA: server.url,
      AWS_REGION: region,
      AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
    },
    idle: () => rotations.idle(),
    waitForRotation: (secretId, token) => rotations.wait(secretId, token),
    stop: () => {
      stopped ??= (async () => {
        if (scheduler !== undefined) clearInterval(scheduler);
        await rotations.shutdown();
        await state?.flush();
        await server.close();
      })();
      return stopped;
    },
  };
}

/** Lambda GetFunction for a registered function: its configuration (name, ARN) and tags. */
function getFunction(rotations: LocalRotations, nameOrArn: string): unknown {
  const found = rotations.describe(nameOrArn);
  if (found === undefined) {
    throw new AwsError('ResourceNotFoundException', `Function not found: ${nameOrArn}`, 404);
  }
  return {
    Configuration: { FunctionName: found.name, FunctionArn: found.arn, State: 'Active' },
    Tags: found.tags,
  };
}

/** `?source=&detailType=&eventName=&since=` → an event filter. */
function eventQuery(query: URLSearchParams): Parameters<LocalEventBridge['find']>[0] {
  const since = query.get('since');
  return {
    ...optional('source', query.get('source')),
    ...optional('detailType', query.get('detailType')),
    ...optional('eventName', query.get('eventName')),
    ...(since === null ? {} : { since: parseSince(since) }),
  };
}

function rotationQuery(
  query: URLSearchParams,
  secretsManager: LocalSecretsManager,
  rotations: LocalRotations,
): readonly RotationRecord[] {
  const secretId = query.get('secretId');
  if (secretId === null) return rotations.history;
  const arn = secretsManager.arnOf(secretId) ?? secretId;
  return rotations.history.filter((record) => record.secretArn === arn);
}

function optional<K extends string>(key: K, value: string | null): { [P in K]?: string } {
  return value === null ? {} : ({ [key]: value } as { [P in K]: string });
}

/** An ISO date, epoch seconds, or epoch milliseconds (numbers above 10^11). */
function parseSince(text: string): Date {
  const number = Number(text);
  const date = Number.isFinite(number) ? new Date(number > 1e11 ? number : number * 1000) : new Date(text);
  if (Number.isNaN(date.getTime())) {
    throw new AwsError('ValidationException', `since must be an ISO date or epoch seconds, not "${text}"`);
  }
  return date;
}

// ---------------------------------------------------------------- state file

interface SavedState {
  readonly version: 1;
  readonly secretsManager: SecretsSnapshot;
  readonly events: readonly StoredEvent[];
  readonly rotations: readonly RotationRecord[];
}

function snapshotState(
  secretsManager: LocalSecretsManager,
  eventBridge: LocalEventBridge,
  rotations: LocalRotations,
): SavedState {
  return {
    version: 1,
    secretsManager: secretsManager.snapshot(),
    events: eventBridge.snapshot(),
    rotations: rotations.snapshot(),
  };
}

/**
 * The state file: written to a temporary file then renamed (a crash never leaves half a file),
 * at most once per debounce period, one write at a time.
 */
class StateFile {
  private timer: NodeJS.Timeout | undefined;
  private pending: (() => SavedState) | undefined;
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly path: string,
    private readonly debounceMs = 25,
  ) {}

  async load(): Promise<SavedState | undefined> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    const parsed = JSON.parse(text) as Partial<SavedState>;
    if (parsed.version !== 1 || parsed.secretsManager === undefined) {
      throw new Error(`${this.path} is not a rotor local stack state file (version 1)`);
    }
    return {
      version: 1,
      secretsManager: parsed.secretsManager,
      events: parsed.events ?? [],
      rotations: parsed.rotations ?? [],
    };
  }

  /** Saves `take()` soon; calls within the debounce period are merged into one write. */
  schedule(take: () => SavedState): void {
    this.pending = take;
    if (this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.write();
    }, this.debounceMs);
  }

  /** Writes what is pending now and waits for every write to finish. */
  async flush(): Promise<void> {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    await this.write();
  }

  private write(): Promise<void> {
    const take = this.pending;
    this.pending = undefined;
    if (take !== undefined) {
      // Serialize now (not when the previous write ends) so the file holds this moment's state.
      const text = JSON.stringify(take(), null, 2);
      this.writing = this.writing
        .then(() => this.replace(text))
        .catch((error: unknown) => {
          // A failed save must not stop the stack; the next change tries again.
          console.error(`rotor local stack: could not save ${this.path}:`, error);
        });
    }
    return this.writing;
  }

  private async replace(text: string): Promise<void> {
    const temporary = `${this.path}.${process.pid}.tmp`;
    await mkdir(dirname(this.path), { recursive: true });
    await writeFile(temporary, text, 'utf8');
    await rename(temporary, this.path);
  }
}
