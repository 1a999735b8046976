/**
 * Deployment group triggers, delivered through the local SNS: the notifier listens to the engine
 * (`engine.on`) and, for each event a trigger of the deployment's group asks for
 * (trigger-messages.ts: mapping and message shapes), publishes to the trigger's topic. Publishing
 * only queues deliveries (sns/sns-delivery.ts), so nothing here waits on a subscriber, and a failure
 * (a topic deleted since the trigger was made, a group gone) is logged, never thrown into the
 * engine. The group's triggers are read when the event happens, so an UpdateDeploymentGroup applies
 * to the next event. `createTriggerTopics` is the registry's port onto the same SNS: whether a topic
 * exists, and the test notification for a trigger new to a group.
 */
import type { Logger } from 'pino';
import type { DeploymentEngine, EngineEvent } from '../engine/engine.js';
import type { ControlPlaneIdentity, DeploymentGroupInfo, TriggerConfig } from '../model.js';
import type { Registry } from '../registry/registry.js';
import type { TriggerTopics } from '../registry/trigger-configurations.js';
import type { SnsService } from '../sns/sns-service.js';
import { deploymentMessage, instanceMessage, testMessage, triggerNoticesOf, type Published } from './trigger-messages.js';

export interface DeploymentNotifier {
  close(): void;
}

export function createDeploymentNotifier(opts: {
  engine: DeploymentEngine;
  registry: Pick<Registry, 'getDeploymentGroup'>;
  sns: Pick<SnsService, 'publish'>;
  identity: ControlPlaneIdentity;
  logger: Logger;
}): DeploymentNotifier {
  const { engine, identity, logger: log } = opts;

  const publish = (trigger: TriggerConfig, p: Published, context: Record<string, unknown>): void => {
    try {
      opts.sns.publish({ topicArn: trigger.triggerTargetArn, subject: p.subject, message: p.message });
    } catch (err) {
      log.warn(
        { ...context, triggerName: trigger.triggerName, topicArn: trigger.triggerTargetArn, err },
        `Trigger ${trigger.triggerName} could not publish to ${trigger.triggerTargetArn}: ${(err as Error).message}`,
      );
    }
  };

  const onEvent = (event: EngineEvent): void => {
    if (event.type === 'lifecycle-event') return;
    const info = engine.getDeployment(event.deploymentId);
    if (!info) return;
    const notices = triggerNoticesOf(event, info.creator);
    if (notices.length === 0) return;
    const triggers = opts.registry.getDeploymentGroup(info.applicationName, info.deploymentGroupName)?.triggerConfigurations ?? [];
    for (const notice of notices) {
      const wanting = triggers.filter((t) => t.triggerEvents.includes(notice.event));
      if (wanting.length === 0) continue;
      const target =
        notice.instanceName === undefined
          ? undefined
          : engine.listTargets(info.deploymentId).find((t) => t.targetId === notice.instanceName);
      if (notice.instanceName !== undefined && !target) continue;
      for (const trigger of wanting) {
        const p = target
          ? instanceMessage(identity, trigger, info, target, notice.status)
          : deploymentMessage(identity, trigger, info, notice.status);
        publish(trigger, p, { deploymentId: info.deploymentId, event: notice.event });
      }
    }
  };

  const off = engine.on((event) => {
    try {
      onEvent(event);
    } catch (err) {
      log.error({ err, deploymentId: event.deploymentId }, 'deployment notification failed');
    }
  });
  return { close: off };
}

export function createTriggerTopics(opts: {
  sns: Pick<SnsService, 'hasTopic' | 'publish'>;
  identity: ControlPlaneIdentity;
  logger: Logger;
}): TriggerTopics {
  return {
    hasTopic: (arn) => opts.sns.hasTopic(arn),
    triggersAdded(group: DeploymentGroupInfo, added: readonly TriggerConfig[]) {
      for (const trigger of added) {
        try {
          const p = testMessage(opts.identity, group, trigger);
          opts.sns.publish({ topicArn: trigger.triggerTargetArn, subject: p.subject, message: p.message });
        } catch (err) {
          opts.logger.warn({ err, triggerName: trigger.triggerName }, `The test notification of trigger ${trigger.triggerName} failed`);
        }
      }
    },
  };
}
