/**
 * Issue 9, item 2 and the fault suite: the control plane is SIGKILLed at each stage of a
 * deployment and started again on the same data dir and port after an outage (1 s at every stage;
 * ~10 s during the download; 60 s during a hook and while a completion is on its way). The agent
 * keeps running throughout. Every time, the deployment must end Succeeded, every command the
 * control plane handed out must have exactly one result, and every hook must have run once.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect } from 'vitest';
import { buildHookApp, FIRST_DEPLOYMENT_HOOKS } from './harness/bundles.js';
import { checkCompletions } from './harness/completions.js';
import { startFaultEnv } from './harness/fault-env.js';
import { scenario } from './harness/scenario.js';
import { atStage, stageLabel, type Stage } from './harness/stages.js';
import { sleep } from './harness/wait.js';

interface OutageCase {
  stage: Stage;
  outageSeconds: number;
}

const ONE_SECOND: OutageCase[] = [
  { stage: { kind: 'poll', command: 'BeforeInstall', phase: 'relayed' }, outageSeconds: 1 },
  { stage: { kind: 'spec', command: 'BeforeInstall' }, outageSeconds: 1 },
  { stage: { kind: 'ack', command: 'BeforeInstall' }, outageSeconds: 1 },
  { stage: { kind: 'download', afterBytes: 256 * 1024 }, outageSeconds: 1 },
  ...FIRST_DEPLOYMENT_HOOKS.map((event): OutageCase => ({ stage: { kind: 'hook', event }, outageSeconds: 1 })),
  { stage: { kind: 'complete', command: 'AfterInstall', phase: 'request' }, outageSeconds: 1 },
  { stage: { kind: 'complete', command: 'ApplicationStart', phase: 'response' }, outageSeconds: 1 },
];

const LONG: OutageCase[] = [
  { stage: { kind: 'download', afterBytes: 256 * 1024 }, outageSeconds: 10 },
  { stage: { kind: 'hook', event: 'ApplicationStart' }, outageSeconds: 60 },
  { stage: { kind: 'complete', command: 'ValidateService', phase: 'request' }, outageSeconds: 60 },
];

describe('control plane killed and restarted at each stage of a deployment', () => {
  for (const c of [...LONG, ...ONE_SECOND]) {
    const label = `cp outage ${c.outageSeconds}s @ ${stageLabel(c.stage)}`;
    scenario(label, { timeoutSeconds: 60 + c.outageSeconds * 2, concurrent: true }, async (s) => {
      const env = await startFaultEnv(s);
      const markers = join(s.dir, 'markers');
      const bundle = await buildHookApp(s.dir, { destination: join(s.dir, 'dest'), markers });
      const { eTag } = await env.api.upload('hook-app.tgz', bundle);
      const struck = atStage(c.stage, { proxy: env.proxy, markers, stop: () => s.expired }, () => env.crashControlPlane());

      s.step('creating the deployment');
      const deploymentId = await env.api.createDeployment('hook-app.tgz', 'tgz', eTag);
      s.step(`waiting for the stage (${stageLabel(c.stage)})`);
      await env.reached(struck, stageLabel(c.stage));
      s.step(`control plane down for ${c.outageSeconds} s`);
      await sleep(c.outageSeconds * 1000);
      s.step('restarting the control plane');
      await env.restoreControlPlane();
      s.step('waiting for the deployment to end');
      const info = await env.waitForEnd(deploymentId, 45_000);

      expect(info.status, await env.explain(deploymentId)).toBe('Succeeded');
      const check = checkCompletions(env.proxy.records());
      expect(check.problems, await env.describe()).toEqual([]);
      expect(check.handedOut.size).toBe(11);
      const ran = (await readFile(join(markers, 'ran.log'), 'utf8'))
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split(' ')[0]);
      expect(ran, 'each hook ran exactly once').toEqual(FIRST_DEPLOYMENT_HOOKS);
      expect(env.agent.running, 'the agent is still running').toBe(true);
    });
  }
});
