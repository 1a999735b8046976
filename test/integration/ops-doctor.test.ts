/**
 * `codedeploy-agent doctor` as a real process against a fake IMDS and local endpoints: one fully
 * passing EC2 setup, and failing setups that each must name the problem and what to do.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AGENT_CLI } from '../helpers/daemon-host.js';
import { startCommandsServer, type CommandsServer } from '../helpers/commands-server.js';
import { closedEndpoint, startFakeImds, type FakeImds } from '../helpers/fake-imds.js';
import { startTestControlPlane } from '../helpers/control-plane.js';
import { runNode, type ProgramRun } from '../helpers/run-node.js';
import { tempDir } from '../helpers/temp.js';

interface Check {
  name: string;
  status: 'ok' | 'warn' | 'fail';
  detail: string;
  hint: string | null;
}
interface DoctorOutput {
  ok: boolean;
  summary: { ok: number; warn: number; fail: number };
  checks: Check[];
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function imds(role = true, expiresInMs = 6 * 3600_000): Promise<FakeImds> {
  const fake = await startFakeImds({
    mode: 'v2-only',
    ...(role
      ? {
          role: {
            name: 'deploy-role',
            credentials: {
              AccessKeyId: 'ASIAFAKE',
              SecretAccessKey: 'fake-secret-value',
              Token: 'fake-token-value',
              Expiration: new Date(Date.now() + expiresInMs).toISOString(),
            },
          },
        }
      : {}),
  });
  cleanups.push(() => fake.close());
  return fake;
}

async function endpoint(opts: Parameters<typeof startCommandsServer>[0] = {}): Promise<CommandsServer> {
  const server = await startCommandsServer(opts);
  cleanups.push(() => server.close());
  return server;
}

interface HostSetup {
  imdsUrl?: string;
  endpointUrl?: string;
  onPremises?: string;
  extraConfig?: string[];
  rootMode?: number;
}

/** A temp host: config, directories with safe modes, optional on-premises file. */
async function host(s: HostSetup): Promise<{ dir: string; config: string; rootDir: string }> {
  const dir = await tempDir('cda-doctor-');
  const rootDir = join(dir, 'deployment-root');
  await mkdir(rootDir, { mode: 0o750 });
  await chmod(rootDir, s.rootMode ?? 0o750);
  await mkdir(join(dir, 'log'), { mode: 0o750 });
  await mkdir(join(dir, 'state'), { mode: 0o755 });
  const onPrem = join(dir, 'codedeploy.onpremises.yml');
  if (s.onPremises !== undefined) await writeFile(onPrem, s.onPremises, { mode: 0o600 });
  const config = join(dir, 'codedeployagent.yml');
  await writeFile(
    config,
    [
      `:root_dir: ${rootDir}`,
      `:log_dir: ${join(dir, 'log')}`,
      `:pid_dir: ${join(dir, 'state')}`,
      `:on_premises_config_file: ${onPrem}`,
      `:imds_endpoint: ${s.imdsUrl ?? (await closedEndpoint())}`,
      ...(s.endpointUrl ? [`:deploy_control_endpoint: ${s.endpointUrl}`] : []),
      ...(s.extraConfig ?? []),
      '',
    ].join('\n'),
  );
  return { dir, config, rootDir };
}

function doctor(config: string, json = true, extraEnv: Record<string, string> = {}): Promise<ProgramRun> {
  return runNode(AGENT_CLI, ['doctor', '--config_file', config, ...(json ? ['--json'] : [])], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8', ...extraEnv },
  });
}

async function doctorJson(
  config: string,
  extraEnv: Record<string, string> = {},
): Promise<{ code: number | null; out: DoctorOutput; check: (name: string) => Check }> {
  const { code, stdout, stderr } = await doctor(config, true, extraEnv);
  expect(stderr).toBe('');
  const out = JSON.parse(stdout) as DoctorOutput;
  const check = (name: string): Check => {
    const found = out.checks.find((c) => c.name === name);
    if (!found) throw new Error(`no check ${name}`);
    return found;
  };
  return { code, out, check };
}

describe.skipIf(!existsSync(AGENT_CLI))('codedeploy-agent doctor', () => {
  it('passes on a healthy EC2 host: every check ok, exit 0, no secret printed', async () => {
    const fake = await imds();
    const server = await endpoint();
    const h = await host({ imdsUrl: fake.url, endpointUrl: server.url });
    const { code, out, check } = await doctorJson(h.config);
    expect(out.checks.map((c) => c.name)).toEqual([
      'config',
      'root_dir',
      'log_dir',
      'pid_dir',
      'disk',
      'identity',
      'endpoint',
      'connectivity',
      'credentials',
      'clock',
      'tools',
    ]);
    expect(out.checks.filter((c) => c.status !== 'ok')).toEqual([]);
    expect(code).toBe(0);
    expect(out.ok).toBe(true);
    expect(check('identity').detail).toBe(
      'EC2 instance i-deadbeef (IMDSv2), host identifier arn:aws:ec2:us-east-1:123456789012:instance/i-deadbeef, region us-east-1',
    );
    expect(check('credentials').detail).toMatch(/^instance profile role deploy-role, valid until /);
    expect(check('connectivity').detail).toContain('answered HTTP 403');
    expect(check('tools').detail).toContain('unzip not needed');
    // IMDSv2: a token first, then the identity document with it.
    expect(fake.callsTo('/latest/api/token', 'PUT').length).toBeGreaterThan(0);
    expect(fake.callsTo('/latest/dynamic/instance-identity/document').every((c) => c.token !== undefined)).toBe(true);
    // The probe is unsigned and names no operation: it can never poll for a command.
    expect(server.calls().every((c) => c.target === '' && c.headers.authorization === undefined)).toBe(true);

    const text = await doctor(h.config, false);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^\[ok\] {3}config {8}.+ is valid$/m);
    expect(text.stdout).toContain('11 checks: 11 ok, 0 warnings, 0 failures');
    expect(text.stdout + JSON.stringify(out)).not.toMatch(/fake-secret-value|fake-token-value/);
  });

  it('passes on an on-premises host pointed at the local control plane', async () => {
    const cp = await startTestControlPlane();
    cleanups.push(() => cp.close());
    const h = await host({
      endpointUrl: cp.url,
      onPremises: [
        'region: us-east-1',
        'iam_user_arn: arn:aws:iam::000000000000:user/doctor',
        'aws_access_key_id: AKIDDOCTOR',
        'aws_secret_access_key: doctor-secret-value',
        '',
      ].join('\n'),
      extraConfig: [`:deployment_spec_ca_file: ${cp.caCertificatePath}`],
    });
    const { code, out, check } = await doctorJson(h.config);
    expect(out.checks.filter((c) => c.status === 'fail')).toEqual([]);
    expect(code).toBe(0);
    expect(check('identity').detail).toContain('arn:aws:iam::000000000000:user/doctor');
    expect(check('connectivity').status).toBe('ok');
    expect(check('clock').status).toBe('ok');
    expect(JSON.stringify(out)).not.toContain('doctor-secret-value');
  });

  it('fails without any identity and says how to register the host', async () => {
    const server = await endpoint();
    const h = await host({ endpointUrl: server.url });
    const { code, check } = await doctorJson(h.config);
    expect(code).toBe(1);
    expect(check('identity').status).toBe('fail');
    expect(check('identity').detail).toContain('no host identity: there is no on-premises configuration file at');
    expect(check('identity').hint).toContain('aws deploy register --instance-name');
    expect(check('identity').hint).toContain('http-put-response-hop-limit');
    expect(check('credentials').status).toBe('warn');
  });

  it('fails when the endpoint cannot be reached, with what to open', async () => {
    const fake = await imds();
    const h = await host({ imdsUrl: fake.url, endpointUrl: await closedEndpoint() });
    const { code, check } = await doctorJson(h.config);
    expect(code).toBe(1);
    expect(check('connectivity')).toMatchObject({ status: 'fail', detail: expect.stringContaining('cannot be reached') });
    expect(check('connectivity').detail).toContain('ECONNREFUSED');
    expect(check('connectivity').hint).toContain('Allow outbound HTTPS');
    expect(check('clock').status).toBe('warn');
    expect(check('identity').status).toBe('ok');
  });

  it('fails on an invalid on-premises file with the official message', async () => {
    const server = await endpoint();
    const h = await host({ endpointUrl: server.url, onPremises: 'region: us-east-1\niam_user_arn: arn:aws:iam::123456789012:user/h\n' });
    const { code, check } = await doctorJson(h.config);
    expect(code).toBe(1);
    expect(check('identity')).toMatchObject({
      status: 'fail',
      detail: "'aws_access_key_id' key is required when 'iam_user_arn' is provided.",
    });
    expect(check('identity').hint).toContain('iam_session_arn');
  });

  it('fails a world-writable root_dir with the chmod to run', async () => {
    const fake = await imds();
    const server = await endpoint();
    const h = await host({ imdsUrl: fake.url, endpointUrl: server.url, rootMode: 0o777 });
    const { code, check } = await doctorJson(h.config);
    expect(code).toBe(1);
    expect(check('root_dir').status).toBe('fail');
    expect(check('root_dir').detail).toContain('writable by every user (mode 0777)');
    expect(check('root_dir').hint).toBe(`Run: chmod o-w ${h.rootDir} && chmod o-rwx ${h.rootDir}`);
  });

  it('checks :user: (a missing user fails as start would) and warns about ignored official keys', async () => {
    const fake = await imds();
    const server = await endpoint();
    const ghost = `cda-nobody-${Math.random().toString(36).slice(2, 8)}`;
    const h = await host({
      imdsUrl: fake.url,
      endpointUrl: server.url,
      extraConfig: [`:user: ${ghost}`, ':children: 1', ':plugins: [codedeploy]'],
    });
    const { code, out, check } = await doctorJson(h.config);
    expect(code).toBe(1);
    expect(out.checks.map((c) => c.name).slice(0, 3)).toEqual(['config', 'user', 'root_dir']);
    expect(check('user')).toMatchObject({ status: 'fail', detail: `The system user does not exist: ${ghost}` });
    expect(check('config').status).toBe('warn');
    expect(check('config').detail).toContain(
      ':plugins: is accepted for compatibility and ignored: the CodeDeploy commands are built in and no plugins are loaded',
    );
    expect(check('config').detail).not.toContain(':children:');
    if (process.geteuid?.() !== 0) return;
    // An existing user that owns root_dir (as after a start): ok, and root_dir's owner is accepted.
    const name = `cda-test-${Math.random().toString(36).slice(2, 8)}`;
    execFileSync('useradd', ['-r', '-M', '-s', '/usr/sbin/nologin', name]);
    try {
      const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
      const h2 = await host({ imdsUrl: fake.url, endpointUrl: server.url, rootMode: 0o700, extraConfig: [`:user: ${name}`] });
      execFileSync('chown', [String(uid), h2.rootDir]);
      const second = await doctorJson(h2.config);
      expect(second.check('user')).toMatchObject({ status: 'ok' });
      expect(second.check('user').detail).toContain(`${name} (uid ${uid},`);
      expect(second.check('root_dir')).toMatchObject({ status: 'ok', detail: `${h2.rootDir} (mode 0700, owner ${name})` });
    } finally {
      execFileSync('userdel', [name]);
    }
  });

  it('fails expired on-premises session credentials, and passes fresh ones', async () => {
    const server = await endpoint();
    const dir = await tempDir();
    const credentials = join(dir, 'session-credentials');
    const write = (expiration: Date) =>
      writeFile(
        credentials,
        `[default]\naws_access_key_id = ASIASESSION\naws_secret_access_key = session-secret\naws_session_token = session-token\nexpiration = ${expiration.toISOString()}\n`,
      );
    await write(new Date(Date.now() - 3600_000));
    const onPremises = `region: us-east-1\niam_session_arn: arn:aws:sts::123456789012:assumed-role/deploy/host-1\naws_credentials_file: ${credentials}\n`;
    const h = await host({ endpointUrl: server.url, onPremises });
    const expired = await doctorJson(h.config);
    expect(expired.code).toBe(1);
    expect(expired.check('identity')).toMatchObject({
      status: 'ok',
      detail: expect.stringContaining('IAM session arn:aws:sts::123456789012:assumed-role/deploy/host-1'),
    });
    expect(expired.check('credentials')).toMatchObject({
      status: 'fail',
      detail: expect.stringContaining(`session credentials in ${credentials} expired at`),
    });
    expect(expired.check('credentials').hint).toContain('aws-codedeploy-session-helper');
    await write(new Date(Date.now() + 3600_000));
    const fresh = await doctorJson(h.config);
    expect(fresh.check('credentials').status).toBe('ok');
    expect(JSON.stringify(fresh.out)).not.toContain('session-secret');
  });

  it('fails a clock 10 minutes off the endpoint, from its Date header', async () => {
    const server = createServer((_req, res) => {
      res.sendDate = false;
      res.writeHead(403, { date: new Date(Date.now() - 10 * 60_000).toUTCString(), 'content-type': 'application/json' });
      res.end('{"__type":"MissingAuthenticationTokenException"}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    const fake = await imds();
    const h = await host({ imdsUrl: fake.url, endpointUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
    const { code, check } = await doctorJson(h.config);
    expect(code).toBe(1);
    expect(check('clock').status).toBe('fail');
    expect(check('clock').detail).toMatch(/this host's clock is 60\d s ahead of 127\.0\.0\.1:\d+/);
    expect(check('clock').hint).toContain('timedatectl set-ntp true');
  });

  it('fails TLS to an endpoint with an unknown CA and points at ca_bundle; passes with the bundle', async () => {
    const dir = await tempDir();
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        'key.pem',
        '-out',
        'cert.pem',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { cwd: dir, stdio: 'ignore' },
    );
    const { readFile } = await import('node:fs/promises');
    const tls = { key: await readFile(join(dir, 'key.pem'), 'utf8'), cert: await readFile(join(dir, 'cert.pem'), 'utf8') };
    const server = await endpoint({ tls });
    const fake = await imds();
    const bad = await host({ imdsUrl: fake.url, endpointUrl: server.url });
    const failed = await doctorJson(bad.config);
    expect(failed.code).toBe(1);
    expect(failed.check('connectivity')).toMatchObject({
      status: 'fail',
      detail: expect.stringMatching(/^TLS to 127\.0\.0\.1:\d+ failed: /),
    });
    expect(failed.check('connectivity').hint).toContain(':ca_bundle:');
    const good = await host({ imdsUrl: fake.url, endpointUrl: server.url, extraConfig: [`:ca_bundle: ${join(dir, 'cert.pem')}`] });
    const passed = await doctorJson(good.config);
    expect(passed.check('connectivity')).toMatchObject({
      status: 'ok',
      detail: expect.stringContaining('over TLS (certificate verified against'),
    });
  });

  it('asks for setfacl when the last appspec has runas hooks, and says why', async () => {
    const fake = await imds();
    const server = await endpoint();
    const h = await host({ imdsUrl: fake.url, endpointUrl: server.url });
    const archive = join(h.rootDir, 'dg-runas', 'd-RUNAS0001', 'deployment-archive');
    await mkdir(join(archive, 'scripts'), { recursive: true });
    await writeFile(
      join(archive, 'appspec.yml'),
      'version: 0.0\nos: linux\nhooks:\n  ApplicationStart:\n    - location: scripts/start.sh\n      runas: nobody\n',
    );
    const { check } = await doctorJson(h.config);
    if (existsSync('/usr/bin/setfacl') || existsSync('/bin/setfacl')) {
      expect(check('tools').detail).toMatch(/setfacl \S+ \(the appspec of d-RUNAS0001 uses runas hooks\)/);
    } else {
      expect(check('tools').status).toBe('fail');
      expect(check('tools').hint).toContain('for appspec runas hooks (without it, runas users get o+x on the deployment root instead)');
    }
  });
});
