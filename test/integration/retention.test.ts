/**
 * Retention (docs/reference.md section 4.6): max_revisions deployment directories per group, counting the one
 * being deployed; the last successful one is never deleted, even when it is the oldest.
 */
import { cp, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FIXTURES, localHost } from '../helpers/local-deploy.js';

const SAMPLE = join(FIXTURES, 'sample-app');

describe('retention of old revisions', () => {
  it('keeps max_revisions directories and always the last successful one', async () => {
    const host = await localHost([':max_revisions: 2']);
    const good = join(host.root, 'good');
    const bad = join(host.root, 'bad');
    await cp(SAMPLE, good, { recursive: true });
    await cp(SAMPLE, bad, { recursive: true });
    await writeFile(join(bad, 'scripts', 'hook.sh'), '#!/bin/sh\nexit 1\n', { mode: 0o755 });
    const group = join(host.rootDir, 'grp');
    const lastSuccessful = () => readFile(join(host.rootDir, 'deployment-instructions', 'grp_last_successful_install'), 'utf8');

    expect((await host.run(['-l', good, '-g', 'grp'])).code).toBe(0);
    const firstGood = await lastSuccessful();
    // Three failing deployments (BeforeInstall fails, so Install never succeeds again).
    for (let i = 0; i < 3; i++) {
      await new Promise((r) => setTimeout(r, 20)); // distinct directory mtimes
      expect((await host.run(['-l', bad, '-g', 'grp', '--events', 'BeforeInstall'])).code).toBe(1);
    }
    const dirs = await readdir(group);
    expect(dirs).toHaveLength(3); // the current one, the one before it, and the protected last successful one
    expect(dirs.map((d) => join(group, d))).toContain(firstGood);
    expect(await lastSuccessful()).toBe(firstGood);

    // The next successful deployment moves the pointer; the old one may then go.
    expect((await host.run(['-l', good, '-g', 'grp', '-b', 'OVERWRITE'])).code).toBe(0);
    expect(await lastSuccessful()).not.toBe(firstGood);
    expect((await readdir(group)).length).toBeLessThanOrEqual(3);
  });
});
