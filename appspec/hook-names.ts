/**
 * "Did you mean AfterInstall?" for a hook name that is not a lifecycle event. Pure: the caller gives
 * the names that count as known (the agent's lifecycle events). The match is case-insensitive and
 * by edit distance (insertions, deletions, substitutions and swaps of two neighbouring letters), so
 * "afterinstall", "AfterInstal" and "AfterIntsall" all suggest AfterInstall; a name that is far from
 * every known one ("DeployDatabase", a deliberate custom event) gets no suggestion.
 */
import { unknownHookName } from './messages.js';
import type { AppSpec, AppSpecIssue } from './model.js';

/** The known name closest to `name`, or undefined when none is close enough (or `name` is known). */
export function suggestHookName(name: string, known: readonly string[]): string | undefined {
  if (known.includes(name)) return undefined;
  const wanted = name.toLowerCase();
  // Close enough: at most a third of the name's letters, and never more than 3 edits.
  const limit = Math.min(3, Math.floor(wanted.length / 3));
  let best: { name: string; distance: number } | undefined;
  for (const candidate of known) {
    const distance = editDistance(wanted, candidate.toLowerCase());
    if (distance <= limit && (best === undefined || distance < best.distance)) best = { name: candidate, distance };
  }
  return best?.name;
}

/**
 * One warning per hook name of `spec` that is not in `known`, with a suggestion when one is close,
 * placed at the event's first script (hooks.<name>). `notHooks` are events that exist but run no
 * scripts (DownloadBundle, Install): scripts listed under them never run.
 */
export function hookNameWarnings(spec: AppSpec, known: readonly string[], notHooks: readonly string[] = []): AppSpecIssue[] {
  const issues: AppSpecIssue[] = [];
  for (const [event, scripts] of spec.hooks) {
    if (known.includes(event)) continue;
    const where = scripts[0]?.where ?? { file: spec.file, path: '', line: 0, column: 0 };
    const suggestion = suggestHookName(event, known);
    issues.push({ ...where, path: `hooks.${event}`, message: unknownHookName(event, suggestion, notHooks.includes(event)) });
  }
  return issues;
}

/** Optimal string alignment distance (Levenshtein plus transpositions of neighbours). */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[] = new Array<number>(rows * cols).fill(0);
  const at = (i: number, j: number): number => d[i * cols + j] ?? 0;
  for (let i = 0; i < rows; i++) d[i * cols] = i;
  for (let j = 0; j < cols; j++) d[j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let value = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) value = Math.min(value, at(i - 2, j - 2) + 1);
      d[i * cols + j] = value;
    }
  }
  return at(a.length, b.length);
}
