/**
 * node-runtime.mjs - Node.js runtimes from the npm registry's node-linux-<arch> packages (the only
 * registry reachable from build machines): the binaries the release embeds, and the runtimes CI
 * runs the project on (the embedded one, and the oldest that package.json "engines" claims).
 * Cached under .cache/node/<version>-<arch>/ as bin/node, include/node (the headers node-gyp
 * needs to compile better-sqlite3 for that runtime without downloading them) and LICENSE, so a
 * build or a test run downloads each once.
 *
 * CLI (for .ci/run): node scripts/release/node-runtime.mjs [--version V | --release | --engines-min]
 * prints the directory of that runtime (its bin/ goes first on PATH; npm_config_nodedir=<dir>).
 */
import process from 'node:process';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The Node.js version the executables embed (Node >= 25.5 has --build-sea). */
export const NODE_VERSION = '26.12.1';
export const ARCHES = ['x64', 'arm64'];

/** Directory of the cached runtime for arch (bin/node, include/node), downloading it (npm pack) on first use. */
export function nodeRuntime(root, arch, version = NODE_VERSION) {
  const dir = join(root, '.cache', 'node', `${version}-${arch}`);
  if (existsSync(join(dir, 'bin', 'node')) && existsSync(join(dir, 'include', 'node', 'node.h'))) return dir;
  const tmp = mkdtempSync(join(tmpdir(), 'cda-node-'));
  try {
    const spec = `node-linux-${arch}@${version}`;
    const tgz = execFileSync('npm', ['pack', spec, '--silent', '--pack-destination', tmp], { encoding: 'utf8' }).trim().split('\n').pop();
    execFileSync('tar', ['-xzf', join(tmp, tgz), '-C', tmp, 'package/bin/node', 'package/include', 'package/LICENSE']);
    mkdirSync(join(root, '.cache', 'node'), { recursive: true });
    // Rename into place whole, so a concurrent or interrupted build never sees half a runtime.
    rmSync(dir, { recursive: true, force: true });
    renameSync(join(tmp, 'package'), dir);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return dir;
}

/** Path of the cached node binary for arch. */
export function nodeBinary(root, arch, version = NODE_VERSION) {
  return join(nodeRuntime(root, arch, version), 'bin', 'node');
}

/** The Node.js arch name of this machine's binaries, e.g. x64. */
export function hostArch() {
  return process.arch;
}

/** The lowest version package.json "engines".node allows (">=20.18.1" gives 20.18.1). */
export function enginesMinimum(root) {
  const range = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).engines?.node ?? '';
  const m = /^>=\s*(\d+\.\d+\.\d+)$/.exec(range.trim());
  if (!m) throw new Error(`package.json engines.node is "${range}": expected ">=X.Y.Z"`);
  return m[1];
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
  const [flag, value] = process.argv.slice(2);
  let version = NODE_VERSION;
  if (flag === '--version' && value) version = value;
  else if (flag === '--engines-min') version = enginesMinimum(root);
  else if (flag !== undefined && flag !== '--release') {
    process.stderr.write('usage: node scripts/release/node-runtime.mjs [--release | --engines-min | --version X.Y.Z]\n');
    process.exit(2);
  }
  process.stdout.write(`${nodeRuntime(root, hostArch(), version)}\n`);
}
