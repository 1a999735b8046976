import { afterEach, describe, expect, it } from 'vitest';
import { createConsoleEvents, formatEvent, type StreamSink } from '../../../../control-plane/console/console-events.js';
import type { EngineEvent } from '../../../../control-plane/engine/engine.js';
import { silentLogger } from '../../../helpers/temp.js';

/** The engine side: listeners registered with on(), and events pushed by the test. */
function fakeSource() {
  const listeners = new Set<(e: EngineEvent) => void>();
  return {
    listeners,
    on(listener: (e: EngineEvent) => void) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    emit(e: EngineEvent) {
      for (const l of listeners) l(e);
    },
  };
}

/** A stream that records what it was sent; `unread` bytes stand for what the socket has not taken. */
class FakeSink implements StreamSink {
  chunks: string[] = [];
  ended = false;
  destroyed = false;
  unread = 0;
  get writableLength() {
    return this.unread;
  }
  write(chunk: string) {
    this.chunks.push(chunk);
    return true;
  }
  end() {
    this.ended = true;
  }
  destroy() {
    this.destroyed = true;
  }
  text() {
    return this.chunks.join('');
  }
}

const status: EngineEvent = { type: 'deployment-status', deploymentId: 'd-ABCDEFGHI', status: 'InProgress' };
const controllers: AbortController[] = [];

function setup(opts: { maxStreams?: number; maxBacklogBytes?: number; heartbeatMs?: number } = {}) {
  const source = fakeSource();
  const shutdown = new AbortController();
  controllers.push(shutdown);
  const events = createConsoleEvents({ source, shutdown: shutdown.signal, logger: silentLogger(), ...opts });
  return { source, shutdown, events };
}

afterEach(() => {
  for (const c of controllers.splice(0)) c.abort();
});

describe('formatEvent', () => {
  it('is one SSE frame named by the event type, with the event as one JSON data line', () => {
    expect(formatEvent(status)).toBe(`event: deployment-status\ndata: ${JSON.stringify(status)}\n\n`);
  });

  it('clips a long lifecycle message and keeps a multi-line one on one data line', () => {
    const frame = formatEvent({
      type: 'lifecycle-event',
      deploymentId: 'd-ABCDEFGHI',
      instanceName: 'host-1',
      lifecycleEventName: 'AfterInstall',
      status: 'Failed',
      message: `line one\nline two ${'x'.repeat(10_000)}`,
    });
    expect(frame.split('\n')).toHaveLength(4); // event, data, blank, ''
    expect(frame.length).toBeLessThan(1500);
    const data = JSON.parse(frame.split('\n')[1]!.slice('data: '.length)) as { message: string };
    expect(data.message).toMatch(/^line one\nline two x+…\(\d+ more characters\)$/);
  });
});

describe('createConsoleEvents', () => {
  it('fans engine events out to every stream and listens to the engine only while someone watches', () => {
    const { source, events } = setup();
    const a = new FakeSink();
    const b = new FakeSink();
    expect(source.listeners.size).toBe(0);
    expect(events.attach(a)).toBe(true);
    expect(events.attach(b)).toBe(true);
    expect(source.listeners.size).toBe(1);
    expect(a.text()).toContain('retry: 2000\n');
    source.emit(status);
    expect(a.text()).toContain('event: deployment-status\n');
    expect(b.text()).toContain('"d-ABCDEFGHI"');
    expect(events.size).toBe(2);
  });

  it('drops a stream whose unread backlog would pass the limit, and keeps the others', () => {
    const { source, events } = setup({ maxBacklogBytes: 1000 });
    const slow = new FakeSink();
    const fast = new FakeSink();
    events.attach(slow);
    events.attach(fast);
    slow.unread = 990;
    source.emit(status);
    expect(slow.destroyed).toBe(true);
    expect(slow.text()).not.toContain('deployment-status');
    expect(fast.text()).toContain('deployment-status');
    expect(events.size).toBe(1);
  });

  it('refuses streams beyond the limit', () => {
    const { events } = setup({ maxStreams: 2 });
    expect(events.attach(new FakeSink())).toBe(true);
    expect(events.attach(new FakeSink())).toBe(true);
    expect(events.attach(new FakeSink())).toBe(false);
    expect(events.size).toBe(2);
  });

  it('ends every stream at once when the control plane shuts down, and takes no new ones', () => {
    const { source, shutdown, events } = setup();
    const a = new FakeSink();
    events.attach(a);
    shutdown.abort();
    expect(a.ended).toBe(true);
    expect(events.size).toBe(0);
    expect(source.listeners.size).toBe(0);
    expect(events.attach(new FakeSink())).toBe(false);
  });

  it('sends a heartbeat comment on the interval', async () => {
    const { events } = setup({ heartbeatMs: 20 });
    const a = new FakeSink();
    events.attach(a);
    await expect.poll(() => a.text(), { timeout: 2000 }).toContain(': heartbeat\n\n');
  });
});
