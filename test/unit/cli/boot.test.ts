import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..', '..');

/** Runs a module in a fresh Node process from the project root and returns its stderr. */
function stderrOf(source: string): { status: number | null; stderr: string; stdout: string } {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', source], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { PATH: process.env.PATH },
  });
  return { status: r.status, stderr: r.stderr, stdout: r.stdout };
}

const BOOT = join(ROOT, 'dist', 'agent', 'cli', 'boot.js');

describe.skipIf(!existsSync(BOOT))('boot (built: npm test builds first)', () => {
  it('keeps the AWS SDK Node-version notice from users, and hooks do not inherit the switch', () => {
    const r = stderrOf(`
      const boot = await import('./dist/agent/cli/boot.js');
      const { emitWarningIfUnsupportedVersion } = await import('@aws-sdk/core/client');
      emitWarningIfUnsupportedVersion('v20.0.0');
      await new Promise((r) => setTimeout(r, 50));
      console.log(JSON.stringify('AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED' in boot.originalEnv));
    `);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('false');
    expect(r.status).toBe(0);
  });

  it('the notice does appear without boot (the test can fail)', () => {
    const r = stderrOf(`
      const { emitWarningIfUnsupportedVersion } = await import('@aws-sdk/core/client');
      emitWarningIfUnsupportedVersion('v20.0.0');
      await new Promise((r) => setTimeout(r, 50));
    `);
    expect(r.stderr).toContain('NodeVersionSupportWarning');
  });
});
