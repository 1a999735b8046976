/**
 * The installer against real files in temp directories: the revision is copied with nested
 * directories, dotfiles, an executable and a symlink; the cleanup list, install.json, the
 * file_exists_behavior choices, confinement, permissions (chmod, chown, setfacl, semanage via a
 * recording fake) and failures half-way (no temp files left, everything created is listed).
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, lstat, mkdir, readdir, readFile, readlink, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentError, ErrorCodes } from '../../agent/errors.js';
import { parseCleanupList } from '../../agent/install/cleanup-file.js';
import { cleanupFilePath, install, installJsonPath } from '../../agent/install/installer.js';
import { createToolRunner, type ToolRunner } from '../../agent/platform/tool-runner.js';
import type { InstallRequest } from '../../agent/install/types.js';
import type { AppSpec } from '../../appspec/model.js';
import { silentLogger, tempDir } from '../helpers/temp.js';
import { appSpec, permission } from '../unit/install/appspec-builder.js';
import { walkTree } from '../helpers/file-tree.js';

const run = promisify(execFile);
const isRoot = process.getuid?.() === 0;
const hasSetfacl = ['/usr/bin/setfacl', '/bin/setfacl'].some((p) => existsSync(p));
const GROUP = 'g-1';

interface Host {
  root: string;
  archive: string;
  instructions: string;
  dest: string;
  request(spec: AppSpec, extra?: Partial<InstallRequest>): InstallRequest;
}

async function host(): Promise<Host> {
  const root = await tempDir('cda-install-');
  const archive = join(root, 'deployment-archive');
  const instructions = join(root, 'deployment-instructions');
  const dest = join(root, 'dest');
  await mkdir(join(archive, 'app', 'bin'), { recursive: true });
  await mkdir(join(archive, 'app', 'lib', 'deep', 'nested'), { recursive: true });
  await mkdir(dest);
  await writeFile(join(archive, 'appspec.yml'), 'version: 0.0\nos: linux\n');
  await writeFile(join(archive, 'app', 'index.html'), '<h1>v1</h1>\n');
  await writeFile(join(archive, 'app', '.env'), 'SECRET=1\n');
  await chmod(join(archive, 'app', '.env'), 0o666); // the umask (022) must not apply to copies
  await writeFile(join(archive, 'app', 'bin', 'run.sh'), '#!/bin/sh\necho hi\n', { mode: 0o755 });
  await writeFile(join(archive, 'app', 'lib', 'deep', 'nested', 'data.txt'), 'deep\n', { mode: 0o640 });
  await chmod(join(archive, 'app', 'lib', 'deep', 'nested', 'data.txt'), 0o640);
  await utimes(join(archive, 'app', 'index.html'), new Date('2020-01-02T03:04:05Z'), new Date('2020-01-02T03:04:05Z'));
  await symlink('lib', join(archive, 'app', 'current'));
  await writeFile(join(archive, 'config.json'), '{}\n');
  return {
    root,
    archive,
    instructions,
    dest,
    request: (spec, extra = {}) => ({
      deploymentGroupId: GROUP,
      appspec: spec,
      archiveDir: archive,
      instructionsDir: instructions,
      baseDir: root,
      logger: silentLogger(),
      ...extra,
    }),
  };
}

/** Every path under dir (files, directories, symlinks), relative, sorted. */
async function tree(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await walkTree(dir)) out.push(e.path);
  return out.sort();
}

async function cleanupPaths(h: Host): Promise<string[]> {
  const text = await readFile(cleanupFilePath(h.instructions, GROUP), 'utf8');
  return parseCleanupList(text).map((e) => e.path);
}

async function installError(req: InstallRequest): Promise<AgentError> {
  const err: unknown = await install(req).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AgentError);
  return err as AgentError;
}

const APP_FILES = [
  'app',
  'app/.env',
  'app/bin',
  'app/bin/run.sh',
  'app/current',
  'app/index.html',
  'app/lib',
  'app/lib/deep',
  'app/lib/deep/nested',
  'app/lib/deep/nested/data.txt',
];

describe('install: files', () => {
  it('copies a revision: nested directories, dotfiles, modes, timestamps, a symlink kept as a symlink', async () => {
    const h = await host();
    const spec = appSpec({
      files: [
        ['app', 'dest/app'],
        ['config.json', 'dest/etc'],
      ],
    });

    const summary = await install(h.request(spec));

    expect(await tree(h.dest)).toEqual([...APP_FILES, 'etc', 'etc/config.json'].sort());
    expect(await readFile(join(h.dest, 'app', '.env'), 'utf8')).toBe('SECRET=1\n');
    expect((await stat(join(h.dest, 'app', 'bin', 'run.sh'))).mode & 0o7777).toBe(0o755);
    expect((await stat(join(h.dest, 'app', 'lib', 'deep', 'nested', 'data.txt'))).mode & 0o7777).toBe(0o640);
    expect((await stat(join(h.dest, 'app', '.env'))).mode & 0o7777).toBe(0o666);
    expect((await stat(join(h.dest, 'app', 'index.html'))).mtime.toISOString()).toBe('2020-01-02T03:04:05.000Z');
    expect((await lstat(join(h.dest, 'app', 'current'))).isSymbolicLink()).toBe(true);
    expect(await readlink(join(h.dest, 'app', 'current'))).toBe('lib');
    expect((await run(join(h.dest, 'app', 'bin', 'run.sh'))).stdout).toBe('hi\n');
    expect(summary).toEqual({ filesCopied: 6, directoriesCreated: 6, filesRetained: 0, permissionsApplied: 0, cleanedUp: 0 });

    const json = JSON.parse(await readFile(installJsonPath(h.instructions, GROUP), 'utf8')) as {
      instructions: Array<Record<string, unknown>>;
    };
    expect(json.instructions).toHaveLength(12);
    expect(json.instructions[0]).toEqual({ type: 'mkdir', directory: join(h.dest, 'app') });
    expect(json.instructions).toContainEqual({
      type: 'copy',
      source: join(h.archive, 'app', '.env'),
      destination: join(h.dest, 'app', '.env'),
    });
    expect(json.instructions.at(-1)).toEqual({
      type: 'copy',
      source: join(h.archive, 'config.json'),
      destination: join(h.dest, 'etc', 'config.json'),
    });

    const listed = await cleanupPaths(h);
    for (const p of [...APP_FILES, 'etc', 'etc/config.json']) expect(listed).toContain(join(h.dest, p));
    expect((await readdir(h.instructions)).sort()).toEqual([`${GROUP}-cleanup`, `${GROUP}-install.json`]);
  });

  it('a second install of the group under DISALLOW succeeds: the cleanup removed the previous files, unrelated files stay', async () => {
    const h = await host();
    await writeFile(join(h.archive, 'app', 'old.txt'), 'only in v1\n');
    const spec = appSpec({ files: [['app', 'dest/app']] });
    await install(h.request(spec));
    await writeFile(join(h.dest, 'app', 'unrelated.txt'), 'mine\n');
    await writeFile(join(h.dest, 'other.txt'), 'mine too\n');
    await writeFile(join(h.archive, 'app', 'index.html'), '<h1>v2</h1>\n');
    execFileSync('rm', [join(h.archive, 'app', 'old.txt')]);

    const summary = await install(h.request(spec));

    expect(summary.cleanedUp).toBe(10); // 6 files and symlinks, 4 of the 5 directories (app keeps unrelated.txt)
    expect(await readFile(join(h.dest, 'app', 'index.html'), 'utf8')).toBe('<h1>v2</h1>\n');
    expect(existsSync(join(h.dest, 'app', 'old.txt'))).toBe(false);
    expect(await readFile(join(h.dest, 'app', 'unrelated.txt'), 'utf8')).toBe('mine\n');
    expect(await readFile(join(h.dest, 'other.txt'), 'utf8')).toBe('mine too\n');
    expect(summary.directoriesCreated).toBe(4); // app existed (it held unrelated.txt), so no mkdir for it
  });

  it('DISALLOW refuses an existing file before writing anything; OVERWRITE replaces it (a symlink too); RETAIN keeps it', async () => {
    const h = await host();
    await mkdir(join(h.dest, 'app'));
    await writeFile(join(h.dest, 'app', 'index.html'), 'old\n');
    await writeFile(join(h.dest, 'app', 'current'), 'a file where the bundle has a symlink\n');
    const spec = (b?: 'OVERWRITE' | 'RETAIN') => appSpec({ files: [['app', 'dest/app']], ...(b ? { fileExistsBehavior: b } : {}) });

    const err = await installError(h.request(spec()));
    expect(err.code).toBe(ErrorCodes.INSTALL_FAILED);
    expect(err.message).toMatch(
      /^The deployment failed because a specified file already exists at this location: .*\/dest\/app\/(index\.html|current)$/,
    );
    expect(await tree(join(h.dest, 'app'))).toEqual(['current', 'index.html']);
    expect(existsSync(cleanupFilePath(h.instructions, GROUP))).toBe(false);

    const retained = await install(h.request(spec('RETAIN')));
    expect(retained.filesRetained).toBe(2);
    expect(await readFile(join(h.dest, 'app', 'index.html'), 'utf8')).toBe('old\n');
    expect((await lstat(join(h.dest, 'app', 'current'))).isFile()).toBe(true);
    // The cleanup of the RETAIN install does not list the retained files, so they survive it.
    expect(await cleanupPaths(h)).not.toContain(join(h.dest, 'app', 'index.html'));

    const overwritten = await install(h.request(spec(), { specFileExistsBehavior: 'OVERWRITE' }));
    expect(overwritten.filesCopied).toBe(5);
    expect(await readFile(join(h.dest, 'app', 'index.html'), 'utf8')).toBe('<h1>v1</h1>\n');
    expect(await readlink(join(h.dest, 'app', 'current'))).toBe('lib');
  });

  it('files larger than 1 MiB (copied asynchronously) land with their content, mode and timestamps, in plan order with the small ones', async () => {
    const h = await host();
    const big = Buffer.alloc(3 * 1024 * 1024 + 17, 'b');
    await writeFile(join(h.archive, 'app', 'big.bin'), big, { mode: 0o600 });
    await chmod(join(h.archive, 'app', 'big.bin'), 0o600);
    await writeFile(join(h.archive, 'app', 'lib', 'big2.bin'), big);
    await utimes(join(h.archive, 'app', 'big.bin'), new Date('2021-05-06T07:08:09Z'), new Date('2021-05-06T07:08:09Z'));

    const summary = await install(h.request(appSpec({ files: [['app', 'dest/app']] }), { concurrency: 1 }));

    expect(summary.filesCopied).toBe(7);
    expect(await tree(h.dest)).toEqual([...APP_FILES, 'app/big.bin', 'app/lib/big2.bin'].sort());
    expect((await readFile(join(h.dest, 'app', 'big.bin'))).equals(big)).toBe(true);
    expect((await readFile(join(h.dest, 'app', 'lib', 'big2.bin'))).equals(big)).toBe(true);
    expect((await stat(join(h.dest, 'app', 'big.bin'))).mode & 0o7777).toBe(0o600);
    expect((await stat(join(h.dest, 'app', 'big.bin'))).mtime.toISOString()).toBe('2021-05-06T07:08:09.000Z');
    const listed = await cleanupPaths(h);
    expect(listed).toContain(join(h.dest, 'app', 'big.bin'));
    expect(listed.filter((p) => p.includes('.cda-')).length).toBe(7);
  });

  it('a large file whose target appeared meanwhile fails like a small one, leaving no temp file', async () => {
    const h = await host();
    await writeFile(join(h.archive, 'big.bin'), Buffer.alloc(2 * 1024 * 1024, 'b'));
    await mkdir(join(h.dest, 'blocked', 'big.bin'), { recursive: true });
    await writeFile(join(h.dest, 'blocked', 'big.bin', 'inside'), 'pre-existing\n');
    const err = await installError(h.request(appSpec({ files: [['big.bin', 'dest/blocked']], fileExistsBehavior: 'OVERWRITE' })));
    expect(err.code).toBe(ErrorCodes.INSTALL_FAILED);
    expect(err.message).toContain(`could not install ${join(h.dest, 'blocked', 'big.bin')}`);
    expect((await tree(h.dest)).filter((p) => p.includes('.cda-'))).toEqual([]);
  });

  it('a source escaping the revision is rejected with nothing written (".." and a symlink leading outside)', async () => {
    const h = await host();
    await mkdir(join(h.root, 'outside'));
    await writeFile(join(h.root, 'outside', 'secret.txt'), 'secret\n');
    await symlink(join(h.root, 'outside'), join(h.archive, 'escape'));

    for (const source of ['../outside', 'app/../../outside/secret.txt', 'escape/secret.txt']) {
      const err = await installError(
        h.request(
          appSpec({
            files: [
              ['app', 'dest/app'],
              [source, 'dest/x'],
            ],
          }),
        ),
      );
      expect(err.code).toBe(ErrorCodes.PATH_ESCAPE);
      expect(err.message).toContain(
        `files entry files[1] in appspec.yml (line 6) specifies a source (${source}) that resolves outside the revision`,
      );
      expect(await tree(h.dest)).toEqual([]);
      expect(existsSync(h.instructions) ? await readdir(h.instructions) : []).toEqual([]);
    }

    // The symlink itself is copied as a symlink; nothing is read through it.
    await install(h.request(appSpec({ files: [['escape', 'dest/x']] })));
    expect(await readlink(join(h.dest, 'x', 'escape'))).toBe(join(h.root, 'outside'));
  });
});

describe('install: failures half-way', () => {
  /** app/* copies, then a last copy whose target is a non-empty directory (rename fails). */
  async function failingLastCopy(concurrency: number) {
    const h = await host();
    await writeFile(join(h.archive, 'blocker.txt'), 'x\n');
    await mkdir(join(h.dest, 'blocked', 'blocker.txt'), { recursive: true });
    await writeFile(join(h.dest, 'blocked', 'blocker.txt', 'inside'), 'pre-existing\n');
    const spec = appSpec({
      files: [
        ['app', 'dest/app'],
        ['blocker.txt', 'dest/blocked'],
      ],
      fileExistsBehavior: 'OVERWRITE',
    });
    const err = await installError(h.request(spec, { concurrency }));
    return { h, err, spec };
  }

  it.each([1, 32])('no temp files are left and every created path is already listed (concurrency %i)', async (concurrency) => {
    const { h, err, spec } = await failingLastCopy(concurrency);
    expect(err.code).toBe(ErrorCodes.INSTALL_FAILED);
    expect(err.message).toContain(`could not install ${join(h.dest, 'blocked', 'blocker.txt')}`);

    const onDisk = await tree(h.dest);
    expect(onDisk.filter((p) => p.includes('.cda-'))).toEqual([]);
    const listed = new Set(await cleanupPaths(h));
    const created = onDisk.filter((p) => !p.startsWith('blocked'));
    expect(created).toEqual(APP_FILES);
    for (const p of created) expect(listed.has(join(h.dest, p)), p).toBe(true);

    // The next install (blocker removed) starts from a clean slate under DISALLOW.
    execFileSync('rm', ['-r', join(h.dest, 'blocked', 'blocker.txt')]);
    const summary = await install(h.request({ ...spec, fileExistsBehavior: 'DISALLOW' }));
    expect(summary.filesCopied).toBe(6);
    expect(await readFile(join(h.dest, 'blocked', 'blocker.txt'), 'utf8')).toBe('x\n');
  });

  it('a file where a directory is needed fails with a clear error and lists what was made', async () => {
    const h = await host();
    await writeFile(join(h.dest, 'plain-file'), 'x');
    const spec = appSpec({
      files: [
        ['app', 'dest/app'],
        ['config.json', 'dest/plain-file/sub'],
      ],
    });
    const err = await installError(h.request(spec));
    expect(err.message).toContain(`could not create the directory ${join(h.dest, 'plain-file', 'sub')}`);
    expect(err.message).toContain('ENOTDIR');
    const listed = await cleanupPaths(h);
    for (const p of await tree(h.dest)) if (p !== 'plain-file') expect(listed).toContain(join(h.dest, p));
  });
});

describe('install: permissions', () => {
  const user = `cdat${process.pid}`;

  beforeAll(() => {
    if (isRoot) execFileSync('useradd', ['-M', '-U', '-s', '/usr/sbin/nologin', user]);
  });
  afterAll(() => {
    if (isRoot) execFileSync('userdel', [user]);
  });

  it('chmod applies mode.value to what the pattern matches; pre-existing files are untouched', async () => {
    const h = await host();
    await mkdir(join(h.dest, 'app'));
    await writeFile(join(h.dest, 'app', 'mine.txt'), 'x', { mode: 0o644 });
    const spec = appSpec({
      files: [['app', 'dest/app']],
      permissions: [
        permission({ object: 'dest/app', pattern: '*.sh', types: ['file'], mode: '0700' }),
        permission({ object: 'dest/app/bin', pattern: '*.sh', types: ['file'], mode: '0750' }),
        permission({ object: 'dest/app/lib', types: ['directory'], mode: '0711' }),
      ],
    });
    const summary = await install(h.request(spec));
    expect((await stat(join(h.dest, 'app', 'bin', 'run.sh'))).mode & 0o7777).toBe(0o750);
    expect((await stat(join(h.dest, 'app', 'lib', 'deep'))).mode & 0o7777).toBe(0o711);
    expect((await stat(join(h.dest, 'app', 'lib', 'deep', 'nested'))).mode & 0o7777).toBe(0o711);
    expect((await stat(join(h.dest, 'app', 'lib'))).mode & 0o7777).toBe(0o755);
    expect((await stat(join(h.dest, 'app', 'mine.txt'))).mode & 0o7777).toBe(0o644);
    expect(summary.permissionsApplied).toBe(3);
  });

  it.skipIf(!isRoot)('chown by name (user created for the test); setuid survives because chown goes first', async () => {
    const h = await host();
    const spec = appSpec({
      files: [['app', 'dest/app']],
      permissions: [
        permission({ object: 'dest/app/bin/run.sh', types: ['file'], mode: '4755', owner: user, group: user }),
        permission({ object: 'dest/app/lib', owner: user }),
      ],
    });
    await install(h.request(spec));
    const uid = Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', user], { encoding: 'utf8' }).trim());
    const runSh = await stat(join(h.dest, 'app', 'bin', 'run.sh'));
    expect(runSh.uid).toBe(uid);
    expect(runSh.gid).toBe(gid);
    expect(runSh.mode & 0o7777).toBe(0o4755);
    const data = await stat(join(h.dest, 'app', 'lib', 'deep', 'nested', 'data.txt'));
    expect(data.uid).toBe(uid);
    expect(data.gid).toBe(0);
    expect((await stat(join(h.dest, 'app', 'index.html'))).uid).toBe(0);
  });

  it.skipIf(!isRoot)('copies keep the source group in a setgid directory (like FileUtils preserve)', async () => {
    const h = await host();
    await mkdir(join(h.dest, 'shared'));
    await chown(join(h.dest, 'shared'), 0, 65534);
    await chmod(join(h.dest, 'shared'), 0o2775);
    await install(h.request(appSpec({ files: [['config.json', 'dest/shared']] })));
    const st = await stat(join(h.dest, 'shared', 'config.json'));
    expect(st.gid).toBe(0);
    expect(st.uid).toBe(0);
  });

  it('an unknown owner fails naming the user and the permission entry', async () => {
    const h = await host();
    const spec = appSpec({
      files: [['config.json', 'dest']],
      permissions: [permission({ object: 'dest/config.json', owner: 'no-such-user-cda' })],
    });
    const err = await installError(h.request(spec));
    expect(err.code).toBe(ErrorCodes.INSTALL_FAILED);
    expect(err.message).toMatch(
      /^The deployment failed because the permissions entry permissions\[\d+\] in appspec.yml \(line 20\) names the owner no-such-user-cda, which does not exist on this host/,
    );
  });

  it.skipIf(!hasSetfacl)('setfacl --set applies the entries plus base, mask and default entries (getfacl shows them)', async () => {
    const h = await host();
    const spec = appSpec({
      files: [['app', 'dest/app']],
      permissions: [
        permission({ object: 'dest/app', pattern: 'bin', types: ['directory'], acls: ['user:nobody:rwx', 'default:user:nobody:r-x'] }),
        permission({ object: 'dest/app/lib/deep/nested', types: ['file'], acls: ['group:nogroup:r--'] }),
      ],
    });
    await install(h.request(spec));
    const dirAcl = (await run('getfacl', ['--omit-header', '--numeric', join(h.dest, 'app', 'bin')])).stdout;
    expect(dirAcl).toContain('user:65534:rwx');
    expect(dirAcl).toContain('mask::r-x');
    expect(dirAcl).toContain('default:user:65534:r-x');
    expect(dirAcl).toContain('default:mask::r-x');
    const fileAcl = (await run('getfacl', ['--omit-header', '--numeric', join(h.dest, 'app', 'lib', 'deep', 'nested', 'data.txt')])).stdout;
    expect(fileAcl.split('\n').filter(Boolean)).toEqual(['user::rw-', 'group::r--', 'group:65534:r--', 'mask::r--', 'other::---']);
  });

  it('setfacl failure reports the failed argv and exit code', async () => {
    const h = await host();
    const spec = appSpec({
      files: [['config.json', 'dest']],
      permissions: [permission({ object: 'dest/config.json', acls: ['user:no-such-user-cda:rwx'] })],
    });
    const err = await installError(h.request(spec, { tools: fakeTools({ setfacl: 2 }) }));
    const file = join(h.dest, 'config.json');
    expect(err.message).toBe(
      `The deployment failed because of a problem with the acls permission settings in the application specification file for this object: ${file}. Failed command: setfacl --set user:no-such-user-cda:rwx,user::rw-,group::r--,other::r--,mask::r-- ${file}. Exit code: 2`,
    );
  });

  it('semanage and restorecon run on the realpath, recorded in the cleanup list, removed by the next cleanup', async () => {
    const h = await host();
    await symlink(h.dest, join(h.root, 'dest-link'));
    const tools = fakeTools({});
    const spec = appSpec({
      files: [['config.json', 'dest-link']],
      permissions: [
        permission({ object: 'dest-link/config.json', context: { user: 'name', type: 'httpd_sys_content_t', range: { low: 0, high: 0 } } }),
      ],
    });
    await install(h.request(spec, { tools }));
    const real = join(h.dest, 'config.json');
    expect(tools.calls).toEqual([
      ['semanage', 'fcontext', '-a', '-s', 'name', '-t', 'httpd_sys_content_t', '-r', 's0', real],
      ['restorecon', '-v', real],
    ]);
    expect(await readFile(cleanupFilePath(h.instructions, GROUP), 'utf8')).toContain(`semanage\0${real}\n`);

    tools.calls.length = 0;
    await install(h.request(appSpec(), { tools }));
    expect(tools.calls).toEqual([['semanage', 'fcontext', '-d', real]]);
    expect(existsSync(real)).toBe(false);
  });

  it('a semanage failure reports the failed command', async () => {
    const h = await host();
    const spec = appSpec({
      files: [['config.json', 'dest']],
      permissions: [permission({ object: 'dest/config.json', context: { type: 'bad_t' } })],
    });
    const err = await installError(h.request(spec, { tools: fakeTools({ semanage: 1 }) }));
    expect(err.message).toBe(
      `The deployment failed because the application specification file contains an error in the settings for the context parameter. Update the permissions section of the AppSpec file, and then try again. Failed command: semanage fcontext -a -t bad_t ${join(h.dest, 'config.json')}. Exit code: 1`,
    );
  });
});

/** Records semanage/restorecon/setfacl calls with the given exit codes (default 0); getent is real. */
function fakeTools(exitCodes: Record<string, number>): ToolRunner & { calls: string[][] } {
  const real = createToolRunner();
  const calls: string[][] = [];
  return {
    calls,
    run(file, args) {
      if (file === 'getent') return real.run(file, args);
      calls.push([file, ...args]);
      return Promise.resolve({ exitCode: exitCodes[file] ?? 0, signal: null, stdout: '', stderr: '' });
    },
  };
}

describe('install: 10,000 files', () => {
  it('installs a generated revision of 10,000 small files (timing compared with cp -a)', async () => {
    const h = await host();
    const src = join(h.archive, 'big');
    for (let d = 0; d < 100; d++) {
      await mkdir(join(src, `d${d}`), { recursive: true });
      await Promise.all(Array.from({ length: 100 }, (_, f) => writeFile(join(src, `d${d}`, `f${f}.txt`), `${d}/${f}\n`)));
    }
    const spec = appSpec({ files: [['big', 'dest/big']] });

    // The synchronous fs work runs in slices that yield to the event loop: timers keep firing.
    let longestGap = 0;
    let last = performance.now();
    const ticker = setInterval(() => {
      const now = performance.now();
      longestGap = Math.max(longestGap, now - last);
      last = now;
    }, 1);
    const started = performance.now();
    const summary = await install(h.request(spec)).finally(() => clearInterval(ticker));
    const installMs = performance.now() - started;

    const cpStarted = performance.now();
    await run('cp', ['-a', src, join(h.root, 'cp-copy')]);
    const cpMs = performance.now() - cpStarted;

    const again = performance.now();
    const second = await install(h.request(spec));
    const redeployMs = performance.now() - again;

    console.log(
      `install of 10,000 files: ${installMs.toFixed(0)} ms; cp -a: ${cpMs.toFixed(0)} ms (ratio ${(installMs / cpMs).toFixed(2)}); ` +
        `redeploy incl. cleanup of the previous 10,100 entries: ${redeployMs.toFixed(0)} ms; longest event-loop gap ${longestGap.toFixed(0)} ms`,
    );
    // Generous (a loaded machine, a GC pause); an install that never yields blocks for its whole duration.
    expect(longestGap).toBeLessThan(Math.max(250, installMs / 2));
    expect(summary.filesCopied).toBe(10_000);
    expect(summary.directoriesCreated).toBe(101);
    expect(second.cleanedUp).toBe(10_101);
    expect((await tree(join(h.dest, 'big'))).length).toBe(10_100);
    expect(await readFile(join(h.dest, 'big', 'd42', 'f7.txt'), 'utf8')).toBe('42/7\n');
  });
});
