import { describe, expect, it } from 'vitest';
import { formatDeploymentsLogTime, formatScriptsLogTime, LogClock } from '../../../agent/log/log-time.js';

describe('log timestamps (local time)', () => {
  const d = new Date(2024, 4, 1, 9, 5, 7, 42); // local 2024-05-01 09:05:07.042

  it('formats scripts.log time without milliseconds or zone', () => {
    expect(formatScriptsLogTime(d)).toBe('2024-05-01 09:05:07');
  });

  it('formats deployments log time with milliseconds', () => {
    expect(formatDeploymentsLogTime(d)).toBe('2024-05-01 09:05:07.042');
  });

  it('LogClock caches per second but follows the clock', () => {
    let now = d;
    const clock = new LogClock(() => now);
    expect(clock.read()).toEqual({ seconds: '2024-05-01 09:05:07', millis: '042' });
    now = new Date(d.getTime() + 500);
    expect(clock.read()).toEqual({ seconds: '2024-05-01 09:05:07', millis: '542' });
    now = new Date(d.getTime() + 1000);
    expect(clock.read()).toEqual({ seconds: '2024-05-01 09:05:08', millis: '042' });
  });

  it('LogClock without an injected clock reads the real time', () => {
    const t = new LogClock().read();
    expect(t.seconds).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
    expect(t.millis).toMatch(/^\d{3}$/);
  });
});
