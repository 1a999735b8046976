/**
 * Deploy on push, end to end: a bare git repository under the control plane's github repos dir
 * with scripts/git/post-receive installed, a work tree that commits the fleet app and runs
 * `git push`, a real agent that downloads the pushed commit from <cp>/github. The hook's signed
 * delivery must create a deployment of exactly the pushed commit that succeeds on the host; a
 * push to a branch nobody follows and a delivery with a wrong signature create nothing.
 */
import { execFile } from 'node:child_process';
import { chmod, copyFile, cp as copyDir, readFile, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { runControlPlaneCli } from '../../control-plane/cli/control-plane-command.js';
import { GetDeploymentCommand, ListDeploymentsCommand, type DeploymentInfo } from '@aws-sdk/client-codedeploy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signPayload } from '../../control-plane/github/push-signature.js';
import type { ControlPlane } from '../../control-plane/server.js';
import { projectRoot } from '../../scripts/lib/local-fleet.js';
import { clients, createAppAndGroup, FLEET_APP, startFleet, startTestControlPlane, type TestFleet } from '../helpers/control-plane.js';
import { suiteTempDir } from '../helpers/temp.js';
import { waitFor } from '../helpers/wait-for.js';

const execFileAsync = promisify(execFile);
const HOOK = join(projectRoot(), 'scripts', 'git', 'post-receive');
const SECRET = 'push-deploy-integration-secret';
const APPLICATION = 'PushApp';
const GROUP = 'push-staging';

describe('git push to a local bare repository deploys', () => {
  let cp: ControlPlane;
  let sdk: ReturnType<typeof clients>;
  let fleet: TestFleet;
  let home: string;
  let bare: string;
  let work: string;

  /** git with a clean configuration: no system or user files, a temp HOME, a fixed identity. */
  async function git(cwd: string, ...args: string[]): Promise<{ stdout: string; stderr: string }> {
    return execFileAsync(
      'git',
      ['-c', 'user.name=Push Tester', '-c', 'user.email=push@example.com', '-c', 'commit.gpgsign=false', ...args],
      {
        cwd,
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          HOME: home,
          GIT_CONFIG_NOSYSTEM: '1',
          LC_ALL: 'C',
        },
      },
    );
  }

  async function deploymentsOfGroup(): Promise<string[]> {
    const out = await sdk.deploy.send(new ListDeploymentsCommand({ applicationName: APPLICATION, deploymentGroupName: GROUP }));
    return out.deployments ?? [];
  }

  async function commitVersion(version: string, message = `Version ${version}`): Promise<string> {
    await writeFile(join(work, 'app', 'version.txt'), `${version}\n`);
    await git(work, 'add', '-A');
    await git(work, 'commit', '-q', '-m', message);
    return (await git(work, 'rev-parse', 'HEAD')).stdout.trim();
  }

  beforeAll(async () => {
    home = await suiteTempDir('cda-push-home-');
    cp = await startTestControlPlane();
    sdk = clients(cp);
    await createAppAndGroup(sdk.deploy, { application: APPLICATION, group: GROUP, tag: 'push' });
    // The default configuration file, written after start: it is read at each delivery.
    await writeFile(
      join(cp.dataDir, 'push-deployments.yml'),
      [
        `secret: ${SECRET}`,
        'follow:',
        '  - repository: demo/fleet-app',
        '    branch: main',
        `    applicationName: ${APPLICATION}`,
        `    deploymentGroupName: ${GROUP}`,
        '',
      ].join('\n'),
    );

    bare = join(cp.dataDir, 'github', 'demo', 'fleet-app.git');
    await git(cp.dataDir, 'init', '-q', '--bare', '-b', 'main', bare);
    await copyFile(HOOK, join(bare, 'hooks', 'post-receive'));
    await chmod(join(bare, 'hooks', 'post-receive'), 0o755);
    await git(bare, 'config', 'codedeploy.webhookSecret', SECRET);
    await git(bare, 'config', 'codedeploy.controlPlaneUrl', cp.url);

    work = join(await suiteTempDir('cda-push-work-'), 'fleet-app');
    await copyDir(FLEET_APP, work, { recursive: true });
    await git(work, 'init', '-q', '-b', 'main');
    await git(work, 'remote', 'add', 'local', bare);

    fleet = await startFleet(cp, sdk.deploy, 1, {
      tag: 'push',
      extraConfig: [`:github_api_url: ${cp.url}/github`],
      env: { HOOK_SLEEP_SECONDS: '0' },
    });
  }, 120_000);

  afterAll(async () => {
    await fleet?.stop();
    await cp?.close();
  });

  it('deploys exactly the pushed commit to the following group, and it succeeds on the host', async () => {
    const sha = await commitVersion('pushed-1');
    const push = await git(work, 'push', '-q', 'local', 'main');
    // The hook's answer is shown to the pusher.
    expect(push.stderr).toMatch(/remote: codedeploy: refs\/heads\/main [0-9a-f]{7}: 201 /);

    const [deploymentId] = await deploymentsOfGroup();
    expect(deploymentId).toMatch(/^d-/);
    const info = await waitFor(
      `deployment ${deploymentId} to end`,
      async () => {
        const d = (await sdk.deploy.send(new GetDeploymentCommand({ deploymentId }))).deploymentInfo as DeploymentInfo;
        return ['Succeeded', 'Failed', 'Stopped'].includes(d.status ?? '') && d;
      },
      { timeoutMs: 90_000, intervalMs: 250, details: () => fleet.agents[0]?.stderr().slice(-2000) ?? '' },
    );
    expect(info.status).toBe('Succeeded');
    expect(info.revision).toEqual({ revisionType: 'GitHub', gitHubLocation: { repository: 'demo/fleet-app', commitId: sha } });
    // The hook names the pusher by the local account (git -c settings do not reach a hook).
    expect(info.description).toBe(`push ${sha.slice(0, 7)} by ${userInfo().username}: Version pushed-1`);
    const agent = fleet.agents[0]!;
    expect(await readFile(join(agent.root, 'agent-home', 'fleet-app', 'version.txt'), 'utf8')).toBe('pushed-1\n');
  }, 120_000);

  it('creates nothing for a push to a branch no group follows', async () => {
    const before = await deploymentsOfGroup();
    await git(work, 'checkout', '-q', '-b', 'feature');
    // A subject the hook must escape to send valid JSON (a 400 would fail the assertion below).
    await commitVersion('feature-1', 'Say "hi" \\ back\tslash é');
    const push = await git(work, 'push', '-q', 'local', 'feature');
    expect(push.stderr).toContain('200 {"message":"no deployment group follows demo/fleet-app branch feature"');
    expect(await deploymentsOfGroup()).toEqual(before);
  });

  it('refuses a delivery with a wrong signature (401) and creates nothing', async () => {
    const before = await deploymentsOfGroup();
    const sha = (await git(work, 'rev-parse', 'HEAD')).stdout.trim();
    const body = JSON.stringify({ ref: 'refs/heads/main', after: sha, repository: { full_name: 'demo/fleet-app' } });
    const res = await fetch(`${cp.url}/github/webhook`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-github-event': 'push',
        'x-github-delivery': 'forged-1',
        'x-hub-signature-256': signPayload('not-the-secret', body),
      },
      body,
    });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { message: string }).message).toMatch(/signature refused/);
    expect(await deploymentsOfGroup()).toEqual(before);
  });
});

describe('codedeploy-control-plane --push-config', () => {
  it('refuses to start when the named file does not exist', async () => {
    const dir = await suiteTempDir('cda-push-cli-');
    let stderr = '';
    const code = await runControlPlaneCli(['--data-dir', join(dir, 'data'), '--port', '0', '--push-config', join(dir, 'nope.yml')], {
      io: { stdout: () => undefined, stderr: (t) => void (stderr += t) },
      env: {},
      stopSignal: new Promise(() => undefined),
    });
    expect(code).toBe(1);
    expect(stderr).toContain(
      `cannot start: the deploy-on-push configuration ${join(dir, 'nope.yml')} does not exist (given with --push-config)`,
    );
  });

  it('serves the webhook with the named file and the secret from CODEDEPLOY_WEBHOOK_SECRET', async () => {
    const dir = await suiteTempDir('cda-push-cli-');
    const file = join(dir, 'push.yml');
    await writeFile(file, 'follow: []\n');
    let stop: (signal: string) => void = () => undefined;
    let answer: Promise<Response> | undefined;
    const code = await runControlPlaneCli(
      ['--data-dir', join(dir, 'data'), '--port', '0', '--push-config', file, '--log-level', 'silent'],
      {
        io: { stdout: () => undefined, stderr: () => undefined },
        env: { CODEDEPLOY_WEBHOOK_SECRET: 'from-the-environment' },
        stopSignal: new Promise((resolve) => (stop = resolve)),
        onListening: (cp) => {
          const body = JSON.stringify({ zen: 'Design for failure.', hook_id: 1 });
          answer = fetch(`${cp.url}/github/webhook`, {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              'x-github-event': 'ping',
              'x-hub-signature-256': signPayload('from-the-environment', body),
            },
            body,
          }).finally(() => stop('test'));
        },
      },
    );
    expect(code).toBe(0);
    expect((await answer)?.status).toBe(200);
  });
});
