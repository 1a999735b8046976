/**
 * `codedeploy-agent logs`: a deployment's logs/scripts.log, once or followed like `tail -F`
 * across deployments.
 *
 * Following: the chosen deployment's file is tailed (FileTail: truncation and replacement
 * handled); root_dir is rescanned every scanMs and each deployment directory that appears (a new
 * deployment starting its DownloadBundle) is announced with onHeader and tailed from its first
 * byte. Deployments of other groups that run in parallel are followed at the same time; output
 * from a different deployment than the last one printed gets its header again, as `tail -F a b`
 * does. A deployment is dropped (after its last bytes are read) once a newer one of its group
 * starts, or when retention deletes it. New lines are noticed by fs.watch on each open file, with
 * a poll every pollMs as the fallback (watch is not reliable on every file system).
 */
import { watch, type FSWatcher } from 'node:fs';
import { deploymentKey, pickDeployment, scanDeployments, activityMs, type DeploymentFacts } from '../deployment-history.js';
import { FileTail } from './file-tail.js';

export interface DeploymentRef {
  deploymentGroupId: string;
  deploymentId: string;
  scriptsLog: string;
}

export interface LogStreamOptions {
  rootDir: string;
  trackingName?: string;
  deploymentId?: string;
  groupId?: string;
  follow: boolean;
  /** Ends following (Ctrl-C). */
  signal?: AbortSignal;
  /** Fallback poll of the files (default 100 ms; fs.watch usually wakes the loop first). */
  pollMs?: number;
  /** Rescan of root_dir for new deployments (default 250 ms). */
  scanMs?: number;
  /** A deployment is (again) the source of the next lines; in follow mode also when one starts. */
  onHeader: (ref: DeploymentRef) => void | Promise<void>;
  onLines: (lines: string[], ref: DeploymentRef) => void | Promise<void>;
  /** Operator-facing notes: "waiting for ...", "scripts.log was truncated". */
  onNotice: (text: string) => void;
}

/** Nothing to print: no such deployment, or no deployment at all (not following). */
export class NoDeploymentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NoDeploymentError';
  }
}

const refOf = (f: DeploymentFacts): DeploymentRef => ({
  deploymentGroupId: f.deploymentGroupId,
  deploymentId: f.deploymentId,
  scriptsLog: f.scriptsLog,
});

function nothingFound(o: LogStreamOptions): string {
  const where = `under ${o.rootDir}${o.groupId !== undefined ? ` in deployment group ${o.groupId}` : ''}`;
  return o.deploymentId !== undefined ? `no deployment ${o.deploymentId} ${where}` : `no deployments ${where}`;
}

/** Print once (follow false) or follow until the signal aborts. Throws NoDeploymentError or OpsReadError. */
export async function streamDeploymentLogs(o: LogStreamOptions): Promise<void> {
  const scanOptions = {
    ...(o.trackingName ? { trackingName: o.trackingName } : {}),
    ...(o.groupId !== undefined ? { groupId: o.groupId } : {}),
  };
  const facts = await scanDeployments(o.rootDir, scanOptions);
  const initial = pickDeployment(facts, { ...(o.deploymentId !== undefined ? { deploymentId: o.deploymentId } : {}) });
  if (!o.follow) {
    if (!initial) throw new NoDeploymentError(nothingFound(o));
    const ref = refOf(initial);
    const tail = new FileTail(initial.scriptsLog);
    try {
      await tail.poll((lines) => o.onLines(lines, ref));
      const rest = tail.takePartial();
      if (rest !== undefined) await o.onLines([rest], ref);
      if (!tail.isOpen)
        o.onNotice(
          `deployment ${initial.deploymentId} (group ${initial.deploymentGroupId}) has no scripts.log yet: no hook script has run`,
        );
    } finally {
      await tail.close();
    }
    return;
  }
  await new Follower(o, scanOptions).run(facts, initial);
}

interface Followed {
  key: string;
  ref: DeploymentRef;
  tail: FileTail;
  watcher?: FSWatcher;
}

class Follower {
  private readonly followed = new Map<string, Followed>();
  private readonly seen = new Set<string>();
  private lastSource: string | undefined;
  private wake: (() => void) | undefined;

  constructor(
    private readonly o: LogStreamOptions,
    private readonly scanOptions: { trackingName?: string; groupId?: string },
  ) {}

  async run(facts: DeploymentFacts[], initial: DeploymentFacts | undefined): Promise<void> {
    const { o } = this;
    const pollMs = o.pollMs ?? 100;
    const scanMs = o.scanMs ?? 250;
    for (const f of facts) this.seen.add(deploymentKey(f));
    if (initial) await this.add(initial);
    else
      o.onNotice(
        o.deploymentId !== undefined
          ? `waiting for deployment ${o.deploymentId} to start (${nothingFound(o)} yet)`
          : `waiting for a deployment to start (${nothingFound(o)} yet)`,
      );
    const onAbort = (): void => this.wake?.();
    o.signal?.addEventListener('abort', onAbort, { once: true });
    let lastScan = Date.now();
    try {
      while (!o.signal?.aborted) {
        for (const entry of [...this.followed.values()]) await this.pollOne(entry);
        if (Date.now() - lastScan >= scanMs) {
          lastScan = Date.now();
          await this.rescan();
        }
        if (o.signal?.aborted) break;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, pollMs);
          function done(): void {
            clearTimeout(timer);
            resolve();
          }
          this.wake = done;
        });
        this.wake = undefined;
      }
    } finally {
      o.signal?.removeEventListener('abort', onAbort);
      for (const entry of this.followed.values()) {
        entry.watcher?.close();
        await entry.tail.close();
      }
      this.followed.clear();
    }
  }

  private async add(f: DeploymentFacts): Promise<void> {
    const key = deploymentKey(f);
    this.seen.add(key);
    const entry: Followed = { key, ref: refOf(f), tail: new FileTail(f.scriptsLog) };
    this.followed.set(key, entry);
    await this.o.onHeader(entry.ref);
    this.lastSource = key;
  }

  private async pollOne(entry: Followed): Promise<void> {
    const event = await entry.tail.poll(async (lines) => {
      if (this.lastSource !== entry.key) {
        await this.o.onHeader(entry.ref);
        this.lastSource = entry.key;
      }
      await this.o.onLines(lines, entry.ref);
    });
    if (event === 'truncated') this.o.onNotice(`${entry.ref.scriptsLog} was truncated; reading it from the start`);
    if (event === 'replaced' || event === 'opened' || (entry.tail.isOpen && !entry.watcher)) this.watch(entry);
  }

  /** fs.watch wakes the loop at once when the file changes; the periodic poll covers the rest. */
  private watch(entry: Followed): void {
    entry.watcher?.close();
    entry.watcher = undefined;
    try {
      const watcher = watch(entry.ref.scriptsLog, { persistent: false }, () => this.wake?.());
      watcher.on('error', () => {
        watcher.close();
        if (entry.watcher === watcher) entry.watcher = undefined;
      });
      entry.watcher = watcher;
    } catch {
      // polling only
    }
  }

  private async drop(entry: Followed): Promise<void> {
    await this.pollOne(entry);
    const rest = entry.tail.takePartial();
    if (rest !== undefined) {
      if (this.lastSource !== entry.key) {
        await this.o.onHeader(entry.ref);
        this.lastSource = entry.key;
      }
      await this.o.onLines([rest], entry.ref);
    }
    entry.watcher?.close();
    await entry.tail.close();
    this.followed.delete(entry.key);
  }

  private async rescan(): Promise<void> {
    const facts = await scanDeployments(this.o.rootDir, this.scanOptions);
    const present = new Set(facts.map(deploymentKey));
    for (const entry of [...this.followed.values()]) {
      if (!present.has(entry.key)) await this.drop(entry);
    }
    const fresh = facts
      .filter((f) => !this.seen.has(deploymentKey(f)) && (this.o.deploymentId === undefined || f.deploymentId === this.o.deploymentId))
      .sort((a, b) => activityMs(a) - activityMs(b));
    for (const f of fresh) {
      // A group runs one deployment at a time: the older one of this group is done.
      for (const entry of [...this.followed.values()]) {
        if (entry.ref.deploymentGroupId === f.deploymentGroupId) await this.drop(entry);
      }
      await this.add(f);
    }
  }
}
