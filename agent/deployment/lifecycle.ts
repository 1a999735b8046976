/**
 * Lifecycle events: their default order, the events a run of some of them takes (codedeploy-local's
 * --events), and which revision's appspec each hook uses (docs/reference.md section 4.4). Pure: the caller
 * supplies the facts (does this deployment's archive exist, where are the last successful and most
 * recent deployments).
 */

/** The default order of a deployment (codedeploy-local's DEFAULT_ORDERED_LIFECYCLE_EVENTS). */
export const DEFAULT_ORDERED_LIFECYCLE_EVENTS = [
  'BeforeBlockTraffic',
  'AfterBlockTraffic',
  'ApplicationStop',
  'DownloadBundle',
  'BeforeInstall',
  'Install',
  'AfterInstall',
  'ApplicationStart',
  'ValidateService',
  'BeforeAllowTraffic',
  'AfterAllowTraffic',
] as const;

/** The nine script events the daemon maps to themselves (DEFAULT_HOOK_MAPPING). */
export const DEFAULT_HOOK_EVENTS: readonly string[] = DEFAULT_ORDERED_LIFECYCLE_EVENTS.filter(
  (e) => e !== 'DownloadBundle' && e !== 'Install',
);

const RANK = new Map<string, number>(DEFAULT_ORDERED_LIFECYCLE_EVENTS.map((e, i) => [e, i]));
const rank = (e: string): number => RANK.get(e) ?? Number.POSITIVE_INFINITY;

/**
 * The events a run of the requested ones runs (codedeploy-local's --events; all of them when none
 * are given). DownloadBundle and Install are always run; when not listed, each is put where it
 * belongs in the default order (custom events count as new-revision events). The official agent
 * prepends them instead, which runs e.g. "--events BeforeInstall" after Install; we do not.
 */
export function eventsToRun(requested: readonly string[] | undefined): string[] {
  if (!requested || requested.length === 0) return [...DEFAULT_ORDERED_LIFECYCLE_EVENTS];
  const events = [...requested];
  if (!events.includes('DownloadBundle')) {
    const at = events.findIndex((e) => rank(e) > rank('DownloadBundle'));
    events.splice(at < 0 ? events.length : at, 0, 'DownloadBundle');
  }
  if (!events.includes('Install')) {
    const from = events.indexOf('DownloadBundle') + 1;
    const offset = events.slice(from).findIndex((e) => rank(e) > rank('Install'));
    events.splice(offset < 0 ? events.length : from + offset, 0, 'Install');
  }
  return events;
}

/** The script events of a run of `events`: the nine defaults and any custom ones, each mapped to itself. */
export function hookEventsFor(events: readonly string[]): string[] {
  return [...new Set([...DEFAULT_HOOK_EVENTS, ...events])].filter((e) => e !== 'DownloadBundle' && e !== 'Install');
}

/** The specification's AllPossibleLifecycleEvents for a run of `events`: the defaults and any custom ones. */
export function allPossibleEventsFor(events: readonly string[]): string[] {
  return [...new Set([...DEFAULT_ORDERED_LIFECYCLE_EVENTS, ...events])];
}

export type RevisionChoice = 'New' | 'LastSuccessfulOrIgnore' | 'MostRecentOrIgnore';

const NORMAL: Record<string, RevisionChoice> = {
  BeforeBlockTraffic: 'LastSuccessfulOrIgnore',
  AfterBlockTraffic: 'LastSuccessfulOrIgnore',
  ApplicationStop: 'LastSuccessfulOrIgnore',
};

const BLUE_GREEN_ROLLBACK: Record<string, RevisionChoice> = {
  BeforeBlockTraffic: 'MostRecentOrIgnore',
  AfterBlockTraffic: 'MostRecentOrIgnore',
  ApplicationStop: 'LastSuccessfulOrIgnore',
  BeforeAllowTraffic: 'LastSuccessfulOrIgnore',
  AfterAllowTraffic: 'LastSuccessfulOrIgnore',
};

export function revisionChoice(event: string, deploymentCreator: string, deploymentType: string): RevisionChoice {
  const table = deploymentCreator === 'codeDeployRollback' && deploymentType === 'BLUE_GREEN' ? BLUE_GREEN_ROLLBACK : NORMAL;
  return table[event] ?? 'New';
}

export interface RevisionFacts {
  currentDeploymentDir: string;
  currentArchiveExists: boolean;
  lastSuccessfulDir?: string;
  mostRecentDir?: string;
}

/**
 * The deployment directory whose archive (and appspec) the hook uses, or undefined when the hook
 * is a no-op because there is no previous revision (e.g. the first deployment's ApplicationStop).
 */
export function chooseRevisionDir(choice: RevisionChoice, facts: RevisionFacts): string | undefined {
  if (choice === 'New' || facts.currentArchiveExists) return facts.currentDeploymentDir;
  return choice === 'LastSuccessfulOrIgnore' ? facts.lastSuccessfulDir : facts.mostRecentDir;
}

/** Ruby's /^([A-Z][a-z0-9]+)+/ as the official agent applies it to command names. */
export function isPascalCase(name: string): boolean {
  return /^([A-Z][a-z0-9]+)+/.test(name);
}
