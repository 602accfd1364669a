/**
 * A rotation of one secret against the MySQL 8 model, with Secrets Manager's stages kept here:
 * createSecret draws a pending value, setSecret / testSecret call the real rotator, finishSecret
 * moves the labels. After every statement that changes the model, and after every step, the
 * invariant of the strategy is checked (`violations` collects what broke, and when).
 */
import { createMysqlRotator } from '../../../rotators/mysql/index.js';
import type { MysqlSecret } from '../../../rotators/mysql/secret.js';
import { MASTER_ARN, rotatorRequest } from '../support.js';
import type { MysqlModel } from './mysql8.js';

export type Value = Record<string, unknown>;

export class Rotation {
  readonly rotator;
  current: Value;
  previous: Value | undefined;
  pending: Value | undefined;
  readonly violations: string[] = [];
  private drawn = 0;
  phase = 'start';

  constructor(
    readonly model: MysqlModel,
    initial: Value,
    readonly master: Value = { username: 'admin', password: 'admin-pw', host: 'db.example.com' },
  ) {
    this.rotator = createMysqlRotator({ connect: model.connect });
    this.current = initial;
    model.afterChange = () => this.check('after a statement');
  }

  private parse(value: Value, label: string): MysqlSecret {
    return this.rotator.parse({ value, label });
  }

  private request(step: 'createSecret' | 'setSecret' | 'testSecret') {
    return rotatorRequest(step, { [MASTER_ARN]: JSON.stringify(this.master) });
  }

  logsIn(value: Value | undefined): boolean {
    return value !== undefined && this.model.accepts(String(value.username), String(value.password));
  }

  /**
   * The promise of each strategy: dual-password and alternating-users keep AWSCURRENT logging in
   * at every moment; single-user keeps AWSCURRENT or AWSPENDING logging in (the switch is the
   * rotation's one gap for clients, never for rotor itself).
   */
  check(when: string): void {
    const strategy = String(this.current.strategy ?? 'single-user');
    const ok =
      strategy === 'single-user'
        ? this.logsIn(this.current) || this.logsIn(this.pending)
        : this.logsIn(this.current);
    if (!ok) this.violations.push(`${this.phase}, ${when}: AWSCURRENT does not log in`);
  }

  async createSecret(): Promise<void> {
    this.phase = 'createSecret';
    this.drawn++;
    const { pending } = await this.rotator.createPending({
      ...this.request('createSecret'),
      current: this.parse(this.current, 'AWSCURRENT'),
      currentValue: this.current,
      generatePassword: () => `Pending-${this.drawn}-pw`,
    });
    this.pending = { ...pending };
    this.check('at the end of the step');
  }

  async setSecret(): Promise<void> {
    this.phase = 'setSecret';
    const previous = this.previous;
    try {
      await this.rotator.apply({
        ...this.request('setSecret'),
        current: this.parse(this.current, 'AWSCURRENT'),
        pending: this.parse(this.pending as Value, 'AWSPENDING'),
        previous: async () => (previous === undefined ? undefined : this.parse(previous, 'AWSPREVIOUS')),
      });
    } finally {
      this.check('at the end of the step');
    }
  }

  async testSecret(): Promise<void> {
    this.phase = 'testSecret';
    const current = this.current;
    await this.rotator.test({
      ...this.request('testSecret'),
      pending: this.parse(this.pending as Value, 'AWSPENDING'),
      current: async () => this.parse(current, 'AWSCURRENT'),
    });
  }

  finishSecret(): void {
    this.phase = 'finishSecret';
    this.previous = this.current;
    this.current = this.pending as Value;
    this.pending = undefined;
    this.check('at the end of the step');
  }

  /** What the step machine does after a failed testSecret. */
  async rollback(): Promise<void> {
    this.phase = 'rollback';
    try {
      await this.rotator.rollback({
        ...this.request('testSecret'),
        current: this.parse(this.current, 'AWSCURRENT'),
        pending: this.parse(this.pending as Value, 'AWSPENDING'),
      });
    } finally {
      this.check('at the end of the step');
    }
  }

  /** A new rotation leaves the last one's pending value behind (Secrets Manager moves AWSPENDING). */
  abandon(): void {
    this.phase = 'abandoned';
    this.pending = undefined;
  }

  /** setSecret, retried until it succeeds (at most `attempts` times), as the step machine retries. */
  async setSecretWithRetries(attempts = 3): Promise<unknown[]> {
    const errors: unknown[] = [];
    for (let attempt = 0; attempt < attempts; attempt++) {
      try {
        await this.setSecret();
        return errors;
      } catch (error) {
        errors.push(error);
      }
    }
    throw errors.at(-1);
  }

  async full(): Promise<void> {
    await this.createSecret();
    await this.setSecretWithRetries();
    await this.testSecret();
    this.finishSecret();
  }
}
