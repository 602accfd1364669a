/**
 * Logs and metrics, built once per cold start. Both wrap the step machine; rotators have neither.
 *
 * Logs: Powertools Logger, structured JSON, every string scrubbed by the redactor on its way out.
 * Metrics: Powertools Metrics (CloudWatch EMF). `TestSecretFailed` carries only the service
 * dimension so that one alarm per deployment can watch it; so does `TrustBoundaryRefused`.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Config } from './config.js';
import type { Redactor } from './redact.js';

export function createLogger(config: Pick<Config, 'serviceName' | 'logLevel'>, redactor: Redactor): Logger {
  return new Logger({
    serviceName: config.serviceName,
    logLevel: config.logLevel,
    jsonReplacerFn: (_key: string, value: unknown) =>
      typeof value === 'string' ? redactor.scrub(value) : value,
  });
}

/** The metrics rotor emits. Names are part of the public contract (alarms watch them). */
export const METRIC = {
  stepSucceeded: 'StepSucceeded',
  stepFailed: 'StepFailed',
  stepDuration: 'StepDuration',
  testSecretFailed: 'TestSecretFailed',
  rotationSucceeded: 'RotationSucceeded',
  eventPublishFailed: 'EventPublishFailed',
  /** A trust boundary held (a TrustBoundaryError): service dimension only, one alarm pages on it. */
  trustBoundaryRefused: 'TrustBoundaryRefused',
} as const;

export class StepMetrics {
  /** `undefined` when metrics are turned off. */
  constructor(private readonly metrics: Metrics | undefined) {}

  static create(config: Pick<Config, 'metricsNamespace' | 'serviceName' | 'metricsEnabled'>): StepMetrics {
    return new StepMetrics(
      config.metricsEnabled
        ? new Metrics({ namespace: config.metricsNamespace, serviceName: config.serviceName })
        : undefined,
    );
  }

  /**
   * One step's outcome. Each call adds, publishes and clears in one synchronous block, so that
   * concurrent invocations in one process (local stack, benchmark) cannot mix their dimensions.
   */
  step(engine: string, step: string, ok: boolean, durationMs: number): void {
    const m = this.metrics;
    if (m === undefined) return;
    m.addDimensions({ engine, step });
    m.addMetric(ok ? METRIC.stepSucceeded : METRIC.stepFailed, MetricUnit.Count, 1);
    m.addMetric(METRIC.stepDuration, MetricUnit.Milliseconds, durationMs);
    m.publishStoredMetrics();
    m.clearDimensions();
    if (!ok && step === 'testSecret') this.#single(METRIC.testSecretFailed, 1);
    if (ok && step === 'finishSecret') this.#single(METRIC.rotationSucceeded, 1, { engine });
  }

  /** One refusal at a trust boundary (somebody tried something): counted with the service dimension only. */
  trustBoundaryRefused(): void {
    this.#single(METRIC.trustBoundaryRefused, 1);
  }

  eventPublishFailed(count: number): void {
    this.#single(METRIC.eventPublishFailed, count);
  }

  #single(name: string, value: number, dimensions: Record<string, string> = {}): void {
    const m = this.metrics;
    if (m === undefined) return;
    m.addDimensions(dimensions);
    m.addMetric(name, MetricUnit.Count, value);
    m.publishStoredMetrics();
    m.clearDimensions();
  }
}
