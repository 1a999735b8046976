/** The install plan spool: what goes in comes back, in order, as often as asked, whatever the path bytes. */
import { readdir } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { OpSpool } from '../../../agent/install/op-spool.js';
import type { CopyOp, PermissionTarget } from '../../../agent/install/operations.js';
import { tempDir } from '../../helpers/temp.js';

function copy(i: number): CopyOp {
  // Multi-byte characters and line breaks, and lengths that put records across the 32 KiB chunks.
  const name = `d${i % 7}/файл ${i}${i % 5 === 0 ? '\nwith a break' : ''}${'x'.repeat(i % 300)}`;
  return {
    type: 'copy',
    source: `/archive/${name}`,
    destination: `/srv/app/${name}`,
    kind: i % 3 === 0 ? 'symlink' : 'file',
    overwrite: i % 2 === 0,
  };
}

describe('OpSpool', () => {
  it('returns 20,000 copies and then the permission targets in order, twice, from an unlinked file', async () => {
    const dir = await tempDir();
    const spool = OpSpool.create(dir, '.plan');
    expect(await readdir(dir)).toEqual([]);
    const copies = Array.from({ length: 20_000 }, (_, i) => copy(i));
    for (const op of copies) spool.addCopy(op);
    spool.endCopies();
    // The permission phase reads the copies back while it appends its targets.
    const targets: PermissionTarget[] = [];
    for (const op of spool.copies()) {
      if (targets.length < 5_000) {
        const target = { path: op.destination, index: targets.length % 4, isSymlink: op.kind === 'symlink' };
        targets.push(target);
        spool.addTarget(target);
      }
    }
    spool.endTargets();

    expect([...spool.copies()]).toEqual(copies);
    expect([...spool.copies()]).toEqual(copies);
    expect([...spool.targets()]).toEqual(targets);
    spool.close();
  });

  it('an empty spool reads back empty; reading before the end of a section is a programming error', async () => {
    const spool = OpSpool.create(await tempDir(), '.plan');
    expect(() => [...spool.copies()]).toThrow(/not complete/);
    spool.endCopies();
    spool.endTargets();
    expect([...spool.copies()]).toEqual([]);
    expect([...spool.targets()]).toEqual([]);
    spool.close();
  });
});
