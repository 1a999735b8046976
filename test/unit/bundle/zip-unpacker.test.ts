/**
 * zip bundles of production shapes: multi-MiB incompressible entries (stored and deflated), zip64
 * archives, thousands of entries, truncated and damaged archives, and the same archive unpacked again
 * in one process (a redeploy) while other descriptors are open.
 *
 * Regression (issue 9, item 1): any entry over ~1 MiB compressed made the unpack close the archive's
 * fd mid-way; a later stale close() hit an unrelated fd or crashed the process with EBADF.
 */
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  existsSync,
  fstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readlinkSync,
  readSync,
  writeFileSync,
} from 'node:fs';
import { open, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import yauzl from 'yauzl';
import { unpackArchive } from '../../../agent/bundle/unpack.js';
import { AgentError, ErrorCodes } from '../../../agent/errors.js';
import {
  fileDigests,
  hasZip64EndRecords,
  makeManyEntryZip,
  manyEntryContent,
  zipCli,
  zipTree,
  type FileDigest,
} from '../../helpers/archive-builders.js';
import { silentLogger, suiteTempDir, tempDir } from '../../helpers/temp.js';
import { failOnProcessErrors } from '../../helpers/no-process-errors.js';

const MiB = 1024 * 1024;

let src: string;
let zips: string;
let sourceDigests: Record<string, FileDigest>;

failOnProcessErrors();

/** Random (incompressible) bytes written 1 MiB at a time. */
function writeRandom(path: string, size: number): void {
  const fd = openSync(path, 'w');
  try {
    for (let left = size; left > 0; left -= MiB) writeFileSync(fd, randomBytes(Math.min(MiB, left)));
  } finally {
    closeSync(fd);
  }
}

beforeAll(async () => {
  const root = await suiteTempDir('cda-zip-');
  src = join(root, 'src');
  zips = join(root, 'zips');
  mkdirSync(join(src, 'lib/jars'), { recursive: true });
  mkdirSync(join(src, 'scripts'), { recursive: true });
  mkdirSync(zips);
  // Odd sizes, so that no read or chunk boundary lines up with the end of an entry.
  writeRandom(join(src, 'lib/jars/app.jar'), 5 * MiB + 1);
  writeRandom(join(src, 'lib/jars/vendor.jar'), 3 * MiB + 17);
  writeRandom(join(src, 'lib/just-over.bin'), MiB + 4096 + 3);
  writeRandom(join(src, 'lib/medium.bin'), 300 * 1024 + 5);
  // Hex text deflates to about half: a deflated entry with several MiB of compressed data.
  writeFileSync(join(src, 'lib/data.hex'), randomBytes(3 * MiB).toString('hex'));
  writeFileSync(join(src, 'scripts/start.sh'), '#!/bin/sh\necho started\n');
  chmodSync(join(src, 'scripts/start.sh'), 0o755);
  writeFileSync(join(src, 'appspec.yml'), 'version: 0.0\nos: linux\n');
  writeFileSync(join(src, 'empty.txt'), '');
  sourceDigests = await fileDigests(src);
});

function archive(name: string, build: (out: string) => string): string {
  const out = join(zips, name);
  return existsSync(out) ? out : build(out);
}

const stored = (): string => archive('stored.zip', (out) => zipCli(out, src, { store: true }));
const deflatedCli = (): string => archive('deflated-cli.zip', (out) => zipCli(out, src));
const deflatedAll = (): string => archive('deflated-all.zip', (out) => zipTree(out, src));

interface ListedEntry {
  name: string;
  method: number;
  compressedSize: number;
  uncompressedSize: number;
}

/** The central directory as yauzl sees it: proves the archive has the shape the test claims. */
async function listZip(path: string): Promise<Map<string, ListedEntry>> {
  const zip = await new Promise<yauzl.ZipFile>((resolve, reject) => {
    yauzl.open(path, { lazyEntries: true, autoClose: true }, (err, z) => (err ? reject(err) : resolve(z)));
  });
  const entries = new Map<string, ListedEntry>();
  await new Promise<void>((resolve, reject) => {
    zip.on('entry', (e: yauzl.Entry) => {
      entries.set(e.fileName, {
        name: e.fileName,
        method: e.compressionMethod,
        compressedSize: e.compressedSize,
        uncompressedSize: e.uncompressedSize,
      });
      zip.readEntry();
    });
    zip.on('end', () => resolve());
    zip.on('error', reject);
    zip.readEntry();
  });
  return entries;
}

/** Descriptors of this process open on `path` (Linux /proc). */
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

async function unpack(archivePath: string, destDir: string): Promise<number> {
  const result = await unpackArchive({ archivePath, type: 'zip', destDir, logger: silentLogger() });
  return result.entries;
}

async function unpackFailure(archivePath: string, destDir: string): Promise<AgentError> {
  const err = await unpackArchive({ archivePath, type: 'zip', destDir, logger: silentLogger() }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AgentError);
  return err as AgentError;
}

describe('zip bundles with large entries', () => {
  it('large stored entries (zip -0, several MiB of random data) unpack byte for byte', async () => {
    const zip = stored();
    const listing = await listZip(zip);
    for (const name of ['lib/jars/app.jar', 'lib/jars/vendor.jar', 'lib/just-over.bin', 'lib/data.hex']) {
      expect(listing.get(name)).toMatchObject({ method: 0 });
      expect(listing.get(name)?.compressedSize).toBeGreaterThan(MiB);
    }
    const dest = join(await tempDir(), 'out');

    await unpack(zip, dest);

    expect(await fileDigests(dest)).toEqual(sourceDigests);
    expect((await stat(join(dest, 'scripts/start.sh'))).mode & 0o777).toBe(0o755);
    expect(fdsOpenOn(zip)).toBe(0);
  });

  it('large deflated entries (zip CLI) unpack byte for byte', async () => {
    const zip = deflatedCli();
    const hex = (await listZip(zip)).get('lib/data.hex');
    expect(hex?.method).toBe(8);
    expect(hex?.compressedSize).toBeGreaterThan(2 * MiB);
    const dest = join(await tempDir(), 'out');

    await unpack(zip, dest);

    expect(await fileDigests(dest)).toEqual(sourceDigests);
    expect(fdsOpenOn(zip)).toBe(0);
  });

  it('large deflated entries of random data (deflate that grows the data, as jar tools write) unpack byte for byte', async () => {
    const zip = deflatedAll();
    const listing = await listZip(zip);
    for (const name of ['lib/jars/app.jar', 'lib/jars/vendor.jar', 'lib/just-over.bin']) {
      expect(listing.get(name)?.method).toBe(8);
      expect(listing.get(name)?.compressedSize).toBeGreaterThan(listing.get(name)?.uncompressedSize ?? Infinity);
    }
    const dest = join(await tempDir(), 'out');

    await unpack(zip, dest);

    expect(await fileDigests(dest)).toEqual(sourceDigests);
  });

  it.each([
    ['zip -fz', { zip64: true }],
    ['zip -fz -0', { zip64: true, store: true }],
  ] as const)('zip64 archive (%s) unpacks byte for byte', async (label, options) => {
    const zip = archive(`zip64-${label.replace(/\W+/g, '-')}.zip`, (out) => zipCli(out, src, options));
    expect(await hasZip64EndRecords(zip)).toBe(true);
    const dest = join(await tempDir(), 'out');

    await unpack(zip, dest);

    expect(await fileDigests(dest)).toEqual(sourceDigests);
    expect(fdsOpenOn(zip)).toBe(0);
  });

  it('a zip written to a pipe (sizes in data descriptors after each entry) unpacks byte for byte', async () => {
    const zip = archive('piped.zip', (out) => zipCli(out, src, { stream: true }));
    const bytes = await readFile(zip);
    // General purpose flag bit 3 in the first local header: sizes follow the data.
    expect(bytes.readUInt16LE(6) & 0x08).toBe(0x08);
    const dest = join(await tempDir(), 'out');

    await unpack(zip, dest);

    expect(await fileDigests(dest)).toEqual(sourceDigests);
  });
});

describe('zip bundles with many entries', () => {
  it('10,000 entries unpack with the right contents', async () => {
    const root = await tempDir();
    const zip = makeManyEntryZip(join(root, 'many.zip'), 10_000);
    const dest = join(root, 'out');

    expect(await unpack(zip, dest)).toBe(10_000);

    const digests = await fileDigests(dest);
    expect(Object.keys(digests)).toHaveLength(10_000);
    for (let i = 0; i < 10_000; i += 1) {
      const { name, data } = manyEntryContent(i);
      expect(digests[name]?.size, name).toBe(data.length);
    }
    expect(await readFile(join(dest, manyEntryContent(9_999).name), 'utf8')).toBe(manyEntryContent(9_999).data);
  });
});

describe('damaged zip bundles fail cleanly', () => {
  it.each([
    ['in the middle of a large entry', (size: number) => Math.floor(size / 2)],
    ['inside the central directory', (size: number) => size - 200],
    ['inside the end record', (size: number) => size - 10],
  ])('a large zip truncated %s fails with BUNDLE_UNPACK, removes the partial directory and closes the archive', async (_label, cut) => {
    const root = await tempDir();
    const whole = await readFile(stored());
    const zip = join(root, 'truncated.zip');
    await writeFile(zip, whole.subarray(0, cut(whole.length)));
    const dest = join(root, 'out');

    const err = await unpackFailure(zip, dest);

    expect(err.code).toBe(ErrorCodes.BUNDLE_UNPACK);
    expect(err.message).toMatch(new RegExp(`^Error extracting zip archive ${zip}: .*truncated`));
    expect(existsSync(dest)).toBe(false);
    expect(fdsOpenOn(zip)).toBe(0);
  });

  it('a large zip with a piece cut out of its middle (end records intact) fails with BUNDLE_UNPACK', async () => {
    const root = await tempDir();
    const whole = await readFile(stored());
    const zip = join(root, 'holed.zip');
    await writeFile(zip, Buffer.concat([whole.subarray(0, 2 * MiB), whole.subarray(3 * MiB)]));
    const dest = join(root, 'out');

    const err = await unpackFailure(zip, dest);

    expect(err.code).toBe(ErrorCodes.BUNDLE_UNPACK);
    expect(err.message).toContain(zip);
    expect(existsSync(dest)).toBe(false);
    expect(fdsOpenOn(zip)).toBe(0);
  });

  it('random truncations and corrupted bytes never escape as uncaught errors and never leak the fd', async () => {
    const root = await tempDir();
    const base = await readFile(deflatedCli());
    // A fixed-seed generator: a failure names a variant that can be reproduced.
    let seed = 0x9e3779b9;
    const rand = (n: number): number => {
      seed = (Math.imul(seed ^ (seed >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
      return seed % n;
    };
    const outcomes = { ok: 0, failed: 0 };
    for (let v = 0; v < 40; v++) {
      const bytes = Buffer.from(base);
      let variant: Buffer;
      if (v % 4 === 0) {
        variant = bytes.subarray(0, rand(bytes.length));
      } else {
        // Mostly the central directory and end records (the last few KiB), sometimes anywhere.
        const region = v % 4 === 3 ? bytes.length : 4096;
        for (let k = 0; k < 1 + rand(6); k++) {
          const at = bytes.length - 1 - rand(region);
          bytes[at] = (bytes[at] as number) ^ (1 + rand(255));
        }
        variant = bytes;
      }
      const zip = join(root, `variant-${v}.zip`);
      await writeFile(zip, variant);
      const dest = join(root, `out-${v}`);
      try {
        await unpack(zip, dest);
        outcomes.ok++;
      } catch (err) {
        expect(err, `variant ${v}`).toBeInstanceOf(AgentError);
        expect(existsSync(dest), `variant ${v}`).toBe(false);
        outcomes.failed++;
      }
      expect(fdsOpenOn(zip), `variant ${v}`).toBe(0);
    }
    expect(outcomes.failed).toBeGreaterThan(20);
  });
});

describe('the same zip unpacked again in one process (redeploy)', () => {
  it('leaves descriptors opened before, between and after the unpacks working', async () => {
    const root = await tempDir();
    const sentinel = (name: string): { path: string; data: string } => {
      const path = join(root, name);
      const data = `sentinel ${name} ${randomBytes(8).toString('hex')}\n`;
      writeFileSync(path, data);
      return { path, data };
    };
    const before = sentinel('before');
    const handle = await open(before.path, 'r');
    const rawFd = openSync(before.path, 'r');
    const rawIno = fstatSync(rawFd).ino;
    const opened: Array<{ fd: number; path: string; data: string }> = [];

    try {
      for (const [n, zip] of [stored(), stored(), deflatedAll(), deflatedAll()].entries()) {
        const dest = join(root, `out-${n}`);
        await unpack(zip, dest);
        expect(await fileDigests(dest)).toEqual(sourceDigests);
        expect(fdsOpenOn(zip)).toBe(0);
        // A descriptor opened now gets the lowest free number, the archive's old one: a stale close()
        // from the unpack just finished would close it.
        const between = sentinel(`between-${n}`);
        opened.push({ fd: openSync(between.path, 'r'), ...between });
        await delay(20);
      }
      await delay(100);

      expect(await handle.readFile('utf8')).toBe(before.data);
      expect(fstatSync(rawFd).ino).toBe(rawIno);
      for (const { fd, data } of opened) {
        const buf = Buffer.alloc(data.length);
        expect(readSync(fd, buf, 0, buf.length, 0)).toBe(data.length);
        expect(buf.toString('utf8')).toBe(data);
      }
    } finally {
      await handle.close();
      closeSync(rawFd);
      for (const { fd } of opened) closeSync(fd);
    }
  });

  it('two unpacks of the same archive at once (two deployment groups) both succeed', async () => {
    const root = await tempDir();
    const zip = stored();

    await Promise.all([unpack(zip, join(root, 'a')), unpack(zip, join(root, 'b')), unpack(deflatedAll(), join(root, 'c'))]);

    for (const dir of ['a', 'b', 'c']) expect(await fileDigests(join(root, dir))).toEqual(sourceDigests);
    expect(fdsOpenOn(zip)).toBe(0);
  });
});
