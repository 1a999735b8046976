/**
 * runas hooks under the agent's fixed modes (root_dir 0700, other directories 0750, owned by
 * root): codedeploy-local runs in-process with a real `runas: nobody` hook, and a root hook before
 * and after it snapshots the modes, ctimes and ACLs of the directory chain (root_dir, group dir,
 * deployment dir, deployment-archive). Needs root, setfacl/getfacl (the acl package) and a
 * `nobody` user.
 */
import { execFile } from 'node:child_process';
import { chmod, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { localHost, type LocalHost } from '../helpers/local-deploy.js';

const run = promisify(execFile);
const isRoot = process.getuid?.() === 0;
const nobodyUid = await run('id', ['-u', 'nobody']).then(
  (r) => r.stdout.trim(),
  () => undefined,
);
const hasAcl = await run('getfacl', ['--version']).then(
  () => true,
  () => false,
);
const GROUP = 'runas-group';

/** A root hook: per directory of its chain, "== <dir> <mode> <ctime>" then its ACL (numeric ids). */
const SNAPSHOT = `#!/bin/sh
a=$(dirname "$(dirname "$0")"); d=$(dirname "$a"); g=$(dirname "$d"); r=$(dirname "$g")
for x in "$r" "$g" "$d" "$a"; do
  echo "== $x $(stat -c '%a %z' "$x")"
  getfacl --omit-header --numeric --absolute-names "$x"
done > "$OUT_DIR/snapshot-$LIFECYCLE_EVENT"
`;
const WHO = '#!/bin/sh\nid -un >> "$OUT_DIR/whoami-$LIFECYCLE_EVENT"\n';

interface Deployed {
  host: LocalHost;
  out: string;
  rootDir: string;
  groupDir: string;
  deploymentDir: string;
  archiveDir: string;
  code: number;
  stdout: string;
}

/**
 * A revision with the given appspec hooks (YAML lines under `hooks:`), shipped with its top
 * directory 0750, deployed by codedeploy-local. Run under umask 027: the executor's mkdir honours
 * the umask today, and 027 gives the group and deployment directories the daemon's 0750
 * (file-modes.test.ts tracks making that fixed whatever the umask).
 */
async function deploy(hooks: string[]): Promise<Deployed> {
  const host = await localHost();
  await chmod(host.root, 0o755); // mkdtemp made it 0700: nobody could not reach root_dir at all
  const out = join(host.root, 'out');
  await mkdir(out);
  await chmod(out, 0o1777);
  const revision = join(host.root, 'revision');
  await mkdir(join(revision, 'scripts'), { recursive: true });
  await writeFile(join(revision, 'appspec.yml'), ['version: 0.0', 'os: linux', 'hooks:', ...hooks, ''].join('\n'));
  await writeFile(join(revision, 'scripts', 'snapshot.sh'), SNAPSHOT);
  await writeFile(join(revision, 'scripts', 'who.sh'), WHO);
  await chmod(join(revision, 'scripts', 'snapshot.sh'), 0o755);
  await chmod(join(revision, 'scripts', 'who.sh'), 0o755);
  await chmod(join(revision, 'scripts'), 0o755);
  await chmod(revision, 0o750);
  const old = process.umask(0o027);
  let result;
  try {
    result = await host.run(['-l', revision, '-t', 'directory', '-g', GROUP], { OUT_DIR: out });
  } finally {
    process.umask(old);
  }
  const groupDir = join(host.rootDir, GROUP);
  const [id] = await readdir(groupDir);
  const deploymentDir = join(groupDir, id ?? 'none');
  return {
    host,
    out,
    rootDir: host.rootDir,
    groupDir,
    deploymentDir,
    archiveDir: join(deploymentDir, 'deployment-archive'),
    code: result.code,
    stdout: result.stdout,
  };
}

/** getfacl's entries for one path, numeric ids, no header. */
async function acl(path: string): Promise<string[]> {
  const { stdout } = await run('getfacl', ['--omit-header', '--numeric', '--absolute-names', path]);
  return stdout.split('\n').filter((l) => l.length > 0);
}

const mode = async (path: string): Promise<number> => (await stat(path)).mode & 0o7777;
const read = (path: string): Promise<string> => readFile(path, 'utf8');

let saved: number | undefined;
beforeEach(() => {
  saved = process.umask();
});
afterEach(() => {
  if (saved !== undefined) process.umask(saved);
});

describe.skipIf(!isRoot || nobodyUid === undefined || !hasAcl)('runas hooks under root_dir 0700 (needs root, acl, nobody)', () => {
  it('a runas: nobody hook runs as nobody; only nobody gets --x down to the deployment and r-x on the archive; later hooks write nothing', async () => {
    const d = await deploy([
      '  BeforeInstall:',
      '    - location: scripts/snapshot.sh',
      '    - location: scripts/who.sh',
      '      runas: nobody',
      '  AfterInstall:',
      '    - location: scripts/snapshot.sh',
      '    - location: scripts/who.sh',
      '      runas: nobody',
      '    - location: scripts/who.sh',
      '      runas: nobody',
    ]);
    expect({ code: d.code, stdout: d.stdout }).toMatchObject({ code: 0 });
    expect(await read(join(d.out, 'whoami-BeforeInstall'))).toBe('nobody\n');
    expect(await read(join(d.out, 'whoami-AfterInstall'))).toBe('nobody\nnobody\n');

    const u = `user:${nobodyUid}`;
    // Before the first runas hook: the fixed modes and no ACL at all.
    const before = await read(join(d.out, 'snapshot-BeforeInstall'));
    expect(before).toContain(`== ${d.rootDir} 700 `);
    expect(before).toContain(`== ${d.groupDir} 750 `);
    expect(before).toContain(`== ${d.deploymentDir} 750 `);
    expect(before).toContain(`== ${d.archiveDir} 750 `);
    expect(before).not.toMatch(/^(user:\d|group:\d|mask::)/m);

    // root_dir: owner rwx, owning group ---, other --- as before; the group bits of the mode now
    // show the ACL mask (--x), which only nobody's entry uses.
    expect(await acl(d.rootDir)).toEqual(['user::rwx', `${u}:--x`, 'group::---', 'mask::--x', 'other::---']);
    expect((await mode(d.rootDir)) & 0o707).toBe(0o700);
    for (const dir of [d.groupDir, d.deploymentDir]) {
      expect(await acl(dir)).toEqual(['user::rwx', `${u}:--x`, 'group::r-x', 'mask::r-x', 'other::---']);
      expect(await mode(dir)).toBe(0o750);
    }
    expect(await acl(d.archiveDir)).toEqual(['user::rwx', `${u}:r-x`, 'group::r-x', 'mask::r-x', 'other::---']);
    expect(await mode(d.archiveDir)).toBe(0o750);
    // The archive's content and the agent's other directories are left alone.
    for (const dir of [
      join(d.archiveDir, 'scripts'),
      join(d.deploymentDir, 'logs'),
      join(d.rootDir, 'deployment-instructions'),
      join(d.rootDir, 'deployment-logs'),
    ]) {
      expect((await acl(dir)).filter((l) => /^(user:\d|mask::)/.test(l))).toEqual([]);
    }
    expect(await mode(join(d.archiveDir, 'scripts'))).toBe(0o755);

    // The AfterInstall hooks (same deployment, same user) changed nothing: same ACLs, same ctimes.
    const afterFirstGrant = await read(join(d.out, 'snapshot-AfterInstall'));
    await run(join(d.archiveDir, 'scripts', 'snapshot.sh'), [], {
      env: { PATH: process.env.PATH, OUT_DIR: d.out, LIFECYCLE_EVENT: 'End' },
    });
    expect(await read(join(d.out, 'snapshot-End'))).toBe(afterFirstGrant);
    expect(afterFirstGrant.split('\n').filter((l) => l.startsWith(`${u}:`))).toHaveLength(4);

    const scriptsLog = await read(join(d.deploymentDir, 'logs', 'scripts.log'));
    expect(scriptsLog).not.toContain('[agent]');
  });

  it('hooks without runas, or with runas: root, change no ACL and no mode', async () => {
    const d = await deploy([
      '  BeforeInstall:',
      '    - location: scripts/who.sh',
      '    - location: scripts/who.sh',
      '      runas: root',
      '    - location: scripts/snapshot.sh',
    ]);
    expect(d.code).toBe(0);
    expect(await read(join(d.out, 'whoami-BeforeInstall'))).toBe('root\nroot\n');
    const snapshot = await read(join(d.out, 'snapshot-BeforeInstall'));
    expect(snapshot).not.toMatch(/^(user:\d|group:\d|mask::)/m);
    for (const dir of [d.rootDir, d.groupDir, d.deploymentDir, d.archiveDir]) {
      expect((await acl(dir)).filter((l) => /^(user:\d|group:\d|mask::)/.test(l))).toEqual([]);
    }
    expect(await mode(d.rootDir)).toBe(0o700);
    expect(await mode(d.groupDir)).toBe(0o750);
    expect(await mode(d.deploymentDir)).toBe(0o750);
    expect(await mode(d.archiveDir)).toBe(0o750);
  });
});
