/**
 * The codedeploy-control-plane command as a real process: help, flag errors, start on a free
 * port with /_health, a clean SIGTERM stop, and a restart on the same data dir keeping its CA.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../../scripts/lib/local-fleet.js';
import { tempDir } from '../helpers/temp.js';

const CLI = join(projectRoot(), 'dist', 'control-plane', 'cli', 'codedeploy-control-plane.js');

function start(args: string[]): Promise<{ url: string; stop: () => Promise<number | null>; stderr: () => string }> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  return new Promise((resolve, reject) => {
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(err);
      if (m?.[1])
        resolve({
          url: m[1],
          stderr: () => err,
          stop: () =>
            new Promise((done) => {
              child.once('exit', (code) => done(code));
              child.kill('SIGTERM');
            }),
        });
    });
    child.once('exit', (code) => reject(new Error(`exited ${code}: ${err}`)));
  });
}

describe.skipIf(!existsSync(CLI))('codedeploy-control-plane CLI', () => {
  it('prints help and refuses bad flags with a one-line reason', () => {
    const help = spawnSync(process.execPath, [CLI, '--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^Usage: codedeploy-control-plane/);
    expect(help.stdout).toContain('--data-dir DIR');
    const bad = spawnSync(process.execPath, [CLI, '--port', 'eighty'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toBe('codedeploy-control-plane: --port must be a non-negative number, got "eighty"\n');
    const unknown = spawnSync(process.execPath, [CLI, '--prot', '1'], { encoding: 'utf8' });
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain("Unknown option '--prot'");
    const half = spawnSync(process.execPath, [CLI, '--ca-cert', 'x.pem'], { encoding: 'utf8' });
    expect(half.stderr).toContain('--ca-cert and --ca-key go together');
  });

  it('starts on a free port, answers /_health, stops on SIGTERM, and keeps its CA across restarts', async () => {
    const dataDir = join(await tempDir('cda-cp-cli-'), 'data');
    const first = await start(['--data-dir', dataDir, '--port', '0', '--log-level', 'warn']);
    expect(first.stderr()).toContain(`:deployment_spec_ca_file: ${join(dataDir, 'ca', 'ca.pem')}`);
    const health = await fetch(`${first.url}/_health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok', region: 'us-east-1' });
    const ca = await readFile(join(dataDir, 'ca', 'ca.pem'), 'utf8');
    expect((await stat(dataDir)).mode & 0o777).toBe(0o700);
    expect(await first.stop()).toBe(0);

    const second = await start(['--data-dir', dataDir, '--port', '0', '--log-level', 'warn']);
    expect(await readFile(join(dataDir, 'ca', 'ca.pem'), 'utf8')).toBe(ca);
    // A second instance on the same data dir is refused (two engines would double-dispatch) ...
    const sameDir = spawnSync(process.execPath, [CLI, '--data-dir', dataDir, '--port', '0'], { encoding: 'utf8', timeout: 20_000 });
    expect(sameDir.status).toBe(1);
    expect(sameDir.stderr).toMatch(/the data dir .* is in use by another control plane \(pid \d+\)/);
    // ... and one on a taken port says so.
    const port = new URL(second.url).port;
    const clash = spawnSync(process.execPath, [CLI, '--data-dir', join(dataDir, '..', 'other'), '--port', port], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(clash.status).toBe(1);
    expect(clash.stderr).toContain(`port ${port} on 127.0.0.1 is already in use`);
    expect(await second.stop()).toBe(0);
  });
});
