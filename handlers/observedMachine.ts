/**
 * Observability around the step machine, not inside it: the Lambda runs this wrapper, which has
 * the step machine's interface (`run(event, remainingMs)`) and three hooks around the protocol:
 *
 * - `before`: the step has read what it needs and is about to act (its engine and strategy are
 *   known): `Rotation Step Started`, when configured, is sent while the step works;
 * - `after`: the step succeeded: its log line, metrics, and one PutEvents with `Rotation Step
 *   Succeeded` (and `Rotation Succeeded` after finishSecret's promotion, in the same call);
 * - `onError`: the step failed: whether AWSCURRENT still logs in, the log line, metrics, and one
 *   PutEvents with `Rotation Step Failed`, kept for the next publish if it cannot be delivered.
 *
 * The Started event is awaited once, by `after` or `onError`, so that it arrives before the
 * outcome. What the step noticed on its way (notes) is logged here, as warnings.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import { describeCause } from '../rotators/causes.js';
import { type RotorError, TrustBoundaryError } from '../rotators/errors.js';
import { optional } from '../rotators/optional.js';
import type { Config } from './config.js';
import type { EventPublisher, RotorDetailType, RotorEvent } from './events.js';
import type { StepMetrics } from './observability.js';
import type { Redactor } from './redact.js';
import { runbookUrl } from './runbook.js';
import type { Invocation, StepMachine, StepOutcome } from './stepMachine.js';

export interface ObserverDeps {
  /** `stepStartedEvents` defaults to off. */
  config: Partial<Pick<Config, 'stepStartedEvents' | 'runbookUrl'>>;
  redactor: Redactor;
  logger: Logger;
  metrics: StepMetrics;
  /** Absent when events are turned off. */
  publisher?: EventPublisher;
}

/** The wrapper's view of one invocation: the machine's facts and its own bookkeeping. */
interface Observed {
  inv: Invocation;
  attempt: number;
  /** Rotation Step Started, while it is being sent (awaited once, before the outcome's event). */
  startedEvent: Promise<unknown>;
}

/** Small bounded map for per-container bookkeeping (attempt counts, rotation start times). */
class BoundedMap<V> extends Map<string, V> {
  constructor(private readonly limit: number) {
    super();
  }
  override set(key: string, value: V): this {
    if (!this.has(key) && this.size >= this.limit) {
      const oldest = this.keys().next().value;
      if (oldest !== undefined) this.delete(oldest);
    }
    return super.set(key, value);
  }
}

export class ObservedStepMachine {
  readonly #attempts = new BoundedMap<number>(1000);
  readonly #rotationStarts = new BoundedMap<number>(1000);

  constructor(
    private readonly machine: StepMachine,
    private readonly deps: ObserverDeps,
  ) {}

  /** Runs one step. `remainingMs` is the Lambda's remaining time. Throws a RotorError on failure. */
  async run(raw: unknown, remainingMs: number): Promise<StepOutcome> {
    const started = performance.now();
    const scope = this.deps.redactor.scope();
    let observed: Observed | undefined;
    try {
      const inv = this.machine.open(raw, remainingMs, started, scope);
      observed = { inv, attempt: this.#attempt(inv), startedEvent: Promise.resolve() };
      const prepared = await this.machine.prepare(inv);
      if (prepared.act === undefined) {
        await this.after(observed, prepared.outcome);
        return prepared.outcome;
      }
      this.before(observed);
      const outcome = await prepared.act();
      await this.after(observed, outcome);
      return outcome;
    } catch (error) {
      const rotorError = this.machine.contextualise(error, observed?.inv, raw);
      await this.onError(observed, rotorError);
      throw rotorError;
    } finally {
      scope.close();
    }
  }

  #attempt(inv: Invocation): number {
    const key = `${inv.event.ClientRequestToken}:${inv.event.Step}`;
    const attempt = (this.#attempts.get(key) ?? 0) + 1;
    this.#attempts.set(key, attempt);
    return attempt;
  }

  /** The step is about to act. */
  before(observed: Observed): void {
    const { inv } = observed;
    if (inv.event.Step === 'createSecret')
      this.#rotationStarts.set(inv.event.ClientRequestToken, inv.started);
    // Optional, and never awaited here: it is sent while the step works. The outcome waits for
    // it, so that Started always arrives before the step's outcome.
    if (this.deps.config.stepStartedEvents === true) {
      observed.startedEvent = this.#send([this.#event(observed, 'Rotation Step Started', {})]);
    }
  }

  /** The step succeeded. */
  async after(observed: Observed, outcome: StepOutcome): Promise<void> {
    const { inv } = observed;
    const durationMs = Math.round(performance.now() - inv.started);
    const { logger, metrics } = this.deps;
    this.#notes(observed);
    const reported = {
      ...optional('fallback', outcome.fallback),
      ...(outcome.warnings ? { warnings: outcome.warnings } : {}),
    };
    logger.info('step succeeded', {
      ...this.#describe(observed),
      durationMs,
      result: outcome.result,
      ...reported,
      ...discoveryCalls(inv),
    });
    for (const warning of outcome.warnings ?? []) logger.warn(warning, this.#describe(observed));
    metrics.step(inv.engine ?? 'unknown', inv.event.Step, true, durationMs);
    await observed.startedEvent;
    const events = [
      this.#event(observed, 'Rotation Step Succeeded', { durationMs, result: outcome.result, ...reported }),
    ];
    if (inv.event.Step === 'finishSecret' && outcome.result === 'done') {
      const startedAt = this.#rotationStarts.get(inv.event.ClientRequestToken);
      this.#rotationStarts.delete(inv.event.ClientRequestToken);
      events.push(
        this.#event(observed, 'Rotation Succeeded', {
          ...(startedAt === undefined
            ? {}
            : { rotationDurationMs: Math.round(performance.now() - startedAt) }),
        }),
      );
    }
    await this.#send(events);
  }

  /** The step failed (`observed` is undefined when the event itself was refused). */
  async onError(observed: Observed | undefined, error: RotorError): Promise<void> {
    const { logger, metrics } = this.deps;
    const inv = observed?.inv;
    const durationMs = inv === undefined ? 0 : Math.round(performance.now() - inv.started);
    if (observed !== undefined) this.#rollbackFailure(observed, error);
    const currentVerified = inv === undefined ? undefined : await this.machine.verifyCurrent(inv, error);
    if (observed !== undefined) this.#notes(observed);
    const verified = currentVerified === undefined ? {} : { currentVerified };
    logger.error('step failed', {
      ...(observed === undefined ? {} : this.#describe(observed)),
      durationMs,
      error: error.toJSON(),
      ...verified,
      ...discoveryCalls(inv),
    });
    // Somebody tried something (or a setup needs an operator's decision): its own metric and alarm.
    if (error instanceof TrustBoundaryError) metrics.trustBoundaryRefused();
    if (observed === undefined || inv === undefined) return; // Not a rotation event: nothing to attribute.
    metrics.step(inv.engine ?? 'unknown', inv.event.Step, false, durationMs);
    await observed.startedEvent;
    await this.#send(
      [
        this.#event(observed, 'Rotation Step Failed', {
          durationMs,
          error: error.toJSON(),
          ...optional('rolledBack', inv.rolledBack),
          ...verified,
          // What on-call reads first: the class of the cause in words, and the runbook entry.
          cause: describeCause({ ...error.toJSON(), message: error.detail }),
          runbook: runbookUrl(error.name, this.deps.config.runbookUrl),
        }),
      ],
      { keepUndelivered: true },
    );
  }

  /** A rollback after a failed test that did not complete: logged, and counted when a boundary held. */
  #rollbackFailure(observed: Observed, testError: RotorError): void {
    const failure = observed.inv.rollbackError;
    if (failure === undefined) return;
    if (failure instanceof TrustBoundaryError) this.deps.metrics.trustBoundaryRefused();
    this.deps.logger.error('rollback after a failed test did not complete', {
      ...this.#describe(observed),
      error: failure.toJSON(),
      testError: testError.name,
    });
  }

  /** What the step noticed and went on from, as warnings (each once), with the step's description. */
  #notes(observed: Observed): void {
    for (const note of observed.inv.notes.splice(0)) {
      this.deps.logger.warn(note.message, { ...this.#describe(observed), ...note.fields });
    }
  }

  #describe({ inv, attempt }: Observed): Record<string, unknown> {
    return {
      secretArn: inv.secretArn,
      versionId: inv.event.ClientRequestToken,
      step: inv.event.Step,
      engine: inv.engine ?? null,
      strategy: inv.strategy ?? null,
      attempt,
    };
  }

  #event(observed: Observed, detailType: RotorDetailType, extra: Record<string, unknown>): RotorEvent {
    return {
      detailType,
      secretArn: observed.inv.secretArn,
      detail: { ...this.#describe(observed), ...extra },
    };
  }

  /** One PutEvents (the publisher splits only past 10 entries; a step sends at most 2). */
  async #send(events: RotorEvent[], options?: { keepUndelivered?: boolean }): Promise<void> {
    await this.deps.publisher?.publish(events, options);
  }
}

/** The AWS calls discovery made in this invocation (for the step's log line), when it made any. */
function discoveryCalls(inv: Invocation | undefined): Record<string, unknown> {
  const calls = inv?.enricher?.calls;
  if (calls === undefined || Object.keys(calls).length === 0) return {};
  return { discoveryCalls: { ...calls } };
}
