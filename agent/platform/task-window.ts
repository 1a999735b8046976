/**
 * At most `size` asynchronous tasks in flight, however many there are in all: add() waits for a free
 * slot before it starts a task, so a producer walking a million entries never holds more than `size`
 * promises (Promise.all over one promise per entry, or p-limit's unbounded queue, hold them all).
 *
 * Failures: the task's index says where it stands in the producer's order; once a task fails no new
 * task starts (add() returns without running it), the running ones finish, and drain() throws the
 * failure with the smallest index, which is what a sequential run would have reported.
 */
export class TaskWindow {
  private readonly running = new Set<Promise<void>>();
  private failedAt = Infinity;
  private failure: unknown;

  constructor(private readonly size: number) {}

  /** True once a task has failed (or fail() was called): producers stop. */
  get failed(): boolean {
    return this.failedAt !== Infinity;
  }

  /** Wait for a free slot, then start `task` (unless something failed meanwhile). */
  async add(index: number, task: () => Promise<void>): Promise<void> {
    while (this.running.size >= this.size) await Promise.race(this.running);
    if (this.failed) return;
    const run: Promise<void> = task()
      .catch((err: unknown) => this.fail(index, err))
      .finally(() => this.running.delete(run));
    this.running.add(run);
  }

  /** Record a failure that happened outside a task (the producer's own step). */
  fail(index: number, error: unknown): void {
    if (index < this.failedAt) {
      this.failedAt = index;
      this.failure = error;
    }
  }

  /** Wait for every running task; then throw the earliest failure, if any. */
  async drain(): Promise<void> {
    while (this.running.size > 0) await Promise.race(this.running);
    if (this.failed) throw this.failure;
  }
}
