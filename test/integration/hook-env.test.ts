/**
 * No credential of the agent's environment reaches a hook (issue 9 item 10): the real programs
 * (dist/) are started with AWS, GitHub and other tokens in their environment, and a hook dumps
 * its whole environment with `env`. The dump must hold none of the secret names or values, and
 * still the variables the official agent passes.
 */
import { spawn } from 'node:child_process';
import { cp, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { localSpec, startDaemonHost, type DaemonHost } from '../helpers/daemon-host.js';
import { FIXTURES } from '../helpers/local-deploy.js';
import { tempDir } from '../helpers/temp.js';

const LOCAL_CLI = join(import.meta.dirname, '..', '..', 'dist', 'agent', 'cli', 'codedeploy-local.js');
const AGENT_CLI = join(import.meta.dirname, '..', '..', 'dist', 'agent', 'cli', 'codedeploy-agent.js');

/** Each value is unique, so the test can look for it anywhere in the dump. */
const SECRETS: Record<string, string> = {
  AWS_ACCESS_KEY_ID: 'AKIALEAK0000000001',
  AWS_SECRET_ACCESS_KEY: 'leak-secret-access-key-2',
  AWS_SESSION_TOKEN: 'leak-session-token-3',
  AWS_SECURITY_TOKEN: 'leak-security-token-4',
  AWS_PROFILE: 'leak-profile-5',
  AWS_DEFAULT_PROFILE: 'leak-profile-6',
  AWS_SHARED_CREDENTIALS_FILE: '/leak/credentials-7',
  AWS_CONFIG_FILE: '/leak/config-8',
  AWS_ROLE_ARN: 'arn:aws:iam::1:role/leak-9',
  AWS_WEB_IDENTITY_TOKEN_FILE: '/leak/web-identity-10',
  AWS_CONTAINER_CREDENTIALS_FULL_URI: 'http://169.254.170.2/leak-11',
  AWS_CONTAINER_AUTHORIZATION_TOKEN: 'leak-container-token-12',
  GITHUB_TOKEN: 'ghp_leak0000000000000000000000000013',
  GH_TOKEN: 'gho_leak0000000000000000000000000014',
  NPM_TOKEN: 'npm_leak15',
  VAULT_TOKEN: 'hvs.leak16',
  DB_PASSWORD: 'leak-password-17',
};
const KEPT: Record<string, string> = { AWS_REGION: 'eu-west-1', KEEP_ME: 'kept', LANG: 'C.UTF-8' };

/** A copy of the sample app whose hook dumps `env` to <PROOF_FILE>.<event>.env. */
async function envDumpBundle(root: string): Promise<string> {
  const dir = join(root, 'bundle');
  await cp(join(FIXTURES, 'sample-app'), dir, { recursive: true });
  await writeFile(
    join(dir, 'scripts', 'hook.sh'),
    '#!/bin/sh\nenv > "$PROOF_FILE.$LIFECYCLE_EVENT.env"\necho "$LIFECYCLE_EVENT" >> "$PROOF_FILE"\n',
    { mode: 0o755 },
  );
  return dir;
}

function parseEnv(text: string): Map<string, string> {
  const env = new Map<string, string>();
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) env.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return env;
}

function expectClean(text: string, event: string, kept: Record<string, string> = KEPT): void {
  const env = parseEnv(text);
  for (const name of Object.keys(SECRETS)) expect({ name, present: env.has(name) }).toEqual({ name, present: false });
  for (const [name, value] of Object.entries(SECRETS)) expect({ name, leaked: text.includes(value) }).toEqual({ name, leaked: false });
  for (const [name, value] of Object.entries(kept)) expect(env.get(name)).toBe(value);
  expect(env.get('LIFECYCLE_EVENT')).toBe(event);
  expect(env.get('DEPLOYMENT_ID')).toMatch(/^d-/);
  expect(env.get('PATH')).toBeTruthy();
  expect(env.get('CODEDEPLOY_HOOK_RUN_ID')).toMatch(/^[0-9a-f]{24}$/);
}

const hosts: DaemonHost[] = [];
afterEach(async () => {
  for (const h of hosts.splice(0)) {
    await h.stop('SIGKILL');
    await h.server.close();
  }
});

describe.skipIf(!existsSync(LOCAL_CLI))('hook environments hold no credentials', () => {
  it('codedeploy-local: a hook that dumps env sees none of the tokens in the environment it was started with', async () => {
    const root = await tempDir('cda-hook-env-');
    const bundle = await envDumpBundle(root);
    const config = join(root, 'codedeployagent.yml');
    await writeFile(
      config,
      [`:root_dir: ${join(root, 'deployment-root')}`, `:log_dir: ${join(root, 'log')}`, `:working_directory: ${root}`, ''].join('\n'),
    );
    const proofFile = join(root, 'proof');
    const child = spawn(process.execPath, [LOCAL_CLI, '-l', bundle, '-t', 'directory', '-c', config, '-e', 'BeforeInstall,AfterInstall'], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', PROOF_FILE: proofFile, ...SECRETS, ...KEPT },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((r) => child.on('close', r));
    expect({ code, out }).toMatchObject({ code: 0 });
    for (const event of ['BeforeInstall', 'AfterInstall']) expectClean(await readFile(`${proofFile}.${event}.env`, 'utf8'), event);
  });

  it.skipIf(!existsSync(AGENT_CLI))('the daemon: the same for a hook of a deployment it polled', async () => {
    const h = await startDaemonHost();
    hosts.push(h);
    const bundle = await envDumpBundle(h.root);
    const exec = 'CodeDeploy/us-east-1/Prod/arn:aws:sds:us-east-1:123456789012:deployment/d-ENVLEAK01';
    h.specs.set(exec, localSpec('d-ENVLEAK01', 'dg-env', bundle));
    // The region must stay the test server's: AWS_REGION overrides the daemon's own.
    const kept = { ...KEPT, AWS_REGION: 'us-east-1' };
    h.start({ ...SECRETS, ...kept });
    const results = await h.deploy(exec, ['DownloadBundle', 'BeforeInstall']);
    expect(results.map((c) => (c.body as { CommandStatus: string }).CommandStatus)).toEqual(['Succeeded', 'Succeeded']);
    expectClean(await readFile(`${h.proofFile}.BeforeInstall.env`, 'utf8'), 'BeforeInstall', kept);
  });
});
