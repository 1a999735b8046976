/**
 * `codedeploy-control-plane add-host` against a running control plane (in-process, the CLI run
 * through runControlPlaneCli with captured io): the instance is registered with its tags (checked
 * through the SDK), the files parse with the agent's own parsers and have their modes, adding the
 * host again only re-tags it, and with --start the real agent takes a deployment to Succeeded.
 * Failures are one line each: unreachable endpoint, bad tag or name, another ARN under the name,
 * a directory that cannot be written (and nothing registered then).
 */
import { spawnSync } from 'node:child_process';
import { readFile, stat, writeFile } from 'node:fs/promises';
import * as http from 'node:http';
import * as https from 'node:https';
import { createServer } from 'node:net';
import { join } from 'node:path';
import {
  CreateDeploymentCommand,
  GetDeploymentCommand,
  GetOnPremisesInstanceCommand,
  RegisterOnPremisesInstanceCommand,
} from '@aws-sdk/client-codedeploy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAgentConfig } from '../../agent/config/agent-config.js';
import { parseOnPremisesConfig } from '../../agent/identity/on-premises-config.js';
import { runControlPlaneCli } from '../../control-plane/cli/control-plane-command.js';
import type { ControlPlane } from '../../control-plane/server.js';
import { clients, createAppAndGroup, s3Revision, startTestControlPlane, uploadFleetApp } from '../helpers/control-plane.js';
import { suiteTempDir, tempDir } from '../helpers/temp.js';
import { waitFor } from '../helpers/wait-for.js';

const ACCOUNT = '123456789012';

interface CliRun {
  code: Promise<number>;
  stdout: () => string;
  stderr: () => string;
  stop: (signal: string) => void;
}

function cli(args: string[], env: NodeJS.ProcessEnv = {}): CliRun {
  let stdout = '';
  let stderr = '';
  let stop: (signal: string) => void = () => undefined;
  const stopSignal = new Promise<string>((resolve) => (stop = resolve));
  const code = runControlPlaneCli(args, {
    io: { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t) },
    env: { PATH: process.env.PATH, ...env },
    stopSignal,
  });
  return { code, stdout: () => stdout, stderr: () => stderr, stop };
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('codedeploy-control-plane add-host', () => {
  let cp: ControlPlane;
  let sdk: ReturnType<typeof clients>;
  let hosts: string;

  beforeAll(async () => {
    cp = await startTestControlPlane({ accountId: ACCOUNT });
    sdk = clients(cp);
    hosts = await suiteTempDir('cda-add-host-');
  });

  afterAll(async () => {
    await cp?.close();
  });

  const instance = async (name: string) => (await sdk.deploy.send(new GetOnPremisesInstanceCommand({ instanceName: name }))).instanceInfo;

  it('registers and tags the host and writes files the agent reads; adding it again only re-tags', async () => {
    const dir = join(hosts, 'web-1');
    const run = cli(['add-host', 'web-1', '--tag', 'env=dev', '--tag', 'note=', '--dir', dir], { CODEDEPLOY_CONTROL_PLANE_URL: cp.url });
    expect(await run.code, run.stderr()).toBe(0);
    expect(run.stderr()).toBe('');
    expect(run.stdout()).toContain(`Registered web-1 with ${cp.url} as arn:aws:iam::${ACCOUNT}:user/web-1; tags env=dev, note=`);
    expect(run.stdout()).toContain(`codedeploy-agent start --config_file ${join(dir, 'codedeployagent.yml')}`);
    expect(run.stdout()).toContain(`aws deploy create-deployment --endpoint-url ${cp.url}`);

    const info = await instance('web-1');
    expect(info?.iamUserArn).toBe(`arn:aws:iam::${ACCOUNT}:user/web-1`);
    expect(info?.tags).toEqual([
      { Key: 'env', Value: 'dev' },
      { Key: 'note', Value: '' },
    ]);

    const configFile = join(dir, 'codedeployagent.yml');
    const { config, warnings } = parseAgentConfig(await readFile(configFile, 'utf8'), configFile);
    expect(warnings).toEqual([]);
    expect(config).toMatchObject({
      deployControlEndpoint: cp.url,
      s3EndpointOverride: cp.url,
      githubApiUrl: `${cp.url}/github`,
      deploymentSpecCaFile: join(dir, 'ca.pem'),
      rootDir: join(dir, 'deployment-root'),
      logDir: join(dir, 'log'),
      pidDir: join(dir, 'state'),
      workingDirectory: join(dir, 'agent-home'),
      onPremisesConfigFile: join(dir, 'codedeploy.onpremises.yml'),
      waitBetweenRunsSeconds: 1,
    });
    expect(config.caBundle).toBeUndefined();
    const onPremFile = join(dir, 'codedeploy.onpremises.yml');
    expect(parseOnPremisesConfig(await readFile(onPremFile, 'utf8'), onPremFile)).toMatchObject({
      region: 'us-east-1',
      iamUserArn: `arn:aws:iam::${ACCOUNT}:user/web-1`,
    });
    expect((await stat(onPremFile)).mode & 0o777).toBe(0o600);
    expect(await readFile(join(dir, 'ca.pem'), 'utf8')).toBe(await readFile(cp.caCertificatePath, 'utf8'));

    // Again, with another value for env: same identity, so only the tags and files change.
    await writeFile(configFile, 'garbage');
    const again = cli(['add-host', 'web-1', '--tag', 'env=prod', '--dir', dir, '--endpoint', cp.url]);
    expect(await again.code, again.stderr()).toBe(0);
    expect(again.stdout()).toContain(`web-1 was already registered with ${cp.url} as arn:aws:iam::${ACCOUNT}:user/web-1; tags env=prod`);
    expect((await instance('web-1'))?.tags).toEqual([
      { Key: 'env', Value: 'prod' },
      { Key: 'note', Value: '' },
    ]);
    expect(parseAgentConfig(await readFile(configFile, 'utf8'), configFile).config.rootDir).toBe(join(dir, 'deployment-root'));
  });

  it('--print prints both files and writes nothing', async () => {
    const dir = join(hosts, 'printed');
    const run = cli(['add-host', 'web-2', '--dir', dir, '--endpoint', cp.url, '--print']);
    expect(await run.code, run.stderr()).toBe(0);
    expect(run.stdout()).toContain(`# ${join(dir, 'codedeployagent.yml')}\n`);
    expect(run.stdout()).toContain(`:deploy_control_endpoint: ${cp.url}\n`);
    expect(run.stdout()).toContain(`iam_user_arn: arn:aws:iam::${ACCOUNT}:user/web-2\n`);
    expect(run.stderr()).toContain('Registered web-2');
    await expect(stat(dir)).rejects.toThrow(/ENOENT/);
  });

  it('says what is wrong in one line: unreachable endpoint, bad tag or name, another ARN, an unwritable directory', async () => {
    const port = await closedPort();
    const down = cli(['add-host', 'h1', '--dir', join(hosts, 'down'), '--endpoint', `http://127.0.0.1:${port}`]);
    expect(await down.code).toBe(1);
    expect(down.stderr()).toBe(
      `codedeploy-control-plane add-host: cannot reach the control plane at http://127.0.0.1:${port} (ECONNREFUSED): it must be running (codedeploy-control-plane), or point --endpoint or CODEDEPLOY_CONTROL_PLANE_URL at it\n`,
    );

    const badTag = cli(['add-host', 'h1', '--tag', 'novalue', '--endpoint', cp.url]);
    expect(await badTag.code).toBe(2);
    expect(badTag.stderr()).toBe('codedeploy-control-plane add-host: --tag must be KEY=VALUE (KEY= for an empty value), got "novalue"\n');
    const badName = cli(['add-host', '../etc', '--endpoint', cp.url]);
    expect(await badName.code).toBe(2);
    expect(badName.stderr()).toMatch(/^codedeploy-control-plane add-host: the host name "..\/etc" is not valid: .*\n$/);
    const noName = cli(['add-host']);
    expect(await noName.code).toBe(2);
    expect(noName.stderr()).toContain("give the host's name");

    await sdk.deploy.send(
      new RegisterOnPremisesInstanceCommand({ instanceName: 'taken', iamUserArn: `arn:aws:iam::${ACCOUNT}:user/someone` }),
    );
    const taken = cli(['add-host', 'taken', '--dir', join(hosts, 'taken'), '--endpoint', cp.url]);
    expect(await taken.code).toBe(1);
    expect(taken.stderr()).toMatch(
      new RegExp(
        `^codedeploy-control-plane add-host: the instance taken is already registered with another identity \\(arn:aws:iam::${ACCOUNT}:user/someone, not arn:aws:iam::${ACCOUNT}:user/taken\\): .*\\n$`,
      ),
    );
    expect((await instance('taken'))?.iamUserArn).toBe(`arn:aws:iam::${ACCOUNT}:user/someone`);

    const file = join(await tempDir('cda-add-host-file-'), 'a-file');
    await writeFile(file, '');
    const blocked = cli(['add-host', 'blocked', '--dir', join(file, 'host'), '--endpoint', cp.url]);
    expect(await blocked.code).toBe(1);
    expect(blocked.stderr()).toBe(
      `codedeploy-control-plane add-host: cannot write the host files to ${join(file, 'host')}: a file is in the way (ENOTDIR); pick another --dir\n`,
    );
    await expect(instance('blocked')).rejects.toThrow(/not registered/);

    const unknown = cli(['add-hots', 'x']);
    expect(await unknown.code).toBe(2);
    expect(unknown.stderr()).toContain('unknown command "add-hots"');
  });

  const hasOpenssl = spawnSync('openssl', ['version']).status === 0;

  it.skipIf(!hasOpenssl)("an https endpoint needs --ca-bundle, which becomes the agent's :ca_bundle:", async () => {
    // An https front for the control plane, with a self-signed certificate made by openssl.
    const tls = await tempDir('cda-add-host-tls-');
    const made = spawnSync('openssl', [
      ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost'],
      ...['-keyout', join(tls, 'key.pem'), '-out', join(tls, 'cert.pem'), '-addext', 'subjectAltName=IP:127.0.0.1'],
    ]);
    expect(made.status, made.stderr.toString()).toBe(0);
    const front = https.createServer(
      { key: await readFile(join(tls, 'key.pem')), cert: await readFile(join(tls, 'cert.pem')) },
      (req, res) => {
        const upstream = http.request(`${cp.url}${req.url ?? '/'}`, { method: req.method, headers: req.headers }, (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        });
        req.pipe(upstream);
      },
    );
    await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
    const endpoint = `https://127.0.0.1:${(front.address() as { port: number }).port}`;
    try {
      const untrusted = cli(['add-host', 'tls-1', '--dir', join(hosts, 'tls-1'), '--endpoint', endpoint]);
      expect(await untrusted.code).toBe(1);
      expect(untrusted.stderr()).toMatch(
        /^codedeploy-control-plane add-host: the TLS certificate of https:\/\/127\.0\.0\.1:\d+ is not trusted \(\w+\): pass --ca-bundle .*\n$/,
      );

      const dir = join(hosts, 'tls-1');
      const trusted = cli(['add-host', 'tls-1', '--tag', 'env=tls', '--dir', dir, '--endpoint', endpoint], {
        AWS_CA_BUNDLE: join(tls, 'cert.pem'),
      });
      expect(await trusted.code, trusted.stderr()).toBe(0);
      const configFile = join(dir, 'codedeployagent.yml');
      expect(parseAgentConfig(await readFile(configFile, 'utf8'), configFile).config).toMatchObject({
        deployControlEndpoint: endpoint,
        githubApiUrl: `${endpoint}/github`,
        caBundle: join(tls, 'cert.pem'),
      });
      expect((await instance('tls-1'))?.tags).toEqual([{ Key: 'env', Value: 'tls' }]);
    } finally {
      front.closeAllConnections();
      await new Promise((resolve) => front.close(resolve));
    }
  });

  it('--start runs the agent in the foreground: a deployment to the host Succeeds, SIGTERM stops it with 0', async () => {
    const dir = join(hosts, 'deploy-1');
    const proof = join(dir, 'proof.log');
    const run = cli(['add-host', 'deploy-1', '--tag', 'fleet=solo', '--dir', dir, '--endpoint', cp.url, '--start'], {
      HOME: dir,
      FLEET_HOST: 'deploy-1',
      FLEET_PROOF: proof,
      HOOK_SLEEP_SECONDS: '0',
    });
    try {
      await waitFor('the agent to start', () => run.stdout().includes('Starting the agent'), { timeoutMs: 20_000, details: run.stderr });
      const { group } = await createAppAndGroup(sdk.deploy, { application: 'AddHostApp', group: 'solo' });
      const revision = await uploadFleetApp(sdk.s3, { bucket: 'add-host', key: 'app.tgz' });
      const { deploymentId } = await sdk.deploy.send(
        new CreateDeploymentCommand({ applicationName: 'AddHostApp', deploymentGroupName: group, revision: s3Revision(revision) }),
      );
      const status = await waitFor(
        'the deployment to end',
        async () => {
          const s = (await sdk.deploy.send(new GetDeploymentCommand({ deploymentId }))).deploymentInfo?.status;
          return s === 'Succeeded' || s === 'Failed' || s === 'Stopped' ? s : undefined;
        },
        { timeoutMs: 45_000, intervalMs: 200, details: () => run.stderr().slice(-3000) },
      );
      expect(status).toBe('Succeeded');
      expect(await readFile(proof, 'utf8')).toMatch(/^deploy-1 ValidateService end /m);
    } finally {
      run.stop('SIGTERM');
    }
    expect(await run.code, run.stderr().slice(-3000)).toBe(0);
  }, 60_000);
});
