import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OngoingCommandTracker } from '../../../agent/poller/ongoing-command-tracker.js';
import { tempDir } from '../../helpers/temp.js';

async function tracker(): Promise<OngoingCommandTracker> {
  return new OngoingCommandTracker(join(await tempDir(), 'ongoing-deployment'));
}

describe('OngoingCommandTracker', () => {
  it('promote() turns the polled marker into the deployment tracking file (one file at every step)', async () => {
    const t = await tracker();
    await t.polled('hc-1');
    const [polled] = await t.orphans();
    expect(polled?.hostCommandIdentifier).toBe('hc-1');
    expect(polled?.deploymentId).toBeUndefined();
    await t.promote('d-1', 'hc-1');
    expect(await readdir(t.dir)).toEqual(['d-1']);
    expect(await readFile(join(t.dir, 'd-1'), 'utf8')).toBe('hc-1');
    expect(await t.orphans()).toEqual([expect.objectContaining({ hostCommandIdentifier: 'hc-1', deploymentId: 'd-1' })]);
  });

  it('promote() writes the tracking file when there is no polled marker (its write had failed)', async () => {
    const t = await tracker();
    await t.promote('d-2', 'hc-2');
    expect(await readFile(join(t.dir, 'd-2'), 'utf8')).toBe('hc-2');
  });

  it('finished() removes the deployment file and any polled marker; undefined deployment: the marker only', async () => {
    const t = await tracker();
    await t.polled('hc-1');
    await t.promote('d-1', 'hc-1');
    await t.polled('hc-2');
    await t.finished('d-1', 'hc-1');
    expect(await readdir(t.dir)).toEqual([expect.stringMatching(/^polled-/)]);
    await t.finished(undefined, 'hc-2');
    expect(await readdir(t.dir)).toEqual([]);
    expect(await t.orphans()).toEqual([]);
  });
});
