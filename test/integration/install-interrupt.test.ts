/**
 * Install told to stop (codedeploy-local interrupted, issue 12): it stops between batches, and
 * whatever point it reached, install.json is complete or absent (never a temp file), no copy's
 * temp file is left, and every path it created is already in the cleanup list, so the next
 * install of the group removes it.
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { AgentError } from '../../agent/errors.js';
import { parseCleanupList } from '../../agent/install/cleanup-file.js';
import { cleanupFilePath, install, installJsonPath } from '../../agent/install/installer.js';
import { walkTree } from '../helpers/file-tree.js';
import { silentLogger, tempDir } from '../helpers/temp.js';
import { appSpec } from '../unit/install/appspec-builder.js';

const GROUP = 'g-stop';
const FILES = 6000;

async function revision(): Promise<{ archive: string; instructions: string; dest: string }> {
  const root = await tempDir('cda-install-stop-');
  const archive = join(root, 'deployment-archive');
  for (let d = 0; d < 60; d++) {
    await mkdir(join(archive, 'app', `d${d}`), { recursive: true });
    await Promise.all(Array.from({ length: FILES / 60 }, (_, i) => writeFile(join(archive, 'app', `d${d}`, `f${i}.txt`), `${d}/${i}\n`)));
  }
  return { archive, instructions: join(root, 'deployment-instructions'), dest: join(root, 'dest') };
}

describe('install stopped by its signal', () => {
  it('a signal aborted before it starts: nothing is planned, installed or listed', async () => {
    const r = await revision();
    const controller = new AbortController();
    controller.abort(new Error('codedeploy-local was interrupted by SIGINT'));
    const err = await install({
      deploymentGroupId: GROUP,
      appspec: appSpec({ files: [['app', r.dest]] }),
      archiveDir: r.archive,
      instructionsDir: r.instructions,
      baseDir: r.archive,
      logger: silentLogger(),
      signal: controller.signal,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AgentError);
    expect((err as AgentError).message).toBe('Install was stopped before it finished because codedeploy-local was interrupted by SIGINT');
    expect(existsSync(r.dest)).toBe(false);
    expect(existsSync(installJsonPath(r.instructions, GROUP))).toBe(false);
  });

  // Aborted after a delay, or when the installer logs that a phase is done (so the next one stops at its first batch).
  it.each([
    ['5 ms in', 5, undefined, 0],
    ['once planned', undefined, 'install plan ready, install.json written', 0],
    ['once the directories exist', undefined, 'directories created', 60],
  ] as const)(
    'aborted %s: stops between batches, leaves no temp file and lists everything it made',
    async (_, afterMs, atMessage, dirs) => {
      const r = await revision();
      const controller = new AbortController();
      const stop = (): void => controller.abort(new Error('codedeploy-local was interrupted by SIGTERM'));
      if (afterMs !== undefined) setTimeout(stop, afterMs);
      const logger = pino(
        { level: 'debug' },
        new Writable({
          write(chunk: Buffer, _enc, cb) {
            if (atMessage !== undefined && chunk.toString().includes(atMessage)) stop();
            cb();
          },
        }),
      );
      const outcome = await install({
        deploymentGroupId: GROUP,
        appspec: appSpec({ files: [['app', r.dest]] }),
        archiveDir: r.archive,
        instructionsDir: r.instructions,
        baseDir: r.archive,
        logger,
        signal: controller.signal,
      }).catch((e: unknown) => e);
      expect(outcome).toBeInstanceOf(AgentError);
      expect((outcome as Error).message).toBe('Install was stopped before it finished because codedeploy-local was interrupted by SIGTERM');
      // instruction files: whole or absent; nothing else (no temp install.json, no spool).
      const instructionFiles = (await readdir(r.instructions)).sort();
      expect(instructionFiles.filter((f) => f !== `${GROUP}-install.json` && f !== `${GROUP}-cleanup`)).toEqual([]);
      if (instructionFiles.includes(`${GROUP}-install.json`)) {
        const plan = JSON.parse(await readFile(installJsonPath(r.instructions, GROUP), 'utf8')) as unknown;
        expect(plan).toBeTypeOf('object');
      }
      const created = existsSync(r.dest) ? (await walkTree(r.dest)).map((e) => e.path) : [];
      const cleanup = existsSync(cleanupFilePath(r.instructions, GROUP))
        ? parseCleanupList(await readFile(cleanupFilePath(r.instructions, GROUP), 'utf8'))
        : [];
      const listed = new Set(cleanup.map((e) => e.path));
      for (const p of created) {
        expect(p.includes('.cda-'), p).toBe(false);
        expect(listed.has(join(r.dest, p)), p).toBe(true);
      }
      if (existsSync(r.dest)) expect(listed.has(r.dest)).toBe(true);
      // No file was copied after the stop; the directories made before it are there and listed.
      expect(created.length).toBe(dirs);
    },
    60_000,
  );
});
