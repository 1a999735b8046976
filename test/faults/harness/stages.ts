/**
 * The stages of a deployment at which a scenario strikes, and how each is detected: in the proxy
 * (the command handed out by a poll, the spec request, the acknowledgement, the bundle download,
 * the completion) or by the hook app's marker files (a hook is running).
 */
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExchangeRecord, FaultProxy, Phase } from './fault-proxy.js';
import { waitFor } from './wait.js';

export type Stage =
  /** A poll answer carrying `command` (phase 'relayed': the agent has it; 'response': it never will). */
  | { kind: 'poll'; command: string; phase: 'relayed' | 'response' }
  /** The GetDeploymentSpecification call for `command`, before it reaches the control plane. */
  | { kind: 'spec'; command: string }
  /** The acknowledgement of `command`, before it reaches the control plane. */
  | { kind: 'ack'; command: string }
  /** The bundle's GET, once `afterBytes` of the body reached the agent. */
  | { kind: 'download'; afterBytes: number }
  /** `event`'s hook script is running. */
  | { kind: 'hook'; event: string }
  /** The completion of `command`: before the control plane has it ('request'), or after it took it but before the agent hears ('response'). */
  | { kind: 'complete'; command: string; phase: 'request' | 'response' };

export function stageLabel(stage: Stage): string {
  switch (stage.kind) {
    case 'poll':
      return `poll answer with ${stage.command}${stage.phase === 'response' ? ' (not yet received)' : ''}`;
    case 'spec':
    case 'ack':
      return `${stage.kind} of ${stage.command}`;
    case 'download':
      return 'bundle download';
    case 'hook':
      return `hook ${stage.event}`;
    case 'complete':
      return `completion of ${stage.command}${stage.phase === 'response' ? ' (taken, answer lost)' : ''}`;
  }
}

/**
 * The scenario's own limit (and `stop()`) ends a hook wait; this one only keeps the poll from
 * outliving a scenario that failed elsewhere without expiring. Longer than any scenario's limit.
 */
const HOOK_WAIT_LIMIT_MS = 10 * 60_000;

const opFor = {
  poll: 'PollHostCommand',
  spec: 'GetDeploymentSpecification',
  ack: 'PutHostCommandAcknowledgement',
  complete: 'PutHostCommandComplete',
} as const;

/**
 * Runs `action` exactly at `stage` (the proxy holds the exchange while it runs); resolves once the
 * action has run. Hook stages are watched through `markers`; the wait ends when `stop()` says so.
 */
export async function atStage(
  stage: Stage,
  o: { proxy: FaultProxy; markers: string; stop: () => boolean },
  action: () => Promise<void>,
): Promise<ExchangeRecord | undefined> {
  if (stage.kind === 'hook') {
    const marker = join(o.markers, `${stage.event}.start`);
    await waitFor(
      `${stage.event}'s hook to start`,
      async () => {
        if (
          await access(marker).then(
            () => true,
            () => false,
          )
        )
          return true;
        if (o.stop()) throw new Error(`${stage.event}'s hook never started`);
        return false;
      },
      { timeoutMs: HOOK_WAIT_LIMIT_MS, intervalMs: 25 },
    );
    await action();
    return undefined;
  }
  if (stage.kind === 'download') {
    return o.proxy.once({
      phase: 'body',
      afterBytes: stage.afterBytes,
      match: (r) => r.op.startsWith('S3 GET') && !r.path.startsWith('/_'),
      action: () => action(),
    });
  }
  const op = opFor[stage.kind];
  const phase: Phase = stage.kind === 'poll' || stage.kind === 'complete' ? stage.phase : 'request';
  return o.proxy.once({
    phase,
    match: (r) => r.op === op && r.commandName === stage.command && (stage.kind !== 'poll' || r.handedOut === true),
    action: () => action(),
  });
}
