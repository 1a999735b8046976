/**
 * The engine side of the commands API: hand out a host's Pending command, acknowledge, complete,
 * answer progress updates, and build the signed deployment specification. Each call is one
 * engine transaction (followed by the usual re-evaluation), and each records when the agent was
 * last seen. Identifiers from agents are untrusted: a HostCommandIdentifier must name an existing
 * command in every field, and a completion is accepted once (an identical repeat is a no-op).
 */
import { ApiError } from '../api/api-error.js';
import { clip, quoted } from '../log/clip.js';
import type { SpecSigner } from '../signing/spec-signer.js';
import type { PolledHostCommand } from './engine.js';
import { runInEngine, type EngineContext, type EngineState } from './engine-context.js';
import type { CommandRow } from './engine-store.js';
import { reevaluate } from './deployment-evaluation.js';
import { commandDispatched, commandFinished, diagnosticsOf, type HostContext } from './host-progress.js';
import { decodeHostCommandId, deploymentIdOfExecution, encodeHostCommandId, executionId } from './identifiers.js';
import { specDocument } from './spec-document.js';

/** A command dispatched this long ago and still not acknowledged is handed out again on the next poll. */
export const REDISPATCH_AFTER_MS = 10_000;

export type WireCommandStatus = 'Pending' | 'InProgress' | 'Succeeded' | 'Failed';

export interface HostCommandPort {
  /** Records an agent's contact (HostIdentifier known from the request). */
  touch(hostIdentifier: string, packageVersion?: string): void;
  /** The instance's oldest Pending command, now Dispatched; undefined when there is none. */
  claim(instanceName: string, hostIdentifier: string, packageVersion?: string): PolledHostCommand | undefined;
  acknowledge(hostCommandIdentifier: unknown, packageVersion?: string): WireCommandStatus;
  complete(hostCommandIdentifier: unknown, commandStatus: unknown, diagnosticsPayload: string | undefined, packageVersion?: string): void;
  update(hostCommandIdentifier: unknown, packageVersion?: string): WireCommandStatus;
  /** The signed specification (PEM) of the deployment an execution id names, for a host that is one of its targets. */
  specification(deploymentExecutionId: string, hostIdentifier: string, packageVersion?: string): Promise<string>;
}

/** The port over the engine's state; `signer` signs deployment specifications. */
export function createHostCommandPort(state: EngineState, signer: SpecSigner): HostCommandPort {
  const { store, log, identity } = state;
  const run = <T>(fn: (ctx: EngineContext) => T): T => runInEngine(state, fn);
  const signing = new Map<string, Promise<string>>();

  const touchAt = (ctx: HostContext, hostIdentifier: string, packageVersion?: string) =>
    ctx.store.touchHost(hostIdentifier, ctx.now / 1000, packageVersion);

  /** The command an identifier names; every field must agree with the stored row. */
  const lookup = (ctx: HostContext, value: unknown, packageVersion?: string): CommandRow => {
    const ref = decodeHostCommandId(value);
    const cmd = ctx.store.getCommand(ref.n);
    if (!cmd || cmd.deploymentId !== ref.d || cmd.instanceName !== ref.i || cmd.commandName !== ref.c) {
      throw new ApiError(
        'ClientException',
        `HostCommandIdentifier ${quoted(value)} is not valid: no such host command (was the control plane's data directory replaced?).`,
      );
    }
    const host = ctx.store.targetHost(cmd.deploymentId, cmd.instanceName);
    if (host) touchAt(ctx, host, packageVersion);
    return cmd;
  };

  const polledCommand = (cmd: CommandRow, hostIdentifier: string): PolledHostCommand => ({
    HostCommandIdentifier: encodeHostCommandId({ d: cmd.deploymentId, i: cmd.instanceName, c: cmd.commandName, n: cmd.id }),
    HostIdentifier: hostIdentifier,
    DeploymentExecutionId: executionId(identity, cmd.deploymentId),
    CommandName: cmd.commandName,
    Nonce: cmd.id,
  });

  const statusOf = (cmd: CommandRow): WireCommandStatus => {
    switch (cmd.status) {
      case 'Pending':
        return 'Pending';
      case 'Dispatched':
      case 'InProgress':
        return cmd.cancelled ? 'Failed' : 'InProgress';
      case 'Succeeded':
        return 'Succeeded';
      default:
        return 'Failed';
    }
  };

  return {
    touch(hostIdentifier, packageVersion) {
      run((ctx) => touchAt(ctx, hostIdentifier, packageVersion));
    },

    claim(instanceName, hostIdentifier, packageVersion) {
      return run((ctx) => {
        touchAt(ctx, hostIdentifier, packageVersion);
        // A command handed out but never acknowledged, to a host that polls again: the answer that
        // carried it was lost (the agent was killed, or the connection dropped, on its way). Hand
        // it out again, under the same identifier; an agent that does have it ignores the repeat.
        const lost = ctx.store.unacknowledgedCommandFor(instanceName, ctx.now - REDISPATCH_AFTER_MS);
        if (lost) {
          lost.dispatchedAt = ctx.now;
          ctx.store.saveCommand(lost);
          log.info(
            { deploymentId: lost.deploymentId, instanceName, command: lost.commandName },
            'Handing out a host command again: it was never acknowledged, so the answer that carried it was probably lost',
          );
          return polledCommand(lost, hostIdentifier);
        }
        const cmd = ctx.store.pendingCommandFor(instanceName);
        if (!cmd) return undefined;
        commandDispatched(ctx, cmd);
        log.debug({ deploymentId: cmd.deploymentId, instanceName, command: cmd.commandName }, 'host command dispatched');
        return polledCommand(cmd, hostIdentifier);
      });
    },

    acknowledge(value, packageVersion) {
      return run((ctx) => {
        const cmd = lookup(ctx, value, packageVersion);
        if (cmd.status === 'Pending') {
          throw new ApiError(
            'ClientException',
            `Host command ${cmd.commandName} of ${cmd.deploymentId} was not handed out yet: poll for it with PollHostCommand first.`,
          );
        }
        if (cmd.status === 'Dispatched' && !cmd.cancelled) {
          cmd.status = 'InProgress';
          ctx.store.saveCommand(cmd);
        }
        return statusOf(cmd);
      });
    },

    update(value, packageVersion) {
      return run((ctx) => statusOf(lookup(ctx, value, packageVersion)));
    },

    complete(value, commandStatus, payload, packageVersion) {
      run((ctx) => {
        const cmd = lookup(ctx, value, packageVersion);
        if (commandStatus !== 'Succeeded' && commandStatus !== 'Failed') {
          throw new ApiError(
            'ClientException',
            `CommandStatus ${quoted(commandStatus ?? null)} is not valid for PutHostCommandComplete: use Succeeded or Failed.`,
          );
        }
        const completion = JSON.stringify({ status: commandStatus, payload: payload ?? '' });
        const where = { deploymentId: cmd.deploymentId, instanceName: cmd.instanceName, command: cmd.commandName };
        if (cmd.completion !== undefined) {
          if (cmd.completion === completion) return;
          // The official agent completes a failed command twice: the real diagnostics, then
          // error_code 5 with an empty log (docs/reference.md section 1.3). The first one stands; a second Failed
          // is accepted and ignored so that agent needs no special case. A change of result is an error.
          if (commandStatus === 'Failed' && (JSON.parse(cmd.completion) as { status?: string }).status === 'Failed') {
            log.info({ ...where, diagnostics: payload }, 'A second Failed completion for this command was ignored; the first one stands');
            return;
          }
          throw new ApiError(
            'ClientException',
            `Host command ${cmd.commandName} of ${cmd.deploymentId} on ${cmd.instanceName} was already completed with a different result; a command is completed exactly once.`,
          );
        }
        if (cmd.status === 'TimedOut') {
          if (cmd.lateCompletion === undefined) {
            cmd.lateCompletion = completion;
            ctx.store.saveCommand(cmd);
          }
          log.warn(
            { ...where, commandStatus, diagnostics: payload },
            'Completion received after the command timed out; recorded, the outcome stays Failed',
          );
          return;
        }
        if (cmd.status === 'Pending' || cmd.status === 'Cancelled') {
          throw new ApiError(
            'ClientException',
            `Host command ${cmd.commandName} of ${cmd.deploymentId} was never handed out, so it cannot be completed.`,
          );
        }
        const ok = commandStatus === 'Succeeded';
        cmd.status = ok ? 'Succeeded' : 'Failed';
        cmd.completion = completion;
        cmd.completedAt = ctx.now;
        ctx.store.saveCommand(cmd);
        const row = ctx.store.getDeployment(cmd.deploymentId);
        if (row) commandFinished(ctx, row.info, cmd, ok, diagnosticsOf(payload, ok));
        reevaluate(ctx);
      });
    },

    async specification(deploymentExecutionId, hostIdentifier, packageVersion) {
      const deploymentId = deploymentIdOfExecution(identity, deploymentExecutionId);
      const row = deploymentId === undefined ? undefined : store.getDeployment(deploymentId);
      if (!row)
        throw new ApiError('DeploymentNotFoundException', `No deployment found for DeploymentExecutionId ${clip(deploymentExecutionId)}.`);
      const instance = state.registry.instanceByHostIdentifier(hostIdentifier);
      const target = instance && store.getTarget(row.deploymentId, instance.instanceName);
      if (!target)
        throw new ApiError('HostNotFoundException', `Host ${clip(hostIdentifier)} is not a target of deployment ${row.deploymentId}.`);
      run((ctx) => touchAt(ctx, hostIdentifier, packageVersion));
      if (row.signedSpec !== undefined) return row.signedSpec;
      let pending = signing.get(row.deploymentId);
      if (!pending) {
        const json = JSON.stringify(specDocument(identity, row.info, row.groupId));
        pending = signer.sign(json).then(
          (pem) => {
            if (!state.closed) store.setSignedSpec(row.deploymentId, pem);
            signing.delete(row.deploymentId);
            return pem;
          },
          (err: unknown) => {
            signing.delete(row.deploymentId);
            throw err;
          },
        );
        signing.set(row.deploymentId, pending);
      }
      return pending;
    },
  };
}
