/**
 * A non-root agent (:user:, :group:; agent/platform/privileges.ts): the real daemon started as
 * root against the scripted commands server switches to a system user made for the test, keeps
 * deploying, writes its files as that user, and gives root_dir to it without following links
 * out of it. A user that does not exist stops start with the official message. Needs root.
 */
import { execFile as execFileCb, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, copyFile, cp, link, lstat, mkdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { AGENT_CLI, FULL_LIFECYCLE, localSpec, startDaemonHost, type DaemonHost } from '../helpers/daemon-host.js';
import { FIXTURES } from '../helpers/local-deploy.js';
import { sharedSpecSigner } from '../helpers/spec-signer.js';
import { tempDir } from '../helpers/temp.js';

const execFile = promisify(execFileCb);
const SAMPLE = join(FIXTURES, 'sample-app');
const EXEC = (d: string) => `CodeDeploy/us-east-1/Prod/arn:aws:sds:us-east-1:123456789012:deployment/${d}`;
const isRoot = process.geteuid?.() === 0;
const random = (): string => Math.random().toString(36).slice(2, 8);

interface CompleteBody {
  CommandStatus: string;
  Diagnostics: { Payload: string };
}
const body = (c: { body: unknown }) => c.body as CompleteBody;
const payload = (c: { body: unknown }) => JSON.parse(body(c).Diagnostics.Payload) as { error_code: number; message: string };

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

interface TestUser {
  name: string;
  uid: number;
  gid: number;
}

/** A system user without a home, removed after the test. */
async function makeUser(): Promise<TestUser> {
  const name = `cda-test-${random()}`;
  await execFile('useradd', ['-r', '-M', '-U', '-s', '/usr/sbin/nologin', name]);
  cleanups.push(() => execFile('userdel', [name]));
  const [uid, gid] = await Promise.all([execFile('id', ['-u', name]), execFile('id', ['-g', name])]);
  return { name, uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

async function makeGroup(): Promise<{ name: string; gid: number }> {
  const name = `cda-grp-${random()}`;
  await execFile('groupadd', ['-r', name]);
  cleanups.push(() => execFile('groupdel', [name]));
  const line = (await execFile('getent', ['group', name])).stdout;
  return { name, gid: Number(line.split(':')[2]) };
}

/**
 * A daemon host whose files the user can reach, as an operator would set it up: the temp root
 * traversable, the spec CA readable, the hooks' working directory and proof file the user's.
 */
async function userHost(user: TestUser, extraConfig: string[] = []): Promise<DaemonHost> {
  const root = await tempDir('cda-user-ca-');
  await chmod(root, 0o755);
  const ca = join(root, 'ca.pem');
  await copyFile(sharedSpecSigner().caCertPath, ca);
  await chmod(ca, 0o644);
  const h = await startDaemonHost({ extraConfig: [`:user: ${user.name}`, `:deployment_spec_ca_file: ${ca}`, ...extraConfig] });
  cleanups.push(async () => {
    await h.stop('SIGKILL');
    await h.server.close();
  });
  await chmod(h.root, 0o755);
  await chown(h.workDir, user.uid, user.gid);
  await writeFile(h.proofFile, '');
  await chown(h.proofFile, user.uid, user.gid);
  return h;
}

/** The Uid:, Gid: and Groups: lines of /proc/<pid>/status. */
async function procIds(pid: number): Promise<{ uid: number[]; gid: number[]; groups: number[] }> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8');
  const ids = (key: string): number[] =>
    (new RegExp(`^${key}:(.*)$`, 'm').exec(text)?.[1] ?? '').trim().split(/\s+/).filter(Boolean).map(Number);
  return { uid: ids('Uid'), gid: ids('Gid'), groups: ids('Groups') };
}

const owner = async (path: string): Promise<string> => {
  const s = await lstat(path);
  return `${s.uid}:${s.gid}`;
};

describe.skipIf(!existsSync(AGENT_CLI) || !isRoot)('codedeploy-agent start with :user: (a non-root agent)', () => {
  it('switches to the user after start-up, deploys as it, and writes its files as it', async () => {
    const user = await makeUser();
    const h = await userHost(user);
    const src = join(h.root, 'app');
    await cp(SAMPLE, src, { recursive: true });
    h.specs.set(EXEC('d-USER00001'), localSpec('d-USER00001', 'dg-1', src));
    const agent = h.start();
    await expect.poll(() => h.server.calls('PollHostCommand').length, { timeout: 20_000, message: h.stderr() }).toBeGreaterThan(0);

    // Real, effective, saved and filesystem ids: all the user's; no supplementary root group.
    const ids = await procIds(agent.pid ?? 0);
    expect(ids.uid).toEqual([user.uid, user.uid, user.uid, user.uid]);
    expect(ids.gid).toEqual([user.gid, user.gid, user.gid, user.gid]);
    expect(ids.groups).not.toContain(0);

    const results = await h.deploy(EXEC('d-USER00001'), FULL_LIFECYCLE);
    expect(results.map((c) => body(c).CommandStatus)).toEqual(FULL_LIFECYCLE.map(() => 'Succeeded'));
    expect((await readFile(h.proofFile, 'utf8')).split('\n').filter(Boolean)).toContain('ApplicationStart');

    const mine = `${user.uid}:${user.gid}`;
    expect(await owner(join(h.workDir, 'target', 'hello.txt'))).toBe(mine);
    expect(await owner(h.rootDir)).toBe(mine);
    expect((await stat(h.rootDir)).mode & 0o777).toBe(0o700);
    expect(await owner(join(h.rootDir, 'dg-1', 'd-USER00001', 'logs', 'scripts.log'))).toBe(mine);
    expect(await owner(join(h.rootDir, 'deployment-logs', 'codedeploy-agent-deployments.log'))).toBe(mine);
    expect(await owner(join(h.rootDir, 'deployment-instructions', 'dg-1_last_successful_install'))).toBe(mine);
    expect(await owner(join(h.root, 'state', 'codedeploy-agent.pid'))).toBe(mine);
    expect(await owner(join(h.root, 'state', 'codedeploy-agent.status.json'))).toBe(mine);
    expect(await owner(h.logDir)).toBe(mine);
    expect(await owner(join(h.logDir, 'codedeploy-agent.log'))).toBe(mine);

    expect(await h.stop()).toBe(0);
    expect(existsSync(join(h.root, 'state', 'codedeploy-agent.pid'))).toBe(false);
    const log = await readFile(join(h.logDir, 'codedeploy-agent.log'), 'utf8');
    expect(log).toContain(`Running as user ${user.name} (uid ${user.uid}, gid ${user.gid})`);
    expect(log).toMatch(/identity: on-premises/);
  });

  it('fails a runas hook and an owner change with messages that say the agent is not root', async () => {
    const user = await makeUser();
    const h = await userHost(user);
    const src = join(h.root, 'app');
    await cp(SAMPLE, src, { recursive: true });
    await writeFile(
      join(src, 'appspec.yml'),
      [
        'version: 0.0',
        'os: linux',
        'files:',
        '  - source: app/hello.txt',
        '    destination: target',
        'hooks:',
        '  AfterInstall:',
        '    - location: scripts/hook.sh',
        '      runas: root',
        '',
      ].join('\n'),
    );
    h.specs.set(EXEC('d-RUNAS0001'), localSpec('d-RUNAS0001', 'dg-1', src));
    h.start();
    const results = await h.deploy(EXEC('d-RUNAS0001'), ['DownloadBundle', 'Install', 'AfterInstall']);
    const failed = results[2];
    expect(failed && body(failed).CommandStatus).toBe('Failed');
    expect(failed && payload(failed)).toMatchObject({ error_code: 4 });
    expect(failed && payload(failed).message).toBe(
      'Script at specified location: scripts/hook.sh run as user root failed with error EPERM with message running a script as user root requires the agent to run as root,' +
        ` and it runs as uid ${user.uid} (:user: in the agent config, or codedeploy-local without sudo): remove runas from this hook, or run the agent as root`,
    );

    // permissions owner: root cannot be given by a non-root agent.
    const src2 = join(h.root, 'app2');
    await cp(SAMPLE, src2, { recursive: true });
    await writeFile(
      join(src2, 'appspec.yml'),
      [
        'version: 0.0',
        'os: linux',
        'files:',
        '  - source: app/hello.txt',
        '    destination: target2',
        'permissions:',
        `  - object: target2/hello.txt`,
        '    owner: root',
        '',
      ].join('\n'),
    );
    h.specs.set(EXEC('d-CHOWN0001'), localSpec('d-CHOWN0001', 'dg-2', src2));
    const install = await h.deploy(EXEC('d-CHOWN0001'), ['DownloadBundle', 'Install']);
    const chownFailed = install[1];
    expect(chownFailed && body(chownFailed).CommandStatus).toBe('Failed');
    const message = (chownFailed && payload(chownFailed).message) ?? '';
    expect(message).toContain(`could not change the owner of ${join(h.workDir, 'target2', 'hello.txt')}: EPERM`);
    expect(message).toContain(`the agent runs as uid ${user.uid}, not root, because of :user:`);
  });

  it('takes :group: as the primary group and keeps the user out of root groups', async () => {
    const user = await makeUser();
    const group = await makeGroup();
    const h = await userHost(user, [`:group: ${group.name}`, ':plugins: [codedeploy]']);
    const agent = h.start();
    await expect.poll(() => h.server.calls('PollHostCommand').length, { timeout: 20_000, message: h.stderr() }).toBeGreaterThan(0);
    const ids = await procIds(agent.pid ?? 0);
    expect(ids.uid).toEqual([user.uid, user.uid, user.uid, user.uid]);
    expect(ids.gid).toEqual([group.gid, group.gid, group.gid, group.gid]);
    expect(ids.groups).toContain(group.gid);
    expect(ids.groups).not.toContain(0);
    expect(await owner(h.rootDir)).toBe(`${user.uid}:${group.gid}`);
    expect(await h.stop()).toBe(0);
    // The config's warnings go to stderr and to the agent log.
    const warning = ':plugins: is accepted for compatibility and ignored: the CodeDeploy commands are built in and no plugins are loaded';
    expect(h.stderr()).toContain(`codedeploy-agent: warning: ${warning}\n`);
    expect(await readFile(join(h.logDir, 'codedeploy-agent.log'), 'utf8')).toMatch(
      new RegExp(`WARN .*: config: ${warning.replace(/[()]/g, '\\$&')}`),
    );
  });

  it('gives root_dir to the user without following symlinks or hard links out of it', async () => {
    const user = await makeUser();
    const h = await userHost(user);
    // What a root agent left: a deployment, plus links to files outside root_dir.
    const outside = join(h.root, 'outside');
    await mkdir(outside);
    await writeFile(join(outside, 'secret'), 'root only\n', { mode: 0o600 });
    await writeFile(join(outside, 'linked'), 'root only\n', { mode: 0o600 });
    const old = join(h.rootDir, 'dg-old', 'd-OLD', 'deployment-archive');
    await mkdir(old, { recursive: true, mode: 0o750 });
    await writeFile(join(old, 'file.txt'), 'old\n');
    await symlink(join(outside, 'secret'), join(old, 'to-secret'));
    await symlink(outside, join(old, 'to-dir'));
    await link(join(outside, 'linked'), join(old, 'hardlink'));
    await chmod(h.rootDir, 0o700);

    h.start();
    await expect.poll(() => h.server.calls('PollHostCommand').length, { timeout: 20_000, message: h.stderr() }).toBeGreaterThan(0);
    const mine = `${user.uid}:${user.gid}`;
    expect(await owner(join(old, 'file.txt'))).toBe(mine);
    expect(await owner(join(h.rootDir, 'dg-old'))).toBe(mine);
    expect(await owner(join(old, 'to-secret'))).toBe(mine); // the link itself
    expect(await owner(join(outside, 'secret'))).toBe('0:0');
    expect(await owner(outside)).toBe('0:0');
    expect(await owner(join(outside, 'linked'))).toBe('0:0');
    expect(await owner(join(old, 'hardlink'))).toBe('0:0');
    expect(await h.stop()).toBe(0);
  });

  it('refuses to start for a user that does not exist, with the official message', async () => {
    const h = await startDaemonHost({ extraConfig: [`:user: cda-nobody-${random()}`] });
    cleanups.push(() => h.server.close());
    const name = /:user: (\S+)/.exec(await readFile(h.configFile, 'utf8'))?.[1] ?? '';
    const child = spawn(process.execPath, [AGENT_CLI, 'start', '--config_file', h.configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((r) => child.once('exit', r));
    expect(stderr).toContain(`could not start: The system user does not exist: ${name}\n`);
    // A configuration error: exit 78 (EX_CONFIG) where start maps config errors, else 1.
    expect([1, 78]).toContain(code);
    expect(h.server.calls('PollHostCommand')).toHaveLength(0);
    const log = await readFile(join(h.logDir, 'codedeploy-agent.log'), 'utf8');
    expect(log).toContain(`The system user does not exist: ${name}`);
  });
});
