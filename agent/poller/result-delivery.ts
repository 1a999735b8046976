/**
 * Delivers command results from the outbox (pending-results.ts) to the control plane: each result
 * in its own background loop, tried again through any outage with capped exponential backoff and
 * jitter (commands-client/outage-retry.ts), removed from the outbox only once PutHostCommandComplete
 * has been answered. Sending the same result again after an answer was lost is safe: the control
 * plane takes an identical second completion as the first (exactly once in effect).
 *
 * A definitive refusal (a 4xx: the command is unknown, or already completed differently) can never
 * succeed; the result is dropped with an error line so the outbox cannot grow without end.
 * On shutdown the loops stop and the files stay: the next start delivers them.
 */
import type { Logger } from 'pino';
import type { Diagnostics } from '../commands-client/diagnostics-payload.js';
import type { CommandOutcome } from '../deployment/diagnostics.js';
import { toError } from '../../common/errors.js';
import { isDefinitiveRefusal, retryThroughOutage } from '../commands-client/outage-retry.js';
import type { Sleep } from '../platform/sleep.js';
import type { PendingResult, PendingResultStore } from './pending-results.js';

export interface CompletionClient {
  putHostCommandComplete(hostCommandIdentifier: string, status: 'Succeeded' | 'Failed', diagnostics: Diagnostics): Promise<void>;
}

export interface ResultDeliveryOptions {
  client: CompletionClient;
  store: PendingResultStore;
  logger: Logger;
  sleep: Sleep;
  maxDelayMs: number;
  baseDelayMs?: number;
  random?: () => number;
}

export class ResultDelivery {
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly stopping = new AbortController();

  constructor(private readonly o: ResultDeliveryOptions) {}

  /**
   * Record the result durably, then start delivering it. Resolves once it is on disk. When it
   * cannot be written (a full or read-only root_dir) it is still delivered, from memory: an
   * outage and a restart together could then lose it, which the error line says.
   */
  async record(result: PendingResult): Promise<void> {
    try {
      await this.o.store.put(result);
    } catch (err) {
      this.o.logger.error(
        { err: toError(err), hostCommandIdentifier: result.hostCommandIdentifier, dir: this.o.store.dir },
        `Could not record the ${result.outcome.status} result in ${this.o.store.dir} (${toError(err).message}); sending it from memory, so a restart before it is delivered would lose it`,
      );
    }
    this.deliver(result);
  }

  /** Deliver everything a previous run left in the outbox; returns their HostCommandIdentifiers. */
  async resume(): Promise<Set<string>> {
    const pending = await this.o.store.list((path, err) =>
      this.o.logger.error({ path, err: toError(err) }, `Unreadable pending result ${path}; kept as ${path}.unreadable`),
    );
    for (const result of pending) {
      this.o.logger.info(
        { hostCommandIdentifier: result.hostCommandIdentifier, deploymentId: result.deploymentId, recordedAt: result.recordedAt },
        `Delivering a ${result.outcome.status} result recorded before the agent restarted`,
      );
      this.deliver(result);
    }
    return new Set(pending.map((r) => r.hostCommandIdentifier));
  }

  /** Results not yet acknowledged by the control plane (being delivered). */
  get pendingCount(): number {
    return this.inFlight.size;
  }

  /** Resolves once every result now in flight is delivered or dropped (tests, shutdown grace). */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight.values()]);
  }

  /** Stop trying; undelivered results stay on disk for the next start. */
  async stop(): Promise<void> {
    this.stopping.abort(new Error('the agent is stopping'));
    await Promise.all([...this.inFlight.values()]);
  }

  private deliver(result: PendingResult): void {
    const id = result.hostCommandIdentifier;
    if (this.inFlight.has(id) || this.stopping.signal.aborted) return;
    const run = this.send(result).finally(() => this.inFlight.delete(id));
    this.inFlight.set(id, run);
  }

  private async send(result: PendingResult): Promise<void> {
    const { outcome } = result;
    const log = this.o.logger.child({
      hostCommandIdentifier: result.hostCommandIdentifier,
      deploymentId: result.deploymentId,
      command: result.commandName,
    });
    let outageLogged = false;
    try {
      await retryThroughOutage(
        () => this.o.client.putHostCommandComplete(result.hostCommandIdentifier, outcome.status, outcome.diagnostics),
        {
          signal: this.stopping.signal,
          maxDelayMs: this.o.maxDelayMs,
          sleep: this.o.sleep,
          ...(this.o.baseDelayMs !== undefined ? { baseDelayMs: this.o.baseDelayMs } : {}),
          ...(this.o.random ? { random: this.o.random } : {}),
          onRetry: (err, attempt, delayMs) => {
            const fields = { err: toError(err), attempt, retryInMs: delayMs };
            if (!outageLogged)
              log.warn(
                fields,
                `PutHostCommandComplete failed; the result is kept on disk and sent again until the control plane answers: ${toError(err).message}`,
              );
            else log.debug(fields, 'PutHostCommandComplete failed again');
            outageLogged = true;
          },
        },
      );
    } catch (err) {
      if (isDefinitiveRefusal(err)) {
        log.error(
          { err: toError(err), status: outcome.status },
          `The control plane refused the ${outcome.status} result; dropping it: ${toError(err).message}`,
        );
        await this.o.store.remove(result.hostCommandIdentifier).catch(() => undefined);
      } else {
        log.warn({ status: outcome.status }, 'The agent is stopping; the result stays on disk and is sent at the next start');
      }
      return;
    }
    logCompletion(log, outcome, outageLogged);
    try {
      await this.o.store.remove(result.hostCommandIdentifier);
    } catch (err) {
      // Sent twice at worst (at the next start): the control plane takes an identical repeat.
      log.error({ err: toError(err) }, 'Could not remove a delivered result from the outbox');
    }
  }
}

function logCompletion(log: Logger, outcome: CommandOutcome, afterOutage: boolean): void {
  const d = outcome.diagnostics;
  const fields = {
    status: outcome.status,
    errorCode: d.error_code,
    script: d.script_name || undefined,
    afterOutage: afterOutage || undefined,
  };
  if (outcome.status === 'Succeeded') log.info(fields, `Calling PutHostCommandComplete: '${outcome.status}'`);
  else log.warn({ ...fields, message: d.message }, `Calling PutHostCommandComplete: '${outcome.status}': ${d.message}`);
}
