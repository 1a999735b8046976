import { describe, expect, it } from 'vitest';
import { PausableTimer } from '../../../agent/hooks/pausable-timer.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('PausableTimer', () => {
  it('fires after its time when not paused', async () => {
    const t = new PausableTimer();
    const started = Date.now();
    t.start(50);
    await t.fired;
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
  });

  it('does not count paused time', async () => {
    const t = new PausableTimer();
    let fired = false;
    void t.fired.then(() => (fired = true));
    t.start(80);
    t.pause();
    await sleep(150);
    expect(fired).toBe(false);
    t.resume();
    await sleep(120);
    expect(fired).toBe(true);
  });

  it('counts nested pauses and never fires once cancelled', async () => {
    const t = new PausableTimer();
    let fired = false;
    void t.fired.then(() => (fired = true));
    t.pause();
    t.pause();
    t.start(10);
    t.resume();
    await sleep(40);
    expect(fired).toBe(false);
    t.cancel();
    t.resume();
    await sleep(40);
    expect(fired).toBe(false);
  });
});
