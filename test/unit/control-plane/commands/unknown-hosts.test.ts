/**
 * What the control plane keeps and logs about unregistered pollers: an LRU of bounded size, at
 * most one warning per identifier per period and a bounded number of lines per minute overall,
 * with what was held back counted, and identifiers clipped in the log.
 */
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { describe, expect, it } from 'vitest';
import { LruMap } from '../../../../control-plane/commands/lru-map.js';
import { createUnknownHostLog } from '../../../../control-plane/commands/unknown-hosts.js';

function countingLogger(): { logger: Logger; lines: () => Record<string, unknown>[]; bytes: () => number } {
  const chunks: string[] = [];
  let bytes = 0;
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      bytes += chunk.length;
      chunks.push(chunk.toString('utf8'));
      cb();
    },
  });
  return {
    logger: pino({ level: 'debug' }, sink),
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    bytes: () => bytes,
  };
}

const arn = (name: string) => `arn:aws:iam::123456789012:user/${name}`;

describe('LruMap', () => {
  it('keeps at most maxEntries, forgetting the least recently used first', () => {
    const lru = new LruMap<string, number>(3);
    lru.set('a', 1).set('b', 2).set('c', 3);
    expect(lru.get('a')).toBe(1); // a is now the most recent; b is the oldest
    lru.set('d', 4);
    expect(lru.size).toBe(3);
    expect(lru.has('b')).toBe(false);
    expect([lru.get('a'), lru.get('c'), lru.get('d')]).toEqual([1, 3, 4]);
    lru.set('c', 30); // an update refreshes too
    lru.set('e', 5);
    expect(lru.has('a')).toBe(false);
    expect(lru.get('c')).toBe(30);
    expect(() => new LruMap(0)).toThrow(RangeError);
  });

  it('stays at its bound under 10k distinct keys', () => {
    const lru = new LruMap<string, number>(1000);
    for (let i = 0; i < 10_000; i++) lru.set(`k${i}`, i);
    expect(lru.size).toBe(1000);
    expect(lru.has('k8999')).toBe(false);
    expect(lru.get('k9000')).toBe(9000);
    expect(lru.get('k9999')).toBe(9999);
  });
});

describe('unknown host log', () => {
  it('warns once per identifier per period, then again with the polls in between counted', () => {
    const clock = { now: 0 };
    const { logger, lines } = countingLogger();
    const log = createUnknownHostLog({ logger, clock: () => clock.now, repeatAfterMs: 60_000 });
    for (let i = 0; i < 5; i++) log.seen(arn('stranger'));
    expect(lines()).toHaveLength(1);
    expect(lines()[0]).toMatchObject({
      level: 40,
      hostIdentifier: arn('stranger'),
      msg: `Host ${arn('stranger')} is not a registered on-premises instance; register it with: aws deploy register-on-premises-instance --instance-name stranger --iam-user-arn ${arn('stranger')}`,
    });
    clock.now += 60_000;
    log.seen(arn('stranger'));
    expect(lines()).toHaveLength(2);
    expect(lines()[1]).toMatchObject({ pollsSinceLastWarning: 4 });
    expect(log.tracked()).toBe(1);
  });

  it('writes at most maxLinesPerMinute lines overall and says how many it held back', () => {
    const clock = { now: 0 };
    const { logger, lines } = countingLogger();
    const log = createUnknownHostLog({ logger, clock: () => clock.now, maxLinesPerMinute: 5 });
    for (let i = 0; i < 50; i++) log.seen(arn(`host-${i}`));
    expect(lines()).toHaveLength(5);
    // Held-back identifiers are remembered, so they are not lost: they come once the rate allows.
    expect(log.tracked()).toBe(50);
    clock.now += 60_000;
    log.seen(arn('host-7'));
    expect(lines()).toHaveLength(6);
    expect(lines()[5]).toMatchObject({ hostIdentifier: arn('host-7'), warningsHeldBack: 45, pollsSinceLastWarning: 1 });
    log.seen(arn('host-8'));
    expect(lines()[6]).not.toHaveProperty('warningsHeldBack');
  });

  it('keeps at most maxTracked identifiers and a bounded log for 10k distinct pollers', () => {
    const clock = { now: 0 };
    const { logger, lines, bytes } = countingLogger();
    const log = createUnknownHostLog({ logger, clock: () => clock.now, maxTracked: 1000, maxLinesPerMinute: 10 });
    const padding = 'x'.repeat(1500);
    for (let i = 0; i < 10_000; i++) {
      log.seen(arn(`${padding}-${i}`));
      if (i % 1000 === 999) clock.now += 10_000;
    }
    expect(log.tracked()).toBe(1000);
    // 100 s of polling: two minutes' worth of lines at most.
    expect(lines().length).toBeLessThanOrEqual(20);
    expect(bytes()).toBeLessThan(32 * 1024);
  });

  it('clips long identifiers in the log line', () => {
    const { logger, lines, bytes } = countingLogger();
    const log = createUnknownHostLog({ logger });
    const long = arn('y'.repeat(2000));
    log.seen(long);
    const line = lines()[0];
    expect(line?.hostIdentifierLength).toBe(long.length);
    expect((line?.hostIdentifier as string).length).toBeLessThan(260);
    expect(line?.msg as string).not.toContain('y'.repeat(201));
    expect(bytes()).toBeLessThan(1200);
  });
});
