import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, beforeEach, expect } from 'vitest';

/**
 * Fails each test of the calling file that leaves an uncaught exception or unhandled rejection
 * behind (in the daemon, either would have killed the process). Call once at the top of a file.
 */
export function failOnProcessErrors(): void {
  const processErrors: unknown[] = [];
  const record = (err: unknown): void => void processErrors.push(err);
  beforeEach(() => {
    processErrors.length = 0;
    process.on('uncaughtException', record);
    process.on('unhandledRejection', record);
  });
  afterEach(async () => {
    // Let any stale close() or late stream error from the test surface before looking.
    await delay(50);
    process.off('uncaughtException', record);
    process.off('unhandledRejection', record);
    expect(processErrors).toEqual([]);
  });
}
