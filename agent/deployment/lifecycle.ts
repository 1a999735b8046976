/**
 * Lifecycle events and which revision's appspec each hook uses (reference section 4.4).
 * Pure: the caller supplies the facts (does this deployment's archive exist, where are the last
 * successful and most recent deployments).
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
