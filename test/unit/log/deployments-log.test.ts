import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createDeploymentsLog } from '../../../agent/log/deployments-log.js';
import { tempDir } from '../../helpers/temp.js';

describe('createDeploymentsLog', () => {
  it('appends lines, creating its directory', async () => {
    const dir = await tempDir();
    const path = join(dir, 'deployment-logs', 'codedeploy-agent-deployments.log');
    await mkdir(join(dir, 'deployment-logs'));
    await writeFile(path, 'old\n');
    const log = createDeploymentsLog({ path });
    log.write('[2024-05-01 12:00:01.123] [d-1]Script - a.sh');
    await log.close();
    expect(await readFile(path, 'utf8')).toBe('old\n[2024-05-01 12:00:01.123] [d-1]Script - a.sh\n');
  });

  it('rotates by size to .0 … .<keep-2>, dropping the oldest', async () => {
    const dir = await tempDir();
    const path = join(dir, 'codedeploy-agent-deployments.log');
    const log = createDeploymentsLog({ path, maxBytes: 100, keep: 3 });
    // 10 lines of 50 bytes (49 + newline); each flush is one batch, so each file holds two lines.
    for (let i = 0; i < 10; i++) {
      log.write(`${String(i)}${'-'.repeat(48)}`);
      await log.flush();
    }
    await log.close();
    expect((await readdir(dir)).sort()).toEqual([
      'codedeploy-agent-deployments.log',
      'codedeploy-agent-deployments.log.0',
      'codedeploy-agent-deployments.log.1',
    ]);
    const first = async (p: string) =>
      (await readFile(p, 'utf8'))
        .split('\n')
        .filter(Boolean)
        .map((l) => l[0]);
    expect(await first(path)).toEqual(['8', '9']);
    expect(await first(`${path}.0`)).toEqual(['6', '7']);
    expect(await first(`${path}.1`)).toEqual(['4', '5']);
  });

  it('never exceeds maxBytes per file under a burst of writes', async () => {
    const dir = await tempDir();
    const path = join(dir, 'd.log');
    const log = createDeploymentsLog({ path, maxBytes: 64 * 1024, keep: 8 });
    for (let i = 0; i < 5000; i++) log.write(`line ${i} ${'y'.repeat(20)}`);
    await log.close();
    const files = (await readdir(dir)).sort();
    expect(files.length).toBeGreaterThanOrEqual(3);
    expect(files.length).toBeLessThanOrEqual(8);
    for (const f of files) expect((await stat(join(dir, f))).size).toBeLessThanOrEqual(64 * 1024);
    // Batches are whole lines; the newest line is at the end of the live file.
    expect((await readFile(path, 'utf8')).endsWith(`line 4999 ${'y'.repeat(20)}\n`)).toBe(true);
  });
});
