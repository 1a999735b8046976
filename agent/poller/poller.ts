/**
 * The long-poll loop: poll -> get spec -> ack (with the no-op flag) -> execute -> complete, exactly
 * once per command (docs/reference.md sections 1.2-1.3; docs/design.md sections 3 and 8). Commands of one
 * deployment group run one at a time (in this process by a queue, across processes by the group
 * lock), different groups in parallel. The loop never dies on an error: it backs off (10 s to 90 s,
 * with jitter) and resets after a success. Shutdown stops polling at once, waits for running
 * commands up to a limit, then stops their hooks and reports them failed.
 *
 * Nothing is lost to an outage or a kill: a command is tracked on disk from the poll that handed it
 * out; the specification and the acknowledgement are tried again until the control plane answers;
 * the result goes to the outbox (result-delivery.ts) before the tracking file goes, and is sent
 * from there, in the background, until the control plane acknowledges it. Polling goes on
 * meanwhile: other deployment groups' commands are independent, and the control plane hands out a
 * host's next command of a deployment only after the previous one's result.
 */
import type { Logger } from 'pino';
import { ScriptErrorCode } from '../errors.js';
import { toError } from '../../common/errors.js';
import type { CommandExecutor } from '../deployment/command-executor.js';
import type { Diagnostics } from '../commands-client/diagnostics-payload.js';
import { failed, type CommandOutcome } from '../deployment/diagnostics.js';
import type { DeploymentSpec, Envelope } from '../spec/deployment-spec.js';
import type { CommandStatus, HostCommand } from '../commands-client/wire-types.js';
import { retryThroughOutage } from '../commands-client/outage-retry.js';
import { GroupQueue } from './group-queue.js';
import type { OngoingCommandTracker } from './ongoing-command-tracker.js';
import type { ResultDelivery } from './result-delivery.js';

export type { CommandStatus, HostCommand };

/** The part of the commands API client the poller uses. */
export interface PollerClient {
  pollHostCommand(hostIdentifier: string, signal?: AbortSignal): Promise<HostCommand | undefined>;
  getDeploymentSpecification(
    deploymentExecutionId: string,
    hostIdentifier: string,
  ): Promise<{ deploymentSystem?: string; envelope?: Envelope }>;
  putHostCommandAcknowledgement(hostCommandIdentifier: string, isNoop: boolean): Promise<CommandStatus | undefined>;
  putHostCommandComplete(hostCommandIdentifier: string, status: 'Succeeded' | 'Failed', diagnostics: Diagnostics): Promise<void>;
  postHostCommandUpdate(
    hostCommandIdentifier: string,
    opts: { estimatedCompletionTime?: Date; diagnostics?: Diagnostics },
  ): Promise<CommandStatus | undefined>;
}

export interface StatusReporter {
  status(text: string): void;
}

/** The command a CommandObserver is told about. */
export interface ObservedCommand {
  deploymentId: string;
  deploymentGroupId: string;
  commandName: string;
}

/** Told when a command starts and ends running (the status file); must not throw. */
export interface CommandObserver {
  commandStarted(command: ObservedCommand): void;
  /** outcome is undefined when the executor threw. */
  commandEnded(command: ObservedCommand, outcome: CommandOutcome | undefined): void;
}

export interface PollerOptions {
  client: PollerClient;
  executor: Pick<CommandExecutor, 'execute' | 'isNoop'>;
  hostIdentifier: string;
  /** Verifies and parses the envelope (PKCS7/JSON, or TEXT/JSON when allowed). */
  parseSpec: (envelope: Envelope | undefined) => Promise<DeploymentSpec>;
  tracker: OngoingCommandTracker;
  /** The outbox: every result is recorded here and delivered from here. */
  results: Pick<ResultDelivery, 'record' | 'resume'>;
  /** The longest wait between tries of the specification and the acknowledgement in an outage. */
  retryMaxDelayMs: number;
  /**
   * Exclusive use of a deployment group's files across processes (codedeploy-local may run beside
   * the daemon); waits while another process holds it. Undefined: no cross-process lock (tests).
   */
  lockGroup?: (deploymentGroupId: string, signal: AbortSignal, log: Logger) => Promise<{ release(): Promise<void> }>;
  logger: Logger;
  /** Seconds to wait after each poll (the official wait_between_runs). */
  waitBetweenRunsSeconds: number;
  /** The error backoff curve: error count (1..) -> seconds. */
  backoffSeconds: (errorCount: number) => number;
  /** How long shutdown waits for running commands before stopping their hooks. */
  shutdownWaitSeconds: number;
  /** After this long, a running command sends PostHostCommandUpdate every updateIntervalSeconds. */
  updateAfterSeconds?: number;
  updateIntervalSeconds?: number;
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  random?: () => number;
  reporter?: StatusReporter;
  observer?: CommandObserver;
}

const KNOWN_COMMANDS_KEPT = 1000;

export const NOOP_COMPLETION_MESSAGE = 'Succeeded: CompletedNoopCommand';
export const RESTART_FAILURE_MESSAGE = 'Failed: Failing in-progress lifecycle event after an agent restart.';
export const SHUTDOWN_FAILURE_MESSAGE = 'The CodeDeploy agent was stopped while this command was running; its scripts were stopped.';

interface RunningCommand {
  command: HostCommand;
  abort: AbortController;
  done: Promise<void>;
  label: string;
}

export class Poller {
  private readonly queue = new GroupQueue();
  private readonly running = new Set<RunningCommand>();
  private readonly stopPolling = new AbortController();
  /**
   * HostCommandIdentifiers this process has taken on (run, or holds a result for), newest last:
   * a control plane that hands a command out again (it never saw our acknowledgement) must not
   * get it run twice. Bounded: the oldest are forgotten.
   */
  private readonly known = new Set<string>();
  private errorCount = 0;
  private loggedErrorThisRun = false;
  private loop: Promise<void> | undefined;

  constructor(private readonly o: PollerOptions) {}

  /**
   * At start: deliver the results a previous run left undelivered, and record every command it
   * left running (a crash or kill -9) as failed with code 7, once. Returns how many it failed.
   */
  async recoverFromCrash(): Promise<number> {
    const recorded = await this.o.results.resume();
    for (const id of recorded) this.remember(id);
    const orphans = await this.o.tracker.orphans();
    let failedCount = 0;
    for (const orphan of orphans) {
      // Killed after its result was recorded and before its tracking file went: the result stands.
      if (recorded.has(orphan.hostCommandIdentifier)) {
        await this.o.tracker.forget(orphan);
        continue;
      }
      failedCount += 1;
      this.remember(orphan.hostCommandIdentifier);
      this.o.logger.warn(
        { deploymentId: orphan.deploymentId, hostCommandIdentifier: orphan.hostCommandIdentifier, since: orphan.startedAt.toISOString() },
        `Deployment tracking file found: ${this.o.tracker.dir}. The agent likely restarted while running a customer-supplied script. Failing the lifecycle event.`,
      );
      await this.o.results.record({
        hostCommandIdentifier: orphan.hostCommandIdentifier,
        ...(orphan.deploymentId !== undefined ? { deploymentId: orphan.deploymentId } : {}),
        outcome: failed(ScriptErrorCode.FAILED_AFTER_RESTART, RESTART_FAILURE_MESSAGE),
        recordedAt: new Date().toISOString(),
      });
      await this.o.tracker.forget(orphan);
    }
    return failedCount;
  }

  /** Start polling; resolves when stop() has finished. */
  start(): Promise<void> {
    this.loop ??= this.pollLoop();
    return this.loop;
  }

  get runningCommands(): number {
    return this.running.size;
  }

  /** Stop polling now; wait for running commands up to shutdownWaitSeconds; then stop them. */
  async stop(): Promise<void> {
    this.stopPolling.abort();
    await this.loop?.catch(() => undefined);
    if (this.running.size === 0) return;
    this.o.logger.info(
      { running: this.running.size, waitSeconds: this.o.shutdownWaitSeconds },
      'Waiting for running commands before shutting down',
    );
    const all = Promise.all([...this.running].map((r) => r.done));
    const timer = new AbortController();
    const timedOut = await Promise.race([
      all.then(() => false),
      this.o.sleep(this.o.shutdownWaitSeconds * 1000, timer.signal).then(
        () => true,
        () => false,
      ),
    ]);
    timer.abort();
    if (timedOut) {
      for (const r of this.running) {
        this.o.logger.warn({ command: r.label }, 'Stopping a command that outlived the shutdown wait');
        r.abort.abort(new Error(SHUTDOWN_FAILURE_MESSAGE));
      }
      await all;
    }
  }

  private async pollLoop(): Promise<void> {
    const signal = this.stopPolling.signal;
    this.o.reporter?.status('idle: polling for commands');
    while (!signal.aborted) {
      const started = Date.now();
      try {
        const command = await this.o.client.pollHostCommand(this.o.hostIdentifier, signal);
        if (this.errorCount > 0) this.o.logger.info({ afterErrors: this.errorCount }, 'Polling works again');
        this.errorCount = 0;
        this.loggedErrorThisRun = false;
        // After a command, poll again at once: the next lifecycle event of a deployment is
        // handed out as soon as this one completes, and the poll is held open until then. The
        // wait_between_runs pause is for empty polls (and errors back off below).
        if (command && this.accept(command)) continue;
      } catch (err) {
        if (signal.aborted) break;
        this.errorCount = Math.min(this.errorCount + 1, 10);
        const base = this.o.backoffSeconds(this.errorCount);
        // Jitter in [base/2, base], minus the time the failed call already took.
        const delay = Math.max(0, base * 500 * (1 + (this.o.random ?? Math.random)()) - (Date.now() - started));
        const error = toError(err);
        const fields = { err: error, errorCount: this.errorCount, retryInMs: Math.round(delay) };
        if (!this.loggedErrorThisRun) this.o.logger.error(fields, `Polling failed: ${error.message}`);
        else this.o.logger.debug(fields, 'Polling failed again');
        this.loggedErrorThisRun = true;
        await this.o.sleep(delay, signal).catch(() => undefined);
        continue;
      }
      await this.o.sleep(this.o.waitBetweenRunsSeconds * 1000, signal).catch(() => undefined);
    }
  }

  private remember(hostCommandIdentifier: string): void {
    this.known.delete(hostCommandIdentifier);
    this.known.add(hostCommandIdentifier);
    if (this.known.size > KNOWN_COMMANDS_KEPT) this.known.delete(this.known.values().next().value as string);
  }

  /** Starts a newly polled command; false for a repeat of one this agent already has. */
  private accept(command: HostCommand): boolean {
    const label = `${command.CommandName} ${command.HostCommandIdentifier.slice(0, 24)}`;
    if (this.known.has(command.HostCommandIdentifier)) {
      this.o.logger.info({ command: label }, 'The control plane handed out a command this agent already has; ignoring the repeat');
      return false;
    }
    this.remember(command.HostCommandIdentifier);
    const abort = new AbortController();
    const entry: RunningCommand = { command, abort, label, done: Promise.resolve() };
    entry.done = this.handle(command, abort.signal)
      .catch((err: unknown) => this.o.logger.error({ err: toError(err), command: label }, 'Unexpected error while handling a command'))
      .finally(() => {
        this.running.delete(entry);
        if (this.running.size === 0 && !this.stopPolling.signal.aborted) this.o.reporter?.status('idle: polling for commands');
      });
    this.running.add(entry);
    return true;
  }

  private async handle(command: HostCommand, signal: AbortSignal): Promise<void> {
    const log = this.o.logger.child({ command: command.CommandName, hostCommandIdentifier: command.HostCommandIdentifier });
    await this.track(log, () => this.o.tracker.polled(command.HostCommandIdentifier));
    // Checks on the command itself: a mismatch is a control-plane bug; report it, never run it.
    if (command.HostIdentifier !== this.o.hostIdentifier) {
      return this.finish(
        command,
        undefined,
        failed(ScriptErrorCode.UNKNOWN_ERROR, `Host Identifier mismatch: ${this.o.hostIdentifier} != ${command.HostIdentifier}`),
      );
    }
    if (!command.CommandName) {
      return this.finish(command, undefined, failed(ScriptErrorCode.UNKNOWN_ERROR, 'Command Name missing'));
    }
    let spec: DeploymentSpec;
    try {
      const answer = await this.throughOutage('GetDeploymentSpecification', log, () =>
        this.o.client.getDeploymentSpecification(command.DeploymentExecutionId, this.o.hostIdentifier),
      );
      if (answer.deploymentSystem !== 'CodeDeploy')
        throw new Error(`Deployment System mismatch: CodeDeploy != ${answer.deploymentSystem ?? ''}`);
      if (!answer.envelope) throw new Error('Deployment Specification missing');
      spec = await this.o.parseSpec(answer.envelope);
    } catch (err) {
      // Stopping: the polled marker stays, and the next start reports the command failed.
      if (this.stopPolling.signal.aborted) return;
      return this.finish(command, undefined, failed(ScriptErrorCode.UNKNOWN_ERROR, toError(err).message));
    }
    const dlog = log.child({ deploymentId: spec.deploymentId });
    await this.queue.run(spec.deploymentGroupId, () => this.process(command, spec, signal, dlog));
  }

  /** A call whose loss would lose the command: tried again through an outage, until shutdown. */
  private throughOutage<T>(operation: string, log: Logger, call: () => Promise<T>): Promise<T> {
    let logged = false;
    return retryThroughOutage(call, {
      signal: this.stopPolling.signal,
      maxDelayMs: this.o.retryMaxDelayMs,
      sleep: this.o.sleep,
      ...(this.o.random ? { random: this.o.random } : {}),
      onRetry: (err, attempt, delayMs) => {
        const fields = { err: toError(err), attempt, retryInMs: delayMs };
        if (!logged) log.warn(fields, `${operation} failed; trying again until the control plane answers: ${toError(err).message}`);
        else log.debug(fields, `${operation} failed again`);
        logged = true;
      },
    });
  }

  private async process(command: HostCommand, spec: DeploymentSpec, signal: AbortSignal, log: Logger): Promise<void> {
    let noop: boolean;
    let ack: CommandStatus | undefined;
    try {
      noop = await this.o.executor.isNoop(command.CommandName, spec);
    } catch (err) {
      return this.finish(command, spec, failed(ScriptErrorCode.UNKNOWN_ERROR, toError(err).message));
    }
    try {
      ack = await this.throughOutage('PutHostCommandAcknowledgement', log, () =>
        this.o.client.putHostCommandAcknowledgement(command.HostCommandIdentifier, noop),
      );
    } catch (err) {
      if (this.stopPolling.signal.aborted) return;
      return this.finish(command, spec, failed(ScriptErrorCode.UNKNOWN_ERROR, toError(err).message));
    }
    log.info({ ack, noop }, `Acknowledged ${command.CommandName}`);
    if (ack === 'Succeeded') return this.finish(command, spec, undefined);
    if (ack === 'Failed') {
      return this.finish(
        command,
        spec,
        noop
          ? { status: 'Succeeded', diagnostics: { error_code: 0, script_name: '', message: NOOP_COMPLETION_MESSAGE, log: '' } }
          : undefined,
      );
    }
    let groupLock: { release(): Promise<void> } | undefined;
    try {
      groupLock = await this.o.lockGroup?.(spec.deploymentGroupId, this.stopPolling.signal, log);
    } catch (err) {
      if (this.stopPolling.signal.aborted) return;
      return this.finish(
        command,
        spec,
        failed(ScriptErrorCode.UNKNOWN_ERROR, `Could not lock deployment group ${spec.deploymentGroupId}: ${toError(err).message}`),
      );
    }
    try {
      await this.track(log, () => this.o.tracker.promote(spec.deploymentId, command.HostCommandIdentifier));
      this.o.reporter?.status(`deployment ${spec.deploymentId}: ${command.CommandName}`);
      const updates = this.startUpdates(command, log, signal);
      const observed: ObservedCommand = {
        deploymentId: spec.deploymentId,
        deploymentGroupId: spec.deploymentGroupId,
        commandName: command.CommandName,
      };
      this.o.observer?.commandStarted(observed);
      let outcome: CommandOutcome | undefined;
      try {
        outcome = await this.o.executor.execute(command.CommandName, spec, { signal: updates.signal });
        if (updates.signal.aborted && outcome.status === 'Failed') {
          const reason = updates.signal.reason instanceof Error ? updates.signal.reason.message : String(updates.signal.reason);
          outcome = { ...outcome, diagnostics: { ...outcome.diagnostics, message: `${outcome.diagnostics.message} (${reason})` } };
        }
      } catch (err) {
        // The executor reports script outcomes as values; a throw is a bug or an I/O failure, and
        // the control plane must still hear about it.
        log.error({ err: toError(err) }, 'Unexpected error while running a command');
        outcome = failed(ScriptErrorCode.UNKNOWN_ERROR, toError(err).message);
      } finally {
        updates.stop();
        this.o.observer?.commandEnded(observed, outcome);
      }
      await this.finish(command, spec, outcome);
    } finally {
      await groupLock?.release();
    }
  }

  /**
   * The command is over: put its result (if it has one to report) in the outbox, then drop its
   * tracking files. In that order, so that a kill in between leaves a result, not an orphan
   * reported as failed after a success.
   */
  private async finish(command: HostCommand, spec: DeploymentSpec | undefined, outcome: CommandOutcome | undefined): Promise<void> {
    if (outcome) {
      await this.o.results.record({
        hostCommandIdentifier: command.HostCommandIdentifier,
        ...(spec ? { deploymentId: spec.deploymentId } : {}),
        commandName: command.CommandName,
        outcome,
        recordedAt: new Date().toISOString(),
      });
    }
    const log = this.o.logger.child({ hostCommandIdentifier: command.HostCommandIdentifier });
    await this.track(log, () => this.o.tracker.finished(spec?.deploymentId, command.HostCommandIdentifier));
  }

  /**
   * Tracking files are what a crash leaves behind; failing to write one (a full or read-only
   * root_dir) must not stop the command, which then fails on the same disk and is reported.
   */
  private async track(log: Logger, write: () => Promise<void>): Promise<void> {
    try {
      await write();
    } catch (err) {
      log.error(
        { err: toError(err), dir: this.o.tracker.dir },
        `Could not update the command tracking files in ${this.o.tracker.dir}: ${toError(err).message}`,
      );
    }
  }

  /**
   * While a command runs longer than updateAfterSeconds, tell the control plane it is still
   * running; if it answers that the command failed or succeeded (stopped), stop the command.
   * The returned signal fires on shutdown too.
   */
  private startUpdates(command: HostCommand, log: Logger, shutdown: AbortSignal): { signal: AbortSignal; stop: () => void } {
    const controller = new AbortController();
    const onShutdown = () => controller.abort(shutdown.reason);
    shutdown.addEventListener('abort', onShutdown, { once: true });
    const stopTimer = new AbortController();
    const after = (this.o.updateAfterSeconds ?? 60) * 1000;
    const every = (this.o.updateIntervalSeconds ?? 60) * 1000;
    void (async () => {
      try {
        await this.o.sleep(after, stopTimer.signal);
        while (!stopTimer.signal.aborted) {
          try {
            const status = await this.o.client.postHostCommandUpdate(command.HostCommandIdentifier, {});
            if (status === 'Failed' || status === 'Succeeded') {
              log.warn({ status }, 'The control plane says this command is over; stopping it');
              controller.abort(new Error(`the control plane reported the command as ${status}`));
              return;
            }
          } catch (err) {
            log.warn({ err: toError(err) }, 'PostHostCommandUpdate failed');
          }
          await this.o.sleep(every, stopTimer.signal);
        }
      } catch {
        // timer stopped
      }
    })();
    return {
      signal: controller.signal,
      stop: () => {
        stopTimer.abort();
        shutdown.removeEventListener('abort', onShutdown);
      },
    };
  }
}
