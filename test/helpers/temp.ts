import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { afterAll, afterEach } from 'vitest';

const created: string[] = [];

/** A fresh directory under the OS temp dir, removed after the current test. */
export async function tempDir(prefix = 'cda-test-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  created.push(dir);
  return dir;
}

afterEach(async () => {
  while (created.length > 0) {
    const dir = created.pop();
    if (dir) await rm(dir, { recursive: true, force: true });
  }
});

const suiteCreated: string[] = [];

/** A fresh directory that lives until the end of the test file (for beforeAll fixtures). */
export async function suiteTempDir(prefix = 'cda-suite-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  suiteCreated.push(dir);
  return dir;
}

afterAll(async () => {
  while (suiteCreated.length > 0) {
    const dir = suiteCreated.pop();
    if (dir) await rm(dir, { recursive: true, force: true });
  }
});

/** A logger that drops everything. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/** A logger whose JSON lines are kept in memory for assertions. */
export function captureLogger(): { logger: Logger; lines: () => Array<Record<string, unknown>> } {
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString('utf8'));
      cb();
    },
  });
  const logger = pino({ level: 'debug' }, sink);
  return {
    logger,
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter((l) => l.length > 0)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}
