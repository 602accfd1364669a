/**
 * One CLI invocation's shared state, built lazily so that `rotor --help` or `rotor local` never
 * needs AWS, a region or the rotators: the terminal, the configuration, the AWS clients, the
 * registry of rotators, and the redaction scope every secret value read is registered in.
 */

import { allRotators } from '../handlers/catalogue/index.js';
import { type CliConfig, type Config, readCliConfig, readConfig } from '../handlers/config.js';
import { type RedactionScope, redactor } from '../handlers/redact.js';
import { SecretsStore } from '../handlers/secrets.js';
import { VersionReader } from '../handlers/versions.js';
import { createRegistry, type Registry } from '../rotators/registry.js';
import { type AwsContext, connectAws, type GlobalOptions } from './aws.js';
import { createTerminal, type Io, type Terminal } from './io.js';

export class Session {
  readonly term: Terminal;
  readonly cli: CliConfig;
  readonly scope: RedactionScope = redactor.scope();
  readonly signal: AbortSignal;
  readonly pollIntervalMs: number;
  #config: Config | undefined;
  #registry: Registry | undefined;
  #aws: Promise<AwsContext> | undefined;

  constructor(readonly io: Io) {
    this.cli = readCliConfig(io.env);
    this.term = createTerminal(io, this.cli.color);
    this.signal = io.signal ?? new AbortController().signal;
    this.pollIntervalMs = io.pollIntervalMs ?? 2_000;
  }

  now(): number {
    return this.io.now?.() ?? Date.now();
  }

  /** rotor's configuration (events bus and source, API-key providers). Throws ConfigurationError. */
  config(): Config {
    this.#config ??= readConfig(this.io.env);
    return this.#config;
  }

  registry(): Registry {
    this.#registry ??= createRegistry(this.io.rotators ?? allRotators(this.config()));
    return this.#registry;
  }

  aws(options: GlobalOptions): Promise<AwsContext> {
    this.#aws ??= connectAws(options, this.cli, this.config().eventSource);
    return this.#aws;
  }

  /**
   * A reader that reads versions the way a rotation does: AWSCURRENT parsed, masters bound and
   * related secrets read as the function would, every value in this session's redaction scope.
   */
  reader(context: AwsContext, signal: AbortSignal, secretArn?: string): VersionReader {
    return new VersionReader({
      store: new SecretsStore(context.sm),
      registry: this.registry(),
      scope: this.scope,
      signal,
      enricher: context.discovery.forInvocation(signal),
      trust: this.config(),
      ...(secretArn === undefined ? {} : { secretArn }),
    });
  }

  async close(): Promise<void> {
    this.scope.close();
    if (this.#aws !== undefined) (await this.#aws.catch(() => undefined))?.close();
  }
}

/** Sleeps `ms`, or less when `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
