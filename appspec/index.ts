/** The appspec library: parse and validate appspec.yml into the typed model. Pure: no fs, no process. */
export * from './model.js';
export { formatAce, formatRange } from './format.js';
export { formatIssue, parseAppSpec } from './parse.js';
export { editDistance, hookNameWarnings, suggestHookName } from './hook-names.js';
export { parseAce, type ParseAceOptions } from './ace.js';
export { parseMode } from './mode.js';
export { parseSeRange } from './selinux-range.js';
export type { Parsed } from './result.js';
export * as messages from './messages.js';
