/** TaskWindow: a bounded number of tasks in flight, and the earliest failure in producer order. */
import { describe, expect, it } from 'vitest';
import { TaskWindow } from '../../../agent/platform/task-window.js';

const tick = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('TaskWindow', () => {
  it('never runs more than its size at once, and add() waits for a slot', async () => {
    const window = new TaskWindow(3);
    let running = 0;
    let most = 0;
    let done = 0;
    for (let i = 0; i < 20; i++) {
      await window.add(i, async () => {
        running++;
        most = Math.max(most, running);
        await tick(2 + (i % 3));
        running--;
        done++;
      });
      expect(running).toBeLessThanOrEqual(3);
    }
    await window.drain();
    expect(most).toBe(3);
    expect(done).toBe(20);
  });

  it('reports the failure that comes first in producer order, starts nothing after it, lets running tasks finish', async () => {
    const window = new TaskWindow(4);
    const started: number[] = [];
    let finished = 0;
    for (let i = 0; i < 10 && !window.failed; i++) {
      await window.add(i, async () => {
        started.push(i);
        // Task 2 fails late, task 3 fails early: 2 is reported.
        if (i === 2) {
          await tick(30);
          throw new Error('two');
        }
        if (i === 3) throw new Error('three');
        await tick(10);
        finished++;
      });
    }
    await expect(window.drain()).rejects.toThrow('two');
    expect(started).toEqual([0, 1, 2, 3]);
    expect(finished).toBe(2);
  });

  it('fail() from the producer stops it like a task failure', async () => {
    const window = new TaskWindow(2);
    window.fail(5, new Error('producer'));
    let ran = false;
    await window.add(6, () => {
      ran = true;
      return Promise.resolve();
    });
    expect(ran).toBe(false);
    await expect(window.drain()).rejects.toThrow('producer');
  });
});
