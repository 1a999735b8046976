#!/usr/bin/env node
/**
 * build-executables.mjs - the self-contained agent executables (Node.js single executable
 * applications): out/codedeploy-agent-<version>-linux-<arch> for each arch asked for.
 *
 * The bundle (bundle-agent.mjs) is the same for every arch. `node --build-sea` must run on a Node
 * of exactly the embedded version, so the host-arch Node 26 builds every executable, injecting the
 * blob into the target arch's binary (sea-config "executable"). The code cache is V8 code for the
 * building arch only, so only the host-arch executable gets it (it cuts `--version` from ~740 ms
 * to ~280 ms on x64); a cross-built executable compiles the bundle at start-up.
 *
 * Usage: node scripts/release/build-executables.mjs --out DIR [--arch x64|arm64]... [--keep-bundle]
 */
import process from 'node:process';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROOT, bundleAgent, packageVersion } from './bundle-agent.mjs';
import { ARCHES, hostArch, nodeBinary } from './node-runtime.mjs';

/**
 * The V8 flags every agent process runs with (package.json config.agentNodeFlags), e.g.
 * --max-semi-space-size=4: Node 26's V8 sizes the young generation from the machine's memory (up
 * to 64 MiB per semi-space where Node 20 stopped at 16), and the agent's short-lived allocations
 * (an entry object per archive member, stream chunks) then keep far more pages resident: a
 * 100,000-entry zip peaked at 240 MiB instead of 145 MiB, with no gain in speed.
 * --heap-growing-percent=20: the old generation then grows by 20 % steps instead of V8's dynamic
 * factor (up to 4x on a fresh heap); on a loaded 2-core machine, where concurrent marking lags,
 * the same zip still peaked at 176-198 MiB with the first flag alone, 133 MiB with both. Neither
 * is a hard limit (unlike --max-old-space-size, which would turn a large deployment into a crash).
 */
export function agentNodeFlags() {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  return (pkg.config?.agentNodeFlags ?? '').split(/\s+/).filter(Boolean);
}

export function executableName(version, arch) {
  return `codedeploy-agent-${version}-linux-${arch}`;
}

/**
 * Builds the executables into outDir; returns their paths by arch. bundleDir, when given, keeps
 * the bundle and its metafile there (tests inspect them).
 */
export async function buildExecutables({ outDir, arches = ARCHES, bundleDir } = {}) {
  const version = packageVersion();
  mkdirSync(outDir, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), 'cda-sea-'));
  try {
    const bundle = join(bundleDir ?? work, 'codedeploy-agent.cjs');
    if (bundleDir) mkdirSync(bundleDir, { recursive: true });
    await bundleAgent(bundle, { version, minify: process.env.CDA_BUNDLE_MINIFY !== "0" });
    const builder = nodeBinary(ROOT, hostArch());
    const built = {};
    for (const arch of arches) {
      const target = arch === hostArch() ? builder : nodeBinary(ROOT, arch);
      const output = join(work, executableName(version, arch));
      const config = join(work, `sea-config-${arch}.json`);
      writeFileSync(
        config,
        JSON.stringify({
          main: bundle,
          mainFormat: 'commonjs',
          executable: target,
          output,
          disableExperimentalSEAWarning: true,
          useCodeCache: arch === hostArch(),
          useSnapshot: false,
          // The agent's V8 flags (package.json config.agentNodeFlags). "cli": NODE_OPTIONS is not
          // read, because the unit exports /etc/profile for the hooks and a NODE_OPTIONS meant for
          // the applications must not change the agent; an operator can still pass flags with
          // `codedeploy-agent --node-options="..." start`.
          execArgv: agentNodeFlags(),
          execArgvExtension: 'cli',
        }),
      );
      // The builder runs with the same V8 flags: V8 rejects a code cache made under another flag
      // hash ("Code cache data rejected", and the bundle is compiled at every start after all);
      // --heap-growing-percent is one of the flags in that hash.
      execFileSync(builder, [...agentNodeFlags(), '--build-sea', config], { stdio: ['ignore', 'ignore', 'inherit'] });
      chmodSync(output, 0o755);
      const final = join(outDir, executableName(version, arch));
      try {
        renameSync(output, final);
      } catch {
        copyFileSync(output, final); // another file system
        chmodSync(final, 0o755);
      }
      built[arch] = final;
    }
    return built;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  let outDir;
  const arches = [];
  let keepBundle = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--out') outDir = args[++i];
    else if (a === '--arch') arches.push(args[++i]);
    else if (a === '--keep-bundle') keepBundle = true;
    else if (a === '-h' || a === '--help') {
      process.stdout.write('Usage: node scripts/release/build-executables.mjs --out DIR [--arch x64|arm64]... [--keep-bundle]\n');
      process.exit(0);
    } else {
      process.stderr.write(`build-executables: unknown argument '${a}'\n`);
      process.exit(2);
    }
  }
  if (!outDir) {
    process.stderr.write('build-executables: --out DIR is required\n');
    process.exit(2);
  }
  for (const a of arches) if (!ARCHES.includes(a)) throw new Error(`unsupported arch ${a} (supported: ${ARCHES.join(', ')})`);
  outDir = resolve(outDir);
  const built = await buildExecutables({ outDir, arches: arches.length ? arches : ARCHES, bundleDir: keepBundle ? outDir : undefined });
  for (const path of Object.values(built)) process.stdout.write(`${path}\n`);
}
