/**
 * A one-shot timer that can be paused and resumed (nested pauses count), used for the post-exit
 * output drain: time the runner spends waiting for its own log writes must not count against a
 * script whose output is still legitimately flowing. pause()/resume() before start() only count.
 */
export class PausableTimer {
  /** Resolves when the timer fires (never, if cancelled first). */
  readonly fired: Promise<void>;
  private fire!: () => void;
  private remaining: number | undefined;
  private armedAt = 0;
  private handle: NodeJS.Timeout | undefined;
  private pauses = 0;
  private done = false;

  constructor() {
    this.fired = new Promise((resolve) => (this.fire = resolve));
  }

  start(ms: number): void {
    if (this.done || this.remaining !== undefined) return;
    this.remaining = ms;
    if (this.pauses === 0) this.arm();
  }

  pause(): void {
    this.pauses++;
    if (this.pauses === 1 && this.handle) {
      clearTimeout(this.handle);
      this.handle = undefined;
      this.remaining = Math.max(0, (this.remaining ?? 0) - (Date.now() - this.armedAt));
    }
  }

  resume(): void {
    if (this.pauses === 0) return;
    this.pauses--;
    if (this.pauses === 0 && this.remaining !== undefined && !this.done) this.arm();
  }

  cancel(): void {
    this.done = true;
    if (this.handle) clearTimeout(this.handle);
    this.handle = undefined;
  }

  private arm(): void {
    this.armedAt = Date.now();
    this.handle = setTimeout(() => {
      this.handle = undefined;
      this.done = true;
      this.fire();
    }, this.remaining ?? 0);
  }
}
