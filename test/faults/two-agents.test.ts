/**
 * Issue 9, item 3: `codedeploy-agent start` typed on a host where an agent already runs (same
 * configuration), while that agent is inside a hook. The second one must exit non-zero at once,
 * naming the running agent's pid, and touch nothing: the first keeps running, keeps its pid file,
 * `status` still says running, and its in-flight command is not failed as a crash leftover.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect } from 'vitest';
import { buildHookApp, FIRST_DEPLOYMENT_HOOKS } from './harness/bundles.js';
import { checkCompletions } from './harness/completions.js';
import { startFaultEnv } from './harness/fault-env.js';
import { scenario } from './harness/scenario.js';
import { atStage } from './harness/stages.js';
import { withTimeout } from './harness/wait.js';

describe('two agents started on one host', () => {
  scenario('second agent start while one runs a hook', { timeoutSeconds: 120 }, async (s) => {
    const env = await startFaultEnv(s);
    const markers = join(s.dir, 'markers');
    const bundle = await buildHookApp(s.dir, { destination: join(s.dir, 'dest'), markers });
    await writeFile(join(markers, 'hold'), 'held by the scenario\n');
    const { eTag } = await env.api.upload('hook-app.tgz', bundle);
    const inHook = atStage(
      { kind: 'hook', event: 'BeforeInstall' },
      { proxy: env.proxy, markers, stop: () => s.expired },
      async () => undefined,
    );
    const deploymentId = await env.api.createDeployment('hook-app.tgz', 'tgz', eTag);
    s.step('waiting for the first agent to be inside BeforeInstall');
    await env.reached(inHook, 'the BeforeInstall hook');
    const firstPid = env.agent.pid;
    expect(firstPid).toBeDefined();

    s.step('starting a second agent with the same configuration');
    const startedAt = Date.now();
    const second = env.agent.startSecond();
    s.defer(() => second.child.kill('SIGKILL'));
    const exit = await withTimeout(second.exited, 15_000, 'the second agent to exit');
    const took = Date.now() - startedAt;
    expect(exit.code, `second agent: exit ${exit.code} ${exit.signal ?? ''}\n${second.output()}`).not.toBe(0);
    expect(exit.code).not.toBeNull();
    expect(second.output(), 'the refusal names the running agent').toContain(String(firstPid));
    expect(took, 'the second agent gives up at once').toBeLessThan(10_000);

    expect(env.agent.running, 'the first agent still runs').toBe(true);
    expect((await readFile(env.agent.pidFile, 'utf8')).trim(), "the pid file is the first agent's").toBe(String(firstPid));
    const status = await env.agent.status();
    expect(status.code, `status: ${status.stdout}${status.stderr}`).toBe(0);
    expect(status.report?.running).toBe(true);
    expect(status.report?.pid).toBe(firstPid);
    const early = env.proxy.records().filter((r) => r.op === 'PutHostCommandComplete' && r.commandName === 'BeforeInstall');
    expect(early, 'the running command was not reported as a crash leftover').toEqual([]);

    s.step('letting the hook finish');
    await rm(join(markers, 'hold'));
    const info = await env.waitForEnd(deploymentId, 60_000);
    expect(info.status, await env.explain(deploymentId)).toBe('Succeeded');
    expect(checkCompletions(env.proxy.records()).problems).toEqual([]);
    const ran = (await readFile(join(markers, 'ran.log'), 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split(' ')[0]);
    expect(ran).toEqual(FIRST_DEPLOYMENT_HOOKS);
  });
});
