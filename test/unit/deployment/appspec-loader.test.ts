import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadAppSpec } from '../../../agent/deployment/appspec-loader.js';
import { ErrorCodes } from '../../../agent/errors.js';
import { tempDir } from '../../helpers/temp.js';

const appspec = (event: string, script: string) => `version: 0.0\nos: linux\nhooks:\n  ${event}:\n    - location: ${script}\n`;

describe('loadAppSpec parse cache', () => {
  it('reads the file every time and reuses the parse only for identical text', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'appspec.yml'), appspec('AfterInstall', 'a.sh'));
    const first = await loadAppSpec(dir, 'appspec.yml');
    const again = await loadAppSpec(dir, 'appspec.yml');
    expect(again.spec).toBe(first.spec);

    // One changed byte: parsed afresh, and what runs is what the file says now.
    await writeFile(join(dir, 'appspec.yml'), appspec('AfterInstall', 'b.sh'));
    const changed = await loadAppSpec(dir, 'appspec.yml');
    expect(changed.spec).not.toBe(first.spec);
    expect(changed.spec.hooks.get('AfterInstall')?.map((s) => s.location)).toEqual(['b.sh']);
  });

  it('keys on the file name too (messages and locations name the file)', async () => {
    const a = await tempDir();
    const b = await tempDir();
    const text = appspec('BeforeInstall', 'x.sh');
    await writeFile(join(a, 'appspec.yml'), text);
    await writeFile(join(b, 'appspec.yaml'), text);
    const fromYml = await loadAppSpec(a, 'appspec.yml');
    const fromYaml = await loadAppSpec(b, 'appspec.yml');
    expect(fromYaml.name).toBe('appspec.yaml');
    expect(fromYaml.spec).not.toBe(fromYml.spec);
    expect(fromYaml.spec.hooks.get('BeforeInstall')?.[0]?.where.file).toBe('appspec.yaml');
  });

  it('never keeps an invalid appspec: it is reported on every load', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'appspec.yml'), 'version: 0.0\nos: windows\n');
    for (let i = 0; i < 2; i++) {
      await expect(loadAppSpec(dir, 'appspec.yml')).rejects.toMatchObject({ code: ErrorCodes.APPSPEC_INVALID });
    }
  });
});
