/**
 * Daemon hosts (test/helpers/daemon-host.ts) a test file starts through daemonHost(): after each
 * test, pass or fail, every one it started is killed (SIGKILL) and its commands server closed.
 * Registered when imported, like temp.ts, so a test file's own afterEach (registered later) runs
 * before it.
 */
import { afterEach } from 'vitest';
import { startDaemonHost, type DaemonHost, type DaemonHostOptions } from './daemon-host.js';

const hosts: DaemonHost[] = [];

afterEach(async () => {
  for (const h of hosts.splice(0)) {
    await h.stop('SIGKILL');
    await h.server.close();
  }
});

/** A daemon host (its agent not started yet) that is torn down after the current test. */
export async function daemonHost(options?: DaemonHostOptions): Promise<DaemonHost> {
  const h = await startDaemonHost(options);
  hosts.push(h);
  return h;
}
