import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import {
  Poller,
  type CommandStatus,
  type HostCommand,
  type PollerClient,
  NOOP_COMPLETION_MESSAGE,
  RESTART_FAILURE_MESSAGE,
} from '../../../agent/poller/poller.js';
import { OngoingCommandTracker } from '../../../agent/poller/ongoing-command-tracker.js';
import { PendingResultStore } from '../../../agent/poller/pending-results.js';
import { ResultDelivery } from '../../../agent/poller/result-delivery.js';
import { CommandsApiError } from '../../../agent/commands-client/commands-api-error.js';
import type { Diagnostics } from '../../../agent/commands-client/diagnostics-payload.js';
import { failed, succeeded, type CommandOutcome } from '../../../agent/deployment/diagnostics.js';
import type { DeploymentSpec, Envelope } from '../../../agent/spec/deployment-spec.js';
import { silentLogger, tempDir } from '../../helpers/temp.js';

const HOST = 'arn:aws:ec2:us-east-1:123456789012:instance/i-0abc';

interface Call {
  op: string;
  args: unknown[];
}

/** A hand-written fake of the commands API: scripted polls, recorded calls. */
class FakeClient implements PollerClient {
  calls: Call[] = [];
  polls: Array<HostCommand | undefined | Error> = [];
  ack: CommandStatus | undefined = 'InProgress';
  /** Errors thrown by the next calls of an operation (an outage), in order. */
  failures: Record<string, Error[]> = {};
  private fail(op: string): void {
    const err = this.failures[op]?.shift();
    if (err) throw err;
  }
  updates: Array<CommandStatus | undefined> = [];
  system = 'CodeDeploy';
  async pollHostCommand(hostIdentifier: string, signal?: AbortSignal): Promise<HostCommand | undefined> {
    this.calls.push({ op: 'Poll', args: [hostIdentifier] });
    const next = this.polls.shift();
    if (next instanceof Error) throw next;
    if (next) return next;
    // Behave like a long poll that ends on abort.
    await new Promise<void>((resolve) => {
      if (signal?.aborted) return resolve();
      signal?.addEventListener('abort', () => resolve(), { once: true });
      setTimeout(resolve, 20);
    });
    return undefined;
  }
  async getDeploymentSpecification(id: string, host: string) {
    this.calls.push({ op: 'Spec', args: [id, host] });
    this.fail('Spec');
    return { deploymentSystem: this.system, envelope: { Format: 'TEXT/JSON', Payload: id } };
  }
  async putHostCommandAcknowledgement(id: string, noop: boolean) {
    this.calls.push({ op: 'Ack', args: [id, noop] });
    this.fail('Ack');
    return this.ack;
  }
  async putHostCommandComplete(id: string, status: 'Succeeded' | 'Failed', d: Diagnostics) {
    this.calls.push({ op: 'Complete', args: [id, status, d] });
    this.fail('Complete');
  }
  async postHostCommandUpdate(id: string) {
    this.calls.push({ op: 'Update', args: [id] });
    return this.updates.shift() ?? 'InProgress';
  }
  ops(op: string): Call[] {
    return this.calls.filter((c) => c.op === op);
  }
}

function command(
  name: string,
  id = `hc-${name}`,
  execId = 'CodeDeploy/us-east-1/Prod/arn:aws:sds:us-east-1:1:deployment/d-1',
): HostCommand {
  return { HostCommandIdentifier: id, HostIdentifier: HOST, DeploymentExecutionId: execId, CommandName: name };
}

function specFor(envelope: Envelope | undefined): DeploymentSpec {
  const payload = envelope?.Payload ?? '';
  const [group, dep] = payload.includes('|') ? (payload.split('/').pop() ?? '').split('|') : ['g1', 'd-1'];
  return {
    deploymentId: dep ?? 'd-1',
    deploymentGroupId: group ?? 'g1',
    deploymentGroupName: 'n',
    applicationName: 'a',
    deploymentCreator: 'user',
    deploymentType: 'IN_PLACE',
    appSpecFilename: 'appspec.yml',
    revision: { type: 'Local Directory', location: '/x', bundleType: 'directory' },
  };
}

function outage(op: 'PutHostCommandComplete' | 'GetDeploymentSpecification' | 'PutHostCommandAcknowledgement'): CommandsApiError {
  return new CommandsApiError(
    { operation: op, kind: 'network', retriable: true, attempts: 3, networkCode: 'ECONNREFUSED' },
    'connect ECONNREFUSED 127.0.0.1:1',
  );
}

function refusal(op: 'PutHostCommandComplete'): CommandsApiError {
  return new CommandsApiError(
    { operation: op, kind: 'client', retriable: false, attempts: 1, statusCode: 400, serviceCode: 'ClientException' },
    'ClientException: already completed',
  );
}

async function setup(
  opts: {
    execute?: (name: string, spec: DeploymentSpec, signal?: AbortSignal) => Promise<CommandOutcome>;
    noop?: boolean;
    shutdownWaitSeconds?: number;
    updateAfterSeconds?: number;
    dir?: string;
    /** wait_between_runs; the pauses it causes are recorded in client.calls as Sleep. */
    waitBetweenRunsSeconds?: number;
  } = {},
) {
  const client = new FakeClient();
  const dir = opts.dir ?? (await tempDir());
  const tracker = new OngoingCommandTracker(join(dir, 'ongoing-deployment'));
  const store = new PendingResultStore(join(dir, 'pending-results'));
  const executed: string[] = [];
  const sleeps: number[] = [];
  const sleep = (ms: number, signal?: AbortSignal) =>
    new Promise<void>((resolve, reject) => {
      if (ms >= 1000) sleeps.push(ms);
      if (opts.waitBetweenRunsSeconds !== undefined && ms === opts.waitBetweenRunsSeconds * 1000)
        client.calls.push({ op: 'Sleep', args: [ms] });
      const onAbort = () => {
        clearTimeout(t);
        reject(new Error('aborted'));
      };
      const t = setTimeout(
        () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        Math.min(ms, 20),
      );
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  const delivery = new ResultDelivery({ client, store, logger: silentLogger(), sleep, maxDelayMs: 60_000, random: () => 1 });
  const poller = new Poller({
    client,
    executor: {
      isNoop: async () => opts.noop ?? false,
      execute: async (name, spec, o) => {
        executed.push(`${spec.deploymentGroupId}:${name}`);
        return opts.execute ? opts.execute(name, spec, o?.signal) : succeeded();
      },
    },
    hostIdentifier: HOST,
    parseSpec: async (e) => specFor(e),
    tracker,
    results: delivery,
    retryMaxDelayMs: 60_000,
    logger: silentLogger(),
    waitBetweenRunsSeconds: opts.waitBetweenRunsSeconds ?? 0,
    backoffSeconds: (n) => [0, 10, 13, 17, 21, 27, 34, 44, 56, 71, 90][n] ?? 90,
    shutdownWaitSeconds: opts.shutdownWaitSeconds ?? 5,
    updateAfterSeconds: opts.updateAfterSeconds ?? 60,
    updateIntervalSeconds: 0.02,
    random: () => 1,
    sleep,
  });
  return { client, tracker, store, delivery, poller, executed, sleeps, dir };
}

const until = (cond: () => boolean, ms = 3000): Promise<void> =>
  vi.waitFor(
    () => {
      if (!cond()) throw new Error('condition not met in time');
    },
    { timeout: ms, interval: 5 },
  );

describe('poller', () => {
  it('polls again at once after a command, and pauses wait_between_runs only after an empty poll or a repeat', async () => {
    const { client, poller } = await setup({ waitBetweenRunsSeconds: 7 });
    client.polls.push(command('BeforeInstall', 'hc-1'), command('AfterInstall', 'hc-2'), command('BeforeInstall', 'hc-1'));
    void poller.start();
    await until(() => client.ops('Poll').length >= 6 && client.ops('Complete').length === 2);
    await poller.stop();
    const loop = client.calls.filter((c) => c.op === 'Poll' || c.op === 'Sleep').map((c) => c.op);
    // hc-1, hc-2: no pause; the repeat of hc-1 and the empty polls: a pause after each.
    expect(loop.slice(0, 7)).toEqual(['Poll', 'Poll', 'Poll', 'Sleep', 'Poll', 'Sleep', 'Poll']);
    expect(client.ops('Sleep').every((c) => c.args[0] === 7000)).toBe(true);
  });

  it('polls, gets the spec, acks, executes and completes exactly once', async () => {
    const { client, poller, executed, tracker } = await setup();
    client.polls.push(command('ApplicationStart'));
    void poller.start();
    await until(() => client.ops('Complete').length === 1);
    await poller.stop();
    expect(client.calls[0]?.op).toBe('Poll');
    expect(client.calls.filter((c) => c.op !== 'Poll').map((c) => c.op)).toEqual(['Spec', 'Ack', 'Complete']);
    expect(client.ops('Spec')[0]?.args).toEqual(['CodeDeploy/us-east-1/Prod/arn:aws:sds:us-east-1:1:deployment/d-1', HOST]);
    expect(client.ops('Ack')[0]?.args).toEqual(['hc-ApplicationStart', false]);
    expect(client.ops('Complete')[0]?.args).toEqual([
      'hc-ApplicationStart',
      'Succeeded',
      { error_code: 0, script_name: '', message: 'Succeeded: ', log: '' },
    ]);
    expect(executed).toEqual(['g1:ApplicationStart']);
    expect(await tracker.orphans()).toEqual([]);
  });

  it('reports a failure once, with the executor diagnostics', async () => {
    const { client, poller } = await setup({
      execute: async () => failed(4, 'Script at specified location: s.sh failed with exit code 3', 's.sh', '[stdout]boom\n'),
    });
    client.polls.push(command('AfterInstall'));
    void poller.start();
    await until(() => client.ops('Complete').length === 1);
    await new Promise((r) => setTimeout(r, 50));
    await poller.stop();
    expect(client.ops('Complete')).toHaveLength(1);
    expect(client.ops('Complete')[0]?.args[2]).toEqual({
      error_code: 4,
      script_name: 's.sh',
      message: 'Script at specified location: s.sh failed with exit code 3',
      log: '[stdout]boom\n',
    });
  });

  it('skips a command the ack says is already Succeeded, and completes a no-op acked as Failed', async () => {
    const a = await setup();
    a.client.ack = 'Succeeded';
    a.client.polls.push(command('ApplicationStart'));
    void a.poller.start();
    await until(() => a.client.ops('Ack').length === 1);
    await a.poller.stop();
    expect(a.client.ops('Complete')).toHaveLength(0);
    expect(a.executed).toEqual([]);

    const b = await setup({ noop: true });
    b.client.ack = 'Failed';
    b.client.polls.push(command('ApplicationStop'));
    void b.poller.start();
    await until(() => b.client.ops('Complete').length === 1);
    await b.poller.stop();
    expect(b.client.ops('Ack')[0]?.args).toEqual(['hc-ApplicationStop', true]);
    expect(b.client.ops('Complete')[0]?.args.slice(1)).toEqual([
      'Succeeded',
      { error_code: 0, script_name: '', message: NOOP_COMPLETION_MESSAGE, log: '' },
    ]);
    expect(b.executed).toEqual([]);
  });

  it('fails a command addressed to another host without running it', async () => {
    const { client, poller, executed } = await setup();
    client.polls.push({ ...command('ApplicationStart'), HostIdentifier: 'arn:aws:ec2:us-east-1:123456789012:instance/i-0' });
    void poller.start();
    await until(() => client.ops('Complete').length === 1);
    await poller.stop();
    expect(executed).toEqual([]);
    expect(client.ops('Spec')).toHaveLength(0);
    expect((client.ops('Complete')[0]?.args[2] as Diagnostics).message).toBe(
      `Host Identifier mismatch: ${HOST} != arn:aws:ec2:us-east-1:123456789012:instance/i-0`,
    );
  });

  it('fails a command whose deployment system is not CodeDeploy', async () => {
    const { client, poller } = await setup();
    client.system = 'WackyDeployer';
    client.polls.push(command('ApplicationStart'));
    void poller.start();
    await until(() => client.ops('Complete').length === 1);
    await poller.stop();
    expect(client.ops('Complete')[0]?.args.slice(1)).toEqual([
      'Failed',
      { error_code: 5, script_name: '', message: 'Deployment System mismatch: CodeDeploy != WackyDeployer', log: '' },
    ]);
  });

  it('backs off 10 s, 13 s, 17 s on repeated poll errors and resets after a success', async () => {
    const { client, poller, sleeps } = await setup();
    client.polls.push(new Error('e1'), new Error('e2'), new Error('e3'), undefined, new Error('e4'));
    void poller.start();
    await until(() => client.ops('Poll').length >= 6);
    await poller.stop();
    expect(sleeps.slice(0, 4).map((ms) => Math.round(ms / 1000))).toEqual([10, 13, 17, 10]);
  });

  it('runs commands of one group one at a time and different groups in parallel', async () => {
    let active = 0;
    let maxActive = 0;
    const perGroup = new Map<string, number>();
    let maxPerGroup = 0;
    const { client, poller } = await setup({
      execute: async (_name, spec) => {
        active++;
        perGroup.set(spec.deploymentGroupId, (perGroup.get(spec.deploymentGroupId) ?? 0) + 1);
        maxActive = Math.max(maxActive, active);
        maxPerGroup = Math.max(maxPerGroup, perGroup.get(spec.deploymentGroupId) ?? 0);
        await new Promise((r) => setTimeout(r, 80));
        active--;
        perGroup.set(spec.deploymentGroupId, (perGroup.get(spec.deploymentGroupId) ?? 1) - 1);
        return succeeded();
      },
    });
    client.polls.push(command('A', 'h1', 'x/y/z/g1|d-1'), command('B', 'h2', 'x/y/z/g1|d-1'), command('C', 'h3', 'x/y/z/g2|d-2'));
    void poller.start();
    await until(() => client.ops('Complete').length === 3);
    await poller.stop();
    expect(maxPerGroup).toBe(1);
    expect(maxActive).toBe(2);
  });

  it('reports every orphaned command as failed with code 7, once', async () => {
    const { client, poller, tracker, delivery } = await setup();
    await tracker.begin('d-1', 'hc-one');
    await tracker.begin('d-2', 'hc-two');
    expect(await poller.recoverFromCrash()).toBe(2);
    await delivery.idle();
    expect(await poller.recoverFromCrash()).toBe(0);
    const completes = client.ops('Complete');
    expect(completes.map((c) => c.args[0]).sort()).toEqual(['hc-one', 'hc-two']);
    for (const c of completes)
      expect(c.args.slice(1)).toEqual(['Failed', { error_code: 7, script_name: '', message: RESTART_FAILURE_MESSAGE, log: '' }]);
    expect(existsSync(join(tracker.dir, 'd-1'))).toBe(false);
  });

  it('keeps the tracking file while a command runs', async () => {
    let seen = false;
    const { client, poller, tracker } = await setup({
      execute: async () => {
        seen = (await tracker.orphans()).some((o) => o.hostCommandIdentifier === 'hc-Install');
        return succeeded();
      },
    });
    client.polls.push(command('Install'));
    void poller.start();
    await until(() => client.ops('Complete').length === 1);
    await poller.stop();
    expect(seen).toBe(true);
    expect(await tracker.orphans()).toEqual([]);
  });

  it('stops a long command when PostHostCommandUpdate says it failed', async () => {
    const { client, poller } = await setup({
      updateAfterSeconds: 0.05,
      execute: (_n, _s, signal) =>
        new Promise((resolve) => signal?.addEventListener('abort', () => resolve(failed(5, 'stopped')), { once: true })),
    });
    client.updates.push('InProgress', 'Failed');
    client.polls.push(command('ApplicationStart'));
    void poller.start();
    await until(() => client.ops('Complete').length === 1);
    await poller.stop();
    expect(client.ops('Update').length).toBeGreaterThanOrEqual(2);
    expect((client.ops('Complete')[0]?.args[2] as Diagnostics).message).toContain('the control plane reported the command as Failed');
  });

  it('on shutdown waits for a running command, then stops it after the wait and reports it failed', async () => {
    const slow = await setup({
      shutdownWaitSeconds: 0.1,
      execute: (_n, _s, signal) =>
        new Promise((resolve) => signal?.addEventListener('abort', () => resolve(failed(3, 'killed', 's.sh')), { once: true })),
    });
    slow.client.polls.push(command('ApplicationStart'));
    void slow.poller.start();
    await until(() => slow.executed.length === 1);
    await slow.poller.stop();
    await slow.delivery.idle();
    expect(slow.client.ops('Complete')).toHaveLength(1);
    expect(slow.client.ops('Complete')[0]?.args[1]).toBe('Failed');
    expect((slow.client.ops('Complete')[0]?.args[2] as Diagnostics).message).toContain('stopped while this command was running');

    const quick = await setup({
      execute: async () => {
        await new Promise((r) => setTimeout(r, 100));
        return succeeded();
      },
    });
    quick.client.polls.push(command('ApplicationStart'));
    void quick.poller.start();
    await until(() => quick.executed.length === 1);
    await quick.poller.stop();
    await quick.delivery.idle();
    expect(quick.client.ops('Complete')[0]?.args[1]).toBe('Succeeded');
    const pollsAtStop = quick.client.ops('Poll').length;
    await new Promise((r) => setTimeout(r, 60));
    expect(quick.client.ops('Poll').length).toBe(pollsAtStop);
  });

  it('keeps a result through an outage and delivers it once the control plane answers', async () => {
    const { client, poller, store, delivery, sleeps } = await setup();
    client.failures.Complete = Array.from({ length: 6 }, () => outage('PutHostCommandComplete'));
    client.polls.push(command('ApplicationStart'));
    void poller.start();
    await until(() => client.ops('Complete').length === 2);
    // While the control plane is down the result is on disk.
    expect((await store.list()).map((r) => [r.hostCommandIdentifier, r.outcome.status])).toEqual([['hc-ApplicationStart', 'Succeeded']]);
    await until(() => client.ops('Complete').length === 7);
    await delivery.idle();
    await poller.stop();
    expect(await store.list()).toEqual([]);
    // Capped exponential backoff with jitter (random() = 1 gives the ceiling): 1, 2, 4, 8, 16, 32 s.
    expect(sleeps.filter((ms) => ms < 60_000 && ms >= 1000).slice(0, 6)).toEqual([1000, 2000, 4000, 8000, 16000, 32000]);
    expect(new Set(client.ops('Complete').map((c) => JSON.stringify(c.args))).size).toBe(1);
  });

  it('delivers a result recorded before a restart, not a restart failure', async () => {
    const dir = await tempDir();
    const first = await setup({ dir });
    first.client.failures.Complete = Array.from({ length: 1000 }, () => outage('PutHostCommandComplete'));
    first.client.polls.push(command('AfterInstall'));
    void first.poller.start();
    await until(() => first.client.ops('Complete').length >= 2);
    await first.poller.stop();
    await first.delivery.stop();
    expect(await first.store.list()).toHaveLength(1);

    const second = await setup({ dir });
    expect(await second.poller.recoverFromCrash()).toBe(0);
    await second.delivery.idle();
    expect(second.client.ops('Complete').map((c) => c.args.slice(0, 2))).toEqual([['hc-AfterInstall', 'Succeeded']]);
    expect(await second.store.list()).toEqual([]);
    expect(await second.tracker.orphans()).toEqual([]);
  });

  it('reports a command killed between poll and spec as failed after the restart', async () => {
    const dir = await tempDir();
    const first = await setup({ dir });
    await first.tracker.polled('hc-polled');
    const second = await setup({ dir });
    expect(await second.poller.recoverFromCrash()).toBe(1);
    await second.delivery.idle();
    expect(second.client.ops('Complete').map((c) => c.args)).toEqual([
      ['hc-polled', 'Failed', { error_code: 7, script_name: '', message: RESTART_FAILURE_MESSAGE, log: '' }],
    ]);
    expect(await second.tracker.orphans()).toEqual([]);
  });

  it('keeps a recorded result when the kill came before its tracking file was removed', async () => {
    const dir = await tempDir();
    const first = await setup({ dir });
    await first.tracker.begin('d-1', 'hc-done');
    await first.store.put({
      hostCommandIdentifier: 'hc-done',
      deploymentId: 'd-1',
      outcome: succeeded(),
      recordedAt: new Date().toISOString(),
    });
    const second = await setup({ dir });
    expect(await second.poller.recoverFromCrash()).toBe(0);
    await second.delivery.idle();
    expect(second.client.ops('Complete').map((c) => c.args.slice(0, 2))).toEqual([['hc-done', 'Succeeded']]);
    expect(await second.tracker.orphans()).toEqual([]);
    expect(await second.store.list()).toEqual([]);
  });

  it('tries the spec and the ack again through an outage, then runs the command', async () => {
    const { client, poller, executed, delivery } = await setup();
    client.failures.Spec = [outage('GetDeploymentSpecification'), outage('GetDeploymentSpecification')];
    client.failures.Ack = [outage('PutHostCommandAcknowledgement')];
    client.polls.push(command('ApplicationStart'));
    void poller.start();
    await until(() => client.ops('Complete').length === 1);
    await delivery.idle();
    await poller.stop();
    expect(client.ops('Spec')).toHaveLength(3);
    expect(client.ops('Ack')).toHaveLength(2);
    expect(executed).toEqual(['g1:ApplicationStart']);
    expect(client.ops('Complete')[0]?.args[1]).toBe('Succeeded');
  });

  it('drops a result the control plane refuses outright', async () => {
    const { client, poller, store, delivery } = await setup();
    client.failures.Complete = [refusal('PutHostCommandComplete')];
    client.polls.push(command('ApplicationStart'));
    void poller.start();
    await until(() => client.ops('Complete').length === 1);
    await delivery.idle();
    await poller.stop();
    expect(client.ops('Complete')).toHaveLength(1);
    expect(await store.list()).toEqual([]);
  });

  it('keeps polling other work while a result waits for the control plane', async () => {
    const { client, poller, executed, delivery } = await setup();
    client.failures.Complete = Array.from({ length: 5 }, () => outage('PutHostCommandComplete'));
    client.polls.push(command('A', 'h1', 'x/y/z/g1|d-1'), command('B', 'h2', 'x/y/z/g2|d-2'));
    void poller.start();
    await until(() => executed.length === 2);
    await delivery.idle();
    await poller.stop();
    expect(new Set(client.ops('Complete').map((c) => c.args[0]))).toEqual(new Set(['h1', 'h2']));
  });

  it('runs a command handed out twice only once (the control plane never saw the first acknowledgement)', async () => {
    const { client, poller, executed, delivery } = await setup({
      execute: async () => {
        await new Promise((r) => setTimeout(r, 100));
        return succeeded();
      },
    });
    client.polls.push(command('ApplicationStart'), command('ApplicationStart'));
    void poller.start();
    await until(() => client.ops('Complete').length === 1);
    await delivery.idle();
    client.polls.push(command('ApplicationStart'));
    await until(() => client.polls.length === 0);
    await new Promise((r) => setTimeout(r, 150));
    await poller.stop();
    expect(executed).toEqual(['g1:ApplicationStart']);
    expect(client.ops('Complete')).toHaveLength(1);
  });

  it('does not run a command a restart already reported failed when it is handed out again', async () => {
    const dir = await tempDir();
    const first = await setup({ dir });
    await first.tracker.polled('hc-lost');
    const second = await setup({ dir });
    expect(await second.poller.recoverFromCrash()).toBe(1);
    second.client.polls.push(command('ApplicationStart', 'hc-lost'));
    void second.poller.start();
    await until(() => second.client.polls.length === 0);
    await second.delivery.idle();
    await new Promise((r) => setTimeout(r, 100));
    await second.poller.stop();
    expect(second.executed).toEqual([]);
    expect(second.client.ops('Complete').map((c) => c.args[1])).toEqual(['Failed']);
  });
});
