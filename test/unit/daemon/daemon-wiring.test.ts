import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { loadAgentConfig, type AgentConfig } from '../../../agent/config/agent-config.js';
import { commandsEndpoint, wireDaemon, type DaemonPorts } from '../../../agent/daemon-wiring.js';
import type { HookScriptEvent } from '../../../agent/deployment/command-executor.js';
import { DEFAULT_HOOK_EVENTS } from '../../../agent/deployment/lifecycle.js';
import type { HostIdentity } from '../../../agent/identity/resolve-identity.js';
import type { ObservedCommand } from '../../../agent/poller/poller.js';
import { silentLogger, tempDir } from '../../helpers/temp.js';

const identity: HostIdentity = {
  kind: 'on-premises',
  hostIdentifier: 'arn:aws:iam::123456789012:user/test-host',
  region: 'us-west-2',
  domain: 'amazonaws.com',
  credentials: () => Promise.resolve({ accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' }),
  credentialSource: 'on-premises-iam-user',
  summary: 'on-premises instance test-host',
};

/** A config file in a temp root whose directories do not exist yet. */
async function tempConfig(extra: string[] = []): Promise<{ root: string; config: Readonly<AgentConfig> }> {
  const root = await tempDir('cda-wiring-');
  const file = join(root, 'codedeployagent.yml');
  await writeFile(
    file,
    [
      `:root_dir: ${join(root, 'deployment-root')}`,
      `:pid_dir: ${join(root, 'pid')}`,
      `:log_dir: ${join(root, 'log')}`,
      ':wait_between_runs: 7',
      ':kill_agent_max_wait_time_seconds: 42',
      ':command_update_interval_seconds: 33',
      ':retry_backoff_max_seconds: 30',
      ':ongoing_deployment_tracking: tracking',
      ':enable_deployments_log: true',
      ...extra,
      '',
    ].join('\n'),
  );
  return { root, config: (await loadAgentConfig(file)).config };
}

function recordingStatus(): DaemonPorts['status'] & { events: Array<ObservedCommand | HookScriptEvent> } {
  const events: Array<ObservedCommand | HookScriptEvent> = [];
  return {
    events,
    commandStarted: (c) => events.push(c),
    commandEnded: (c) => events.push(c),
    hookScript: (e) => events.push(e),
  };
}

function ports(config: Readonly<AgentConfig>, env: NodeJS.ProcessEnv = {}): DaemonPorts {
  return {
    env,
    logger: silentLogger(),
    identity,
    endpoint: commandsEndpoint(config, identity),
    version: '9.9.9',
    status: recordingStatus(),
  };
}

describe('wireDaemon', () => {
  it('builds the poller from the config: intervals, backoff cap, host, tracking and outbox under root_dir', async () => {
    const { root, config } = await tempConfig();
    const parts = wireDaemon(config, ports(config));
    const p = parts.pollerOptions;
    expect(p).toMatchObject({
      hostIdentifier: identity.hostIdentifier,
      waitBetweenRunsSeconds: 7,
      shutdownWaitSeconds: 42,
      updateAfterSeconds: 33,
      updateIntervalSeconds: 33,
      retryMaxDelayMs: 30_000,
    });
    expect(p.backoffSeconds(1)).toBeLessThanOrEqual(30);
    expect(p.backoffSeconds(50)).toBe(30);
    expect(p.tracker.dir).toBe(join(root, 'deployment-root', 'tracking'));
    expect(parts.pendingResultsDir).toBe(join(root, 'deployment-root', 'pending-results'));
    expect(parts.layout.rootDir).toBe(join(root, 'deployment-root'));
    expect(p.results).toBe(parts.delivery);
    expect(p.reporter).toBe(parts.notifier);
  });

  it('gives the executor the nine script events, the environment and the deployments log', async () => {
    const { config } = await tempConfig();
    const env = { PATH: '/usr/bin' };
    const parts = wireDaemon(config, ports(config, env));
    const o = parts.executorOptions;
    expect([...o.hookMapping.entries()]).toEqual(DEFAULT_HOOK_EVENTS.map((e) => [e, [e]]));
    expect(o.baseEnv).toBe(env);
    expect(o.deploymentsLog).toBeDefined();
    expect(o.deploymentsLog).toBe(parts.deploymentsLog);
    expect(o.fetchRemoteBundle).toBeTypeOf('function');
  });

  it('leaves the deployments log out when it is disabled', async () => {
    const { config } = await tempConfig([':enable_deployments_log: false']);
    const parts = wireDaemon(config, ports(config));
    expect(parts.deploymentsLog).toBeUndefined();
    expect(parts.executorOptions.deploymentsLog).toBeUndefined();
  });

  it('reports commands and hook scripts to the status writer', async () => {
    const { config } = await tempConfig();
    const p = ports(config);
    const status = p.status as ReturnType<typeof recordingStatus>;
    const parts = wireDaemon(config, p);
    const script: HookScriptEvent = {
      deploymentId: 'd-1',
      deploymentGroupId: 'g',
      event: 'ApplicationStart',
      script: 's.sh',
      phase: 'start',
    };
    parts.executorOptions.onHookScript?.(script);
    parts.pollerOptions.observer?.commandStarted({ deploymentId: 'd-1', deploymentGroupId: 'g', commandName: 'ApplicationStart' });
    expect(status.events).toEqual([script, { deploymentId: 'd-1', deploymentGroupId: 'g', commandName: 'ApplicationStart' }]);
  });

  it('starts nothing: no directories or files, no timers, sockets or processes', async () => {
    const { root, config } = await tempConfig();
    const env = { NOTIFY_SOCKET: join(root, 'notify.sock'), WATCHDOG_USEC: '1000000' };
    // Fake timers count unref'd timers too, which getActiveResourcesInfo does not list.
    vi.useFakeTimers();
    let parts;
    try {
      const before = process.getActiveResourcesInfo();
      parts = wireDaemon(config, ports(config, env));
      expect(process.getActiveResourcesInfo()).toEqual(before);
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
    expect(parts.notifier.enabled).toBe(true);
    await new Promise((resolve) => setImmediate(resolve));
    for (const dir of [config.rootDir, config.pidDir, config.logDir]) expect(existsSync(dir)).toBe(false);
    expect(parts.poller.runningCommands).toBe(0);
    parts.client.close();
  });
});

describe('commandsEndpoint', () => {
  it('is the regional commands endpoint, or the configured one', async () => {
    const { config } = await tempConfig();
    expect(commandsEndpoint(config, identity)).toBe('https://codedeploy-commands.us-west-2.amazonaws.com');
    const { config: overridden } = await tempConfig([':deploy_control_endpoint: https://127.0.0.1:8443']);
    expect(commandsEndpoint(overridden, identity)).toBe('https://127.0.0.1:8443');
  });

  it('refuses FIPS mode outside the USA', async () => {
    const { config } = await tempConfig([':use_fips_mode: true']);
    expect(() => commandsEndpoint(config, { region: 'eu-west-1', domain: 'amazonaws.com' })).toThrow(
      'use_fips_mode can be set to true only in regions located in the USA',
    );
    expect(commandsEndpoint(config, identity)).toMatch(/fips/);
  });
});
