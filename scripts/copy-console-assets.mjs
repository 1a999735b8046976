// Build step after tsc: the web console's browser files (control-plane/console/assets) are not
// TypeScript, so tsc does not emit them; copy them next to the compiled console handler
// (<dist>/control-plane/console/assets), where it reads them at run time.
// Usage: node scripts/copy-console-assets.mjs [dist dir, default ./dist]
import { cp, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { argv } from 'node:process';

const root = join(import.meta.dirname, '..');
const dist = resolve(argv[2] ?? join(root, 'dist'));
const from = join(root, 'control-plane', 'console', 'assets');
const to = join(dist, 'control-plane', 'console', 'assets');
await rm(to, { recursive: true, force: true });
await cp(from, to, { recursive: true });
