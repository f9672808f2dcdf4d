// A counting semaphore for the channels of one SSH connection. sshd refuses channels beyond its
// MaxSessions (default 10) with "open failed"; queueing here turns that into waiting.

/** At most `max` holders at once; the rest wait in order. */
export class Slots {
  private free: number;
  private readonly queue: Array<() => void> = [];

  constructor(readonly max: number) {
    this.free = max;
  }

  /** Calls `grant` once a slot is free (maybe synchronously). Returns a cancel function that drops a
   * request still waiting; a granted slot is given back with release(), not cancel. */
  acquire(grant: () => void): () => void {
    if (this.free > 0) {
      this.free--;
      grant();
      return () => {};
    }
    this.queue.push(grant);
    return () => {
      const i = this.queue.indexOf(grant);
      if (i >= 0) this.queue.splice(i, 1);
    };
  }

  /** Gives a slot back: to the next waiter, or to the pool. */
  release(): void {
    const next = this.queue.shift();
    if (next) next();
    else this.free = Math.min(this.max, this.free + 1);
  }
}
