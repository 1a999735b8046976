import { chmod, mkdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OpsReadError } from '../../../agent/ops/access.js';
import { pickDeployment, scanDeployments, summarizeDeployments, type DeploymentFacts } from '../../../agent/ops/deployment-history.js';
import type { CommandRecord } from '../../../agent/status/status-file.js';
import { tempDir } from '../../helpers/temp.js';

const T0 = Date.parse('2024-05-01T12:00:00Z');

async function deployment(root: string, group: string, id: string, opts: { dirTime: number; logTime?: number }): Promise<void> {
  const dir = join(root, group, id);
  await mkdir(join(dir, 'logs'), { recursive: true });
  if (opts.logTime !== undefined) {
    await writeFile(join(dir, 'logs', 'scripts.log'), '2024-05-01 12:00:00 LifecycleEvent - BeforeInstall\n');
    await utimes(join(dir, 'logs', 'scripts.log'), opts.logTime / 1000, opts.logTime / 1000);
  }
  await utimes(dir, opts.dirTime / 1000, opts.dirTime / 1000);
}

async function host(): Promise<string> {
  const root = join(await tempDir(), 'deployment-root');
  await deployment(root, 'dg-a', 'd-A1', { dirTime: T0, logTime: T0 + 1000 });
  await deployment(root, 'dg-a', 'd-A2', { dirTime: T0 + 5000, logTime: T0 + 9000 });
  await deployment(root, 'dg-b', 'd-B1', { dirTime: T0 + 7000 });
  await mkdir(join(root, 'deployment-instructions'), { recursive: true });
  await writeFile(join(root, 'deployment-instructions', 'dg-a_last_successful_install'), join(root, 'dg-a', 'd-A1'));
  await writeFile(join(root, 'deployment-instructions', 'dg-a_most_recent_install'), join(root, 'dg-a', 'd-A2'));
  await mkdir(join(root, 'deployment-logs'), { recursive: true });
  await mkdir(join(root, 'ongoing-deployment'), { recursive: true });
  return root;
}

const byId = (facts: DeploymentFacts[], id: string) => facts.find((f) => f.deploymentId === id);

describe('scanDeployments', () => {
  it('lists deployment directories with their pointers, scripts.log and tracking facts', async () => {
    const root = await host();
    await writeFile(join(root, 'ongoing-deployment', 'd-B1'), 'hc-1');
    const facts = await scanDeployments(root);
    expect(facts.map((f) => `${f.deploymentGroupId}/${f.deploymentId}`).sort()).toEqual(['dg-a/d-A1', 'dg-a/d-A2', 'dg-b/d-B1']);
    expect(byId(facts, 'd-A1')).toMatchObject({ lastSuccessful: true, mostRecent: false, ongoing: false, scriptsLogMtimeMs: T0 + 1000 });
    expect(byId(facts, 'd-A2')).toMatchObject({
      lastSuccessful: false,
      mostRecent: true,
      scriptsLog: join(root, 'dg-a', 'd-A2', 'logs', 'scripts.log'),
    });
    expect(byId(facts, 'd-B1')).toMatchObject({ ongoing: true, scriptsLogMtimeMs: undefined });
    expect(await scanDeployments(root, { groupId: 'dg-b' })).toHaveLength(1);
  });

  it('returns nothing for a missing root_dir and names the path on permission errors', async () => {
    expect(await scanDeployments(join(await tempDir(), 'absent'))).toEqual([]);
    if (process.getuid?.() === 0) return; // root reads everything
    const root = await host();
    await chmod(join(root, 'dg-a'), 0o000);
    await expect(scanDeployments(root)).rejects.toThrow(OpsReadError);
    await chmod(join(root, 'dg-a'), 0o755);
  });
});

describe('pickDeployment', () => {
  it('prefers a running deployment, then the latest activity; honours --group and --deployment', async () => {
    const root = await host();
    const facts = await scanDeployments(root);
    expect(pickDeployment(facts)?.deploymentId).toBe('d-A2'); // scripts.log at T0+9s beats d-B1's dir at T0+7s
    expect(pickDeployment(facts, { groupId: 'dg-b' })?.deploymentId).toBe('d-B1');
    expect(pickDeployment(facts, { deploymentId: 'd-A1' })?.deploymentId).toBe('d-A1');
    expect(pickDeployment(facts, { deploymentId: 'd-A1', groupId: 'dg-b' })).toBeUndefined();
    const running = facts.map((f) => (f.deploymentId === 'd-A1' ? { ...f, ongoing: true } : f));
    expect(pickDeployment(running)?.deploymentId).toBe('d-A1');
  });
});

const record = (over: Partial<CommandRecord>): CommandRecord => ({
  deploymentId: 'd-A2',
  deploymentGroupId: 'dg-a',
  commandName: 'BeforeInstall',
  startedAt: new Date(T0 + 8000).toISOString(),
  endedAt: new Date(T0 + 9000).toISOString(),
  status: 'Succeeded',
  errorCode: 0,
  scriptName: '',
  message: '',
  ...over,
});

const fact = (over: Partial<DeploymentFacts>): DeploymentFacts => ({
  deploymentGroupId: 'dg-a',
  deploymentId: 'd-A2',
  dir: '/r/dg-a/d-A2',
  scriptsLog: '/r/dg-a/d-A2/logs/scripts.log',
  dirMtimeMs: T0,
  scriptsLogMtimeMs: undefined,
  ongoing: false,
  mostRecent: false,
  lastSuccessful: false,
  ...over,
});

describe('summarizeDeployments', () => {
  it('derives results: running, failed (with script and code), succeeded, unknown from files only', () => {
    const out = summarizeDeployments({
      facts: [
        fact({ deploymentId: 'd-OK', dirMtimeMs: T0 + 1000 }),
        fact({ deploymentId: 'd-BAD', dirMtimeMs: T0 + 2000 }),
        fact({ deploymentId: 'd-OLD', dirMtimeMs: T0 - 1000, lastSuccessful: true }),
        fact({ deploymentGroupId: 'dg-b', deploymentId: 'd-RUN', dirMtimeMs: T0 }),
      ],
      recent: [
        record({ deploymentId: 'd-OK', commandName: 'DownloadBundle', endedAt: new Date(T0 + 1000).toISOString() }),
        record({ deploymentId: 'd-OK', commandName: 'AfterAllowTraffic', endedAt: new Date(T0 + 3000).toISOString() }),
        record({
          deploymentId: 'd-BAD',
          commandName: 'ApplicationStart',
          status: 'Failed',
          errorCode: 4,
          scriptName: 'scripts/start.sh',
          message: 'Script at specified location: scripts/start.sh failed with exit code 3',
        }),
      ],
      running: [
        {
          deploymentId: 'd-RUN',
          deploymentGroupId: 'dg-b',
          commandName: 'BeforeInstall',
          startedAt: new Date(T0 + 20_000).toISOString(),
          event: 'BeforeInstall',
          script: 's.sh',
          scriptStartedAt: null,
        },
      ],
    });
    // Groups ordered by their latest deployment; within a group newest first; at most 3 per group.
    expect(out.map((s) => [s.deploymentGroupId, s.deploymentId, s.result, s.lastCommand, s.source])).toEqual([
      ['dg-b', 'd-RUN', 'InProgress', 'BeforeInstall', 'agent'],
      ['dg-a', 'd-BAD', 'Failed', 'ApplicationStart', 'agent'],
      ['dg-a', 'd-OK', 'Succeeded', 'AfterAllowTraffic', 'agent'],
      ['dg-a', 'd-OLD', 'Unknown', null, 'files'],
    ]);
    expect(out[1]).toMatchObject({
      failedScript: 'scripts/start.sh',
      errorCode: 4,
      message: 'Script at specified location: scripts/start.sh failed with exit code 3',
    });
    expect(out[3]?.lastSuccessfulInstall).toBe(true);
  });

  it('keeps perGroup deployments and shows history without readable files', () => {
    const facts = [1, 2, 3, 4, 5].map((i) => fact({ deploymentId: `d-${i}`, dirMtimeMs: T0 + i * 1000 }));
    expect(summarizeDeployments({ facts, recent: [], running: [], perGroup: 2 }).map((s) => s.deploymentId)).toEqual(['d-5', 'd-4']);
    const fromHistory = summarizeDeployments({ facts: [], recent: [record({})], running: [] });
    expect(fromHistory).toEqual([
      expect.objectContaining({ deploymentId: 'd-A2', result: 'Succeeded', updatedAt: new Date(T0 + 9000).toISOString() }),
    ]);
  });
});
