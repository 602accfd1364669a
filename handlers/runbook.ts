/**
 * Links from events and pages to RUNBOOK.md: one entry per error name (and per paging event), each
 * under a heading that is exactly the name, so its anchor is the name as GitHub slugs headings
 * (lower case; punctuation other than `-` and `_` dropped; spaces become `-`).
 *
 * Pure: the base is passed in (deployments point it at their own copy, a wiki, or the repository's
 * file on their Git host); the default is the repository's path of the file.
 */

/** The runbook's path in the repository, used when no base URL is configured. */
export const DEFAULT_RUNBOOK_URL = 'RUNBOOK.md';

/** The anchor of a heading, as GitHub computes it. */
export function runbookAnchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replaceAll(' ', '-');
}

/**
 * The runbook entry for an error name (`AuthenticationFailedError`), a service event
 * (`RotationFailed`) or a rotor event (`Rotation Heal Needed`). `base` is the runbook's URL
 * without a fragment (a trailing `#...` is replaced).
 */
export function runbookUrl(name: string, base: string = DEFAULT_RUNBOOK_URL): string {
  const root = base.trim() === '' ? DEFAULT_RUNBOOK_URL : base.trim().replace(/#.*$/, '');
  return `${root}#${runbookAnchor(name)}`;
}
