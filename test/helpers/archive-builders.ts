/**
 * Test archives made on the fly. python3's tarfile and zipfile modules write any entry we ask for,
 * including hostile ones (`../x`, absolute names, links out of the tree, devices), which node-tar and
 * the tar CLI refuse or rewrite.
 */
import { execFileSync } from 'node:child_process';

export type SpecEntry =
  | { name: string; type: 'file'; data?: string; mode?: number; mtime?: number; uid?: number; gid?: number }
  | { name: string; type: 'dir'; mode?: number; mtime?: number }
  | { name: string; type: 'symlink'; target: string }
  | { name: string; type: 'hardlink'; target: string }
  | { name: string; type: 'chardev' | 'fifo' };

const TAR_SCRIPT = `
import io, json, sys, tarfile
out, mode, entries = sys.argv[1], sys.argv[2], json.load(sys.stdin)
kinds = {'file': tarfile.REGTYPE, 'dir': tarfile.DIRTYPE, 'symlink': tarfile.SYMTYPE,
         'hardlink': tarfile.LNKTYPE, 'chardev': tarfile.CHRTYPE, 'fifo': tarfile.FIFOTYPE}
with tarfile.open(out, mode, format=tarfile.PAX_FORMAT) as tar:
    for e in entries:
        info = tarfile.TarInfo(e['name'])
        info.type = kinds[e['type']]
        info.mode = e.get('mode', 0o755 if e['type'] == 'dir' else 0o644)
        info.mtime = e.get('mtime', 1700000000)
        info.uid, info.gid = e.get('uid', 0), e.get('gid', 0)
        if 'target' in e:
            info.linkname = e['target']
        data = e.get('data', '').encode()
        info.size = len(data) if e['type'] == 'file' else 0
        tar.addfile(info, io.BytesIO(data) if info.size else None)
`;

const ZIP_SCRIPT = `
import json, sys, zipfile
out, entries = sys.argv[1], json.load(sys.stdin)
with zipfile.ZipFile(out, 'w', zipfile.ZIP_DEFLATED) as z:
    for e in entries:
        info = zipfile.ZipInfo(e['name'], date_time=(2023, 11, 14, 22, 13, 20))
        info.create_system = 3
        t = e['type']
        if t == 'file':
            info.external_attr = (0o100000 | e.get('mode', 0o644)) << 16
            z.writestr(info, e.get('data', ''))
        elif t == 'dir':
            if not info.filename.endswith('/'):
                info.filename += '/'
            info.external_attr = ((0o040000 | e.get('mode', 0o755)) << 16) | 0x10
            z.writestr(info, '')
        elif t == 'symlink':
            info.external_attr = (0o120777 << 16)
            z.writestr(info, e['target'])
        elif t == 'fifo':
            info.external_attr = (0o010644 << 16)
            z.writestr(info, '')
        elif t == 'chardev':
            info.external_attr = (0o020644 << 16)
            z.writestr(info, '')
        else:
            raise SystemExit('zip has no ' + t)
`;

/** Zip a real directory tree, keeping modes and storing symlinks as S_IFLNK entries. */
const ZIP_TREE_SCRIPT = `
import os, stat, sys, zipfile
out, root = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(out, 'w', zipfile.ZIP_DEFLATED) as z:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        rel_dir = os.path.relpath(dirpath, root)
        if rel_dir != '.':
            z.write(dirpath, rel_dir + '/')
        for name in sorted(filenames) + sorted(d for d in dirnames if os.path.islink(os.path.join(dirpath, d))):
            path = os.path.join(dirpath, name)
            rel = os.path.normpath(os.path.join(rel_dir, name))
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                info = zipfile.ZipInfo(rel, date_time=(2023, 11, 14, 22, 13, 20))
                info.create_system = 3
                info.external_attr = st.st_mode << 16
                z.writestr(info, os.readlink(path))
            else:
                z.write(path, rel)
`;

export function makeTar(out: string, entries: SpecEntry[], options: { gzip?: boolean } = {}): string {
  execFileSync('python3', ['-c', TAR_SCRIPT, out, options.gzip ? 'w:gz' : 'w'], { input: JSON.stringify(entries) });
  return out;
}

export function makeZip(out: string, entries: SpecEntry[]): string {
  execFileSync('python3', ['-c', ZIP_SCRIPT, out], { input: JSON.stringify(entries) });
  return out;
}

export function zipTree(out: string, root: string): string {
  execFileSync('python3', ['-c', ZIP_TREE_SCRIPT, out, root]);
  return out;
}

/** tar (or tar.gz) of a real directory tree with the system tar. */
export function tarTree(out: string, root: string, options: { gzip?: boolean } = {}): string {
  execFileSync('tar', [options.gzip ? '-czf' : '-cf', out, '-C', root, '.']);
  return out;
}

/**
 * zip of a directory's contents with the Info-ZIP CLI, the way most bundles are made: `store` is
 * `zip -0`, `zip64` is `zip -fz` (zip64 records even for small archives), `stream` writes to a pipe
 * (sizes in data descriptors after each entry, as `zip -r - . | upload` produces). Do not combine
 * zip64 with stream: Info-ZIP 3.0 then writes an end record that points at a zip64 record it omits.
 */
export function zipCli(out: string, root: string, options: { store?: boolean; zip64?: boolean; stream?: boolean } = {}): string {
  const flags = ['-q', '-r', '-X', ...(options.store ? ['-0'] : []), ...(options.zip64 ? ['-fz'] : [])];
  if (options.stream) {
    execFileSync('bash', ['-o', 'pipefail', '-c', 'zip "$@" - . | cat > "$0"', out, ...flags], { cwd: root });
  } else {
    execFileSync('zip', [...flags, out, '.'], { cwd: root });
  }
  return out;
}

const MANY_ZIP_SCRIPT = `
import sys, zipfile
out, count, method = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with zipfile.ZipFile(out, 'w', zipfile.ZIP_STORED if method == 'stored' else zipfile.ZIP_DEFLATED) as z:
    for i in range(count):
        info = zipfile.ZipInfo('d%d/f%d.txt' % (i % 100, i), date_time=(2023, 11, 14, 22, 13, 20))
        info.create_system = 3
        info.external_attr = 0o100644 << 16
        info.compress_type = z.compression
        z.writestr(info, 'entry %d\\n' % i)
`;

/**
 * A zip of `count` small files "d<i % 100>/f<i>.txt", each holding manyEntryContent(i); more than
 * 65,535 entries make it a zip64 archive (zipfile writes the zip64 end records).
 */
export function makeManyEntryZip(out: string, count: number, options: { store?: boolean } = {}): string {
  execFileSync('python3', ['-c', MANY_ZIP_SCRIPT, out, String(count), options.store ? 'stored' : 'deflated']);
  return out;
}

/** The name and content of entry `i` of makeManyEntryZip. */
export function manyEntryContent(i: number): { name: string; data: string } {
  return { name: `d${i % 100}/f${i}.txt`, data: `entry ${i}\n` };
}

// Imports for the helpers below, kept next to them so that this file only grows at its end.
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { open as openFile } from 'node:fs/promises';
import { relative as relativePath } from 'node:path';
import { crc32 } from 'node:zlib';
import { walkTree } from './file-tree.js';

export interface FileDigest {
  size: number;
  sha256: string;
}

/**
 * Size and SHA-256 of every regular file under root, by path relative to root: what goes into an
 * archive compared with what comes out. Files over 1 MiB are hashed in chunks, never read whole.
 */
export async function fileDigests(root: string): Promise<Record<string, FileDigest>> {
  const out: Record<string, FileDigest> = {};
  for (const { dirent: entry, full: path } of await walkTree(root)) {
    if (!entry.isFile()) continue;
    const hash = createHash('sha256');
    let size = 0;
    if (statSync(path).size <= 1024 * 1024) {
      const data = readFileSync(path);
      size = data.length;
      hash.update(data);
    } else {
      for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>) {
        size += chunk.length;
        hash.update(chunk);
      }
    }
    out[relativePath(root, path)] = { size, sha256: hash.digest('hex') };
  }
  return out;
}

/**
 * Whether a zip ends with zip64 end records (signatures PK\x06\x06 and PK\x06\x07 in the last
 * 64 KiB + 98 bytes, where the end records and the longest comment fit).
 */
export async function hasZip64EndRecords(path: string): Promise<boolean> {
  const file = await openFile(path, 'r');
  try {
    const { size } = await file.stat();
    const length = Math.min(size, 65_536 + 98);
    const { buffer } = await file.read(Buffer.alloc(length), 0, length, size - length);
    return buffer.includes(Buffer.from([0x50, 0x4b, 0x06, 0x06])) && buffer.includes(Buffer.from([0x50, 0x4b, 0x06, 0x07]));
  } finally {
    await file.close();
  }
}

/**
 * The same archive as makeManyEntryZip (stored), written here directly: zipfile needs ~7 s for
 * 100,000 entries on an idle machine and over 20 s on a loaded one, this well under one. More than
 * 65,535 entries get the zip64 end records (APPNOTE 4.3.14-4.3.15). Check its output with an
 * independent reader (checkZipWithZipfile) before trusting a test built on it.
 */
export function writeManyEntryZip(out: string, count: number): string {
  const fd = openSync(out, 'w');
  const dosTime = (22 << 11) | (13 << 5) | 10; // 22:13:20
  const dosDate = ((2023 - 1980) << 9) | (11 << 5) | 14;
  const central: Buffer[] = [];
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let offset = 0;
  const emit = (buf: Buffer): void => {
    pending.push(buf);
    pendingBytes += buf.length;
    offset += buf.length;
    if (pendingBytes >= 1024 * 1024) flush();
  };
  const flush = (): void => {
    const all = Buffer.concat(pending);
    for (let done = 0; done < all.length;) done += writeSync(fd, all, done);
    pending = [];
    pendingBytes = 0;
  };
  try {
    for (let i = 0; i < count; i++) {
      const { name, data } = manyEntryContent(i);
      const nameBuf = Buffer.from(name, 'utf8');
      const dataBuf = Buffer.from(data, 'utf8');
      const crc = crc32(dataBuf);
      const local = Buffer.alloc(30);
      local.writeUInt32LE(0x04034b50, 0);
      local.writeUInt16LE(20, 4);
      local.writeUInt16LE(0x0800, 6); // names are UTF-8
      local.writeUInt16LE(0, 8); // stored
      local.writeUInt16LE(dosTime, 10);
      local.writeUInt16LE(dosDate, 12);
      local.writeUInt32LE(crc, 14);
      local.writeUInt32LE(dataBuf.length, 18);
      local.writeUInt32LE(dataBuf.length, 22);
      local.writeUInt16LE(nameBuf.length, 26);
      const header = Buffer.alloc(46);
      header.writeUInt32LE(0x02014b50, 0);
      header.writeUInt16LE((3 << 8) | 30, 4); // made on Unix: the external attributes carry st_mode
      header.writeUInt16LE(20, 6);
      header.writeUInt16LE(0x0800, 8);
      header.writeUInt16LE(dosTime, 12);
      header.writeUInt16LE(dosDate, 14);
      header.writeUInt32LE(crc, 16);
      header.writeUInt32LE(dataBuf.length, 20);
      header.writeUInt32LE(dataBuf.length, 24);
      header.writeUInt16LE(nameBuf.length, 28);
      header.writeUInt32LE((0o100644 << 16) >>> 0, 38);
      header.writeUInt32LE(offset, 42);
      central.push(header, nameBuf);
      emit(local);
      emit(nameBuf);
      emit(dataBuf);
    }
    const cdOffset = offset;
    for (const buf of central) emit(buf);
    const cdSize = offset - cdOffset;
    if (count > 0xffff) {
      const zip64Offset = offset;
      const record = Buffer.alloc(56);
      record.writeUInt32LE(0x06064b50, 0);
      record.writeBigUInt64LE(44n, 4); // size of the rest of this record
      record.writeUInt16LE((3 << 8) | 45, 12);
      record.writeUInt16LE(45, 14);
      record.writeBigUInt64LE(BigInt(count), 24);
      record.writeBigUInt64LE(BigInt(count), 32);
      record.writeBigUInt64LE(BigInt(cdSize), 40);
      record.writeBigUInt64LE(BigInt(cdOffset), 48);
      const locator = Buffer.alloc(20);
      locator.writeUInt32LE(0x07064b50, 0);
      locator.writeBigUInt64LE(BigInt(zip64Offset), 8);
      locator.writeUInt32LE(1, 16);
      emit(record);
      emit(locator);
    }
    const end = Buffer.alloc(22);
    end.writeUInt32LE(0x06054b50, 0);
    end.writeUInt16LE(Math.min(count, 0xffff), 8);
    end.writeUInt16LE(Math.min(count, 0xffff), 10);
    end.writeUInt32LE(cdSize, 12);
    end.writeUInt32LE(cdOffset, 16);
    emit(end);
    flush();
  } finally {
    closeSync(fd);
  }
  return out;
}

const CHECK_ZIP_SCRIPT = `
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    bad = z.testzip()
    print(len(z.infolist()), bad or '')
`;

/** python's zipfile reads every entry and checks its CRC: the entry count and the first bad entry ('' if none). */
export function checkZipWithZipfile(path: string): { entries: number; firstBad: string } {
  const [entries = '', firstBad = ''] = execFileSync('python3', ['-c', CHECK_ZIP_SCRIPT, path], { encoding: 'utf8' }).trimEnd().split(' ');
  return { entries: Number(entries), firstBad };
}
