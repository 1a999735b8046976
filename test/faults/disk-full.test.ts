/**
 * A full disk (a 2 MiB tmpfs) under the agent's root_dir, and separately under a deployment's
 * destination. The deployment must fail with a clear ENOSPC message that reaches the control
 * plane, the daemon must stay up (and, for root_dir, deploy a small revision right after), and
 * nothing half-written may be left: no partial bundle download in root_dir, and at the
 * destination no temp file and no truncated file (the agent lands files atomically).
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect } from 'vitest';
import { buildHookApp } from './harness/bundles.js';
import { checkCompletions } from './harness/completions.js';
import { INSTANCE, startFaultEnv, type FaultEnv } from './harness/fault-env.js';
import { scenario } from './harness/scenario.js';
import { mountTmpfs } from './harness/tmpfs.js';

const ENOSPC = /ENOSPC|no space left on device/i;

async function failedEvent(env: FaultEnv, deploymentId: string) {
  const failed = (await env.api.lifecycleEvents(deploymentId, INSTANCE)).filter((e) => e.status === 'Failed');
  return { names: failed.map((e) => e.lifecycleEventName), message: failed[0]?.diagnostics?.message ?? '' };
}

async function listAll(root: string): Promise<string[]> {
  return (await readdir(root, { recursive: true }).catch(() => [])).map((p) => p.toString());
}

describe('disk full', () => {
  scenario('disk full: root_dir on a 2 MiB tmpfs', { timeoutSeconds: 120, concurrent: true }, async (s) => {
    const rootDir = join(s.dir, 'small-root');
    await mountTmpfs(s, rootDir, '2m');
    const env = await startFaultEnv(s, { rootDir });
    const markers = join(s.dir, 'markers');
    const big = await buildHookApp(s.dir, { destination: join(s.dir, 'dest'), markers, blobBytes: 8 * 1024 * 1024, name: 'big' });
    const up = await env.api.upload('big.tgz', big);
    s.step('deploying an 8 MiB bundle into a 2 MiB root_dir');
    const deploymentId = await env.api.createDeployment('big.tgz', 'tgz', up.eTag);
    const info = await env.waitForEnd(deploymentId, 60_000);
    const explained = await env.explain(deploymentId);
    expect(info.status, explained).toBe('Failed');
    const failed = await failedEvent(env, deploymentId);
    expect(failed.names, explained).toEqual(['DownloadBundle']);
    expect(failed.message, explained).toMatch(ENOSPC);
    expect(checkCompletions(env.proxy.records()).problems, explained).toEqual([]);
    expect(env.agent.running, `the daemon stays up\n${await env.agent.describe()}`).toBe(true);
    const left = await listAll(rootDir);
    expect(
      left.filter((p) => /\.part-|bundle\.tar$/.test(p)),
      'no partial bundle left in root_dir',
    ).toEqual([]);

    s.step('deploying a small revision after the failure');
    const small = await buildHookApp(s.dir, { destination: join(s.dir, 'dest'), markers, blobBytes: 16 * 1024, name: 'small' });
    const up2 = await env.api.upload('small.tgz', small);
    const second = await env.api.createDeployment('small.tgz', 'tgz', up2.eTag);
    const info2 = await env.waitForEnd(second, 60_000);
    expect(info2.status, await env.explain(second)).toBe('Succeeded');
  });

  scenario('disk full: destination on a 2 MiB tmpfs', { timeoutSeconds: 120, concurrent: true }, async (s) => {
    const dest = join(s.dir, 'small-dest');
    await mountTmpfs(s, dest, '2m');
    const env = await startFaultEnv(s);
    const markers = join(s.dir, 'markers');
    const bundle = await buildHookApp(s.dir, { destination: dest, markers, blobBytes: 3 * 1024 * 1024 });
    const up = await env.api.upload('hook-app.tgz', bundle);
    s.step('deploying a 3 MiB file into a 2 MiB destination');
    const deploymentId = await env.api.createDeployment('hook-app.tgz', 'tgz', up.eTag);
    const info = await env.waitForEnd(deploymentId, 60_000);
    const explained = await env.explain(deploymentId);
    expect(info.status, explained).toBe('Failed');
    const failed = await failedEvent(env, deploymentId);
    expect(failed.names, explained).toEqual(['Install']);
    expect(failed.message, explained).toMatch(ENOSPC);
    expect(checkCompletions(env.proxy.records()).problems, explained).toEqual([]);
    expect(env.agent.running, `the daemon stays up\n${await env.agent.describe()}`).toBe(true);

    const left = await listAll(dest);
    expect(
      left.filter((p) => /(^|\/)\.cda-.*\.tmp$/.test(p)),
      'no temp file left at the destination',
    ).toEqual([]);
    expect(left, 'the file that did not fit is not there half-written').not.toContain('blob.bin');
    for (const p of left.filter((x) => x === 'version.txt')) expect(await readFile(join(dest, p), 'utf8')).toBe('hook-app\n');
  });
});
