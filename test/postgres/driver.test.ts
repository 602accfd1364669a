/**
 * The lazily loaded drivers (rotators/sql/kit.ts `lazyDriver`, used by both SQL clients): a load
 * that fails is a classified InternalError that quotes no message, and is not kept.
 */
import { describe, expect, it } from 'vitest';
import { InternalError } from '../../rotators/errors.js';
import { lazyDriver } from '../../rotators/sql/kit.js';

describe('lazyDriver', () => {
  it('loads once and hands every caller the same driver', async () => {
    // Prepare
    let loads = 0;
    const load = lazyDriver('pg', async () => ({ n: ++loads }));
    // Act
    const [a, b] = await Promise.all([load(), load()]);
    const c = await load();
    // Assess
    expect(loads).toBe(1);
    expect(a).toBe(b);
    expect(c).toBe(a);
  });

  it('a failed load is an InternalError naming the driver, without the error message, and the next call loads again', async () => {
    // Prepare
    let loads = 0;
    const load = lazyDriver('mysql2', async () => {
      loads++;
      if (loads === 1)
        throw Object.assign(new Error('Cannot find module /var/task/secret-path'), {
          code: 'ERR_MODULE_NOT_FOUND',
        });
      return { ok: true };
    });
    // Act
    const failed = await load().catch((error: unknown) => error);
    const second = await load();
    // Assess
    expect(failed).toBeInstanceOf(InternalError);
    expect((failed as InternalError).detail).toBe('the database driver mysql2 could not be loaded (Error)');
    expect((failed as InternalError).cause).toEqual({ name: 'Error', code: 'ERR_MODULE_NOT_FOUND' });
    expect(JSON.stringify(failed)).not.toContain('secret-path');
    expect(second).toEqual({ ok: true });
    expect(loads).toBe(2);
  });
});
