/**
 * The agent-facing commands API (CodeDeployCommandService_v20141006.*; docs/design.md section 3,
 * docs/reference.md section 2): PollHostCommand as a long poll, GetDeploymentSpecification signed as
 * PKCS7/JSON, acknowledgements, completions and progress updates. Member names are the wire's
 * PascalCase. Handlers check shapes and sizes first (nothing a caller sends is stored or logged
 * before that), then delegate state changes to the engine's host-command port.
 *
 * Members are held to the service model (CodeDeployCommand.api.json, docs/reference.md section 2.3), and
 * every failure is the model's only client error, `ClientException`. The model leaves
 * HostIdentifier unconstrained, but it is always an ARN (an EC2 instance, an IAM user, an STS
 * assumed-role session: docs/reference.md section 2.7), and IAM caps ARNs at 2048 characters;
 * DeploymentExecutionId is 1..129 characters of `^[^/]+/[^/]+/[^/]+/.+$`; Diagnostics are
 * {Format 1..64, Payload 0..8192 characters}.
 */
import { objectMember, optionalString, requiredString, type Input, type RequiredRules } from '../api/input-readers.js';
import type { OperationTable, RequestContext } from '../api/operations.js';
import type { EngineCore } from '../engine/engine-core.js';
import { EXECUTION_ID_MAX, EXECUTION_ID_PATTERN } from '../engine/identifiers.js';
import type { UnknownHostLog } from './unknown-hosts.js';

export const HOST_IDENTIFIER_MAX = 2048;

const HOST_IDENTIFIER: RequiredRules = {
  code: 'ClientException',
  max: HOST_IDENTIFIER_MAX,
  noControlCharacters: true,
  hint: " (it is the host's ARN)",
};
const EXECUTION_ID: RequiredRules = {
  code: 'ClientException',
  max: EXECUTION_ID_MAX,
  pattern: EXECUTION_ID_PATTERN,
  patternText: '^[^/]+/[^/]+/[^/]+/.+$',
  hint: ': pass it exactly as PollHostCommand returned it',
};

/** The Diagnostics payload, after Format and Payload are held to the model's limits. */
function diagnosticsPayload(input: Input): string | undefined {
  const diagnostics = objectMember(input, 'Diagnostics');
  if (!diagnostics) return undefined;
  optionalString(diagnostics, 'Format', { code: 'ClientException', min: 1, max: 64 });
  return optionalString(diagnostics, 'Payload', { code: 'ClientException', max: 8192 });
}

export interface CommandsApiOptions {
  /** What is kept about pollers that are not registered instances (bounded). */
  unknownHosts: UnknownHostLog;
  /** How long PollHostCommand waits for a command. Default 45. */
  longPollSeconds?: number;
}

export function createCommandsOperations(core: EngineCore, opts: CommandsApiOptions): OperationTable {
  const { registry, hostCommands } = core;
  const { unknownHosts } = opts;
  const longPollMs = (opts.longPollSeconds ?? 45) * 1000;

  async function pollHostCommand(input: Input, ctx: RequestContext): Promise<unknown> {
    const hostIdentifier = requiredString(input, 'HostIdentifier', HOST_IDENTIFIER);
    const deadline = Date.now() + longPollMs;
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

  async function getDeploymentSpecification(input: Input, ctx: RequestContext): Promise<unknown> {
    const executionId = requiredString(input, 'DeploymentExecutionId', EXECUTION_ID);
    const hostIdentifier = requiredString(input, 'HostIdentifier', HOST_IDENTIFIER);
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
