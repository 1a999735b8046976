/**
 * The console's live updates: `GET /_console/events` as server-sent events, fed by the deployment
 * engine's events (engine.on). One engine listener fans out to every open stream.
 *
 * Bounds, since a browser tab is a remote caller like any other:
 *   - at most `maxStreams` streams at once (503 with Retry-After beyond);
 *   - a per-stream backlog: what the socket has not yet taken is counted (the response's
 *     writableLength), and a stream whose backlog passes `maxBacklogBytes` is dropped (the browser
 *     reconnects and reloads its view), so a client that does not read costs a bounded amount;
 *   - each event's text is clipped.
 * A comment line every `heartbeatMs` keeps proxies from timing an idle stream out and finds dead
 * sockets. When the control plane closes (the `shutdown` signal), every stream ends at once, so
 * closing never waits for a browser to hang up. Streams are sent with `Connection: close`: the
 * socket ends with the stream instead of lingering as an idle keep-alive connection.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { EngineEvent } from '../engine/engine.js';
import { clip } from '../log/clip.js';

/** Where the events come from (DeploymentEngine.on). */
export interface EventSource {
  on(listener: (event: EngineEvent) => void): () => void;
}

/** The part of a response a stream writes to (a ServerResponse; a fake in unit tests). */
export interface StreamSink {
  readonly writableLength: number;
  write(chunk: string): boolean;
  end(): void;
  destroy(): void;
}

export interface ConsoleEventsOptions {
  source: EventSource;
  shutdown: AbortSignal;
  logger: Logger;
  /** Default 100. */
  maxStreams?: number;
  /** Default 256 KiB. */
  maxBacklogBytes?: number;
  /** Default 15 000. */
  heartbeatMs?: number;
}

export interface ConsoleEvents {
  /** Answers GET /_console/events. */
  serve(req: IncomingMessage, res: ServerResponse): void;
  /** Adds an already-answered stream (serve() uses it; unit tests call it with a fake sink). False when full or closed. */
  attach(sink: StreamSink): boolean;
  /** Open streams now. */
  readonly size: number;
}

const DEFAULT_MAX_STREAMS = 100;
const DEFAULT_MAX_BACKLOG = 256 * 1024;
const DEFAULT_HEARTBEAT_MS = 15_000;
/** The longest text member of an event sent to a browser (a lifecycle event's message). */
const EVENT_TEXT_MAX = 1024;
/** The browser's reconnection delay after a dropped stream. */
const RETRY_MS = 2000;

/** One engine event as an SSE frame (`event: <type>`, one JSON data line). */
export function formatEvent(event: EngineEvent): string {
  const data: Record<string, unknown> = { ...event };
  if (event.type === 'lifecycle-event' && event.message !== undefined) data.message = clip(event.message, EVENT_TEXT_MAX);
  if (event.type === 'deployment-status' && event.errorInformation)
    data.errorInformation = { code: event.errorInformation.code, message: clip(event.errorInformation.message, EVENT_TEXT_MAX) };
  // JSON.stringify never emits a raw newline, so one data line is always one frame.
  return `event: ${event.type}\ndata: ${JSON.stringify(data)}\n\n`;
}

export function createConsoleEvents(opts: ConsoleEventsOptions): ConsoleEvents {
  const maxStreams = opts.maxStreams ?? DEFAULT_MAX_STREAMS;
  const maxBacklog = opts.maxBacklogBytes ?? DEFAULT_MAX_BACKLOG;
  const heartbeatMs = opts.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  const streams = new Set<StreamSink>();
  let unsubscribe: (() => void) | undefined;
  let heartbeat: NodeJS.Timeout | undefined;

  const drop = (sink: StreamSink, how: 'end' | 'destroy') => {
    if (!streams.delete(sink)) return;
    if (how === 'end') sink.end();
    else sink.destroy();
    if (streams.size === 0) stopFeeding();
  };

  /** Writes to every stream; a stream that is too far behind is dropped instead. */
  const broadcast = (chunk: string) => {
    for (const sink of [...streams]) {
      if (sink.writableLength + chunk.length > maxBacklog) {
        opts.logger.info({ backlogBytes: sink.writableLength }, 'console event stream dropped: the client is not reading');
        drop(sink, 'destroy');
      } else {
        sink.write(chunk);
      }
    }
  };

  // The engine listener and the heartbeat run only while someone is watching.
  const startFeeding = () => {
    if (unsubscribe) return;
    unsubscribe = opts.source.on((event) => broadcast(formatEvent(event)));
    heartbeat = setInterval(() => broadcast(': heartbeat\n\n'), heartbeatMs);
    heartbeat.unref();
  };
  const stopFeeding = () => {
    unsubscribe?.();
    unsubscribe = undefined;
    if (heartbeat) clearInterval(heartbeat);
    heartbeat = undefined;
  };

  opts.shutdown.addEventListener(
    'abort',
    () => {
      for (const sink of [...streams]) drop(sink, 'end');
      stopFeeding();
    },
    { once: true },
  );

  const attach = (sink: StreamSink): boolean => {
    if (opts.shutdown.aborted || streams.size >= maxStreams) return false;
    streams.add(sink);
    startFeeding();
    sink.write(`retry: ${RETRY_MS}\n: connected\n\n`);
    return true;
  };

  return {
    get size() {
      return streams.size;
    },
    attach,
    serve(_req, res) {
      if (opts.shutdown.aborted || streams.size >= maxStreams) {
        const body = `Too many console event streams are open (at most ${maxStreams}); close some console tabs and retry.\n`;
        res.writeHead(503, {
          'content-type': 'text/plain; charset=utf-8',
          'content-length': Buffer.byteLength(body),
          'retry-after': '5',
          'cache-control': 'no-store',
        });
        res.end(body);
        return;
      }
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
        'x-content-type-options': 'nosniff',
        connection: 'close',
      });
      res.flushHeaders();
      attach(res);
      // The response's 'close' is the socket going away (the request's fires once its body is read).
      const gone = () => drop(res, 'destroy');
      res.once('close', gone);
      res.once('error', gone);
    },
  };
}
