import { readFile, stat, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureVersionFile, parseVersionLine, versionFilePath } from '../../../agent/platform/version-file.js';
import { tempDir } from '../../helpers/temp.js';

describe('<root_dir>/../.version', () => {
  it('sits next to root_dir, where the official agent reads it', () => {
    expect(versionFilePath('/opt/codedeploy-agent/deployment-root')).toBe('/opt/codedeploy-agent/.version');
  });

  it('parses only our TS_ lines', () => {
    expect(parseVersionLine('agent_version: TS_1.2.3_deb\n')).toEqual({ version: '1.2.3', flavour: 'deb' });
    expect(parseVersionLine('agent_version: TS_1.2.3-rc.1_tarball')).toEqual({ version: '1.2.3-rc.1', flavour: 'tarball' });
    expect(parseVersionLine('agent_version: OFFICIAL_1.8.1-2005_deb\n')).toBeUndefined();
    expect(parseVersionLine('garbage')).toBeUndefined();
  });

  it('writes a missing file, rewrites a stale one keeping its flavour, keeps a current one, replaces a foreign one', async () => {
    const root = await tempDir('cda-version-');
    const rootDir = join(root, 'deployment-root');
    await mkdir(rootDir);
    const file = join(root, '.version');
    expect(await ensureVersionFile(rootDir, '2.0.0', 'npm')).toMatchObject({ action: 'written', path: file });
    expect(await readFile(file, 'utf8')).toBe('agent_version: TS_2.0.0_npm\n');
    expect((await stat(file)).mode & 0o777).toBe(0o644);

    await writeFile(file, 'agent_version: TS_1.0.0_rpm\n');
    expect(await ensureVersionFile(rootDir, '2.0.0', 'npm')).toMatchObject({ action: 'written' });
    expect(await readFile(file, 'utf8')).toBe('agent_version: TS_2.0.0_rpm\n');
    expect(await ensureVersionFile(rootDir, '2.0.0', 'npm')).toMatchObject({ action: 'kept' });

    await writeFile(file, 'agent_version: OFFICIAL_1.8.1-2005_deb\n');
    await ensureVersionFile(rootDir, '2.0.0', 'exe');
    expect(await readFile(file, 'utf8')).toBe('agent_version: TS_2.0.0_exe\n');
  });

  it('writes nothing into a directory other programs share', async () => {
    expect(await ensureVersionFile('/var/lib/deployment-root', '2.0.0', 'npm')).toMatchObject({ action: 'skipped' });
    expect(await ensureVersionFile('/deployment-root', '2.0.0', 'npm')).toMatchObject({ action: 'skipped' });
  });
});
