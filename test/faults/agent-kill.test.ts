/**
 * Issue 9, item 2 and the fault suite: the agent is SIGKILLed at each stage of a deployment; the
 * control plane then goes down too, the agent is started again while it is down (a host rebooting
 * before its network), and the control plane comes back 3 s later. The deployment must end, each
 * command the control plane handed out must have exactly one result, a command whose hook was
 * killed fails with the official restart message (error code 7), and a command whose outcome was
 * already known (killed while completing) keeps that outcome.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect } from 'vitest';
import { buildHookApp } from './harness/bundles.js';
import { checkCompletions } from './harness/completions.js';
import { INSTANCE, startFaultEnv } from './harness/fault-env.js';
import { scenario } from './harness/scenario.js';
import { atStage, stageLabel, type Stage } from './harness/stages.js';
import { sleep } from './harness/wait.js';

const RESTART_CODE = 7;
const RESTART_MESSAGE = /after an agent restart/;

interface KillCase {
  stage: Stage;
  /** What the deployment must end as: 'either' where the agent could not know the command's fate. */
  expected: 'Succeeded' | 'Failed' | 'either';
  /** The event that, if the deployment failed, must carry the restart failure. */
  event: string;
}

const CASES: KillCase[] = [
  { stage: { kind: 'poll', command: 'BeforeInstall', phase: 'response' }, expected: 'either', event: 'BeforeInstall' },
  { stage: { kind: 'spec', command: 'BeforeInstall' }, expected: 'either', event: 'BeforeInstall' },
  { stage: { kind: 'ack', command: 'BeforeInstall' }, expected: 'either', event: 'BeforeInstall' },
  { stage: { kind: 'download', afterBytes: 256 * 1024 }, expected: 'either', event: 'DownloadBundle' },
  { stage: { kind: 'hook', event: 'BeforeInstall' }, expected: 'Failed', event: 'BeforeInstall' },
  { stage: { kind: 'hook', event: 'ValidateService' }, expected: 'Failed', event: 'ValidateService' },
  { stage: { kind: 'complete', command: 'AfterInstall', phase: 'request' }, expected: 'Succeeded', event: 'AfterInstall' },
  { stage: { kind: 'complete', command: 'ApplicationStart', phase: 'response' }, expected: 'Succeeded', event: 'ApplicationStart' },
];

describe('agent SIGKILLed at each stage, restarted while the control plane is down', () => {
  for (const c of CASES) {
    scenario(`agent kill @ ${stageLabel(c.stage)}`, { timeoutSeconds: 120, concurrent: true }, async (s) => {
      const env = await startFaultEnv(s);
      const markers = join(s.dir, 'markers');
      const bundle = await buildHookApp(s.dir, { destination: join(s.dir, 'dest'), markers });
      const { eTag } = await env.api.upload('hook-app.tgz', bundle);
      const struck = atStage(c.stage, { proxy: env.proxy, markers, stop: () => s.expired }, async () => {
        await env.agent.kill();
        await env.crashControlPlane();
      });

      s.step('creating the deployment');
      const deploymentId = await env.api.createDeployment('hook-app.tgz', 'tgz', eTag);
      s.step(`waiting for the stage (${stageLabel(c.stage)})`);
      await env.reached(struck, stageLabel(c.stage));
      s.step('restarting the agent while the control plane is down');
      env.agent.start();
      await sleep(3000);
      expect(env.agent.running, `the agent must wait for the control plane, not exit\n${await env.agent.describe()}`).toBe(true);
      s.step('restarting the control plane');
      await env.restoreControlPlane();
      s.step('waiting for the deployment to end');
      const info = await env.waitForEnd(deploymentId, 45_000);

      const explained = await env.explain(deploymentId);
      if (c.expected !== 'either') expect(info.status, explained).toBe(c.expected);
      const check = checkCompletions(env.proxy.records());
      expect(check.problems, explained).toEqual([]);
      if (info.status === 'Failed') {
        const failedEvents = (await env.api.lifecycleEvents(deploymentId, INSTANCE)).filter((e) => e.status === 'Failed');
        expect(
          failedEvents.map((e) => e.lifecycleEventName),
          explained,
        ).toEqual([c.event]);
        expect(failedEvents[0]?.diagnostics?.message ?? '', explained).toMatch(RESTART_MESSAGE);
        const failure = env.proxy
          .records()
          .find((r) => r.op === 'PutHostCommandComplete' && r.status === 200 && r.commandName === c.event && r.commandStatus === 'Failed');
        expect(failure?.diagnostics?.error_code, explained).toBe(RESTART_CODE);
      }
      const ran = (await readFile(join(markers, 'ran.log'), 'utf8').catch(() => ''))
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split(' ')[0]);
      expect(new Set(ran).size, `no hook ran twice: ${ran.join(', ')}`).toBe(ran.length);
      expect(env.agent.running, 'the restarted agent is still running').toBe(true);
    });
  }
});
