import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stripTopLevelDirectory } from '../../../agent/bundle/strip-top-dir.js';
import { captureLogger, tempDir } from '../../helpers/temp.js';

const STRIP_MESSAGE = 'Stripping leading directory from archive bundle contents.';

async function setup(): Promise<{ archiveDir: string; tempDirPath: string }> {
  const root = await tempDir();
  const archiveDir = join(root, 'deployment-archive');
  await mkdir(archiveDir);
  return { archiveDir, tempDirPath: join(root, 'deployment-archive-temp') };
}

describe('stripTopLevelDirectory', () => {
  it.each(['appspec.yml', 'AppSpec.yml', 'APPSPEC.YAML', 'my-appspec-notes.txt'])(
    'strips a single directory that holds %s',
    async (appspecName) => {
      const { archiveDir, tempDirPath } = await setup();
      await mkdir(join(archiveDir, 'my-app-1.0/scripts'), { recursive: true });
      await writeFile(join(archiveDir, 'my-app-1.0', appspecName), 'version: 0.0\n');
      await writeFile(join(archiveDir, 'my-app-1.0/scripts/start.sh'), 'echo hi\n');
      const { logger, lines } = captureLogger();

      const stripped = await stripTopLevelDirectory(archiveDir, tempDirPath, logger);

      expect(stripped).toBe(true);
      expect((await readdir(archiveDir)).sort()).toEqual([appspecName, 'scripts'].sort());
      expect(await readFile(join(archiveDir, 'scripts/start.sh'), 'utf8')).toBe('echo hi\n');
      expect(existsSync(tempDirPath)).toBe(false);
      expect(lines().map((l) => l.msg)).toContain(STRIP_MESSAGE);
    },
  );

  it('does not strip when the archive has two entries', async () => {
    const { archiveDir, tempDirPath } = await setup();
    await mkdir(join(archiveDir, 'app'));
    await writeFile(join(archiveDir, 'app/appspec.yml'), 'x');
    await writeFile(join(archiveDir, 'README'), 'x');
    const { logger, lines } = captureLogger();

    expect(await stripTopLevelDirectory(archiveDir, tempDirPath, logger)).toBe(false);
    expect((await readdir(archiveDir)).sort()).toEqual(['README', 'app']);
    expect(lines().map((l) => l.msg)).not.toContain(STRIP_MESSAGE);
  });

  it('does not strip a single file', async () => {
    const { archiveDir, tempDirPath } = await setup();
    await writeFile(join(archiveDir, 'appspec.yml'), 'x');
    const { logger } = captureLogger();
    expect(await stripTopLevelDirectory(archiveDir, tempDirPath, logger)).toBe(false);
    expect(await readdir(archiveDir)).toEqual(['appspec.yml']);
  });

  it('does not strip a single directory without an appspec', async () => {
    const { archiveDir, tempDirPath } = await setup();
    await mkdir(join(archiveDir, 'app'));
    await writeFile(join(archiveDir, 'app/index.html'), 'x');
    const { logger } = captureLogger();
    expect(await stripTopLevelDirectory(archiveDir, tempDirPath, logger)).toBe(false);
    expect(await readdir(join(archiveDir, 'app'))).toEqual(['index.html']);
  });

  it('does not strip a single symlink to a directory that holds an appspec', async () => {
    const { archiveDir, tempDirPath } = await setup();
    const elsewhere = join(await tempDir(), 'real');
    await mkdir(elsewhere);
    await writeFile(join(elsewhere, 'appspec.yml'), 'x');
    await symlink(elsewhere, join(archiveDir, 'app'));
    const { logger } = captureLogger();
    expect(await stripTopLevelDirectory(archiveDir, tempDirPath, logger)).toBe(false);
    expect(await readdir(archiveDir)).toEqual(['app']);
  });

  it('does not strip an empty archive', async () => {
    const { archiveDir, tempDirPath } = await setup();
    const { logger } = captureLogger();
    expect(await stripTopLevelDirectory(archiveDir, tempDirPath, logger)).toBe(false);
    expect(await readdir(archiveDir)).toEqual([]);
  });
});
