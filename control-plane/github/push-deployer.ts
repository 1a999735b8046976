/**
 * What a verified push does: every deployment group that follows the pushed repository and branch
 * gets a deployment of exactly the pushed commit, as a GitHub revision
 * `{repository, commitId: after}` (agents download it from the control plane's /github endpoint,
 * or from GitHub itself, whichever their :github_api_url: names).
 *
 * Repository names compare case-insensitively, as on GitHub; branches compare exactly. Each group
 * is tried on its own: a group that refuses (it does not exist, it already has an active deployment,
 * ...) is reported with the engine's error code and message, and the others still deploy.
 */
import type { Logger } from 'pino';
import { ApiError } from '../api/api-error.js';
import type { DeploymentEngine } from '../engine/engine.js';
import type { FollowRule } from './push-config.js';
import type { PushEvent } from './push-event.js';

/** Longest deployment description made from a push. */
export const DESCRIPTION_MAX = 200;

export interface CreatedDeployment {
  applicationName: string;
  deploymentGroupName: string;
  deploymentId: string;
}

export interface RefusedDeployment {
  applicationName: string;
  deploymentGroupName: string;
  error: { code: string; message: string };
}

export interface PushOutcome {
  /** How many follow rules matched the push. */
  matched: number;
  deployments: CreatedDeployment[];
  errors: RefusedDeployment[];
}

/** The rules that follow the push's repository and branch. */
export function followersOf(rules: readonly FollowRule[], push: PushEvent): FollowRule[] {
  const repository = push.repository.toLowerCase();
  return rules.filter((r) => r.repository.toLowerCase() === repository && r.branch === push.branch);
}

/** `push <sha7> by <pusher>: <first line of the head commit message>`, at most DESCRIPTION_MAX characters. */
export function describePush(push: PushEvent): string {
  let text = `push ${push.commitId.slice(0, 7)}`;
  if (push.pusher !== undefined) text += ` by ${push.pusher}`;
  const subject = (push.headCommitMessage ?? '').split('\n', 1)[0]?.trim() ?? '';
  if (subject !== '') text += `: ${subject}`;
  // eslint-disable-next-line no-control-regex -- control characters from a payload stay out of descriptions
  text = text.replace(/[\u0000-\u001f\u007f]/g, ' ');
  return text.length <= DESCRIPTION_MAX ? text : `${text.slice(0, DESCRIPTION_MAX - 1)}…`;
}

export interface DeployPushOptions {
  engine: Pick<DeploymentEngine, 'createDeployment'>;
  rules: readonly FollowRule[];
  push: PushEvent;
  /** Where unexpected failures go (the sender only learns that one happened). */
  logger: Logger;
}

export function deployPush({ engine, rules, push, logger }: DeployPushOptions): PushOutcome {
  const followers = followersOf(rules, push);
  const outcome: PushOutcome = { matched: followers.length, deployments: [], errors: [] };
  const description = describePush(push);
  for (const rule of followers) {
    const group = { applicationName: rule.applicationName, deploymentGroupName: rule.deploymentGroupName };
    try {
      const info = engine.createDeployment({
        ...group,
        ...(rule.deploymentConfigName ? { deploymentConfigName: rule.deploymentConfigName } : {}),
        revision: { revisionType: 'GitHub', gitHubLocation: { repository: rule.repository, commitId: push.commitId } },
        description,
        creator: 'user',
      });
      outcome.deployments.push({ ...group, deploymentId: info.deploymentId });
    } catch (err) {
      if (err instanceof ApiError) outcome.errors.push({ ...group, error: { code: err.code, message: err.message } });
      else {
        logger.error({ err, ...group }, 'Deploy on push: creating the deployment failed');
        outcome.errors.push({ ...group, error: { code: 'InternalFailure', message: 'the control plane failed; see its log' } });
      }
    }
  }
  return outcome;
}
