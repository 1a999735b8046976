import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it, vi } from 'vitest';
import { createNotifier } from '../../../agent/systemd/sd-notify.js';
import { captureLogger, silentLogger, tempDir } from '../../helpers/temp.js';
import { notifySocket } from '../../helpers/notify-socket.js';

/** Waits up to timeoutMs for check; the caller's assertions then say what was missing. */
async function until(check: () => boolean, timeoutMs = 3000): Promise<void> {
  await vi
    .waitFor(
      () => {
        if (!check()) throw new Error('not yet');
      },
      { timeout: timeoutMs, interval: 10 },
    )
    .catch(() => undefined);
}

const baseEnv = { PATH: process.env.PATH };

describe('sd_notify through systemd-notify', () => {
  it('sends READY, STATUS, WATCHDOG and STOPPING, in order, attributed to the agent when privileged', async () => {
    const sock = await notifySocket();
    const notifier = createNotifier({ env: { ...baseEnv, NOTIFY_SOCKET: sock.path, WATCHDOG_USEC: '30000000' }, logger: silentLogger() });
    expect(notifier.enabled).toBe(true);
    expect(notifier.watchdogIntervalMs).toBe(15_000);

    await notifier.ready('Polling for commands');
    await notifier.status('Deployment d-1: Install\nsecond line');
    await notifier.watchdog();
    await notifier.stopping('Shutting down');
    await until(() => sock.received().length >= 4);

    const messages = sock.received().map((d) => d.message);
    expect(messages).toEqual([
      'READY=1\nSTATUS=Polling for commands',
      'STATUS=Deployment d-1: Install second line',
      'WATCHDOG=1',
      'STATUS=Shutting down\nSTOPPING=1',
    ]);
    // systemd-notify claims its parent's PID (ours) when allowed to; unprivileged, its own.
    if (process.getuid?.() === 0) expect(sock.received().map((d) => d.pid)).toEqual([process.pid, process.pid, process.pid, process.pid]);
  });

  it('keeps the order of messages asked for without waiting', async () => {
    const sock = await notifySocket();
    const notifier = createNotifier({ env: { ...baseEnv, NOTIFY_SOCKET: sock.path }, logger: silentLogger() });
    await Promise.all([notifier.ready(), notifier.status('one'), notifier.status('two'), notifier.stopping()]);
    await until(() => sock.received().length >= 4);
    expect(sock.received().map((d) => d.message)).toEqual(['READY=1', 'STATUS=one', 'STATUS=two', 'STOPPING=1']);
  });

  it('pings the watchdog at half of WATCHDOG_USEC until stopped', async () => {
    const sock = await notifySocket();
    const notifier = createNotifier({
      env: { ...baseEnv, NOTIFY_SOCKET: sock.path, WATCHDOG_USEC: '400000', WATCHDOG_PID: String(process.pid) },
      logger: silentLogger(),
    });
    expect(notifier.watchdogIntervalMs).toBe(200);
    const count = () => sock.received().filter((d) => d.message === 'WATCHDOG=1').length;
    const stop = notifier.startWatchdog();
    await sleep(700);
    stop();
    await until(() => count() >= 2, 2000); // a ping spawned just before stop() may still be on its way
    await sleep(150);
    const pings = count();
    expect(pings).toBeGreaterThanOrEqual(2);
    expect(pings).toBeLessThanOrEqual(4);
    await sleep(450);
    expect(count()).toBe(pings);
  });

  it('warns when a watchdog ping comes later than WATCHDOG_USEC (a blocked event loop)', async () => {
    const sock = await notifySocket();
    const { logger, lines } = captureLogger();
    let clock = 0;
    const now = () => (clock += 1000); // every tick looks 1 s after the previous one
    const notifier = createNotifier({ env: { ...baseEnv, NOTIFY_SOCKET: sock.path, WATCHDOG_USEC: '100000' }, logger, now });
    const stop = notifier.startWatchdog();
    await until(() => sock.received().length >= 1);
    stop();
    const late = lines().filter((l) => l.level === 40 && String(l.msg).startsWith('the watchdog ping is late'));
    expect(late.length).toBeGreaterThanOrEqual(1);
    expect(late[0]).toMatchObject({ lateByMs: 950 });
  });

  it('leaves the watchdog to another process named by WATCHDOG_PID', async () => {
    const sock = await notifySocket();
    const notifier = createNotifier({
      env: { ...baseEnv, NOTIFY_SOCKET: sock.path, WATCHDOG_USEC: '100000', WATCHDOG_PID: '1' },
      logger: silentLogger(),
      pid: 4242,
    });
    expect(notifier.watchdogIntervalMs).toBeUndefined();
    const stop = notifier.startWatchdog();
    await notifier.watchdog();
    await sleep(250);
    stop();
    await notifier.status('still here');
    await until(() => sock.received().length >= 1);
    expect(sock.received().map((d) => d.message)).toEqual(['STATUS=still here']);
  });

  it('does nothing, and runs nothing, without NOTIFY_SOCKET', async () => {
    const dir = await tempDir('cda-sdnotify-');
    const record = join(dir, 'calls.log');
    const fake = join(dir, 'fake-notify');
    await writeFile(fake, `#!/bin/sh\necho "$@" >> '${record}'\n`);
    await chmod(fake, 0o755);

    // The fake binary records calls when it does run (proves the fake works).
    const control = createNotifier({ env: { ...baseEnv, NOTIFY_SOCKET: '/nonexistent.sock' }, logger: silentLogger(), notifyBinary: fake });
    await control.ready('x');
    expect(await readFile(record, 'utf8')).toBe('--ready --status=x\n');

    const notifier = createNotifier({ env: { ...baseEnv, WATCHDOG_USEC: '100000' }, logger: silentLogger(), notifyBinary: fake });
    expect(notifier.enabled).toBe(false);
    expect(notifier.watchdogIntervalMs).toBeUndefined();
    const stop = notifier.startWatchdog();
    await notifier.ready('Polling');
    await notifier.status('x');
    await notifier.watchdog();
    await notifier.stopping();
    await sleep(150);
    stop();
    expect(await readFile(record, 'utf8')).toBe('--ready --status=x\n');
  });

  it('warns once when the binary is missing and never throws', async () => {
    const { logger, lines } = captureLogger();
    const notifier = createNotifier({
      env: { ...baseEnv, NOTIFY_SOCKET: '/run/none.sock' },
      logger,
      notifyBinary: '/nonexistent/systemd-notify',
    });
    await expect(notifier.ready()).resolves.toBeUndefined();
    await notifier.status('x');
    await notifier.watchdog();
    const warnings = lines().filter((l) => l.level === 40);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ binary: '/nonexistent/systemd-notify' });
    expect(String(warnings[0]?.msg)).toContain('was not found');
  });

  it('warns when the manager cannot be reached, once per failure streak', async () => {
    const { logger, lines } = captureLogger();
    const dir = await tempDir('cda-sdnotify-');
    const notifier = createNotifier({ env: { ...baseEnv, NOTIFY_SOCKET: join(dir, 'absent.sock') }, logger });
    await notifier.ready();
    await notifier.status('x');
    const warnings = lines().filter((l) => l.level === 40);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ msg: 'sd_notify failed', args: ['--ready'] });
    expect(String(warnings[0]?.stderr)).toContain('Failed to notify init system');
    expect(lines().some((l) => l.level === 20 && l.msg === 'sd_notify failed again')).toBe(true);
  });
});
