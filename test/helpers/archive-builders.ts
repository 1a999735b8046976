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
