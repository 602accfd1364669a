/**
 * The words of the Secrets Manager rotation protocol, in one place both layers may import (rotators
 * never import handlers/): the four steps, in order, and the staging labels. See
 * ../shared/PROTOCOL.md for what each step promises.
 */

/** The steps Secrets Manager invokes a rotation function with, in the order of one rotation. */
export const STEPS = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'] as const;

export type Step = (typeof STEPS)[number];

/** Whether a string is one of the four steps. */
export function isStep(value: unknown): value is Step {
  return typeof value === 'string' && (STEPS as readonly string[]).includes(value);
}

/** The version that logs in now. */
export const CURRENT = 'AWSCURRENT';
/** The version a rotation is promoting (set by createSecret, promoted by finishSecret). */
export const PENDING = 'AWSPENDING';
/** The version AWSCURRENT left at the last promotion. */
export const PREVIOUS = 'AWSPREVIOUS';

/** The staging labels rotation moves. */
export type StageLabel = typeof CURRENT | typeof PENDING | typeof PREVIOUS;

export const STAGE_LABELS: readonly StageLabel[] = [CURRENT, PENDING, PREVIOUS];
