/** install.json streamed to disk: the same bytes as installJson(), in place only once committed. */
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { installJson, InstructionsWriter } from '../../../agent/install/instructions-json.js';
import type { InstallOp } from '../../../agent/install/operations.js';
import { tempDir } from '../../helpers/temp.js';
import { ace, mode, permission } from './appspec-builder.js';

function ops(count: number): InstallOp[] {
  const from = { index: 0, permission: permission({ object: '/srv' }) };
  const out: InstallOp[] = [];
  for (let i = 0; i < count; i++) {
    const file = `/srv/app/файл-${i}\n"quoted"`;
    switch (i % 6) {
      case 0:
        out.push({ type: 'mkdir', directory: `/srv/app/d${i}` });
        break;
      case 1:
        out.push({ type: 'copy', source: `/archive/${i}`, destination: file, kind: 'file', overwrite: false });
        break;
      case 2:
        out.push({ type: 'chmod', file, mode: mode('755'), from });
        break;
      case 3:
        out.push({ type: 'setfacl', file, acl: [ace('user:bob:rwx'), ace('default:group::r-x')], from });
        break;
      case 4:
        out.push({ type: 'semanage', file, context: { type: 'httpd_sys_content_t', range: { low: 0, high: 0, categories: [3] } }, from });
        break;
      default:
        out.push({ type: 'chown', file, owner: 'app', noFollow: false, from });
    }
  }
  return out;
}

describe('InstructionsWriter', () => {
  it.each([0, 1, 30_000])('writes %i operations with the bytes of installJson()', async (count) => {
    const dir = await tempDir();
    const path = join(dir, 'g-install.json');
    await writeFile(path, 'previous');
    const list = ops(count);
    const writer = InstructionsWriter.create(path);
    for (const op of list) writer.add(op);
    expect(await readFile(path, 'utf8')).toBe('previous');
    await writer.commit();
    expect(await readFile(path, 'utf8')).toBe(installJson(list));
    expect(await readdir(dir)).toEqual(['g-install.json']);
  });

  it('abort() leaves the previous file and no temp file', async () => {
    const dir = await tempDir();
    const path = join(dir, 'g-install.json');
    await writeFile(path, 'previous');
    const writer = InstructionsWriter.create(path);
    for (const op of ops(10_000)) writer.add(op);
    await writer.abort();
    expect(await readFile(path, 'utf8')).toBe('previous');
    expect(await readdir(dir)).toEqual(['g-install.json']);
  });

  it('without a previous file, abort() leaves none', async () => {
    const dir = await tempDir();
    const writer = InstructionsWriter.create(join(dir, 'g-install.json'));
    writer.add(ops(1)[0] as InstallOp);
    await writer.abort();
    expect(existsSync(join(dir, 'g-install.json'))).toBe(false);
    expect(await readdir(dir)).toEqual([]);
  });
});
