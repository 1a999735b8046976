/**
 * Install-time check of the appspec's hooks against the spec's AllPossibleLifecycleEvents
 * (reference section 4.7). Messages are the official ones, including Ruby's array inspect format.
 */
import type { AppSpec } from '../../appspec/model.js';
import { AgentError, ErrorCodes } from '../errors.js';
import { DEFAULT_HOOK_EVENTS, DEFAULT_ORDERED_LIFECYCLE_EVENTS } from './lifecycle.js';

function rubyInspect(list: string[]): string {
  return `[${list.map((s) => JSON.stringify(s)).join(', ')}]`;
}

export function checkLifecycleEvents(appspecName: string, appspec: AppSpec, mappingKeys: string[], allPossible: string[]): void {
  const possible = new Set(allPossible);
  const named = [...new Set([...appspec.hooks.keys(), ...mappingKeys])];
  const unknown = named.filter((e) => !possible.has(e));
  if (unknown.length > 0) {
    throw new AgentError(ErrorCodes.APPSPEC_INVALID, `${appspecName} file contains unknown lifecycle events: ${rubyInspect(unknown)}`);
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
