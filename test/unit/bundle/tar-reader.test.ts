/**
 * TarReader on its own: the same entries and data whatever the chunking of the input (headers and
 * data split anywhere), pax and GNU long names, global pax headers, and precise errors for corrupt,
 * truncated and empty input.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Header } from 'tar/header';
import {
  decodeAsciiHeader,
  MAX_META_SIZE,
  TarFormatError,
  TarReader,
  type DecodedHeader,
  type TarEntry,
} from '../../../agent/bundle/tar-reader.js';
import { tempDir } from '../../helpers/temp.js';
import { seededRandom as prng } from '../../helpers/seeded-random.js';

const LONG_DIR = 'd'.repeat(120);
const LONG_NAME = `${LONG_DIR}/${'f'.repeat(150)}.txt`;
const LONG_TARGET = `${'t'.repeat(200)}/target`;

const SCRIPT = `
import io, sys, tarfile
out, fmt = sys.argv[1], sys.argv[2]
formats = {'pax': tarfile.PAX_FORMAT, 'gnu': tarfile.GNU_FORMAT}
headers = {'comment': 'global'} if fmt == 'pax' else {}
with tarfile.open(out, 'w', format=formats[fmt], pax_headers=headers) as tar:
    def add(name, kind, data=b'', mode=0o644, link='', mtime=1700000000):
        info = tarfile.TarInfo(name)
        info.type, info.mode, info.mtime, info.linkname = kind, mode, mtime, link
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data) if data else None)
    add('top/', tarfile.DIRTYPE, mode=0o755)
    add('top/a.txt', tarfile.REGTYPE, b'alpha\\n' * 300, mode=0o640, mtime=1600000000)
    add('top/empty', tarfile.REGTYPE)
    add(sys.argv[3], tarfile.REGTYPE, b'long name data')
    add('top/link', tarfile.SYMTYPE, link=sys.argv[4])
    add('top/hard', tarfile.LNKTYPE, link='top/a.txt')
    add('top/b.bin', tarfile.REGTYPE, bytes(range(256)) * 9, mode=0o755)
`;

interface Seen {
  entry: TarEntry;
  data: string;
}

async function read(chunks: Buffer[], onBody?: (entry: TarEntry) => Promise<void>): Promise<Seen[]> {
  const seen: Seen[] = [];
  const reader = new TarReader((entry) => {
    const parts: Buffer[] = [];
    const item: Seen = { entry, data: '' };
    seen.push(item);
    return {
      write: (chunk) => {
        parts.push(Buffer.from(chunk));
        return onBody?.(entry);
      },
      end: () => {
        item.data = Buffer.concat(parts).toString('latin1');
      },
    };
  });
  for (const chunk of chunks) await reader.write(chunk);
  reader.end();
  return seen;
}

function split(buf: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < buf.length; at += size) out.push(buf.subarray(at, at + size));
  return out;
}

async function makeArchive(format: 'pax' | 'gnu'): Promise<Buffer> {
  const dir = await tempDir();
  const out = join(dir, `${format}.tar`);
  execFileSync('python3', ['-c', SCRIPT, out, format, LONG_NAME, LONG_TARGET]);
  return readFileSync(out);
}

function describeEntries(seen: Seen[]): Array<Record<string, unknown>> {
  return seen.map(({ entry, data }) => ({
    type: entry.type,
    path: entry.path,
    linkpath: entry.linkpath,
    mode: entry.mode,
    mtime: entry.mtime?.getTime(),
    size: entry.size,
    data: data.length,
  }));
}

describe('TarReader', () => {
  it.each(['pax', 'gnu'] as const)('%s format: the same entries and data whatever the chunk sizes', async (format) => {
    const archive = await makeArchive(format);
    const whole = await read([archive]);
    expect(describeEntries(whole)).toEqual([
      { type: 'Directory', path: 'top/', linkpath: undefined, mode: 0o755, mtime: 1700000000000, size: 0, data: 0 },
      { type: 'File', path: 'top/a.txt', linkpath: undefined, mode: 0o640, mtime: 1600000000000, size: 1800, data: 1800 },
      { type: 'File', path: 'top/empty', linkpath: undefined, mode: 0o644, mtime: 1700000000000, size: 0, data: 0 },
      { type: 'File', path: LONG_NAME, linkpath: undefined, mode: 0o644, mtime: 1700000000000, size: 14, data: 14 },
      { type: 'SymbolicLink', path: 'top/link', linkpath: LONG_TARGET, mode: 0o644, mtime: 1700000000000, size: 0, data: 0 },
      { type: 'Link', path: 'top/hard', linkpath: 'top/a.txt', mode: 0o644, mtime: 1700000000000, size: 0, data: 0 },
      { type: 'File', path: 'top/b.bin', linkpath: undefined, mode: 0o755, mtime: 1700000000000, size: 2304, data: 2304 },
    ]);
    expect(whole[1]?.data).toBe('alpha\n'.repeat(300));
    expect(whole[3]?.data).toBe('long name data');
    expect(Buffer.from(whole[6]?.data ?? '', 'latin1')).toEqual(
      Buffer.from(Array.from({ length: 9 }, () => [...Array(256).keys()]).flat()),
    );
    for (const size of [1, 7, 100, 511, 512, 513, 1000, 4096]) {
      const seen = await read(split(archive, size));
      expect(describeEntries(seen)).toEqual(describeEntries(whole));
      expect(seen.map((s) => s.data)).toEqual(whole.map((s) => s.data));
    }
  });

  it('waits for a body write that returns a promise before reading on, in order', async () => {
    const archive = await makeArchive('pax');
    const order: string[] = [];
    await read(split(archive, 700), async (entry) => {
      order.push(`start ${entry.path}`);
      await new Promise((resolve) => setTimeout(resolve, 2));
      order.push(`end ${entry.path}`);
    });
    for (let i = 0; i < order.length; i += 2) {
      expect(order[i]?.replace('start', 'end')).toBe(order[i + 1]);
    }
  });

  it('ignores what follows the two zero blocks that end the archive', async () => {
    const archive = await makeArchive('pax');
    const seen = await read([archive, Buffer.from('trailing garbage that is not a header'.repeat(40))]);
    expect(seen).toHaveLength(7);
  });

  it('fails on a header with a bad checksum, naming its offset', async () => {
    const archive = Buffer.from(await makeArchive('gnu'));
    archive[512 + 10] ^= 0x20; // in the name of the second header (the first, a directory, has no data)
    const err = await read([archive]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TarFormatError);
    expect((err as Error).message).toBe('invalid tar header at byte 512: checksum mismatch; the archive is corrupt or not a tar archive');
  });

  it('fails on input that ends inside an entry or a header, and on input with no entry', async () => {
    const archive = await makeArchive('gnu');
    await expect(read([archive.subarray(0, 512 + 512 + 100)])).rejects.toThrow(/^the archive is truncated: it ends inside an entry's data/);
    await expect(read([archive.subarray(0, 512 + 300)])).rejects.toThrow(/^the archive is truncated: it ends inside an entry header/);
    await expect(read([])).rejects.toThrow('no tar entries found: the file is empty or not a tar archive');
    await expect(read([Buffer.alloc(10240)])).rejects.toThrow('no tar entries found');
    await expect(read([Buffer.from('this is not a tar archive at all'.repeat(20))])).rejects.toThrow(/checksum mismatch/);
  });

  it('refuses a pax record larger than MAX_META_SIZE', async () => {
    const dir = await tempDir();
    const out = join(dir, 'big-pax.tar');
    const script = `
import io, sys, tarfile
with tarfile.open(sys.argv[1], 'w', format=tarfile.PAX_FORMAT) as tar:
    info = tarfile.TarInfo('x.txt')
    info.pax_headers = {'comment': 'c' * int(sys.argv[2])}
    info.size = 1
    tar.addfile(info, io.BytesIO(b'x'))
`;
    execFileSync('python3', ['-c', script, out, String(MAX_META_SIZE + 10)]);
    await expect(read([readFileSync(out)])).rejects.toThrow(/ExtendedHeader record of \d+ bytes is larger than the 1048576 bytes accepted/);
  });
});

/** The fields TarReader reads, as node-tar's Header decodes them. */
function fields(h: DecodedHeader): Record<string, unknown> {
  if (h.nullBlock) return { nullBlock: true };
  return {
    cksumValid: h.cksumValid,
    type: h.type,
    path: h.path,
    linkpath: h.linkpath,
    mode: h.mode,
    uid: h.uid,
    gid: h.gid,
    size: h.size,
    mtime: h.mtime?.getTime(),
    atime: h.atime?.getTime(),
  };
}

describe('decodeAsciiHeader', () => {
  it('decodes every block of real archives as node-tar does, or declines', async () => {
    const dir = await tempDir();
    mkdirSync(join(dir, 'src/sub'), { recursive: true });
    writeFileSync(join(dir, 'src/sub/file.txt'), 'data');
    writeFileSync(join(dir, `src/sub/${'x'.repeat(90)}`), 'long');
    const archives = [await makeArchive('pax'), await makeArchive('gnu')];
    for (const format of ['gnu', 'ustar', 'posix', 'v7', 'oldgnu']) {
      const out = join(dir, `${format}.tar`);
      execFileSync('tar', ['-cf', out, `--format=${format}`, '-C', join(dir, 'src'), '.']);
      archives.push(readFileSync(out));
    }
    let decoded = 0;
    for (const archive of archives) {
      for (let off = 0; off + 512 <= archive.length; off += 512) {
        const fast = decodeAsciiHeader(archive, off);
        if (!fast) continue;
        decoded++;
        expect(fields(fast)).toEqual(fields(new Header(archive, off)));
      }
    }
    expect(decoded).toBeGreaterThan(50);
  });

  it('agrees with node-tar on 30,000 mutated headers', async () => {
    const archive = await makeArchive('pax');
    const gnu = await makeArchive('gnu');
    const headers = [archive.subarray(1024, 1536), archive.subarray(1536, 2048), gnu.subarray(0, 512), gnu.subarray(512, 1024)];
    const alphabet = [0x30, 0x31, 0x37, 0x38, 0x20, 0x00, 0x0a, 0x0d, 0x09, 0x2b, 0x2d, 0x61, 0x2f, 0x35, 0x32, 0x80, 0xff, 0x7f];
    const random = prng(13);
    let decoded = 0;
    for (let n = 0; n < 30000; n++) {
      const block = Buffer.from(headers[n % headers.length] as Buffer);
      const changes = 1 + Math.floor(random() * 4);
      for (let c = 0; c < changes; c++) {
        // Mostly in the number fields, the type, the magic and the prefix.
        const at = random() < 0.7 ? 100 + Math.floor(random() * 60) : Math.floor(random() * 512);
        block[at] = random() < 0.8 ? (alphabet[Math.floor(random() * alphabet.length)] as number) : Math.floor(random() * 128);
      }
      const fast = decodeAsciiHeader(block, 0);
      if (!fast) continue;
      decoded++;
      expect(fields(fast)).toEqual(fields(new Header(block, 0)));
    }
    expect(decoded).toBeGreaterThan(15000);
  });
});
