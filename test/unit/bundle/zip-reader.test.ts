/**
 * The zip reader owns the archive's fd: streams over it never close it, it is closed exactly once
 * (when yauzl lets go of the archive or the unpacker disposes of it), never under a read in flight,
 * and nothing reads it afterwards.
 */
import { randomBytes } from 'node:crypto';
import * as nodeFs from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import yauzl from 'yauzl';
import { CachedFileReader, type ReaderFs } from '../../../agent/bundle/zip-reader.js';
import { zipCli } from '../../helpers/archive-builders.js';
import { tempDir } from '../../helpers/temp.js';

const MiB = 1024 * 1024;

/** yauzl 3's reference counting and range streams, which @types/yauzl 2 leaves out or types as void. */
interface CountedReader {
  ref(): void;
  unref(): void;
  createReadStream(range: { start: number; end: number }): Readable;
}
const counted = (reader: CachedFileReader): CountedReader => reader as unknown as CountedReader;

/** The real fs, with every close (and, if asked, every read) recorded. */
function recordingFs(options: { readDelayMs?: number } = {}): { fs: ReaderFs; events: string[]; closes: number[] } {
  const events: string[] = [];
  const closes: number[] = [];
  const fs: ReaderFs = {
    open: nodeFs.open,
    fstat: nodeFs.fstat,
    read: ((
      fd: number,
      buffer: Buffer,
      offset: number,
      length: number,
      position: number,
      cb: (err: NodeJS.ErrnoException | null, n: number) => void,
    ) => {
      events.push('read');
      setTimeout(() => {
        nodeFs.read(fd, buffer, offset, length, position, (err, n) => {
          events.push('read done');
          cb(err, n);
        });
      }, options.readDelayMs ?? 0);
    }) as typeof nodeFs.read,
    close: ((fd: number, cb: (err: NodeJS.ErrnoException | null) => void) => {
      events.push('close');
      closes.push(fd);
      nodeFs.close(fd, cb);
    }) as typeof nodeFs.close,
  };
  return { fs, events, closes };
}

async function randomFile(size: number): Promise<{ path: string; data: Buffer }> {
  const path = join(await tempDir(), 'archive.bin');
  const data = randomBytes(size);
  nodeFs.writeFileSync(path, data);
  return { path, data };
}

async function drain(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe('CachedFileReader', () => {
  it('range streams over multi-MiB ranges never close the fd; the reader closes it exactly once', async () => {
    const { path, data } = await randomFile(4 * MiB + 11);
    const { fs, closes } = recordingFs();
    const opened = await CachedFileReader.open(path, { fs });
    const reader = counted(opened);
    reader.ref(); // what yauzl's ZipFile holds while the archive is open

    // Read to the end (the stream is destroyed after its end, as yauzl does), then one abandoned half way.
    expect((await drain(reader.createReadStream({ start: 7, end: 7 + 3 * MiB }))).equals(data.subarray(7, 7 + 3 * MiB))).toBe(true);
    const abandoned = reader.createReadStream({ start: MiB, end: 4 * MiB });
    for await (const chunk of abandoned) {
      expect((chunk as Buffer).length).toBeGreaterThan(0);
      break;
    }
    // A descriptor opened now would get the number the old stream closed by mistake.
    const other = nodeFs.openSync(path, 'r');
    try {
      expect((await drain(reader.createReadStream({ start: 2 * MiB, end: 4 * MiB + 11 }))).equals(data.subarray(2 * MiB))).toBe(true);
      expect(closes).toEqual([]);
      expect(nodeFs.fstatSync(other).size).toBe(data.length);
    } finally {
      nodeFs.closeSync(other);
    }

    const closeEvent = new Promise((resolve) => opened.once('close', resolve));
    reader.unref();
    await closeEvent;
    await opened.dispose();
    await new Promise<void>((resolve, reject) => opened.close((err) => (err ? reject(err) : resolve())));
    expect(closes).toHaveLength(1);
    expect(opened.closed).toBe(true);
  });

  it('a close waits for the read in flight, and a read after it fails without touching the fd', async () => {
    const { path, data } = await randomFile(2 * MiB);
    const { fs, events } = recordingFs({ readDelayMs: 50 });
    const reader = await CachedFileReader.open(path, { fs });
    const buf = Buffer.alloc(100);

    const reading = new Promise<void>((resolve, reject) => reader.read(buf, 0, 100, 1234, (err) => (err ? reject(err) : resolve())));
    const closing = reader.dispose();
    await Promise.all([reading, closing]);

    expect(buf.equals(data.subarray(1234, 1334))).toBe(true);
    expect(events).toEqual(['read', 'read done', 'close']);
    const late = await new Promise<Error | null>((resolve) => reader.read(Buffer.alloc(10), 0, 10, 2 * MiB - 10, resolve));
    expect(late?.message).toMatch(/closed/);
    expect(events).toEqual(['read', 'read done', 'close']);
  });

  it('a range past the end of the file fails its stream instead of hanging', async () => {
    const { path } = await randomFile(2 * MiB);
    const reader = await CachedFileReader.open(path);
    counted(reader).ref();
    try {
      await expect(drain(counted(reader).createReadStream({ start: MiB, end: 3 * MiB }))).rejects.toThrow(/end of file|not enough bytes/);
    } finally {
      await reader.dispose();
    }
  });

  it('yauzl closes the archive through the reader once, after the last entry, not after each one', async () => {
    const root = await tempDir();
    nodeFs.mkdirSync(join(root, 'src'));
    const files = ['a.bin', 'b.bin', 'c.bin'].map((name) => ({ name, data: randomBytes(2 * MiB + 5) }));
    for (const { name, data } of files) nodeFs.writeFileSync(join(root, 'src', name), data);
    const zip = zipCli(join(root, 'big.zip'), join(root, 'src'), { store: true });
    const { fs, closes } = recordingFs();
    const reader = await CachedFileReader.open(zip, { fs });

    const zipfile = await new Promise<yauzl.ZipFile>((resolve, reject) => {
      yauzl.fromRandomAccessReader(reader, reader.size, { lazyEntries: true, autoClose: true }, (err, z) =>
        err ? reject(err) : resolve(z),
      );
    });
    const closed = new Promise((resolve) => zipfile.once('close', resolve));
    const seen: string[] = [];
    await new Promise<void>((resolve, reject) => {
      zipfile.on('error', reject);
      zipfile.on('end', () => resolve());
      zipfile.on('entry', (entry: yauzl.Entry) => {
        zipfile.openReadStream(entry, (err, stream) => {
          if (err) return reject(err);
          drain(stream).then((got) => {
            expect(got.equals(files.find((f) => f.name === entry.fileName)?.data ?? Buffer.alloc(0))).toBe(true);
            expect(closes).toEqual([]);
            seen.push(entry.fileName);
            zipfile.readEntry();
          }, reject);
        });
      });
      zipfile.readEntry();
    });
    await closed;

    expect(seen.sort()).toEqual(['a.bin', 'b.bin', 'c.bin']);
    expect(closes).toHaveLength(1);
  });
});
