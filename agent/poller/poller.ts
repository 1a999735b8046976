/**
 * The long-poll loop: poll -> get spec -> ack (with the no-op flag) -> execute -> complete, exactly
 * once per command (reference sections 1.2-1.3; DESIGN.md section 3). Commands of one deployment
 * group run one at a time, different groups in parallel. The loop never dies on an error: it backs
 * off (10 s to 90 s, with jitter) and resets after a success. Shutdown stops polling at once, waits
 * for running commands up to a limit, then stops their hooks and reports them failed.
 */
import type { Logger } from 'pino';
import { ScriptErrorCode, toError } from '../errors.js';
import type { CommandExecutor } from '../deployment/command-executor.js';
import { failed, type CommandOutcome, type Diagnostics } from '../deployment/diagnostics.js';
import type { DeploymentSpec, Envelope } from '../spec/deployment-spec.js';
import type { CommandStatus, HostCommand } from '../control-plane/wire-types.js';
import { GroupQueue } from './group-queue.js';
import type { OngoingCommandTracker } from './ongoing-command-tracker.js';

export type { CommandStatus, HostCommand };

/** The part of the commands API client the poller uses. */
export interface PollerClient {
  pollHostCommand(hostIdentifier: string, signal?: AbortSignal): Promise<HostCommand | undefined>;
  getDeploymentSpecification(deploymentExecutionId: string, hostIdentifier: string): Promise<{ deploymentSystem?: string; envelope?: Envelope }>;
  putHostCommandAcknowledgement(hostCommandIdentifier: string, isNoop: boolean): Promise<CommandStatus | undefined>;
  putHostCommandComplete(hostCommandIdentifier: string, status: 'Succeeded' | 'Failed', diagnostics: Diagnostics): Promise<void>;
  postHostCommandUpdate(hostCommandIdentifier: string, opts: { estimatedCompletionTime?: Date; diagnostics?: Diagnostics }): Promise<CommandStatus | undefined>;
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
  private errorCount = 0;
  private loggedErrorThisRun = false;
  private loop: Promise<void> | undefined;

  constructor(private readonly o: PollerOptions) {}

  /** Report every command orphaned by a previous crash as failed (code 7), once, then forget it. */
  async recoverFromCrash(): Promise<number> {
    const orphans = await this.o.tracker.orphans();
    for (const orphan of orphans) {
      this.o.logger.warn(
        { deploymentId: orphan.deploymentId, since: orphan.startedAt.toISOString() },
        `Deployment tracking file found: ${this.o.tracker.dir}. The agent likely restarted while running a customer-supplied script. Failing the lifecycle event.`,
      );
      try {
        await this.o.client.putHostCommandComplete(orphan.hostCommandIdentifier, 'Failed', {
          error_code: ScriptErrorCode.FAILED_AFTER_RESTART,
          script_name: '',
          message: RESTART_FAILURE_MESSAGE,
          log: '',
        });
      } catch (err) {
        this.o.logger.error({ err: toError(err), deploymentId: orphan.deploymentId }, 'Could not report the orphaned command as failed; the control plane will time it out');
      }
      await this.o.tracker.end(orphan.deploymentId);
    }
    return orphans.length;
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
    this.o.logger.info({ running: this.running.size, waitSeconds: this.o.shutdownWaitSeconds }, 'Waiting for running commands before shutting down');
    const all = Promise.all([...this.running].map((r) => r.done));
    const timer = new AbortController();
    const timedOut = await Promise.race([
      all.then(() => false),
      this.o.sleep(this.o.shutdownWaitSeconds * 1000, timer.signal).then(() => true, () => false),
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
        if (command) this.accept(command);
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

  private accept(command: HostCommand): void {
    const label = `${command.CommandName} ${command.HostCommandIdentifier.slice(0, 24)}`;
    const abort = new AbortController();
    const entry: RunningCommand = { command, abort, label, done: Promise.resolve() };
    entry.done = this.handle(command, abort.signal)
      .catch((err: unknown) => this.o.logger.error({ err: toError(err), command: label }, 'Unexpected error while handling a command'))
      .finally(() => {
        this.running.delete(entry);
        if (this.running.size === 0 && !this.stopPolling.signal.aborted) this.o.reporter?.status('idle: polling for commands');
      });
    this.running.add(entry);
  }

  private async handle(command: HostCommand, signal: AbortSignal): Promise<void> {
    const log = this.o.logger.child({ command: command.CommandName, hostCommandIdentifier: command.HostCommandIdentifier });
    // Checks on the command itself: a mismatch is a control-plane bug; report it, never run it.
    if (command.HostIdentifier !== this.o.hostIdentifier) {
      return this.complete(command, failed(ScriptErrorCode.UNKNOWN_ERROR, `Host Identifier mismatch: ${this.o.hostIdentifier} != ${command.HostIdentifier}`), log);
    }
    if (!command.CommandName) {
      return this.complete(command, failed(ScriptErrorCode.UNKNOWN_ERROR, 'Command Name missing'), log);
    }
    let spec: DeploymentSpec;
    try {
      const answer = await this.o.client.getDeploymentSpecification(command.DeploymentExecutionId, this.o.hostIdentifier);
      if (answer.deploymentSystem !== 'CodeDeploy') throw new Error(`Deployment System mismatch: CodeDeploy != ${answer.deploymentSystem ?? ''}`);
      if (!answer.envelope) throw new Error('Deployment Specification missing');
      spec = await this.o.parseSpec(answer.envelope);
    } catch (err) {
      return this.complete(command, failed(ScriptErrorCode.UNKNOWN_ERROR, toError(err).message), log);
    }
    const dlog = log.child({ deploymentId: spec.deploymentId });
    await this.queue.run(spec.deploymentGroupId, () => this.process(command, spec, signal, dlog));
  }

  private async process(command: HostCommand, spec: DeploymentSpec, signal: AbortSignal, log: Logger): Promise<void> {
    const noop = await this.o.executor.isNoop(command.CommandName, spec);
    const ack = await this.o.client.putHostCommandAcknowledgement(command.HostCommandIdentifier, noop);
    log.info({ ack, noop }, `Acknowledged ${command.CommandName}`);
    if (ack === 'Succeeded') return;
    if (ack === 'Failed') {
      if (noop) await this.complete(command, { status: 'Succeeded', diagnostics: { error_code: 0, script_name: '', message: NOOP_COMPLETION_MESSAGE, log: '' } }, log);
      return;
    }
    await this.o.tracker.begin(spec.deploymentId, command.HostCommandIdentifier);
    this.o.reporter?.status(`deployment ${spec.deploymentId}: ${command.CommandName}`);
    const updates = this.startUpdates(command, log, signal);
    const observed: ObservedCommand = { deploymentId: spec.deploymentId, deploymentGroupId: spec.deploymentGroupId, commandName: command.CommandName };
    this.o.observer?.commandStarted(observed);
    let outcome: CommandOutcome | undefined;
    try {
      outcome = await this.o.executor.execute(command.CommandName, spec, { signal: updates.signal });
      if (updates.signal.aborted && outcome.status === 'Failed') {
        const reason = updates.signal.reason instanceof Error ? updates.signal.reason.message : String(updates.signal.reason);
        outcome = { ...outcome, diagnostics: { ...outcome.diagnostics, message: `${outcome.diagnostics.message} (${reason})` } };
      }
    } finally {
      updates.stop();
      this.o.observer?.commandEnded(observed, outcome);
    }
    await this.complete(command, outcome, log);
    await this.o.tracker.end(spec.deploymentId);
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

  private async complete(command: HostCommand, outcome: CommandOutcome, log: Logger): Promise<void> {
    try {
      await this.o.client.putHostCommandComplete(command.HostCommandIdentifier, outcome.status, outcome.diagnostics);
      const d = outcome.diagnostics;
      const fields = { status: outcome.status, errorCode: d.error_code, script: d.script_name || undefined };
      if (outcome.status === 'Succeeded') log.info(fields, `Calling PutHostCommandComplete: '${outcome.status}'`);
      else log.warn({ ...fields, message: d.message }, `Calling PutHostCommandComplete: '${outcome.status}': ${d.message}`);
    } catch (err) {
      log.error({ err: toError(err), status: outcome.status }, 'PutHostCommandComplete failed; the control plane will time the command out');
    }
  }
}
