/**
 * Daemon benchmarks against a minimal commands API on loopback (no signature checks here; the
 * tests do that):
 * - idle RSS of `codedeploy-agent start` after IDLE seconds of polling an empty control plane
 *   (each poll held 2 s, like a long poll; :wait_between_runs: 0, so it polls the most it can),
 *   target <= 40 MiB; the release suite measures the same against the real local control plane;
 * - poll-to-ack latency: time from the server answering a poll with a command to the agent's
 *   PutHostCommandAcknowledgement arriving (spec fetched and PKCS7 signature verified in between),
 *   median and p99 over N commands, target median <= 20 ms.
 * The daemon runs with the agent's V8 flags, as the shipped forms run it. Returns the summary's rows.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { agentCli, agentNodeFlags } from './agent-build.js';
import { OFFICIAL_1_8_1, type Row } from './summary.js';

const HOST = 'arn:aws:iam::123456789012:user/bench-host';

function sign(dir: string, content: string): { payload: string; ca: string } {
  const run = (args: string[], input?: string) =>
    execFileSync('openssl', args, { cwd: dir, input, stdio: ['pipe', 'pipe', 'pipe'] }).toString();
  run([
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '30',
    '-subj',
    '/CN=Bench CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign',
  ]);
  run(['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', 's.key', '-out', 's.csr', '-subj', '/CN=codedeploy-signer-bench']);
  run(['x509', '-req', '-in', 's.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 's.pem', '-days', '30']);
  const payload = run(
    ['cms', '-sign', '-binary', '-nodetach', '-md', 'sha256', '-signer', 's.pem', '-inkey', 's.key', '-outform', 'PEM'],
    content,
  );
  return { payload, ca: join(dir, 'ca.pem') };
}

const readBody = (req: IncomingMessage): Promise<string> =>
  new Promise((r) => {
    let b = '';
    req.on('data', (d: Buffer) => (b += d.toString()));
    req.on('end', () => r(b));
  });

const percentile = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number;
};

export async function benchDaemon(idleSeconds: number, commands: number): Promise<Row[]> {
  const dir = await mkdtemp(join(tmpdir(), 'cda-bench-daemon-'));
  const spec = JSON.stringify({
    DeploymentId: 'd-BENCH0001',
    DeploymentGroupId: 'bench-group',
    DeploymentGroupName: 'bench',
    ApplicationName: 'bench',
    Revision: { RevisionType: 'Local Directory', LocalRevision: { Location: dir, BundleType: 'directory' } },
  });
  const { payload, ca } = sign(dir, spec);
  const queue: string[] = [];
  const sentAt = new Map<string, bigint>();
  const latencies: number[] = [];
  let waiter: (() => void) | undefined;
  let heldPoll: ((id: string) => void) | undefined;
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const op = String(req.headers['x-amz-target'] ?? '')
      .split('.')
      .pop();
    const body = JSON.parse((await readBody(req)) || '{}') as Record<string, string>;
    const reply = (o: unknown) => {
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
      res.end(JSON.stringify(o));
    };
    if (op === 'PollHostCommand') {
      // A long poll: answer at once when a command is queued, else hold up to 2 s for one.
      const answer = (next: string | undefined) => {
        if (next === undefined) return reply({});
        sentAt.set(next, process.hrtime.bigint());
        reply({
          HostCommand: {
            HostCommandIdentifier: next,
            HostIdentifier: HOST,
            DeploymentExecutionId: 'CodeDeploy/us-east-1/Bench/d-BENCH0001',
            CommandName: 'ApplicationStop',
          },
        });
      };
      const next = queue.shift();
      if (next !== undefined) return answer(next);
      const timer = setTimeout(() => {
        heldPoll = undefined;
        answer(undefined);
      }, 2000);
      heldPoll = (id) => {
        clearTimeout(timer);
        heldPoll = undefined;
        answer(id);
      };
      return;
    }
    if (op === 'GetDeploymentSpecification')
      return reply({
        DeploymentSystem: 'CodeDeploy',
        DeploymentSpecification: { GenericEnvelope: { Format: 'PKCS7/JSON', Payload: payload } },
      });
    if (op === 'PutHostCommandAcknowledgement') {
      const t = sentAt.get(body.HostCommandIdentifier ?? '');
      if (t !== undefined) latencies.push(Number(process.hrtime.bigint() - t) / 1e6);
      return reply({ CommandStatus: 'InProgress' });
    }
    if (op === 'PutHostCommandComplete') {
      reply({});
      waiter?.();
      return;
    }
    return reply({ CommandStatus: 'InProgress' });
  };
  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      res.writeHead(500);
      res.end(String(error));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const onPrem = join(dir, 'onprem.yml');
  await writeFile(onPrem, `region: us-east-1\niam_user_arn: ${HOST}\naws_access_key_id: AKIDBENCH\naws_secret_access_key: benchsecret\n`);
  const config = join(dir, 'agent.yml');
  await writeFile(
    config,
    [
      `:root_dir: ${join(dir, 'root')}`,
      `:log_dir: ${join(dir, 'log')}`,
      `:pid_dir: ${join(dir, 'pid')}`,
      `:working_directory: ${dir}`,
      `:on_premises_config_file: ${onPrem}`,
      `:deploy_control_endpoint: ${url}`,
      `:deployment_spec_ca_file: ${ca}`,
      ':wait_between_runs: 0',
      '',
    ].join('\n'),
  );
  const agent = spawn(process.execPath, [...agentNodeFlags(), agentCli, 'start', '--config_file', config], { stdio: 'ignore' });
  try {
    await new Promise((r) => setTimeout(r, idleSeconds * 1000));
    const status = await readFile(`/proc/${agent.pid}/status`, 'utf8');
    const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    const hwmKb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
    console.log(`daemon idle RSS after ${idleSeconds} s polling an empty control plane`);
    console.log(`  RSS ${(rssKb / 1024).toFixed(1)} MiB (peak ${(hwmKb / 1024).toFixed(1)} MiB)   (target <= 40 MiB)`);
    for (let i = 0; i < commands; i++) {
      const done = new Promise<void>((r) => (waiter = r));
      if (heldPoll) heldPoll(`hc-bench-${i}`);
      else queue.push(`hc-bench-${i}`);
      await done;
    }
    console.log(`poll-to-ack latency over ${latencies.length} commands (loopback, PKCS7 spec verified)`);
    console.log(
      `  median ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms   (target median <= 20 ms)`,
    );
    console.log('');
    return [
      {
        suite: 'daemon',
        what: `daemon idle RSS after ${idleSeconds} s, npm build, stub commands API`,
        unit: 'MiB',
        ours: rssKb / 1024,
        target: { kind: 'max', value: 40 },
        official: { value: OFFICIAL_1_8_1.idleRssMiB },
        note: `peak (VmHWM) ${(hwmKb / 1024).toFixed(1)} MiB; polls held 2 s, :wait_between_runs: 0`,
      },
      {
        suite: 'daemon',
        what: `poll-to-ack latency, median of ${latencies.length} commands`,
        unit: 'ms',
        ours: percentile(latencies, 50),
        target: { kind: 'max', value: 20 },
        note: `p99 ${percentile(latencies, 99).toFixed(1)} ms; loopback, PKCS7 spec verified`,
      },
    ];
  } finally {
    agent.kill('SIGTERM');
    await new Promise((r) => agent.once('exit', r));
    server.close();
    await rm(dir, { recursive: true, force: true });
  }
}
