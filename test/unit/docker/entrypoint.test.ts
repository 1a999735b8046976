/**
 * docker/entrypoint.sh without Docker: the script runs under /bin/sh against a temp CDA_HOME whose
 * `codedeploy-agent.js` / `codedeploy-control-plane.js` are small fakes that record how they were
 * started. Checks what the images rely on: the agent's two configuration files (read back with the
 * agent's own parsers), keys kept out of the agent's environment, refusal of unsafe values, the
 * wait for the CA, publication of the CA certificate without its key, the health check, and
 * SIGTERM reaching the control plane through the shell.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseAgentConfig } from '../../../agent/config/agent-config.js';
import { parseOnPremisesConfig } from '../../../agent/identity/on-premises-config.js';
import { tempDir } from '../../helpers/temp.js';

const ENTRYPOINT = join(import.meta.dirname, '..', '..', '..', 'docker', 'entrypoint.sh');

const FAKE_AGENT = `
const { writeFileSync } = require('node:fs');
writeFileSync(process.env.FAKE_OUT, JSON.stringify({ argv: process.argv.slice(2), env: process.env }));
`;

// Takes the entrypoint's flags, creates the CA like the real one (cert + key), then serves /_health.
const FAKE_CONTROL_PLANE = `
const { mkdirSync, writeFileSync, appendFileSync } = require('node:fs');
const { createServer } = require('node:http');
const { join } = require('node:path');
const args = process.argv.slice(2);
const flag = (name) => args[args.indexOf(name) + 1];
appendFileSync(process.env.FAKE_OUT, JSON.stringify({ argv: args }) + '\\n');
setTimeout(() => {
  mkdirSync(join(flag('--data-dir'), 'ca'), { recursive: true });
  writeFileSync(join(flag('--data-dir'), 'ca', 'ca.key'), 'KEY');
  writeFileSync(join(flag('--data-dir'), 'ca', 'ca.pem'), 'CERT');
  const server = createServer((req, res) => res.writeHead(req.url === '/_health' ? 200 : 404).end()).listen(Number(flag('--port')), '127.0.0.1');
  process.on('SIGTERM', () => { appendFileSync(process.env.FAKE_OUT, 'SIGTERM\\n'); server.close(); setTimeout(() => process.exit(0), 50); });
}, 200);
`;

async function fakeHome(): Promise<{ home: string; out: string }> {
  const root = await tempDir('cda-entrypoint-');
  const home = join(root, 'home');
  await mkdir(join(home, 'dist', 'agent', 'cli'), { recursive: true });
  await mkdir(join(home, 'dist', 'control-plane', 'cli'), { recursive: true });
  await writeFile(join(home, 'dist', 'agent', 'cli', 'codedeploy-agent.js'), FAKE_AGENT);
  await writeFile(join(home, 'dist', 'control-plane', 'cli', 'codedeploy-control-plane.js'), FAKE_CONTROL_PLANE);
  return { home, out: join(root, 'out') };
}

function run(args: string[], env: Record<string, string>, timeoutMs = 10_000) {
  return spawnSync('sh', [ENTRYPOINT, ...args], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
    encoding: 'utf8',
    timeout: timeoutMs,
  });
}

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const port = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r));
  return port;
}

function until(check: () => Promise<boolean> | boolean, timeoutMs = 8000): Promise<void> {
  return vi.waitFor(
    async () => {
      if (!(await check())) throw new Error('condition not met in time');
    },
    { timeout: timeoutMs, interval: 50 },
  );
}

describe('entrypoint.sh agent', () => {
  async function agentSetup() {
    const { home, out } = await fakeHome();
    const conf = join(home, '..', 'conf');
    const ca = join(home, '..', 'ca.pem');
    await writeFile(ca, 'CERT');
    const env = { CDA_HOME: home, FAKE_OUT: out, CODEDEPLOY_CONF_DIR: conf, CODEDEPLOY_CA_FILE: ca };
    return { home, out, conf, ca, env };
  }

  it('writes a configuration the agent accepts, and starts it without the keys in its environment', async () => {
    const { out, conf, ca, env } = await agentSetup();
    const r = run(['agent', '--extra'], {
      ...env,
      CODEDEPLOY_INSTANCE_NAME: 'host-7',
      CODEDEPLOY_ACCESS_KEY_ID: 'AKIDSEVEN',
      CODEDEPLOY_SECRET_ACCESS_KEY: 's3cret-7',
      CODEDEPLOY_ENDPOINT: 'http://cp:9000/',
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain('instance host-7 (arn:aws:iam::000000000000:user/host-7)');
    expect(r.stderr).not.toContain('s3cret-7');

    const onpremPath = join(conf, 'codedeploy.onpremises.yml');
    expect((await stat(onpremPath)).mode & 0o777).toBe(0o600);
    expect(parseOnPremisesConfig(await readFile(onpremPath, 'utf8'), onpremPath)).toEqual({
      mode: 'iam-user',
      path: onpremPath,
      region: 'us-east-1',
      iamUserArn: 'arn:aws:iam::000000000000:user/host-7',
      accessKeyId: 'AKIDSEVEN',
      secretAccessKey: 's3cret-7',
    });
    const configPath = join(conf, 'codedeployagent.yml');
    const { config, warnings } = parseAgentConfig(await readFile(configPath, 'utf8'), configPath);
    expect(warnings).toEqual([]);
    expect(config).toMatchObject({
      deployControlEndpoint: 'http://cp:9000',
      s3EndpointOverride: 'http://cp:9000',
      githubApiUrl: 'http://cp:9000/github',
      deploymentSpecCaFile: ca,
      onPremisesConfigFile: onpremPath,
      rootDir: '/opt/codedeploy-agent/deployment-root',
      workingDirectory: '/opt/codedeploy-agent',
      killAgentMaxWaitTimeSeconds: 20,
    });

    const started = JSON.parse(await readFile(out, 'utf8')) as { argv: string[]; env: Record<string, string> };
    expect(started.argv).toEqual(['start', '--config_file', configPath, '--extra']);
    expect(started.env.CODEDEPLOY_INSTANCE_NAME).toBe('host-7');
    expect(Object.keys(started.env).filter((k) => /ACCESS_KEY/.test(k))).toEqual([]);
  });

  it('derives defaults from the instance name and keeps files an operator mounted', async () => {
    const { out, conf, env } = await agentSetup();
    await mkdir(conf, { recursive: true });
    await writeFile(join(conf, 'codedeployagent.yml'), ':verbose: true\n');
    const r = run([], { ...env, CODEDEPLOY_INSTANCE_NAME: 'web.a-1' });
    expect(r.status, r.stderr).toBe(0);
    expect(await readFile(join(conf, 'codedeployagent.yml'), 'utf8')).toBe(':verbose: true\n');
    const onprem = await readFile(join(conf, 'codedeploy.onpremises.yml'), 'utf8');
    expect(onprem).toContain("aws_access_key_id: 'AKIDLOCALWEBA1'");
    expect(onprem).toContain("aws_secret_access_key: 'local-secret-web.a-1'");
    expect(JSON.parse(await readFile(out, 'utf8')).argv).toEqual(['start', '--config_file', join(conf, 'codedeployagent.yml')]);
  });

  it('refuses a missing or unsafe identity with a message naming the variable', async () => {
    const { out, env } = await agentSetup();
    const cases: [Record<string, string>, string][] = [
      [{}, 'set CODEDEPLOY_INSTANCE_NAME'],
      [{ CODEDEPLOY_INSTANCE_NAME: 'host 1' }, 'CODEDEPLOY_INSTANCE_NAME "host 1" may only contain'],
      [
        { CODEDEPLOY_INSTANCE_NAME: 'h', CODEDEPLOY_SECRET_ACCESS_KEY: "a'b" },
        'CODEDEPLOY_SECRET_ACCESS_KEY contains a quote or backslash',
      ],
      [{ CODEDEPLOY_INSTANCE_NAME: 'h', CODEDEPLOY_IAM_USER_ARN: 'arn:x\n:evil: 1' }, 'CODEDEPLOY_IAM_USER_ARN contains a line break'],
      [{ CODEDEPLOY_INSTANCE_NAME: 'h', CODEDEPLOY_ENDPOINT: 'http://x\\y' }, 'CODEDEPLOY_ENDPOINT contains a quote or backslash'],
    ];
    for (const [vars, message] of cases) {
      const r = run(['agent'], { ...env, ...vars });
      expect(r.status, message).toBe(64);
      expect(r.stderr).toContain(message);
    }
    expect(existsSync(out)).toBe(false);
  });

  it('waits for the CA certificate, and gives up after CODEDEPLOY_WAIT_SECONDS', async () => {
    const { out, ca, env } = await agentSetup();
    const missing = `${ca}.absent`;
    const t0 = Date.now();
    const r = run(['agent'], { ...env, CODEDEPLOY_INSTANCE_NAME: 'h', CODEDEPLOY_CA_FILE: missing, CODEDEPLOY_WAIT_SECONDS: '1' });
    expect(r.status).toBe(64);
    expect(r.stderr).toContain(`no CA certificate at ${missing} after 1s`);
    expect(Date.now() - t0).toBeLessThan(5000);

    const late = `${ca}.late`;
    const child = spawn('sh', [ENTRYPOINT, 'agent'], {
      env: { PATH: process.env.PATH ?? '', ...env, CODEDEPLOY_INSTANCE_NAME: 'h', CODEDEPLOY_CA_FILE: late, CODEDEPLOY_WAIT_SECONDS: '10' },
      stdio: 'ignore',
    });
    const exited = new Promise<number | null>((r) => child.once('exit', r));
    await sleep(300);
    expect(existsSync(out)).toBe(false);
    await writeFile(late, 'CERT');
    expect(await exited).toBe(0);
    expect(existsSync(out)).toBe(true);
  });
});

describe('entrypoint.sh control-plane and healthcheck', () => {
  const children: ChildProcess[] = [];
  afterEach(() => {
    for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });

  async function start(extraArgs: string[] = []) {
    const { home, out } = await fakeHome();
    const data = join(home, '..', 'data');
    const publish = join(home, '..', 'public');
    const port = await freePort();
    const env = {
      CDA_HOME: home,
      FAKE_OUT: out,
      CODEDEPLOY_DATA_DIR: data,
      CODEDEPLOY_CA_PUBLISH_DIR: publish,
      CODEDEPLOY_PORT: String(port),
    };
    const child = spawn('sh', [ENTRYPOINT, 'control-plane', ...extraArgs], {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    children.push(child);
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', r));
    return { child, exited, env, out, data, publish, stderr: () => stderr };
  }

  it('publishes only the CA certificate, reports healthy, and stops the control plane on SIGTERM', async () => {
    const cp = await start(['--region', 'eu-west-1']);
    expect(run(['healthcheck'], cp.env).status).toBe(1); // not up yet
    await until(() => existsSync(join(cp.publish, 'ca.pem')));
    expect(await readdir(cp.publish)).toEqual(['ca.pem']);
    expect(await readFile(join(cp.publish, 'ca.pem'), 'utf8')).toBe('CERT');
    expect((await stat(join(cp.publish, 'ca.pem'))).mode & 0o777).toBe(0o644);
    expect(cp.stderr()).toContain(`published the CA certificate to ${cp.publish}/ca.pem`);
    expect(run(['healthcheck'], cp.env).status).toBe(0);
    const argv = (JSON.parse((await readFile(cp.out, 'utf8')).split('\n')[0]) as { argv: string[] }).argv;
    expect(argv).toEqual(['--data-dir', cp.data, '--host', '0.0.0.0', '--port', cp.env.CODEDEPLOY_PORT, '--region', 'eu-west-1']);

    cp.child.kill('SIGTERM'); // to the shell, as tini does
    expect(await cp.exited).toBe(0);
    expect(await readFile(cp.out, 'utf8')).toContain('SIGTERM\n');
    expect(run(['healthcheck'], cp.env).status).toBe(1);
  });

  it('publishes an operator CA given with --ca-cert', async () => {
    const dir = await tempDir('cda-operator-ca-');
    await writeFile(join(dir, 'my-ca.pem'), 'OPERATOR CERT');
    const cp = await start(['--ca-cert', join(dir, 'my-ca.pem'), '--ca-key', join(dir, 'my-ca.key')]);
    await until(() => existsSync(join(cp.publish, 'ca.pem')));
    expect(await readFile(join(cp.publish, 'ca.pem'), 'utf8')).toBe('OPERATOR CERT');
    cp.child.kill('SIGTERM');
    expect(await cp.exited).toBe(0);
  });

  it('passes any other command through', () => {
    const r = run(['echo', 'hello from the image'], {});
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('hello from the image\n');
  });
});
