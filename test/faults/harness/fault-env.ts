/**
 * A scenario's world: a control plane process on its own data dir, the fault proxy in front of it,
 * the deployment group, and one registered agent daemon that reaches the control plane only
 * through the proxy. Everything is stopped by the scenario's cleanup.
 */
import { join } from 'node:path';
import type { DeploymentInfo } from '@aws-sdk/client-codedeploy';
import { createAgentProcess, type AgentProcess } from './agent-process.js';
import { checkCompletions } from './completions.js';
import { controlPlaneProcess, type ControlPlaneProcess } from './control-plane-process.js';
import { deployApi, type DeployApi } from './deploy-api.js';
import { startFaultProxy, type ExchangeRecord, type FaultProxy } from './fault-proxy.js';
import type { Scenario } from './scenario.js';
import { sleep, withTimeout } from './wait.js';

export const INSTANCE = 'fault-host';

export interface FaultEnvOptions {
  commandTimeoutSeconds?: number;
  /** The agent's root_dir (e.g. a tmpfs); default under the scenario dir. */
  rootDir?: string;
  agentExtraConfig?: string[];
  /** Start the agent at once (default true). */
  startAgent?: boolean;
}

export interface FaultEnv {
  cp: ControlPlaneProcess;
  proxy: FaultProxy;
  agent: AgentProcess;
  api: DeployApi;
  deploymentGroupId: string;
  /** SIGKILL the control plane; the proxy refuses connections until restore. */
  crashControlPlane(): Promise<void>;
  /** Start the control plane again (same data dir and port) and let the agent reach it. */
  restoreControlPlane(): Promise<void>;
  /** A crash, `ms` of outage, then the restart. */
  outage(ms: number): Promise<void>;
  /** What the proxy saw, and the agent's and control plane's last words. */
  describe(): Promise<string>;
  /** A deployment's lifecycle events (status, diagnostics), then describe(). */
  explain(deploymentId: string): Promise<string>;
  /**
   * Waits (bounded) for the deployment to end; a deployment that does not end fails with the
   * commands that were never completed first, then everything explain() knows.
   */
  waitForEnd(deploymentId: string, timeoutMs: number): Promise<DeploymentInfo>;
  /** Waits (bounded) for a stage trigger to have fired; a timeout says what the proxy saw. */
  reached<T>(struck: Promise<T>, label: string, timeoutMs?: number): Promise<T>;
}

export function summarize(records: ExchangeRecord[], last = 40): string {
  return records
    .slice(-last)
    .map((r) => {
      const what = [
        r.commandName,
        r.hostCommandIdentifier?.slice(-10),
        r.commandStatus,
        r.diagnostics?.error_code !== undefined ? `code ${r.diagnostics.error_code}` : undefined,
      ]
        .filter(Boolean)
        .join(' ');
      return `  #${r.seq} +${(r.at / 1000).toFixed(1)}s ${r.op}${r.handedOut ? ' (command)' : ''} ${what} -> ${r.status ?? 'no answer'}${r.relayed ? '' : ' (not relayed)'}${r.error ? ` [${r.error}]` : ''}`;
    })
    .join('\n');
}

export async function startFaultEnv(s: Scenario, o: FaultEnvOptions = {}): Promise<FaultEnv> {
  s.step('starting the control plane');
  const cp = controlPlaneProcess({ dataDir: join(s.dir, 'cp-data'), commandTimeoutSeconds: o.commandTimeoutSeconds ?? 4200 });
  s.defer(() => cp.kill());
  await cp.start();
  const proxy = await startFaultProxy(cp.port);
  s.defer(() => proxy.close());
  if (process.env.CDA_FAULTS_TRACE === '1')
    s.defer(() => process.stderr.write(`[${s.name}] proxy log:\n${summarize(proxy.records(), 200)}\n`));
  const api = deployApi(() => cp.url);
  const withOutput = async <T>(what: string, call: () => Promise<T>): Promise<T> => {
    try {
      return await call();
    } catch (err) {
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      throw new Error(
        `${what} failed: ${(err as Error).name}: ${(err as Error).message} (HTTP ${status ?? '?'})\ncontrol plane output:\n${cp.output().slice(-3000)}`,
        { cause: err },
      );
    }
  };
  const { deploymentGroupId } = await withOutput('creating the application and group', () => api.setUp());
  const agent = await createAgentProcess({
    name: INSTANCE,
    root: join(s.dir, 'hosts'),
    endpoint: proxy.url,
    caCertificatePath: cp.caCertificatePath,
    ...(o.rootDir ? { rootDir: o.rootDir } : {}),
    ...(o.agentExtraConfig ? { extraConfig: o.agentExtraConfig } : {}),
  });
  s.defer(() => agent.kill());
  await withOutput('registering the instance', () => api.register(INSTANCE, agent.iamUserArn));
  if (o.startAgent !== false) {
    s.step('starting the agent');
    agent.start();
  }

  const env: FaultEnv = {
    cp,
    proxy,
    agent,
    api,
    deploymentGroupId,
    async crashControlPlane() {
      await proxy.down();
      await cp.kill();
    },
    async restoreControlPlane() {
      await cp.start();
      await proxy.up();
    },
    async outage(ms) {
      await env.crashControlPlane();
      await sleep(ms);
      await env.restoreControlPlane();
    },
    async describe() {
      const records = proxy.records();
      return [
        `proxy log (${records.length} exchanges, last 40):`,
        summarize(records),
        await agent.describe(),
        `control plane output (tail):\n${cp.output().slice(-1500)}`,
      ].join('\n');
    },
    async waitForEnd(deploymentId, timeoutMs) {
      try {
        return await api.waitForEnd(deploymentId, timeoutMs);
      } catch (err) {
        const problems = checkCompletions(proxy.records()).problems;
        throw new Error(
          `${problems.length > 0 ? `${problems.join('; ')}: ` : ''}${(err as Error).message}\n${await env.explain(deploymentId)}`,
          { cause: err },
        );
      }
    },
    async reached(struck, label, timeoutMs = 45_000) {
      try {
        return await withTimeout(struck, timeoutMs, label);
      } catch (err) {
        throw new Error(`${(err as Error).message}\n${await env.describe()}`, { cause: err });
      }
    },
    async explain(deploymentId) {
      let events = '';
      try {
        const info = await api.getDeployment(deploymentId);
        events = `deployment ${deploymentId}: ${info.status ?? '?'} ${info.errorInformation?.message ?? ''}\n`;
        for (const e of await api.lifecycleEvents(deploymentId, INSTANCE)) {
          const d = e.diagnostics;
          events += `  ${e.lifecycleEventName ?? '?'}: ${e.status ?? '?'}${d ? ` [${d.errorCode ?? ''}] ${d.message ?? ''}` : ''}\n`;
        }
      } catch (err) {
        events = `deployment ${deploymentId}: could not be read (${(err as Error).message})\n`;
      }
      return `${events}${await env.describe()}`;
    },
  };
  return env;
}
