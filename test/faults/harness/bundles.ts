/**
 * Revisions for the fault suite, built with the tools real bundles are made with (tar, Info-ZIP's
 * zip, Python's zipfile for per-entry methods and huge entry counts).
 *
 * The hook app runs one script for every lifecycle event: it marks its start in the scenario's
 * marker directory (so a scenario can act while the hook runs), logs the run, sleeps briefly, and
 * marks its end. While <markers>/hold exists it waits (at most 60 s), so a scenario can keep a
 * deployment inside a hook.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { walkTree } from '../../helpers/file-tree.js';

// Never the *Sync variants: scenarios run concurrently in one worker, whose event loop also runs
// their fault proxies; blocking it for seconds would stall every other scenario's agent.
const run = promisify(execFile);
const random = promisify(randomBytes);

export const HOOK_EVENTS = [
  'BeforeBlockTraffic',
  'AfterBlockTraffic',
  'ApplicationStop',
  'BeforeInstall',
  'AfterInstall',
  'ApplicationStart',
  'ValidateService',
  'BeforeAllowTraffic',
  'AfterAllowTraffic',
] as const;

/** The hooks a first deployment runs (the first three use the previous revision, and there is none). */
export const FIRST_DEPLOYMENT_HOOKS = [
  'BeforeInstall',
  'AfterInstall',
  'ApplicationStart',
  'ValidateService',
  'BeforeAllowTraffic',
  'AfterAllowTraffic',
];

const HOOK_SCRIPT = `#!/bin/sh
here=$(cd "$(dirname "$0")" && pwd)
markers=$(cat "$here/../fault-markers")
echo "$LIFECYCLE_EVENT $DEPLOYMENT_ID $$" >> "$markers/ran.log"
touch "$markers/$LIFECYCLE_EVENT.start"
n=0
while [ -e "$markers/hold" ] && [ $n -lt 600 ]; do sleep 0.1; n=$((n + 1)); done
sleep "$(cat "$here/../hook-sleep")"
touch "$markers/$LIFECYCLE_EVENT.end"
echo "$LIFECYCLE_EVENT done"
`;

function appspec(destination: string, withHooks: boolean): string {
  const lines = [
    'version: 0.0',
    'os: linux',
    'files:',
    '  - source: app',
    `    destination: ${destination}`,
    'file_exists_behavior: OVERWRITE',
  ];
  if (withHooks) {
    lines.push('hooks:');
    for (const event of HOOK_EVENTS) lines.push(`  ${event}:`, '    - location: scripts/hook.sh', '      timeout: 180');
  }
  return `${lines.join('\n')}\n`;
}

export interface HookAppOptions {
  /** Where the app's files are installed. */
  destination: string;
  /** The scenario's marker directory. */
  markers: string;
  /** Seconds each hook sleeps after marking its start. */
  hookSleepSeconds?: number;
  /** Size of app/blob.bin (random), so a download lasts long enough to be cut in the middle. */
  blobBytes?: number;
  /** File name stem (several revisions in one scenario). */
  name?: string;
}

/** The hook app as a tgz; returns the file. */
export async function buildHookApp(dir: string, o: HookAppOptions): Promise<string> {
  const stem = o.name ?? 'hook-app';
  const src = join(dir, stem);
  await mkdir(join(src, 'app'), { recursive: true });
  await mkdir(join(src, 'scripts'), { recursive: true });
  await mkdir(o.markers, { recursive: true });
  await writeFile(join(src, 'appspec.yml'), appspec(o.destination, true));
  await writeFile(join(src, 'scripts', 'hook.sh'), HOOK_SCRIPT);
  await chmod(join(src, 'scripts', 'hook.sh'), 0o755);
  await writeFile(join(src, 'fault-markers'), o.markers);
  await writeFile(join(src, 'hook-sleep'), String(o.hookSleepSeconds ?? 0.3));
  await writeFile(join(src, 'app', 'version.txt'), 'hook-app\n');
  await writeFile(join(src, 'app', 'blob.bin'), await random(o.blobBytes ?? 2 * 1024 * 1024));
  const out = join(dir, `${stem}.tgz`);
  await run('tar', ['-czf', out, '-C', src, '.']);
  return out;
}

export interface BigFile {
  /** Path relative to the app directory (and to the destination). */
  path: string;
  bytes: number;
  sha256: string;
}

/** Writes `count` files of `bytes` random (incompressible) bytes under dir; returns their digests. */
async function randomFiles(dir: string, prefix: string, count: number, bytes: number): Promise<BigFile[]> {
  const out: BigFile[] = [];
  for (let i = 1; i <= count; i++) {
    const data = await random(bytes);
    const path = `${prefix}-${i}.bin`;
    await writeFile(join(dir, path), data);
    out.push({ path, bytes, sha256: createHash('sha256').update(data).digest('hex') });
  }
  return out;
}

export interface BuiltBundle {
  file: string;
  type: 'zip' | 'tar' | 'tgz';
  /** Every regular file the app directory holds, by path relative to it. */
  files: BigFile[];
  /** How many entries the app directory holds (files), for bundles too big to list. */
  entryCount: number;
}

const MIB = 1024 * 1024;

async function appTree(dir: string, destination: string): Promise<string> {
  const src = join(dir, 'src');
  await mkdir(join(src, 'app'), { recursive: true });
  await writeFile(join(src, 'appspec.yml'), appspec(destination, false));
  return src;
}

const MIXED_ZIP = `
import os, sys, zipfile
out, src = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(out, 'w') as z:
    for dirpath, dirnames, filenames in os.walk(src):
        dirnames.sort()
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, src)
            method = zipfile.ZIP_STORED if '-stored-' in name else zipfile.ZIP_DEFLATED
            z.write(path, rel, compress_type=method)
`;

/** zip (Python zipfile): 8 MiB incompressible entries, half stored and half deflated. */
export async function buildMixedZip(dir: string, destination: string, perMethod = 2): Promise<BuiltBundle> {
  const src = await appTree(dir, destination);
  const files = [
    ...(await randomFiles(join(src, 'app'), 'big-stored', perMethod, 8 * MIB)),
    ...(await randomFiles(join(src, 'app'), 'big-deflated', perMethod, 8 * MIB)),
  ];
  const file = join(dir, 'mixed.zip');
  await run('python3', ['-c', MIXED_ZIP, file, src]);
  return { file, type: 'zip', files, entryCount: files.length };
}

/** zip64 as Info-ZIP writes it (`zip -fz`), with 8 MiB incompressible entries (zip stores them). */
export async function buildZip64(dir: string, destination: string, count = 3): Promise<BuiltBundle> {
  const src = await appTree(dir, destination);
  const files = await randomFiles(join(src, 'app'), 'big', count, 8 * MIB);
  await writeFile(join(src, 'app', 'readme.txt'), 'zip64 bundle\n'.repeat(1000));
  files.push({ path: 'readme.txt', bytes: 13_000, sha256: createHash('sha256').update('zip64 bundle\n'.repeat(1000)).digest('hex') });
  const file = join(dir, 'zip64.zip');
  await run('zip', ['-q', '-r', '-X', '-fz', file, '.'], { cwd: src });
  return { file, type: 'zip', files, entryCount: files.length };
}

/** tar or tgz (GNU tar) with 8 MiB incompressible entries. */
export async function buildBigTar(dir: string, destination: string, gzip: boolean, count = 4): Promise<BuiltBundle> {
  const src = await appTree(dir, destination);
  const files = await randomFiles(join(src, 'app'), 'big', count, 8 * MIB);
  const file = join(dir, gzip ? 'big.tgz' : 'big.tar');
  await run('tar', [gzip ? '-czf' : '-cf', file, '-C', src, '.']);
  return { file, type: gzip ? 'tgz' : 'tar', files, entryCount: files.length };
}

const MANY = `
import io, sys, tarfile, zipfile
out, kind, count, spec = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4].encode()
def name(i): return 'app/d%d/f%d.txt' % (i % 100, i)
def data(i): return b'entry %d\\n' % i
if kind == 'zip':
    with zipfile.ZipFile(out, 'w', zipfile.ZIP_DEFLATED) as z:
        z.writestr('appspec.yml', spec)
        for i in range(count):
            info = zipfile.ZipInfo(name(i), date_time=(2024, 1, 1, 0, 0, 0))
            info.create_system = 3
            info.external_attr = 0o100644 << 16
            z.writestr(info, data(i), compress_type=zipfile.ZIP_DEFLATED)
else:
    with tarfile.open(out, 'w:gz' if kind == 'tgz' else 'w', format=tarfile.PAX_FORMAT) as t:
        def add(n, d):
            info = tarfile.TarInfo(n)
            info.size, info.mode, info.mtime = len(d), 0o644, 1704067200
            t.addfile(info, io.BytesIO(d))
        add('appspec.yml', spec)
        for i in range(count):
            add(name(i), data(i))
`;

/** `count` tiny files app/d<i%100>/f<i>.txt ("entry <i>\n"); over 65,535 entries a zip needs zip64 end records. */
export async function buildManyEntries(dir: string, destination: string, kind: 'zip' | 'tar' | 'tgz', count: number): Promise<BuiltBundle> {
  const file = join(dir, `many-${count}.${kind}`);
  await run('python3', ['-c', MANY, file, kind, String(count), appspec(destination, false)]);
  return { file, type: kind, files: [], entryCount: count };
}

/** The content a buildManyEntries file must have. */
export function manyEntry(i: number): { path: string; data: string } {
  return { path: `d${i % 100}/f${i}.txt`, data: `entry ${i}\n` };
}

/** Every regular file under root (relative paths), with size and SHA-256. */
export async function digestTree(root: string): Promise<Map<string, { bytes: number; sha256: string }>> {
  const out = new Map<string, { bytes: number; sha256: string }>();
  for (const { dirent: e, full } of await walkTree(root)) {
    if (!e.isFile()) continue;
    const data = await readFile(full);
    out.set(relative(root, full), { bytes: data.length, sha256: createHash('sha256').update(data).digest('hex') });
  }
  return out;
}
