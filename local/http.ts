/**
 * JSON 1.1 server plumbing shared by the local Secrets Manager and EventBridge.
 *
 * The real AWS SDK v3 clients talk to this server exactly as they talk to AWS: `POST /` with
 * `Content-Type: application/x-amz-json-1.1` and `X-Amz-Target: <service prefix>.<Operation>`.
 * Errors are `{"__type": ..., "message": ...}` bodies: the SDK picks the error class from
 * `__type`, never from the HTTP status. Request signatures are not checked: there is no IAM here.
 *
 * A few `GET /_rotor/...` routes expose what only the local stack knows (stored events, the
 * rotation history) to tests and to the CLI.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** An error the way an AWS JSON 1.1 service returns it. */
export class AwsError extends Error {
  constructor(
    /** The `__type` the SDK maps to an exception class, e.g. `ResourceNotFoundException`. */
    readonly type: string,
    message: string,
    /** HTTP status. AWS uses 400 for client errors and 500 for its own failures. */
    readonly status = 400,
  ) {
    super(message);
    this.name = type;
  }
}

/**
 * Thrown by an operation to make the server drop the connection instead of answering: the
 * client sees a network error and cannot tell whether the operation was applied.
 */
export class DroppedResponse extends Error {
  override readonly name = 'DroppedResponse';
  constructor() {
    super('the local stack dropped the connection on purpose (injected fault)');
  }
}

/** A JSON object received as an operation's input. */
export type JsonInput = Record<string, unknown>;

/** Runs one operation of a service, e.g. `('PutSecretValue', {...})`. */
export type OperationHandler = (operation: string, input: JsonInput) => Promise<unknown>;

/** Answers a `GET` route with a JSON value. */
export type GetHandler = (query: URLSearchParams) => unknown;

export interface JsonServerRoutes {
  /** Service handlers by `X-Amz-Target` prefix (`secretsmanager`, `AWSEvents`). */
  readonly targets: Readonly<Record<string, OperationHandler>>;
  /** Extra read-only routes by exact path, e.g. `/_rotor/events`. */
  readonly get: Readonly<Record<string, GetHandler>>;
  /**
   * Read-only REST routes by path prefix, given the rest of the path (URL-decoded): the local
   * Lambda's `GET /2015-03-31/functions/<name>` (GetFunction, a REST-JSON API). Errors are sent
   * with `x-amzn-ErrorType`, which the REST-JSON clients read.
   */
  readonly getPrefix?: Readonly<Record<string, (rest: string, query: URLSearchParams) => unknown>>;
}

export interface JsonServer {
  /** `http://host:port`, with the port actually bound (useful with port 0). */
  readonly url: string;
  readonly port: number;
  /** Stops accepting connections and closes the open ones (the SDK keeps connections alive). */
  close(): Promise<void>;
}

/** Starts the HTTP server. Resolves once it listens. */
export async function startJsonServer(
  routes: JsonServerRoutes,
  listen: { host: string; port: number },
): Promise<JsonServer> {
  const server = createServer((request, response) => {
    handleRequest(routes, request, response).catch((error: unknown) => {
      // Only a bug in this file gets here: answer once, as AWS would for its own failure.
      if (!response.headersSent) sendError(response, new AwsError('InternalFailure', describe(error), 500));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = listen.host.includes(':') ? `[${listen.host}]` : listen.host;
  return { url: `http://${host}:${port}`, port, close: () => closeServer(server) };
}

async function closeServer(server: Server): Promise<void> {
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

async function handleRequest(
  routes: JsonServerRoutes,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const url = new URL(request.url ?? '/', 'http://localhost');
  if (request.method === 'GET') {
    const route = routes.get[url.pathname] ?? prefixRoute(routes, url.pathname);
    if (route === undefined) return sendJson(response, 404, { message: `no route ${url.pathname}` });
    try {
      return sendJson(response, 200, route(url.searchParams));
    } catch (error) {
      return sendError(response, asAwsError(error));
    }
  }
  if (request.method !== 'POST') return sendJson(response, 405, { message: 'only POST and GET are served' });

  const body = await readBody(request);
  const target = headerValue(request, 'x-amz-target');
  try {
    const [prefix, operation] = splitTarget(target);
    const handler = routes.targets[prefix];
    if (handler === undefined) throw new AwsError('UnknownOperationException', `Unknown target ${target}`);
    const result = await handler(operation, parseInput(body));
    sendJson(response, 200, result ?? {});
  } catch (error) {
    if (error instanceof DroppedResponse) {
      // Destroying the socket without a response is what a crash between "applied" and
      // "answered" looks like to the client.
      request.socket.destroy();
      return;
    }
    sendError(response, asAwsError(error));
  }
}

function prefixRoute(routes: JsonServerRoutes, path: string): GetHandler | undefined {
  for (const [prefix, handler] of Object.entries(routes.getPrefix ?? {})) {
    if (path.startsWith(prefix) && path.length > prefix.length) {
      const rest = decodeURIComponent(path.slice(prefix.length));
      return (query) => handler(rest, query);
    }
  }
  return undefined;
}

function splitTarget(target: string | undefined): [string, string] {
  const dot = target?.lastIndexOf('.') ?? -1;
  if (target === undefined || dot <= 0) {
    throw new AwsError('UnknownOperationException', 'Missing or malformed X-Amz-Target header');
  }
  return [target.slice(0, dot), target.slice(dot + 1)];
}

function parseInput(body: string): JsonInput {
  if (body.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new AwsError('SerializationException', 'Start of structure or map found where not expected.');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new AwsError('SerializationException', 'The request body must be a JSON object.');
  }
  return parsed as JsonInput;
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function headerValue(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function asAwsError(error: unknown): AwsError {
  return error instanceof AwsError ? error : new AwsError('InternalFailure', describe(error), 500);
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

function sendError(response: ServerResponse, error: AwsError): void {
  response.setHeader('x-amzn-ErrorType', error.type);
  sendJson(response, error.status, { __type: error.type, message: error.message });
}

function sendJson(response: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  response.writeHead(status, {
    'content-type': 'application/x-amz-json-1.1',
    'content-length': Buffer.byteLength(body),
    'x-amzn-RequestId': randomUUID(),
  });
  response.end(body);
}

/**
 * Validates an operation's input the way the service's model does, and reports every problem
 * in one `ValidationException` worded like AWS's: "1 validation error detected: Value null at
 * 'secretId' failed to satisfy constraint: Member must not be null".
 */
/** Stands for a sensitive member's value in `InputValidator.problem`: the message omits it. */
const SENSITIVE = Symbol('sensitive');

export class InputValidator {
  private readonly problems: string[] = [];

  constructor(private readonly input: JsonInput) {}

  /** A string member. Returns undefined when absent (and records a problem when required). */
  string(
    member: string,
    rules: { required?: boolean; min?: number; max?: number; pattern?: RegExp; sensitive?: boolean } = {},
  ): string | undefined {
    const value = this.input[member];
    if (value === undefined || value === null) {
      if (rules.required === true) this.problem(member, null, 'Member must not be null');
      return undefined;
    }
    if (typeof value !== 'string') {
      throw new AwsError('SerializationException', `Member ${member} must be a string`);
    }
    // A sensitive member (a secret value) is never echoed: AWS writes "Value at '...'" for those.
    const shown = rules.sensitive === true ? SENSITIVE : value;
    this.checkLength(member, shown, value.length, rules);
    if (rules.pattern !== undefined && !rules.pattern.test(value)) {
      this.problem(member, shown, `Member must satisfy regular expression pattern: ${rules.pattern.source}`);
    }
    return value;
  }

  /** An integer member, checked against its range. */
  integer(
    member: string,
    rules: { required?: boolean; min?: number; max?: number } = {},
  ): number | undefined {
    const value = this.input[member];
    if (value === undefined || value === null) {
      if (rules.required === true) this.problem(member, null, 'Member must not be null');
      return undefined;
    }
    if (typeof value !== 'number' || !Number.isInteger(value)) {
      throw new AwsError('SerializationException', `Member ${member} must be an integer`);
    }
    if (rules.min !== undefined && value < rules.min) {
      this.problem(member, value, `Member must have value greater than or equal to ${rules.min}`);
    }
    if (rules.max !== undefined && value > rules.max) {
      this.problem(member, value, `Member must have value less than or equal to ${rules.max}`);
    }
    return value;
  }

  boolean(member: string): boolean | undefined {
    const value = this.input[member];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'boolean')
      throw new AwsError('SerializationException', `Member ${member} must be a boolean`);
    return value;
  }

  /** A list member; items are returned unchecked. */
  list(
    member: string,
    rules: { required?: boolean; min?: number; max?: number } = {},
  ): unknown[] | undefined {
    const value = this.input[member];
    if (value === undefined || value === null) {
      if (rules.required === true) this.problem(member, null, 'Member must not be null');
      return undefined;
    }
    if (!Array.isArray(value))
      throw new AwsError('SerializationException', `Member ${member} must be a list`);
    this.checkLength(member, '[...]', value.length, rules);
    return value;
  }

  /** A structure member; its fields are returned unchecked. */
  object(member: string): JsonInput | undefined {
    const value = this.input[member];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'object' || Array.isArray(value)) {
      throw new AwsError('SerializationException', `Member ${member} must be a structure`);
    }
    return value as JsonInput;
  }

  /** Records a constraint violation found by the caller (nested members, cross-field rules). */
  problem(member: string, value: unknown, constraint: string): void {
    const shown =
      value === SENSITIVE
        ? ''
        : value === null
          ? ' null'
          : ` '${typeof value === 'string' ? value : JSON.stringify(value)}'`;
    this.problems.push(
      `Value${shown} at '${memberPath(member)}' failed to satisfy constraint: ${constraint}`,
    );
  }

  /** Throws the collected problems as one ValidationException. */
  check(): void {
    if (this.problems.length === 0) return;
    const count = this.problems.length;
    throw new AwsError(
      'ValidationException',
      `${count} validation error${count === 1 ? '' : 's'} detected: ${this.problems.join('; ')}`,
    );
  }

  private checkLength(
    member: string,
    shown: unknown,
    length: number,
    rules: { min?: number; max?: number },
  ): void {
    if (rules.min !== undefined && length < rules.min) {
      this.problem(member, shown, `Member must have length greater than or equal to ${rules.min}`);
    }
    if (rules.max !== undefined && length > rules.max) {
      this.problem(member, shown, `Member must have length less than or equal to ${rules.max}`);
    }
  }
}

/** `RotationRules.AutomaticallyAfterDays` → `rotationRules.automaticallyAfterDays`, as AWS words it. */
function memberPath(member: string): string {
  return member
    .split('.')
    .map((part) => part.charAt(0).toLowerCase() + part.slice(1))
    .join('.');
}

/** Epoch seconds, the JSON 1.1 timestamp format (fractional seconds allowed). */
export function epochSeconds(date: Date): number {
  return date.getTime() / 1000;
}

/** The error a fault returns, or `'drop'` to close the connection without answering. */
export type FaultError = { type: string; message?: string; status?: number } | 'drop';

/** One injected failure of an operation. */
export interface FaultSpec {
  /** How many matching calls fail. Default 1. */
  times?: number;
  /** Only calls whose input passes count (and fail). Default: every call. */
  match?: (input: JsonInput) => boolean;
  /**
   * `before`: nothing is applied and the error is returned.
   * `after`: the operation is applied, then the response is lost (error or dropped connection).
   * Default `before`.
   */
  when?: 'before' | 'after';
  /**
   * Default for `before`: `InternalServiceError` (HTTP 500); for `after`: `'drop'`.
   * A 500 or a dropped connection makes the SDK retry: that is the point of a lost response.
   */
  error?: FaultError;
}

/** A pending fault: how many failures are left, and a way to withdraw it. */
export interface FaultHandle {
  readonly remaining: number;
  clear(): void;
}

interface ArmedFault {
  readonly operation: string;
  readonly when: 'before' | 'after';
  readonly match: (input: JsonInput) => boolean;
  readonly error: FaultError;
  remaining: number;
}

/** Injected failures per operation, consumed in the order they were added. */
export class FaultPlan {
  private faults: ArmedFault[] = [];

  constructor(private readonly defaultBefore: { type: string; message: string; status: number }) {}

  add(operation: string, spec: FaultSpec = {}): FaultHandle {
    const when = spec.when ?? 'before';
    const fault: ArmedFault = {
      operation,
      when,
      match: spec.match ?? (() => true),
      error: spec.error ?? (when === 'before' ? this.defaultBefore : 'drop'),
      remaining: spec.times ?? 1,
    };
    this.faults.push(fault);
    return {
      get remaining() {
        return fault.remaining;
      },
      clear: () => {
        this.faults = this.faults.filter((other) => other !== fault);
      },
    };
  }

  clear(): void {
    this.faults = [];
  }

  /** Runs `apply` with the faults armed for this call around it. */
  async run<T>(operation: string, input: JsonInput, apply: () => T | Promise<T>): Promise<T> {
    this.trip(operation, input, 'before');
    const result = await apply();
    this.trip(operation, input, 'after');
    return result;
  }

  private trip(operation: string, input: JsonInput, when: 'before' | 'after'): void {
    const fault = this.faults.find((f) => f.operation === operation && f.when === when && f.match(input));
    if (fault === undefined) return;
    fault.remaining -= 1;
    if (fault.remaining <= 0) this.faults = this.faults.filter((other) => other !== fault);
    if (fault.error === 'drop') throw new DroppedResponse();
    throw new AwsError(
      fault.error.type,
      fault.error.message ?? `Injected ${fault.error.type}`,
      fault.error.status,
    );
  }
}

/** Calls received per operation (faulted calls included), for benchmarks and call-budget tests. */
export class CallCounter {
  private counts = new Map<string, number>();

  count(operation: string): void {
    this.counts.set(operation, (this.counts.get(operation) ?? 0) + 1);
  }

  /** A copy: `{ GetSecretValue: 3, PutSecretValue: 1 }`. */
  snapshot(): Record<string, number> {
    return Object.fromEntries(this.counts);
  }

  total(): number {
    let sum = 0;
    for (const value of this.counts.values()) sum += value;
    return sum;
  }

  reset(): void {
    this.counts = new Map();
  }
}
