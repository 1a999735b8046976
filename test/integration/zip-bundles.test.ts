/**
 * zip bundles of production shapes end to end: a 100,000-entry zip64 archive, and deployments and
 * redeployments through codedeploy-local of a bundle with multi-MiB incompressible entries, in one
 * process, the way the daemon redeploys (issue 9, item 1: the second unpack of such a bundle used to
 * kill the process with an uncaught EBADF, or close an unrelated descriptor).
 */
import { randomBytes } from 'node:crypto';
import { closeSync, cpSync, fstatSync, mkdirSync, openSync, readdirSync, readlinkSync, readSync, writeFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { unpackArchive } from '../../agent/bundle/unpack.js';
import {
  checkZipWithZipfile,
  fileDigests,
  hasZip64EndRecords,
  manyEntryContent,
  writeManyEntryZip,
  zipCli,
} from '../helpers/archive-builders.js';
import { FIXTURES, localHost } from '../helpers/local-deploy.js';
import { silentLogger, tempDir } from '../helpers/temp.js';
import { failOnProcessErrors } from '../helpers/no-process-errors.js';

const MiB = 1024 * 1024;
const GROUP = 'zip-bundles';

failOnProcessErrors();

function fdsOpenOn(path: string): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) === path) n++;
    } catch {
      // closed between readdir and readlink
    }
  }
  return n;
}

describe('zip bundles end to end', () => {
  it('a 100,000-entry zip (zip64 end records) unpacks every entry with bounded memory', async () => {
    const root = await tempDir();
    const zip = writeManyEntryZip(join(root, 'many.zip'), 100_000);
    expect(await hasZip64EndRecords(zip)).toBe(true);
    expect(checkZipWithZipfile(zip)).toEqual({ entries: 100_000, firstBad: '' });
    const dest = join(root, 'out');

    global.gc?.();
    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 10);
    let entries: number;
    try {
      entries = (await unpackArchive({ archivePath: zip, type: 'zip', destDir: dest, logger: silentLogger() })).entries;
    } finally {
      clearInterval(sampler);
    }

    expect(entries).toBe(100_000);
    expect(fdsOpenOn(zip)).toBe(0);
    // yauzl's entries are dropped as they are extracted: memory does not follow the entry count.
    expect(peak - baseline).toBeLessThan(150 * MiB);
    const digests = await fileDigests(dest);
    expect(Object.keys(digests)).toHaveLength(100_000);
    for (let i = 0; i < 100_000; i++) {
      const { name, data } = manyEntryContent(i);
      expect(digests[name]?.size).toBe(data.length);
    }
    for (const i of [0, 65_535, 65_536, 99_999]) {
      const { name, data } = manyEntryContent(i);
      expect(await readFile(join(dest, name), 'utf8')).toBe(data);
    }
  }, 240_000); // ~15 s on an idle 2-core machine; the file system work is what a loaded one slows down

  it('codedeploy-local deploys and redeploys a bundle of multi-MiB random entries (stored, then deflated) in one process', async () => {
    const host = await localHost();
    const src = join(host.root, 'bundle-src');
    cpSync(join(FIXTURES, 'sample-app'), src, { recursive: true });
    mkdirSync(join(src, 'lib'));
    for (const [name, size] of [
      ['app.jar', 6 * MiB + 3],
      ['vendor.jar', 2 * MiB + 1],
      ['assets.bin', MiB + 77],
    ] as const) {
      writeFileSync(join(src, 'lib', name), randomBytes(size));
    }
    writeFileSync(join(src, 'lib', 'data.hex'), randomBytes(2 * MiB).toString('hex')); // deflates to ~2 MiB
    const libDest = join(host.root, 'installed-lib');
    const appspec = await readFile(join(src, 'appspec.yml'), 'utf8');
    writeFileSync(join(src, 'appspec.yml'), appspec.replace('files:\n', `files:\n  - source: lib\n    destination: ${libDest}\n`));
    const libDigests = await fileDigests(join(src, 'lib'));
    const bundleDigests = await fileDigests(src);
    const stored = zipCli(join(host.root, 'stored.zip'), src, { store: true });
    const deflated = zipCli(join(host.root, 'deflated.zip'), src);

    const sentinelPath = join(host.root, 'sentinel.txt');
    writeFileSync(sentinelPath, 'opened before the first deployment\n');
    const sentinel = openSync(sentinelPath, 'r');
    const sentinelIno = fstatSync(sentinel).ino;
    const between: number[] = [];
    try {
      for (const bundle of [stored, stored, deflated]) {
        const result = await host.run(['-l', bundle, '-t', 'zip', '-g', GROUP]);
        expect(result.code, result.stdout + result.stderr).toBe(0);
        expect(result.stdout).toContain('Local deployment successful');
        expect(fdsOpenOn(bundle)).toBe(0);
        expect(await fileDigests(libDest)).toEqual(libDigests);
        between.push(openSync(sentinelPath, 'r')); // takes the lowest free number: the bundle's old fd
        await delay(20);
      }
      await delay(100);

      const deployments = await readdir(join(host.rootDir, GROUP));
      expect(deployments).toHaveLength(3);
      for (const id of deployments) {
        expect(await fileDigests(join(host.rootDir, GROUP, id, 'deployment-archive'))).toEqual(bundleDigests);
      }
      expect((await host.proof()).filter((event) => event === 'ValidateService')).toHaveLength(3);
      for (const fd of [sentinel, ...between]) {
        expect(fstatSync(fd).ino).toBe(sentinelIno);
        const buf = Buffer.alloc(64);
        expect(buf.subarray(0, readSync(fd, buf, 0, 64, 0)).toString('utf8')).toBe('opened before the first deployment\n');
      }
    } finally {
      for (const fd of [sentinel, ...between]) closeSync(fd);
    }
  });
});
