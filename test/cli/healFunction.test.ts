/**
 * The scheduled heal function on the local stack with the fake rotator: it finds the stuck
 * rotations of rotor's functions (and only those), reports them, heals them only in `heal` mode,
 * leaves young ones alone, and publishes an event per decision.
 */
import { randomUUID } from 'node:crypto';
import { RotateSecretCommand } from '@aws-sdk/client-secrets-manager';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { allRotators } from '../../handlers/catalogue/index.js';
import { type Config, readConfig } from '../../handlers/config.js';
import { createHealHandler, type HealOutcome } from '../../handlers/healFunction.js';
import type { RotationEvent } from '../../local/stack.js';
import { ConfigurationError } from '../../rotators/errors.js';
import { FakeTarget } from '../../rotators/fake/client.js';
import { createFakeRotator } from '../../rotators/fake/index.js';
import { type RotationHarness, startRotationHarness } from '../support/rotation.js';

describe('scheduled heal function', () => {
  const targets = new Map<string, FakeTarget>();
  let h: RotationHarness;

  beforeEach(async () => {
    // A stack per case: the function looks at every secret there is.
    h = await startRotationHarness({
      rotators: [createFakeRotator(targets)],
      stack: { rotation: { reattemptStuck: false } },
    });
    // rotor's functions (named rotor-*) that die part-way, and a function that is not rotor's.
    const dying = (name: string, dieAt: RotationEvent['Step']) =>
      h.stack.registerFunction(name, async (event: RotationEvent, context) => {
        if (event.Step === dieAt) throw new Error(`the Lambda died before ${dieAt}`);
        return h.handler(event, context);
      });
    dying('rotor-dies-at-test', 'testSecret');
    dying('rotor-dies-at-set', 'setSecret');
    dying('someone-elses-rotation', 'setSecret');
  });

  afterEach(async () => {
    await h.close();
  });

  function config(overrides: Record<string, string> = {}): Config {
    return readConfig({
      ROTOR_LOG_LEVEL: 'SILENT',
      ROTOR_METRICS: 'off',
      ROTOR_HEAL_FUNCTION_PREFIX: 'rotor-',
      ROTOR_HEAL_MIN_AGE_MINUTES: '0',
      ...overrides,
    });
  }

  function healHandler(overrides: Record<string, string> = {}) {
    return createHealHandler({
      rotators: [createFakeRotator(targets)],
      secretsManager: h.sm,
      eventBridge: h.eb,
      config: config(overrides),
    });
  }

  /** A fake target with one account, and its secret rotated once by `functionName`. */
  async function secretRotatedBy(
    functionName: string,
  ): Promise<{ arn: string; target: FakeTarget; token: string }> {
    const name = `target-${randomUUID()}`;
    const target = new FakeTarget();
    target.addAccount('app', `initial-${randomUUID()}`);
    targets.set(name, target);
    const password = [...(target.accounts.get('app') ?? [])][0] as string;
    const arn = await h.createSecret({ engine: 'fake', target: name, username: 'app', password });
    const out = await h.sm.send(
      new RotateSecretCommand({
        SecretId: arn,
        RotationLambdaARN: h.stack.functionArn(functionName),
        RotationRules: { ScheduleExpression: 'rate(30 days)' },
      }),
    );
    await h.stack.idle();
    return { arn, target, token: out.VersionId as string };
  }

  const byArn = (outcomes: readonly HealOutcome[], arn: string) => outcomes.find((o) => o.secretArn === arn);

  it('report mode: lists each stuck rotation with its decision, changes nothing, publishes Heal Needed', async () => {
    // Prepare
    const forward = await secretRotatedBy('rotor-dies-at-test');
    const abandon = await secretRotatedBy('rotor-dies-at-set');
    const healthy = await secretRotatedBy('rotor-test');
    const before = [await h.labels(forward.arn), await h.labels(abandon.arn)];

    // Act
    const summary = await healHandler()({}, { getRemainingTimeInMillis: () => 900_000 });

    // Assess
    expect(summary).toMatchObject({ mode: 'report', examined: 3, stuck: 2, healed: 0, deferred: 0 });
    expect(byArn(summary.outcomes, forward.arn)).toMatchObject({ decision: 'roll-forward', acted: false });
    expect(byArn(summary.outcomes, abandon.arn)).toMatchObject({ decision: 'abandon', acted: false });
    expect(byArn(summary.outcomes, healthy.arn)).toBeUndefined();
    expect([await h.labels(forward.arn), await h.labels(abandon.arn)]).toEqual(before);
    const needed = h.rotorEvents().filter((event) => event.detailType === 'Rotation Heal Needed');
    expect(needed.map((event) => event.detail.secretArn).sort()).toEqual([forward.arn, abandon.arn].sort());
    // The state the decision rests on, and where the page's reader goes next.
    expect(needed.map((event) => event.detail)).toEqual([
      expect.objectContaining({ state: 'stuck', runbook: 'RUNBOOK.md#rotation-heal-needed' }),
      expect.objectContaining({ state: 'stuck', runbook: 'RUNBOOK.md#rotation-heal-needed' }),
    ]);
  });

  it('heal mode: rolls forward and abandons, so that rotation runs again, and publishes Healed', async () => {
    // Prepare
    const forward = await secretRotatedBy('rotor-dies-at-test');
    const abandon = await secretRotatedBy('rotor-dies-at-set');

    // Act
    const summary = await healHandler({ ROTOR_HEAL_MODE: 'heal' })();

    // Assess
    expect(summary).toMatchObject({ mode: 'heal', stuck: 2, healed: 2 });
    const forwardLabels = await h.labels(forward.arn);
    expect(forwardLabels.AWSCURRENT).toBe(forward.token);
    const abandonLabels = await h.labels(abandon.arn);
    expect(abandonLabels.AWSPENDING).toBeUndefined();
    expect(abandonLabels.AWSCURRENT).not.toBe(abandon.token);
    const current = await h.value(forward.arn);
    expect(() => forward.target.login('app', current.password as string)).not.toThrow();
    const healed = h.rotorEvents().filter((event) => event.detailType === 'Rotation Healed');
    expect(healed.map((event) => event.detail.decision).sort()).toEqual(['abandon', 'roll-forward']);
    await h.rotate(abandon.arn);
    expect((await h.labels(abandon.arn)).AWSCURRENT).not.toBe(abandonLabels.AWSCURRENT);
  });

  it("never touches a secret rotated by a function that is not rotor's", async () => {
    // Prepare
    const foreign = await secretRotatedBy('someone-elses-rotation');
    const before = await h.labels(foreign.arn);

    // Act
    const summary = await healHandler({ ROTOR_HEAL_MODE: 'heal' })();

    // Assess
    expect(summary).toMatchObject({ examined: 0, stuck: 0, outcomes: [] });
    expect(await h.labels(foreign.arn)).toEqual(before);
  });

  it('leaves an AWSPENDING younger than the minimum age alone, even in heal mode', async () => {
    // Prepare
    const young = await secretRotatedBy('rotor-dies-at-set');
    const before = await h.labels(young.arn);

    // Act
    const summary = await healHandler({ ROTOR_HEAL_MODE: 'heal', ROTOR_HEAL_MIN_AGE_MINUTES: '60' })();

    // Assess
    expect(byArn(summary.outcomes, young.arn)).toMatchObject({ decision: 'in-progress', acted: false });
    expect(summary.healed).toBe(0);
    expect(await h.labels(young.arn)).toEqual(before);
  });

  it('defers what it has no time left for to the next run', async () => {
    // Prepare
    const stuck = await secretRotatedBy('rotor-dies-at-set');
    const before = await h.labels(stuck.arn);

    // Act
    const summary = await healHandler({ ROTOR_HEAL_MODE: 'heal' })(
      {},
      { getRemainingTimeInMillis: () => 5_000 },
    );

    // Assess
    expect(summary).toMatchObject({ stuck: 1, deferred: 1, healed: 0, outcomes: [] });
    expect(await h.labels(stuck.arn)).toEqual(before);
  });

  it("refuses to run without the setting that says which functions are rotor's", async () => {
    // Prepare
    const handler = createHealHandler({
      rotators: [createFakeRotator(targets)],
      secretsManager: h.sm,
      config: { ...config(), healFunctionPrefixes: [] },
    });

    // Act
    const run = handler();

    // Assess
    await expect(run).rejects.toThrow(ConfigurationError);
    await expect(handler()).rejects.toThrow(/ROTOR_HEAL_FUNCTION_PREFIX/);
  });

  it('is built with every engine rotor ships', () => {
    // Act
    const engines = allRotators(readConfig({})).flatMap((rotator) => rotator.engines);
    // Assess
    expect(engines).toEqual(
      expect.arrayContaining(['postgres', 'aurora-postgresql', 'mysql', 'aurora-mysql', 'mariadb', 'apikey']),
    );
  });
});
