/**
 * Test helper: a tiny revision whose AfterInstall hook writes its environment, plus the content
 * marker of the bundle it was unpacked from, to `$ENV_DUMP_DIR/<deployment id>.env`. Tests read it
 * back to see what the agent downloaded and what the hook was told (BUNDLE_VERSION, BUNDLE_ETAG, ...).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tar from 'tar';
import { suiteTempDir } from './temp.js';

const APPSPEC = `version: 0.0
os: linux
hooks:
  AfterInstall:
    - location: scripts/dump-env.sh
      timeout: 30
`;

const DUMP_ENV = `#!/bin/sh
here=$(dirname "$0")
{ env; echo "BUNDLE_CONTENT=$(cat "$here/../app/content.txt")"; } > "$ENV_DUMP_DIR/$DEPLOYMENT_ID.env"
`;

/** The tar.gz bytes of the revision; `content` ends up in BUNDLE_CONTENT. */
export async function envDumpBundle(content: string): Promise<Buffer> {
  const staging = await suiteTempDir('cda-env-app-');
  await mkdir(join(staging, 'app'));
  await mkdir(join(staging, 'scripts'));
  await writeFile(join(staging, 'appspec.yml'), APPSPEC);
  await writeFile(join(staging, 'app', 'content.txt'), `${content}\n`);
  await writeFile(join(staging, 'scripts', 'dump-env.sh'), DUMP_ENV, { mode: 0o755 });
  const file = join(await suiteTempDir('cda-env-tgz-'), 'bundle.tgz');
  await tar.c({ gzip: true, file, cwd: staging, portable: true }, ['.']);
  return readFile(file);
}

/** The hook's environment in one deployment, as NAME -> value. */
export async function readHookEnv(dumpDir: string, deploymentId: string): Promise<Record<string, string>> {
  const text = await readFile(join(dumpDir, `${deploymentId}.env`), 'utf8');
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) out[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return out;
}
