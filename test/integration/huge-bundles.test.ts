/**
 * Issue 9 item 6: memory must not grow with the number of entries in a bundle (docs/design.md section 8).
 * The real codedeploy-local (dist/) deploys a tar of 100,000 empty files in a child process, then
 * deploys it again (which first removes the previous install through its cleanup list). Each run's
 * peak RSS is the child's own maxrss. Before the streaming install this run peaked at ~205 MiB, and
 * at 1.1 GB for a million entries; npm run bench measures the million.
 */
import { opendir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { deployMeasured, writeManyEntriesTar } from '../../bench/many-entries-bench.js';
import { PARALLEL_COPY_MIN_FILES } from '../../agent/install/installer.js';
import { removeTree } from '../../agent/platform/remove-tree.js';
import { tempDir } from '../helpers/temp.js';

const CLI = join(import.meta.dirname, '..', '..', 'dist', 'agent', 'cli', 'codedeploy-local.js');
const ENTRIES = 100_000;
const SMALL_ENTRIES = PARALLEL_COPY_MIN_FILES + 1000;
const MiB = 2 ** 20;
/** The target for a million entries (issue 9); a tenth of them must fit well under it. */
const PEAK_RSS_LIMIT = 150 * MiB;
/**
 * Above a deployment of a few thousand entries in the same conditions (enough to start the copy
 * worker threads, a fixed cost of some 15 MiB): what 100,000 entries may add.
 */
const GROWTH_LIMIT = 64 * MiB;

async function countFiles(dir: string): Promise<number> {
  let files = 0;
  for await (const entry of await opendir(dir)) {
    if (entry.isDirectory()) files += await countFiles(join(dir, entry.name));
    else files++;
  }
  return files;
}

describe('a bundle of 100,000 entries through codedeploy-local', () => {
  it('installs every file, lists each in the cleanup list, redeploys, and peak RSS stays bounded', async () => {
    const dir = await tempDir('cda-huge-');
    try {
      const small = await writeManyEntriesTar(join(dir, 'small.tar'), SMALL_ENTRIES, join(dir, 'small-installed'));
      const baseline = await deployMeasured(CLI, small.file, join(dir, 'small-host'), 'small');
      expect(baseline.code, baseline.output).toBe(0);

      const host = join(dir, 'host');
      const dest = join(dir, 'installed');
      const tar = await writeManyEntriesTar(join(dir, 'bundle.tar'), ENTRIES, dest);
      const first = await deployMeasured(CLI, tar.file, host);
      expect(first.code, first.output).toBe(0);

      expect(await countFiles(dest)).toBe(tar.files);
      expect(await readFile(join(dest, 'd00000', 'f0000000'), 'utf8')).toBe('');
      expect(await readFile(join(dest, 'd00099', 'f0099999'), 'utf8')).toBe('');
      const instructions = join(host, 'root', 'deployment-instructions');
      const cleanup = await readFile(join(instructions, 'many-cleanup'), 'utf8');
      expect(cleanup.endsWith('\n')).toBe(true);
      const lines = cleanup.slice(0, -1).split('\n');
      const isTemp = (l: string): boolean => /\/\.cda-[0-9a-f]+-\d+\.tmp$/.test(l);
      const temps = lines.filter(isTemp);
      const installed = lines.filter((l) => !isTemp(l) && l !== dest);
      // One line per file and directory installed (plus each copy's temp name, listed before it lands).
      expect(new Set(installed).size).toBe(tar.files + tar.directories);
      expect(installed).toContain(join(dest, 'd00042', 'f0042042'));
      expect(temps).toHaveLength(tar.files);
      expect(lines).toHaveLength(1 + tar.directories + 2 * tar.files);
      const plan = JSON.parse(await readFile(join(instructions, 'many-install.json'), 'utf8')) as { instructions: unknown[] };
      expect(plan.instructions).toHaveLength(1 + tar.directories + tar.files);

      expect(first.peakRss).toBeLessThan(PEAK_RSS_LIMIT);
      expect(first.peakRss - baseline.peakRss).toBeLessThan(GROWTH_LIMIT);

      // The redeploy reads the 200,000-line cleanup list back (from its end) before it installs again.
      const second = await deployMeasured(CLI, tar.file, host);
      expect(second.code, second.output).toBe(0);
      expect(await countFiles(dest)).toBe(tar.files);
      expect(second.peakRss).toBeLessThan(PEAK_RSS_LIMIT);
      expect(second.peakRss - baseline.peakRss).toBeLessThan(GROWTH_LIMIT);
      const mib = (n: number): string => `${(n / MiB).toFixed(0)} MiB`;
      console.log(
        `${ENTRIES} entries: peak RSS ${mib(first.peakRss)} (${(first.ms / 1000).toFixed(1)} s), redeploy ${mib(second.peakRss)} (${(second.ms / 1000).toFixed(1)} s); ${SMALL_ENTRIES} entries: ${mib(baseline.peakRss)}`,
      );
    } finally {
      // Before the shared afterEach: its fs.promises.rm holds every entry of a large tree in flight.
      await removeTree(dir);
    }
  }, 240_000);
});
