/**
 * Commands of one deployment group run one at a time, in arrival order; different groups run in
 * parallel. A tiny promise chain per group; the map entry goes away when the group is idle.
 */
export class GroupQueue {
  private readonly tails = new Map<string, Promise<void>>();

  run(group: string, task: () => Promise<void>): Promise<void> {
    const previous = this.tails.get(group) ?? Promise.resolve();
    const next = previous.then(task, task);
    const tail = next.catch(() => undefined);
    this.tails.set(group, tail);
    void tail.then(() => {
      if (this.tails.get(group) === tail) this.tails.delete(group);
    });
    return next;
  }
}
