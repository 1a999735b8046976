/**
 * `codedeploy-agent status` during a slow S3 download, against the real daemon: the bundle server
 * drops the first connection mid-body, then trickles the rest of the resumed (206) answer, and
 * status (--json and text) shows the download's bytes, total, percent and rate; the agent log has
 * the resume and the progress lines; when the server lets the rest go, the command succeeds and
 * the progress is gone from status.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AGENT_CLI, localSpec, startDaemonHost, type DaemonHost } from '../helpers/daemon-host.js';
import { tarTree } from '../helpers/archive-builders.js';
import { incompressible, startRangeServer, type RangeServer } from '../helpers/range-server.js';
import { waitFor } from '../helpers/wait-for.js';

const EXEC = (d: string) => `CodeDeploy/us-east-1/Prod/arn:aws:sds:us-east-1:123456789012:deployment/${d}`;
const MiB = 2 ** 20;

interface Download {
  bytes: number;
  totalBytes: number | null;
  percent: number | null;
  bytesPerSecond: number;
}

function status(h: DaemonHost, json: boolean): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [AGENT_CLI, 'status', '--config_file', h.configFile, ...(json ? ['--json'] : [])], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.on('close', (code) => resolve({ code, stdout }));
  });
}

async function currentDownload(h: DaemonHost): Promise<{ command: string; download: Download | null } | undefined> {
  const { stdout } = await status(h, true);
  const s = JSON.parse(stdout) as { currentCommands: Array<{ command: string; download: Download | null }> };
  return s.currentCommands[0];
}

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

describe.skipIf(!existsSync(AGENT_CLI))('codedeploy-agent status during a bundle download', () => {
  it('shows bytes, total, percent and rate of a resumed, slow S3 download, then clears them', async () => {
    const work = join(await import('node:os').then((os) => os.tmpdir()), `cda-status-dl-${process.pid}-${Date.now()}`);
    await mkdir(join(work, 'src'), { recursive: true });
    cleanup.push(() => import('node:fs/promises').then((fs) => fs.rm(work, { recursive: true, force: true })));
    await writeFile(join(work, 'src', 'appspec.yml'), 'version: 0.0\nos: linux\n');
    await writeFile(join(work, 'src', 'payload.bin'), incompressible(6 * MiB));
    const body = await readFile(tarTree(join(work, 'bundle.tar'), join(work, 'src')));

    // First answer: cut after 1 MiB. The resume: 64 KiB every 200 ms until released.
    const srv: RangeServer = await startRangeServer({
      body,
      etag: '"bundle-v1"',
      plan: [{ breakAfter: MiB }, { trickle: { bytes: 64 * 1024, everyMs: 200 } }],
    });
    cleanup.push(() => srv.close());
    const h = await startDaemonHost({ extraConfig: [`:s3_endpoint_override: ${srv.url}`] });
    cleanup.push(async () => {
      await h.stop('SIGKILL');
      await h.server.close();
    });
    const spec = {
      ...localSpec('d-DLSTAT001', 'dg-download', work),
      Revision: { RevisionType: 'S3', S3Revision: { Bucket: 'bkt', Key: 'apps/bundle.tar', BundleType: 'tar' } },
    };
    h.specs.set(EXEC('d-DLSTAT001'), spec);
    h.start();
    const pending = h.deploy(EXEC('d-DLSTAT001'), ['DownloadBundle']);

    // Status shows the resumed download moving: two readings with more bytes the second time.
    const first = await waitFor(
      'download progress in status --json',
      async () => {
        const c = await currentDownload(h);
        return c?.download && c.download.bytes > MiB ? c.download : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    expect(first).toMatchObject({ totalBytes: body.length });
    expect(first.percent).toBe(Math.floor((first.bytes * 100) / body.length));
    expect(first.percent).toBeLessThan(100);
    const later = await waitFor(
      'the download to move on',
      async () => {
        const c = await currentDownload(h);
        return c?.download && c.download.bytes > first.bytes ? c.download : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 200 },
    );
    expect(later.bytesPerSecond).toBeGreaterThan(0);
    const text = await status(h, false);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(
      /^ {2}command {3}d-DLSTAT001 \(group dg-download\) DownloadBundle: [\d.]+ (KiB|MiB) of [\d.]+ MiB \(\d+ %\), [\d.]+ (B|KiB|MiB)\/s, running \d+s$/m,
    );

    srv.release();
    expect((await pending)[0]?.body).toMatchObject({ CommandStatus: 'Succeeded' });
    expect(srv.requests.map((r) => [r.status, r.range?.replace(/\d+/, 'N'), r.ifMatch])).toEqual([
      [200, undefined, undefined],
      [206, 'bytes=N-', '"bundle-v1"'],
    ]);
    // The status file catches up within its write interval: no command, no download.
    await waitFor('the command to leave status', async () => ((await currentDownload(h)) === undefined ? true : undefined), {
      timeoutMs: 10_000,
      intervalMs: 100,
    });

    const log = await readFile(join(h.logDir, 'codedeploy-agent.log'), 'utf8');
    expect(log).toMatch(/The S3 download broke off after \d+ bytes; resuming it from there/);
    expect(log).toMatch(/Resuming the download of s3:\/\/bkt\/apps\/bundle\.tar at byte \d+ of \d+/);
    expect(log).toMatch(
      /INFO +\[codedeploy-agent\(\d+\)\]: Downloaded [\d.]+ (KiB|MiB) of [\d.]+ MiB \(\d+ %\), .+\/s from s3:\/\/bkt\/apps\/bundle\.tar/,
    );
    expect(log).toMatch(/Download complete from bucket bkt and key apps\/bundle\.tar: [\d.]+ MiB in [\d.]+ s \(.+\/s\)/);
  }, 90_000);
});
