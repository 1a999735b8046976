/**
 * node-runtime.mjs - the Node.js binaries the release embeds, from the npm registry's
 * node-linux-<arch> packages (the only registry reachable from build machines), cached under
 * .cache/node/<version>-<arch>/bin/node so a build or a test run downloads each once.
 */
import process from 'node:process';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The Node.js version the executables embed (Node >= 25.5 has --build-sea). */
export const NODE_VERSION = '26.12.1';
export const ARCHES = ['x64', 'arm64'];

/** Path of the cached node binary for arch, downloading it (npm pack) on first use. */
export function nodeBinary(root, arch, version = NODE_VERSION) {
  const dir = join(root, '.cache', 'node', `${version}-${arch}`);
  const bin = join(dir, 'bin', 'node');
  if (existsSync(bin)) return bin;
  const tmp = mkdtempSync(join(tmpdir(), 'cda-node-'));
  try {
    const spec = `node-linux-${arch}@${version}`;
    const tgz = execFileSync('npm', ['pack', spec, '--silent', '--pack-destination', tmp], { encoding: 'utf8' }).trim().split('\n').pop();
    execFileSync('tar', ['-xzf', join(tmp, tgz), '-C', tmp, 'package/bin/node', 'package/LICENSE']);
    mkdirSync(join(root, '.cache', 'node'), { recursive: true });
    // Rename into place whole, so a concurrent or interrupted build never sees half a binary.
    rmSync(dir, { recursive: true, force: true });
    renameSync(join(tmp, 'package'), dir);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return bin;
}

/** The Node.js arch name of this machine's binaries, e.g. x64. */
export function hostArch() {
  return process.arch;
}
