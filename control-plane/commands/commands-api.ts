/**
 * The agent-facing commands API (CodeDeployCommandService_v20141006.*; DESIGN.md section 3,
 * reference section 2): PollHostCommand as a long poll, GetDeploymentSpecification signed as
 * PKCS7/JSON, acknowledgements, completions and progress updates. Member names are the wire's
 * PascalCase. Handlers check shapes and sizes first (command-input.ts: nothing a caller sends is
 * stored or logged before that), then delegate state changes to the engine's host-command port.
 */
import { ApiError, objectMember, stringMember } from '../api/api-error.js';
import type { OperationTable, RequestContext } from '../api/operations.js';
import type { EngineCore } from '../engine/deployment-engine.js';
import { executionIdMember, hostIdentifierMember } from './command-input.js';

/** Diagnostics: {Format, Payload} with the model's limits (Format 1..64, Payload 0..8192 characters). */
function diagnosticsPayload(input: Record<string, unknown>): string | undefined {
  const diagnostics = objectMember(input, 'Diagnostics');
  if (!diagnostics) return undefined;
  const format = stringMember(diagnostics, 'Format');
  const payload = stringMember(diagnostics, 'Payload');
  if (format !== undefined && (format.length < 1 || format.length > 64)) throw new ApiError('ClientException', 'Diagnostics.Format must be 1 to 64 characters long.');
  if (payload !== undefined && payload.length > 8192) throw new ApiError('ClientException', `Diagnostics.Payload is ${payload.length} characters long; the limit is 8192.`);
  return payload;
}

export function createCommandsOperations(core: EngineCore): OperationTable {
  const { registry, hostCommands, unknownHosts } = core;

  async function pollHostCommand(input: Record<string, unknown>, ctx: RequestContext): Promise<unknown> {
    const hostIdentifier = hostIdentifierMember(input);
    const deadline = Date.now() + core.longPollMs;
    let reported = false;
    for (;;) {
      if (core.isClosed()) return {};
      const instance = registry.instanceByHostIdentifier(hostIdentifier);
      if (instance) {
        const command = hostCommands.claim(instance.instanceName, hostIdentifier, ctx.packageVersion);
        if (command) return { HostCommand: command };
      } else if (!reported) {
        unknownHosts.seen(hostIdentifier);
        reported = true;
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0 || ctx.signal.aborted) return {};
      // An unregistered host is looked up again every second, so registering it mid-poll
      // (register-on-premises-instance, then tags) lets its first command through at once.
      await core.waiters.wait(instance?.instanceName, instance ? remaining : Math.min(remaining, 1000), ctx.signal);
    }
  }

  async function getDeploymentSpecification(input: Record<string, unknown>, ctx: RequestContext): Promise<unknown> {
    const executionId = executionIdMember(input);
    const hostIdentifier = hostIdentifierMember(input);
    const payload = await hostCommands.specification(executionId, hostIdentifier, ctx.packageVersion);
    return { DeploymentSystem: 'CodeDeploy', DeploymentSpecification: { GenericEnvelope: { Format: 'PKCS7/JSON', Payload: payload } } };
  }

  return {
    PollHostCommand: pollHostCommand,
    GetDeploymentSpecification: getDeploymentSpecification,
    PutHostCommandAcknowledgement(input, ctx) {
      diagnosticsPayload(input);
      return { CommandStatus: hostCommands.acknowledge(input.HostCommandIdentifier, ctx.packageVersion) };
    },
    PutHostCommandComplete(input, ctx) {
      const payload = diagnosticsPayload(input);
      hostCommands.complete(input.HostCommandIdentifier, input.CommandStatus, payload, ctx.packageVersion);
      return {};
    },
    PostHostCommandUpdate(input, ctx) {
      diagnosticsPayload(input);
      return { CommandStatus: hostCommands.update(input.HostCommandIdentifier, ctx.packageVersion) };
    },
  };
}
