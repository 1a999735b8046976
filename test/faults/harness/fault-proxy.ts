/**
 * A recording reverse proxy between one agent and the control plane, for both the commands API
 * and S3 (the agent's :deploy_control_endpoint: and :s3_endpoint_override: point here). It keeps a
 * log of every exchange, can refuse connections (stop listening, destroy open sockets) to play an
 * outage, and runs a scenario's action at an exact point of an exchange:
 *   - 'request':  the request is in, nothing was forwarded yet;
 *   - 'response': the control plane answered, the agent has not received it yet;
 *   - 'relayed':  the agent has the whole answer;
 *   - 'body':     part of a streamed (S3) body reached the agent, the rest has not.
 * After a 'request' or 'response' action, an exchange whose proxy went down (or whose agent died)
 * is cut off (socket destroyed), so the agent sees what a real outage looks like: no answer.
 */
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type Phase = 'request' | 'response' | 'relayed' | 'body';

export interface ExchangeRecord {
  seq: number;
  /** ms since the proxy started */
  at: number;
  /** Commands API operation (PollHostCommand, ...) or "S3 GET /bucket/key". */
  op: string;
  method: string;
  path: string;
  /** HostCommandIdentifier of the request, or of the command a poll handed out. */
  hostCommandIdentifier?: string;
  /** The command this exchange concerns (a poll's command; for the others, looked up by id or the last command handed out). */
  commandName?: string;
  /** PutHostCommandComplete's CommandStatus. */
  commandStatus?: string;
  /** PutHostCommandComplete's diagnostics payload, parsed when it is JSON. */
  diagnostics?: { error_code?: number; message?: string; script_name?: string };
  /** True for a poll answer that carried a command. */
  handedOut?: boolean;
  /** The control plane's HTTP status; undefined when it never answered. */
  status?: number;
  /** The agent received the whole answer. */
  relayed: boolean;
  error?: string;
}

export interface Trigger {
  phase: Phase;
  match: (r: ExchangeRecord) => boolean;
  /** For 'body': bytes relayed before the action runs. */
  afterBytes?: number;
  action: (r: ExchangeRecord) => Promise<void> | void;
}

export interface FaultProxy {
  readonly port: number;
  readonly url: string;
  readonly isUp: boolean;
  records(): ExchangeRecord[];
  /** Runs the action once, at the first exchange that matches; resolves with that exchange after the action. */
  once(trigger: Trigger): Promise<ExchangeRecord>;
  /** Refuse connections from now on (and cut the open ones). */
  down(): Promise<void>;
  /** Accept connections again, on the same port. */
  up(): Promise<void>;
  close(): Promise<void>;
}

const TARGET_PREFIX = 'CodeDeployCommandService_v20141006.';

function parseJson(text: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

export async function startFaultProxy(upstreamPort: number): Promise<FaultProxy> {
  const started = Date.now();
  const log: ExchangeRecord[] = [];
  const commandNames = new Map<string, string>();
  let lastHandedOut: string | undefined;
  const triggers: Array<Trigger & { fire: (r: ExchangeRecord) => void; fail: (e: unknown) => void }> = [];
  const sockets = new Set<Socket>();
  let up = true;
  let port = 0;

  const fire = async (phase: Phase, r: ExchangeRecord, bytes = 0): Promise<void> => {
    for (const t of [...triggers]) {
      if (t.phase !== phase || (phase === 'body' && bytes < (t.afterBytes ?? 1)) || !t.match(r)) continue;
      triggers.splice(triggers.indexOf(t), 1);
      try {
        await t.action(r);
        t.fire(r);
      } catch (err) {
        t.fail(err);
      }
    }
  };

  const cut = (req: http.IncomingMessage, r: ExchangeRecord, why: string): void => {
    r.error ??= why;
    req.socket.destroy();
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    // A client that dies mid-exchange (a killed agent) must not take the test worker down.
    req.on('error', () => undefined);
    res.on('error', () => undefined);
    const chunks: Buffer[] = [];
    try {
      for await (const c of req as AsyncIterable<Buffer>) chunks.push(c);
    } catch {
      req.socket.destroy();
      return;
    }
    const body = Buffer.concat(chunks);
    const target = str(req.headers['x-amz-target']);
    const path = req.url ?? '/';
    const r: ExchangeRecord = {
      seq: log.length + 1,
      at: Date.now() - started,
      op: target ? target.replace(TARGET_PREFIX, '') : `S3 ${req.method ?? 'GET'} ${path.split('?')[0] ?? path}`,
      method: req.method ?? 'GET',
      path,
      relayed: false,
    };
    log.push(r);
    if (target) {
      const input = parseJson(body.toString('utf8'));
      r.hostCommandIdentifier = str(input?.HostCommandIdentifier);
      r.commandName = r.hostCommandIdentifier
        ? commandNames.get(r.hostCommandIdentifier)
        : r.op === 'GetDeploymentSpecification'
          ? lastHandedOut
          : undefined;
      r.commandStatus = str(input?.CommandStatus);
      const payload = str((input?.Diagnostics as Record<string, unknown> | undefined)?.Payload);
      if (payload !== undefined) r.diagnostics = parseJson(payload) as ExchangeRecord['diagnostics'];
    }
    await fire('request', r);
    if (!up || req.socket.destroyed) return cut(req, r, 'cut before forwarding');

    const headers = { ...req.headers, 'content-length': String(body.length), connection: 'close' };
    delete headers['transfer-encoding'];
    const upstream = http.request({ host: '127.0.0.1', port: upstreamPort, method: req.method, path, headers, agent: false });
    const response = await new Promise<http.IncomingMessage | Error>((resolve) => {
      upstream.once('response', resolve);
      // Errors after the answer began (the control plane killed mid-body) reach the response too.
      upstream.on('error', resolve);
      upstream.end(body);
    });
    if (response instanceof Error) return cut(req, r, `control plane unreachable: ${response.message}`);
    r.status = response.statusCode;
    const outHeaders = { ...response.headers };

    if (target) {
      const answer: Buffer[] = [];
      try {
        for await (const c of response as AsyncIterable<Buffer>) answer.push(c);
      } catch (err) {
        return cut(req, r, `control plane answer broke off: ${(err as Error).message}`);
      }
      const text = Buffer.concat(answer);
      const out = parseJson(text.toString('utf8'));
      const command = out?.HostCommand as Record<string, unknown> | undefined;
      if (r.op === 'PollHostCommand' && command) {
        r.handedOut = true;
        r.hostCommandIdentifier = str(command.HostCommandIdentifier);
        r.commandName = str(command.CommandName);
        if (r.hostCommandIdentifier && r.commandName) commandNames.set(r.hostCommandIdentifier, r.commandName);
        lastHandedOut = r.commandName;
      }
      await fire('response', r);
      if (!up || req.socket.destroyed) return cut(req, r, 'cut before the answer was relayed');
      delete outHeaders['transfer-encoding'];
      outHeaders['content-length'] = String(text.length);
      res.writeHead(response.statusCode ?? 502, outHeaders);
      res.end(text, () => {
        r.relayed = true;
        void fire('relayed', r);
      });
      return;
    }

    await fire('response', r);
    if (!up || req.socket.destroyed) {
      response.destroy();
      return cut(req, r, 'cut before the answer was relayed');
    }
    res.writeHead(response.statusCode ?? 502, outHeaders);
    let bytes = 0;
    let pausedForAction = false;
    response.on('data', (c: Buffer) => {
      bytes += c.length;
      if (!res.write(c)) {
        response.pause();
        res.once('drain', () => {
          if (!pausedForAction) response.resume();
        });
      }
      if (triggers.some((t) => t.phase === 'body')) {
        pausedForAction = true;
        response.pause();
        void fire('body', r, bytes).then(() => {
          pausedForAction = false;
          if (!up || req.socket.destroyed) {
            response.destroy();
            cut(req, r, `cut after ${bytes} body bytes`);
          } else {
            response.resume();
          }
        });
      }
    });
    response.on('end', () =>
      res.end(() => {
        r.relayed = true;
        void fire('relayed', r);
      }),
    );
    response.on('error', (err) => cut(req, r, `control plane body broke off after ${bytes} bytes: ${err.message}`));
    response.on('aborted', () => cut(req, r, `control plane body aborted after ${bytes} bytes`));
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      req.socket.destroy();
      process.stderr.write(`fault proxy: ${(err as Error).message}\n`);
    });
  });
  server.keepAliveTimeout = 5_000;
  server.on('connection', (s: Socket) => {
    if (!up) {
      s.destroy();
      return;
    }
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  const listen = (p: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(p, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  await listen(0);
  port = (server.address() as AddressInfo).port;

  const closeListener = () => new Promise<void>((resolve) => server.close(() => resolve()));

  return {
    get port() {
      return port;
    },
    get url() {
      return `http://127.0.0.1:${port}`;
    },
    get isUp() {
      return up;
    },
    records: () => log.map((r) => ({ ...r })),
    once(trigger) {
      return new Promise<ExchangeRecord>((resolve, reject) => {
        triggers.push({ ...trigger, fire: resolve, fail: reject });
      });
    },
    async down() {
      if (!up) return;
      up = false;
      const closed = closeListener();
      for (const s of sockets) s.destroy();
      await closed;
    },
    async up() {
      if (up) return;
      up = true;
      // The port was ours a moment ago; a kernel that has not let go of it yet is retried briefly.
      for (let attempt = 1; ; attempt++) {
        try {
          await listen(port);
          return;
        } catch (err) {
          if (attempt >= 50) throw err;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    },
    async close() {
      up = false;
      triggers.length = 0;
      for (const s of sockets) s.destroy();
      if (server.listening) await closeListener();
    },
  };
}
