/**
 * runas-access.ts: which directories a runas user gets, that only missing bits are added, and the
 * fallback to mode bits when setfacl is missing or fails (a recording fake ToolRunner over real
 * temp directories). The last test runs a real script as nobody through runLifecycleEvent with a
 * failing setfacl (root only).
 */
import { execFile } from 'node:child_process';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { accessChain, grantRunasAccess, parseAcl } from '../../../agent/hooks/runas-access.js';
import { runLifecycleEvent } from '../../../agent/hooks/lifecycle-event-runner.js';
import type { ToolResult, ToolRunner } from '../../../agent/platform/tool-runner.js';
import { createScriptLogWriter } from '../../../agent/log/scripts-log.js';
import type { PasswdEntry } from '../../../agent/hooks/user-lookup.js';
import { silentLogger, tempDir } from '../../helpers/temp.js';

const NOBODY: PasswdEntry = { name: 'nobody', uid: 65534, gid: 65534, home: '/nonexistent', shell: '/usr/sbin/nologin' };
const ok = (stdout = ''): ToolResult => ({ exitCode: 0, signal: null, stdout, stderr: '' });

/** getfacl as a file with no extended ACL shows it, from the real mode; named entries can be added per path. */
async function baseAcl(path: string, extra: string[] = []): Promise<string> {
  const mode = (await stat(path)).mode;
  const p = (bits: number): string => `${bits & 4 ? 'r' : '-'}${bits & 2 ? 'w' : '-'}${bits & 1 ? 'x' : '-'}`;
  return [`user::${p(mode >> 6)}`, ...extra, `group::${p(mode >> 3)}`, `other::${p(mode)}`, ''].join('\n');
}

/** Records every call; getfacl answers from the real mode (plus `named`), setfacl answers `setfacl(dir)`. */
function fakeTools(
  o: { named?: Record<string, string[]>; setfacl?: (dir: string) => ToolResult } = {},
): ToolRunner & { calls: string[][] } {
  const calls: string[][] = [];
  return {
    calls,
    async run(file, args) {
      calls.push([file, ...args]);
      const paths = args.slice(args.indexOf('--') + 1);
      if (file === 'getfacl') {
        const sections = await Promise.all(
          paths.map(async (p) => `# file: ${p}\n# owner: 0\n# group: 0\n${await baseAcl(p, o.named?.[p] ?? [])}`),
        );
        return ok(sections.join('\n'));
      }
      return o.setfacl ? o.setfacl(paths[0] ?? '') : ok();
    },
  };
}

/** <tmp>/root (0700) / dg (0750) / d (0750) / deployment-archive (0750) / scripts (0755). */
async function tree(): Promise<{ root: string; group: string; deployment: string; archive: string; scripts: string }> {
  const base = await tempDir('cda-runas-');
  const root = join(base, 'root');
  const group = join(root, 'dg-1');
  const deployment = join(group, 'd-1');
  const archive = join(deployment, 'deployment-archive');
  const scripts = join(archive, 'scripts');
  await mkdir(scripts, { recursive: true });
  for (const [dir, mode] of [
    [root, 0o700],
    [group, 0o750],
    [deployment, 0o750],
    [archive, 0o750],
    [scripts, 0o755],
  ] as const)
    await chmod(dir, mode);
  return { root, group, deployment, archive, scripts };
}

const modeOf = async (p: string): Promise<string> => ((await stat(p)).mode & 0o7777).toString(8).padStart(4, '0');

describe('accessChain', () => {
  it('is root_dir, each directory down to the deployment directory (search), then the archive (read and search)', () => {
    expect(accessChain('/r/', '/r/dg/d/deployment-archive')).toEqual([
      { dir: '/r', need: 1 },
      { dir: '/r/dg', need: 1 },
      { dir: '/r/dg/d', need: 1 },
      { dir: '/r/dg/d/deployment-archive', need: 5 },
    ]);
  });

  it('takes a directory whose name starts with ".." as one of root_dir\'s, and stops at root_dir when the archive is directly in it', () => {
    expect(accessChain('/r', '/r/..dg/d/deployment-archive')?.map((s) => s.dir)).toEqual([
      '/r',
      '/r/..dg',
      '/r/..dg/d',
      '/r/..dg/d/deployment-archive',
    ]);
    expect(accessChain('/r', '/r/deployment-archive')).toEqual([
      { dir: '/r', need: 1 },
      { dir: '/r/deployment-archive', need: 5 },
    ]);
  });

  it.each([['/r'], ['/elsewhere/dg/d/deployment-archive'], ['/r/../x/d/deployment-archive'], ['/rx/dg/d/deployment-archive']])(
    'grants nothing for an archive outside root_dir (%s)',
    (archive) => {
      expect(accessChain('/r', archive)).toBeUndefined();
    },
  );
});

describe('parseAcl', () => {
  it("reads the uid's named entry, the owning group, mask and other; ignores other users and default entries", () => {
    const text = [
      'user::rwx',
      'user:1000:rwx',
      'user:65534:r-x\t#effective:--x',
      'group::r-x',
      'mask::--x',
      'other::---',
      'default:user:65534:rwx',
      '',
    ].join('\n');
    expect(parseAcl(text, 65534)).toEqual({ named: 5, group: 5, mask: 1, other: 0 });
    expect(parseAcl('user::rwx\ngroup::---\nother::--x\n', 65534)).toEqual({ group: 0, other: 1 });
    expect(parseAcl('garbage', 65534)).toBeUndefined();
  });
});

describe('grantRunasAccess', () => {
  it('adds a named entry with exactly the missing bits, by uid, to each directory of the chain', async () => {
    const t = await tree();
    const tools = fakeTools();
    const outcome = await grantRunasAccess({ rootDir: t.root, archiveDir: t.archive, user: NOBODY, tools });
    expect(tools.calls[0]).toEqual(['getfacl', '--numeric', '--absolute-names', '--', t.root, t.group, t.deployment, t.archive]);
    expect(tools.calls.filter((c) => c[0] === 'setfacl')).toEqual([
      ['setfacl', '-m', 'u:65534:--x', '--', t.root],
      ['setfacl', '-m', 'u:65534:--x', '--', t.group],
      ['setfacl', '-m', 'u:65534:--x', '--', t.deployment],
      ['setfacl', '-m', 'u:65534:r-x', '--', t.archive],
    ]);
    expect(outcome).toEqual({ acl: [t.root, t.group, t.deployment, t.archive], widened: [] });
    expect(await Promise.all([t.root, t.group, t.deployment, t.archive].map(modeOf))).toEqual(['0700', '0750', '0750', '0750']);
  });

  it('writes nothing where the user already has what it needs, and never takes bits away', async () => {
    const t = await tree();
    await chmod(t.group, 0o755); // "other" already searches it
    const tools = fakeTools({
      named: {
        [t.root]: ['user:65534:--x', 'mask::--x'], // granted by an earlier hook
        [t.deployment]: ['user:65534:rw-', 'mask::rwx'], // an operator's entry: x is added to it
        [t.archive]: ['user:65534:r-x', 'mask::--x'], // a mask that hides r: the entry is set again, which recomputes the mask
      },
    });
    const outcome = await grantRunasAccess({ rootDir: t.root, archiveDir: t.archive, user: NOBODY, tools });
    expect(tools.calls.filter((c) => c[0] === 'setfacl')).toEqual([
      ['setfacl', '-m', 'u:65534:rwx', '--', t.deployment],
      ['setfacl', '-m', 'u:65534:r-x', '--', t.archive],
    ]);
    expect(outcome.acl).toEqual([t.deployment, t.archive]);
  });

  it('grants nothing to root and touches nothing outside root_dir', async () => {
    const t = await tree();
    const tools = fakeTools();
    expect(
      await grantRunasAccess({ rootDir: t.root, archiveDir: t.archive, user: { ...NOBODY, name: 'root', uid: 0, gid: 0 }, tools }),
    ).toEqual({ acl: [], widened: [] });
    expect(await grantRunasAccess({ rootDir: t.group, archiveDir: join(t.root, 'x', 'deployment-archive'), user: NOBODY, tools })).toEqual({
      acl: [],
      widened: [],
    });
    expect(tools.calls).toEqual([]);
  });

  it('without setfacl: o+x on the chain, o+rx on the archive, one warning naming the acl package; a second call changes nothing', async () => {
    const t = await tree();
    const missing = fakeTools({ setfacl: () => ({ exitCode: 127, signal: null, stdout: '', stderr: 'setfacl: command not found' }) });
    const outcome = await grantRunasAccess({ rootDir: t.root, archiveDir: t.archive, user: NOBODY, tools: missing });
    expect(await Promise.all([t.root, t.group, t.deployment, t.archive, t.scripts].map(modeOf))).toEqual([
      '0701',
      '0751',
      '0751',
      '0755',
      '0755',
    ]);
    expect(outcome.acl).toEqual([]);
    expect(outcome.widened).toEqual([`o+x ${t.root}`, `o+x ${t.group}`, `o+x ${t.deployment}`, `o+rx ${t.archive}`]);
    expect(outcome.warning).toContain(
      'Could not give user nobody access with an ACL (setfacl exited with 127: setfacl: command not found)',
    );
    expect(outcome.warning).toContain('install the acl package (apt-get install acl, or dnf install acl)');
    expect(outcome.warning).not.toContain('\n');
    // After the fallback, getfacl reads "other::--x": nothing is missing, so no setfacl and no warning.
    const again = fakeTools({ setfacl: () => ({ exitCode: 127, signal: null, stdout: '', stderr: 'setfacl: command not found' }) });
    expect(await grantRunasAccess({ rootDir: t.root, archiveDir: t.archive, user: NOBODY, tools: again })).toEqual({
      acl: [],
      widened: [],
    });
    expect(again.calls.filter((c) => c[0] === 'setfacl')).toEqual([]);
    expect(await Promise.all([t.root, t.group, t.deployment, t.archive].map(modeOf))).toEqual(['0701', '0751', '0751', '0755']);
  });

  it('when setfacl fails part-way (a filesystem without ACLs below root_dir), the rest falls back to mode bits', async () => {
    const t = await tree();
    const tools = fakeTools({
      setfacl: (dir) =>
        dir === t.root ? ok() : { exitCode: 1, signal: null, stdout: '', stderr: `setfacl: ${dir}: Operation not supported\n` },
    });
    const outcome = await grantRunasAccess({ rootDir: t.root, archiveDir: t.archive, user: NOBODY, tools });
    expect(outcome.acl).toEqual([t.root]);
    expect(outcome.widened).toEqual([`o+x ${t.group}`, `o+x ${t.deployment}`, `o+rx ${t.archive}`]);
    expect(outcome.warning).toContain(`(setfacl exited with 1: setfacl: ${t.group}: Operation not supported)`);
    // One getfacl for the chain; once setfacl failed, the rest goes straight to chmod.
    expect(tools.calls.map((c) => c[0])).toEqual(['getfacl', 'setfacl', 'setfacl']);
    expect(await Promise.all([t.root, t.group, t.deployment, t.archive].map(modeOf))).toEqual(['0700', '0751', '0751', '0755']);
  });

  it("without getfacl either: widens the group class when the directory's group is the user's primary group", async () => {
    const t = await tree();
    const gid = (await stat(t.group)).gid;
    const tools: ToolRunner = {
      run: () => Promise.resolve({ exitCode: 127, signal: null, stdout: '', stderr: 'getfacl: command not found' }),
    };
    const outcome = await grantRunasAccess({ rootDir: t.root, archiveDir: t.archive, user: { ...NOBODY, gid }, tools });
    // 0750 dirs of the user's group already let it search; root_dir (group ---) gets g+x.
    expect(outcome.widened).toEqual([`g+x ${t.root}`]);
    expect(outcome.warning).toContain('(getfacl exited with 127: getfacl: command not found)');
    expect(await modeOf(t.root)).toBe('0710');
  });
});

const isRoot = process.getuid?.() === 0;
const hasNobody = await promisify(execFile)('getent', ['passwd', 'nobody']).then(
  () => true,
  () => false,
);

describe.skipIf(!isRoot || !hasNobody)('runLifecycleEvent with root_dir and a failing setfacl (needs root)', () => {
  it('runs the runas script as nobody after widening the chain, and writes one [agent] warning for two scripts', async () => {
    const t = await tree();
    await chmod(join(t.root, '..'), 0o755); // mkdtemp made it 0700
    const out = join(t.root, '..', 'out');
    await mkdir(out);
    await chmod(out, 0o1777);
    await writeFile(join(t.scripts, 'who.sh'), '#!/bin/sh\nid -un >> "$OUT_DIR/whoami"\n');
    await chmod(join(t.scripts, 'who.sh'), 0o755);
    const tools = fakeTools({ setfacl: () => ({ exitCode: 1, signal: null, stdout: '', stderr: 'setfacl: Operation not supported' }) });
    const scriptsLog = join(t.deployment, 'logs', 'scripts.log');
    const log = createScriptLogWriter({ scriptsLogPath: scriptsLog, deploymentId: 'd-1' });
    const hook = {
      location: 'scripts/who.sh',
      runas: 'nobody',
      sudo: false,
      timeoutSeconds: 30,
      where: { file: 'appspec.yml', path: 'hooks', line: 1, column: 1 },
    };
    let result;
    try {
      result = await runLifecycleEvent({
        event: 'BeforeInstall',
        scripts: [hook, hook],
        archiveDir: t.archive,
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', OUT_DIR: out },
        cwd: out,
        killGraceMs: 500,
        outputDrainMs: 500,
        log,
        logger: silentLogger(),
        rootDir: t.root,
        aclTools: tools,
      });
    } finally {
      await log.close();
    }
    expect(result.errorCode).toBe(0);
    expect(await readFile(join(out, 'whoami'), 'utf8')).toBe('nobody\nnobody\n');
    const notes = (await readFile(scriptsLog, 'utf8')).split('\n').filter((l) => l.includes('[agent]'));
    expect(notes).toHaveLength(1);
    expect(notes[0]).toMatch(
      /\[agent\]Could not give user nobody access with an ACL \(setfacl exited with 1: setfacl: Operation not supported\).*o\+x .*o\+rx .*install the acl package/,
    );
    expect(await Promise.all([t.root, t.group, t.deployment, t.archive].map(modeOf))).toEqual(['0701', '0751', '0751', '0755']);
  });
});
