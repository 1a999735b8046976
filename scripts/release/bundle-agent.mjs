#!/usr/bin/env node
/**
 * bundle-agent.mjs - one CommonJS script holding the agent (agent/cli/agent-main.ts and everything
 * it imports, node_modules included), for the single executable application. Plain Node ESM so the
 * release needs no compile step of its own.
 *
 * The bundle must not need anything from disk at run time:
 * - the version comes from `define` (common/version.ts otherwise reads package.json);
 * - built-ins are require()d (CommonJS has `require`; only built-ins remain external);
 * - native addons and the control plane are refused (see assertAgentOnly).
 *
 * Usage: node scripts/release/bundle-agent.mjs <out.cjs>   (writes <out.cjs>.meta.json beside it)
 */
import process from 'node:process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const ENTRY = 'agent/cli/agent-main.ts';

/** Inputs that must never reach the agent executable (the control plane and its dependencies). */
const FORBIDDEN_INPUTS = [/(^|\/)control-plane\//, /node_modules\/better-sqlite3\//, /node_modules\/s3rver\//, /\.node$/];

export function packageVersion() {
  return JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version;
}

/** Throws when the metafile lists a forbidden input. */
export function assertAgentOnly(metafile) {
  const bad = Object.keys(metafile.inputs).filter((input) => FORBIDDEN_INPUTS.some((re) => re.test(input)));
  if (bad.length > 0) throw new Error(`the agent bundle must not contain:\n  ${bad.join('\n  ')}`);
}

/** Bundles the agent into outFile (a CommonJS script); returns esbuild's metafile. */
export async function bundleAgent(outFile, { version = packageVersion(), minify = true } = {}) {
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: [ENTRY],
    outfile: outFile,
    bundle: true,
    platform: 'node',
    // CommonJS: a single executable application uses its V8 code cache only for a CommonJS main
    // (an ES module main was compiled at every start: ~130 ms of --version's ~230 ms), a dynamic
    // import() of a bundled module is evaluated only when reached, and a built-in is require()d
    // instead of imported through an ES module facade (whose export list reads every lazy getter:
    // node:http's loaded undici, ~40 ms, in every command).
    format: 'cjs',
    // Node 26 runs the bundle; the npm build's floor (Node 20) does not matter here.
    target: 'node22',
    minify,
    keepNames: true, // error classes are matched and logged by name
    legalComments: 'none',
    metafile: true,
    logLevel: 'warning',
    define: { __CODEDEPLOY_AGENT_VERSION__: JSON.stringify(version) },
  });
  assertAgentOnly(result.metafile);
  writeFileSync(`${outFile}.meta.json`, JSON.stringify(result.metafile));
  return result.metafile;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = process.argv[2];
  if (!out) {
    process.stderr.write('Usage: node scripts/release/bundle-agent.mjs <out.cjs>\n');
    process.exit(2);
  }
  const meta = await bundleAgent(resolve(out));
  process.stdout.write(`${resolve(out)} (${Object.keys(meta.inputs).length} inputs)\n`);
}
