#!/usr/bin/env node
/**
 * bundle-agent.mjs - one ES module holding the agent (agent/cli/agent-main.ts and everything it
 * imports, node_modules included), for the single executable application. Plain Node ESM so the
 * release needs no compile step of its own.
 *
 * The bundle must not need anything from disk at run time:
 * - the version comes from `define` (common/version.ts otherwise reads package.json);
 * - the CommonJS dependencies (pino, the AWS SDK) require() Node built-ins, which an ES module
 *   has no `require` for: the banner makes one with createRequire (built-ins only, so its base
 *   path does not matter);
 * - native addons and the control plane are refused (see assertAgentOnly).
 *
 * Usage: node scripts/release/bundle-agent.mjs <out.mjs>   (writes <out.mjs>.meta.json beside it)
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

/** Bundles the agent into outFile (an ES module); returns esbuild's metafile. */
export async function bundleAgent(outFile, { version = packageVersion(), minify = true } = {}) {
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: [ENTRY],
    outfile: outFile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    // Node 26 runs the bundle; the npm build's floor (Node 20) does not matter here.
    target: 'node22',
    minify,
    keepNames: true, // error classes are matched and logged by name
    legalComments: 'none',
    metafile: true,
    logLevel: 'warning',
    define: { __CODEDEPLOY_AGENT_VERSION__: JSON.stringify(version) },
    banner: {
      js: "import { createRequire as __cdaCreateRequire } from 'node:module'; const require = __cdaCreateRequire(process.execPath);",
    },
  });
  assertAgentOnly(result.metafile);
  writeFileSync(`${outFile}.meta.json`, JSON.stringify(result.metafile));
  return result.metafile;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = process.argv[2];
  if (!out) {
    process.stderr.write('Usage: node scripts/release/bundle-agent.mjs <out.mjs>\n');
    process.exit(2);
  }
  const meta = await bundleAgent(resolve(out));
  process.stdout.write(`${resolve(out)} (${Object.keys(meta.inputs).length} inputs)\n`);
}
