import { execFile } from 'node:child_process';
import { existsSync, readlinkSync } from 'node:fs';
import { chmod, readdir, readFile, symlink, unlink, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it, vi } from 'vitest';
import { createNotifier, type NotifyRoute } from '../../../agent/systemd/sd-notify.js';
import { loadNodeFfi } from '../../../agent/systemd/notify-datagram.js';
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

const run = promisify(execFile);
const baseEnv = { PATH: process.env.PATH };
const hasFfi = loadNodeFfi() !== undefined;
const ffiSkip = hasFfi ? '' : ` (skipped: ${process.version} has no node:ffi)`;
const routes: Array<{ route: Exclude<NotifyRoute, 'auto'>; title: string; skip: boolean }> = [
  { route: 'ffi', title: `from the agent process through node:ffi${ffiSkip}`, skip: !hasFfi },
  { route: 'binary', title: 'through systemd-notify (the fallback)', skip: false },
];

describe.each(routes)('sd_notify $title', ({ route, skip }) => {
  it.skipIf(skip)('sends READY, STATUS, WATCHDOG and STOPPING, in order, attributed to the agent when privileged', async () => {
    const sock = await notifySocket();
    const notifier = createNotifier({
      env: { ...baseEnv, NOTIFY_SOCKET: sock.path, WATCHDOG_USEC: '30000000' },
      logger: silentLogger(),
      route,
    });
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
    expect(notifier.route).toBe(route);
    // ffi: the kernel names our process as the sender, whoever we run as. systemd-notify claims its
    // parent's PID (ours) when allowed to; unprivileged, its own.
    if (route === 'ffi' || process.getuid?.() === 0)
      expect(sock.received().map((d) => d.pid)).toEqual([process.pid, process.pid, process.pid, process.pid]);
  });

  it.skipIf(skip)('keeps the order of messages asked for without waiting', async () => {
    const sock = await notifySocket();
    const notifier = createNotifier({ env: { ...baseEnv, NOTIFY_SOCKET: sock.path }, logger: silentLogger(), route });
    await Promise.all([notifier.ready(), notifier.status('one'), notifier.status('two'), notifier.stopping()]);
    await until(() => sock.received().length >= 4);
    expect(sock.received().map((d) => d.message)).toEqual(['READY=1', 'STATUS=one', 'STATUS=two', 'STOPPING=1']);
  });

  it.skipIf(skip)('pings the watchdog at half of WATCHDOG_USEC until stopped', async () => {
    const sock = await notifySocket();
    const notifier = createNotifier({
      env: { ...baseEnv, NOTIFY_SOCKET: sock.path, WATCHDOG_USEC: '400000', WATCHDOG_PID: String(process.pid) },
      logger: silentLogger(),
      route,
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

  it.skipIf(skip)('warns when a watchdog ping comes later than WATCHDOG_USEC (a blocked event loop)', async () => {
    const sock = await notifySocket();
    const { logger, lines } = captureLogger();
    let clock = 0;
    const now = () => (clock += 1000); // every tick looks 1 s after the previous one
    const notifier = createNotifier({ env: { ...baseEnv, NOTIFY_SOCKET: sock.path, WATCHDOG_USEC: '100000' }, logger, now, route });
    const stop = notifier.startWatchdog();
    await until(() => sock.received().length >= 1);
    stop();
    const late = lines().filter((l) => l.level === 40 && String(l.msg).startsWith('the watchdog ping is late'));
    expect(late.length).toBeGreaterThanOrEqual(1);
    expect(late[0]).toMatchObject({ lateByMs: 950 });
  });

  it.skipIf(skip)('leaves the watchdog to another process named by WATCHDOG_PID', async () => {
    const sock = await notifySocket();
    const notifier = createNotifier({
      env: { ...baseEnv, NOTIFY_SOCKET: sock.path, WATCHDOG_USEC: '100000', WATCHDOG_PID: '1' },
      logger: silentLogger(),
      pid: 4242,
      route,
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
});

describe('sd_notify: the binary route', () => {
  it('does nothing, and runs nothing, without NOTIFY_SOCKET', async () => {
    const dir = await tempDir('cda-sdnotify-');
    const record = join(dir, 'calls.log');
    const fake = join(dir, 'fake-notify');
    await writeFile(fake, `#!/bin/sh\necho "$@" >> '${record}'\n`);
    await chmod(fake, 0o755);

    // The fake binary records calls when it does run (proves the fake works).
    const control = createNotifier({
      env: { ...baseEnv, NOTIFY_SOCKET: '/nonexistent.sock' },
      logger: silentLogger(),
      notifyBinary: fake,
      route: 'binary',
    });
    await control.ready('x');
    expect(await readFile(record, 'utf8')).toBe('--ready --status=x\n');

    const notifier = createNotifier({ env: { ...baseEnv, WATCHDOG_USEC: '100000' }, logger: silentLogger(), notifyBinary: fake });
    expect(notifier.route).toBeUndefined();
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
      route: 'binary',
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
    const notifier = createNotifier({ env: { ...baseEnv, NOTIFY_SOCKET: join(dir, 'absent.sock') }, logger, route: 'binary' });
    await notifier.ready();
    await notifier.status('x');
    const warnings = lines().filter((l) => l.level === 40);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ msg: 'sd_notify failed', args: ['--ready'] });
    expect(String(warnings[0]?.stderr)).toContain('Failed to notify init system');
    expect(lines().some((l) => l.level === 20 && l.msg === 'sd_notify failed again')).toBe(true);
  });
});

describe('sd_notify: choosing the route', () => {
  /** A systemd-notify on PATH that records its arguments and then runs the real one (if any). */
  async function recordingNotifyBinary(): Promise<{ dir: string; record: string }> {
    const dir = await tempDir('cda-sdnotify-bin-');
    const record = join(dir, 'calls.log');
    const real = ['/usr/bin/systemd-notify', '/bin/systemd-notify'].find((p) => existsSync(p));
    await writeFile(join(dir, 'systemd-notify'), `#!/bin/sh\necho "$@" >> '${record}'\n${real ? `exec ${real} "$@"\n` : 'exit 0\n'}`);
    await chmod(join(dir, 'systemd-notify'), 0o755);
    return { dir, record };
  }

  it('falls back to the systemd-notify binary when node:ffi is unavailable', async () => {
    const sock = await notifySocket();
    const bin = await recordingNotifyBinary();
    const { logger, lines } = captureLogger();
    const notifier = createNotifier({
      env: { PATH: `${bin.dir}:${process.env.PATH ?? ''}`, NOTIFY_SOCKET: sock.path },
      logger,
      loadFfi: () => undefined,
      euid: 0,
    });
    await notifier.ready('polling');
    await notifier.status('busy');
    expect(notifier.route).toBe('binary');
    expect(await readFile(bin.record, 'utf8')).toBe('--ready --status=polling\n--status=busy\n');
    expect(lines().some((l) => l.level === 20 && String(l.msg).includes('node:ffi cannot be used'))).toBe(true);
    expect(lines().filter((l) => Number(l.level) >= 40)).toEqual([]);
    if (existsSync('/usr/bin/systemd-notify') || existsSync('/bin/systemd-notify')) {
      await until(() => sock.received().length >= 2);
      expect(sock.received().map((d) => d.message)).toEqual(['READY=1\nSTATUS=polling', 'STATUS=busy']);
    }
  });

  it('warns that the unit needs NotifyAccess=all when the fallback runs without root', async () => {
    const bin = await recordingNotifyBinary();
    const { logger, lines } = captureLogger();
    const dir = await tempDir('cda-sdnotify-');
    const notifier = createNotifier({
      env: { PATH: `${bin.dir}:${process.env.PATH ?? ''}`, NOTIFY_SOCKET: join(dir, 'n.sock') },
      logger,
      loadFfi: () => {
        throw new Error('dlopen failed');
      },
      euid: 1000,
    });
    await notifier.ready();
    const warnings = lines().filter((l) => l.level === 40);
    expect(String(warnings[0]?.msg)).toContain('NotifyAccess=all');
    expect(lines().some((l) => String(l.msg).includes('dlopen failed'))).toBe(true);
  });

  it.skipIf(!hasFfi)(`uses node:ffi by default, and an abstract socket name too${ffiSkip}`, async () => {
    const sock = await notifySocket({ abstract: true });
    expect(sock.path.startsWith('@')).toBe(true);
    const bin = await recordingNotifyBinary();
    const notifier = createNotifier({
      env: { PATH: `${bin.dir}:${process.env.PATH ?? ''}`, NOTIFY_SOCKET: sock.path },
      logger: silentLogger(),
    });
    await notifier.ready('x');
    expect(notifier.route).toBe('ffi');
    await until(() => sock.received().length >= 1);
    expect(sock.received()).toEqual([{ pid: process.pid, message: 'READY=1\nSTATUS=x' }]);
    expect(existsSync(bin.record)).toBe(false);
  });

  it.skipIf(!hasFfi)(`does not let child processes (hooks) inherit the socket${ffiSkip}`, async () => {
    const sock = await notifySocket();
    const notifier = createNotifier({ env: { ...baseEnv, NOTIFY_SOCKET: sock.path }, logger: silentLogger(), route: 'ffi' });
    await notifier.ready();
    const ours = (await readdir('/proc/self/fd'))
      .map((fd) => ({ fd, link: readlinkOrEmpty(`/proc/self/fd/${fd}`) }))
      .filter((e) => e.link.startsWith('socket:'));
    expect(ours.length).toBeGreaterThan(0);
    const { stdout } = await run('sh', ['-c', 'for f in /proc/$$/fd/*; do readlink "$f"; done; true'], { encoding: 'utf8' });
    const inherited = stdout.split('\n').filter((l) => l.startsWith('socket:'));
    for (const e of ours) expect(inherited).not.toContain(e.link);
  });

  it.skipIf(!hasFfi)(`warns (and keeps trying) when the manager's socket is missing or its path too long${ffiSkip}`, async () => {
    const { logger, lines } = captureLogger();
    const dir = await tempDir('cda-sdnotify-');
    const notifier = createNotifier({ env: { ...baseEnv, NOTIFY_SOCKET: join(dir, 'absent.sock') }, logger, route: 'ffi' });
    await expect(notifier.ready()).resolves.toBeUndefined();
    await notifier.status('x');
    const warnings = lines().filter((l) => l.level === 40);
    expect(warnings).toHaveLength(1);
    expect(String(warnings[0]?.err)).toMatch(/connect\(\) to .*absent\.sock failed \((ENOENT|ECONNREFUSED)\)/);

    const long = createNotifier({ env: { ...baseEnv, NOTIFY_SOCKET: `/${'x'.repeat(120)}` }, logger, route: 'ffi' });
    await long.ready();
    expect(lines().some((l) => String(l.err).includes('longer than the 107'))).toBe(true);
  });

  it.skipIf(!hasFfi)(`reconnects when the manager re-creates its socket${ffiSkip}`, async () => {
    const dir = await tempDir('cda-sdnotify-');
    const first = await notifySocket();
    const path = join(dir, 'notify.sock');
    await symlink(first.path, path);
    const notifier = createNotifier({ env: { ...baseEnv, NOTIFY_SOCKET: path }, logger: silentLogger(), route: 'ffi' });
    await notifier.status('one');
    await until(() => first.received().length >= 1);
    // The manager's socket goes away (daemon-reexec) and a new one takes its path.
    await first.close();
    const second = await notifySocket();
    await unlink(path);
    await symlink(second.path, path);
    await notifier.status('two');
    await until(() => second.received().length >= 1);
    expect(first.received().map((d) => d.message)).toEqual(['STATUS=one']);
    expect(second.received().map((d) => d.message)).toEqual(['STATUS=two']);
  });
});

function readlinkOrEmpty(path: string): string {
  try {
    return readlinkSync(path);
  } catch {
    return '';
  }
}
