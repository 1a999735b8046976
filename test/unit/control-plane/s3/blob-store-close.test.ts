import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createBlobStore } from '../../../../control-plane/s3/blob-store.js';
import { tempDir } from '../../../helpers/temp.js';

const openFds = () => readdirSync('/proc/self/fd').length;

describe('blob store shutdown', () => {
  it('closeAll closes the temp file of an upload whose body never ends, so nothing is left to the garbage collector', async () => {
    const store = createBlobStore(await tempDir('cda-blobs-'));
    const before = openFds();
    let release!: () => void;
    const stuck = new Promise<void>((r) => (release = r));
    async function* neverEnding(): AsyncGenerator<Uint8Array> {
      yield new Uint8Array(10);
      await stuck;
    }
    const staging = store.stage(neverEnding());
    staging.catch(() => undefined);
    await new Promise((r) => setTimeout(r, 50));
    expect(openFds()).toBe(before + 1);
    await store.closeAll();
    expect(openFds()).toBe(before);
    // The upload then fails instead of committing a partial file.
    release();
    await expect(staging).rejects.toThrow();
  });
});
