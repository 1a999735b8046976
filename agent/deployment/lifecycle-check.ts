/**
 * Checks of lifecycle event lists, with the official messages: the appspec's hooks against the
 * spec's AllPossibleLifecycleEvents at Install (docs/reference.md section 4.7, including Ruby's array
 * inspect format), and the events codedeploy-local is asked to run (docs/reference.md section 9.2).
 */
import { suggestHookName, type AppSpec } from '../../appspec/index.js';
import { AgentError, ErrorCodes } from '../errors.js';
import { DEFAULT_HOOK_EVENTS, DEFAULT_ORDERED_LIFECYCLE_EVENTS, isPascalCase } from './lifecycle.js';

function rubyInspect(list: string[]): string {
  return `[${list.map((s) => JSON.stringify(s)).join(', ')}]`;
}

export function checkLifecycleEvents(appspecName: string, appspec: AppSpec, mappingKeys: string[], allPossible: string[]): void {
  const possible = new Set(allPossible);
  const named = [...new Set([...appspec.hooks.keys(), ...mappingKeys])];
  const unknown = named.filter((e) => !possible.has(e));
  if (unknown.length > 0) {
    // The official message, then (ours) a suggestion for each name close to a known event.
    const hints = unknown.flatMap((e) => {
      const s = suggestHookName(
        e,
        [...possible].filter((p) => p !== 'DownloadBundle' && p !== 'Install'),
      );
      return s === undefined ? [] : [`${e}: did you mean ${s}?`];
    });
    const hint = hints.length > 0 ? ` (${hints.join('; ')})` : '';
    throw new AgentError(
      ErrorCodes.APPSPEC_INVALID,
      `${appspecName} file contains unknown lifecycle events: ${rubyInspect(unknown)}${hint}`,
    );
  }
  const defaults = new Set<string>(DEFAULT_ORDERED_LIFECYCLE_EVENTS);
  const known = new Set([...appspec.hooks.keys(), ...DEFAULT_HOOK_EVENTS]);
  const missing = allPossible.filter((e) => !defaults.has(e) && !known.has(e));
  if (missing.length > 0) {
    throw new AgentError(
      ErrorCodes.APPSPEC_INVALID,
      `You specified a lifecycle event which is not a default one and doesn't exist in your ${appspecName} file: ${missing.join(',')}`,
    );
  }
}

/** Events that use the new revision: they cannot run before it is downloaded and installed. */
const NEW_REVISION_EVENTS = ['AfterInstall', 'ApplicationStart', 'BeforeAllowTraffic', 'AfterAllowTraffic', 'ValidateService'];

/** CLIValidator's order check of codedeploy-local's --events, as given (before eventsToRun). */
export function checkEventOrder(events: readonly string[]): void {
  const list = events.join(',');
  const download = events.indexOf('DownloadBundle');
  if (download >= 0) {
    const before = events.slice(0, download);
    if (before.some((e) => NEW_REVISION_EVENTS.includes(e) || e === 'Install')) {
      throw new AgentError(
        ErrorCodes.LOCAL_VALIDATION,
        `The only events that can be specified before DownloadBundle are BeforeBlockTraffic,AfterBlockTraffic,ApplicationStop. Please fix the order of your specified events: ${list}`,
      );
    }
  }
  const installAt = events.indexOf('Install');
  if (installAt >= 0) {
    const before = events.slice(0, installAt);
    if (before.some((e) => NEW_REVISION_EVENTS.includes(e))) {
      throw new AgentError(
        ErrorCodes.LOCAL_VALIDATION,
        `The only events that can be specified before Install are BeforeBlockTraffic,AfterBlockTraffic,ApplicationStop,DownloadBundle,BeforeInstall. Please fix the order of your specified events: ${list}`,
      );
    }
  }
}

/** Every event codedeploy-local runs is a command name, so it must be PascalCase like one. */
export function checkEventNames(events: readonly string[]): void {
  for (const e of events) {
    if (!isPascalCase(e)) throw new AgentError(ErrorCodes.LOCAL_VALIDATION, `Received command is not in PascalCase form: ${e}`);
  }
}
