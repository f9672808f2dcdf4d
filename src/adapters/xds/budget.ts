// Bounding what the server holds while proxies read: every response is handed to grpc-js only within a budget of
// bytes written and not yet flushed, across all streams; beyond it, responses wait their turn (first come, first
// served), and each stream hands over one response at a time, in order. Without it, 2,000 sidecars connecting at
// once had each their full CDS and EDS (~270 KB each with 1,000 services) framed and queued at the same moment:
// half a gigabyte of buffers the allocator then kept.

/** A budget of bytes in flight, shared by all streams. */
export class SendBudget {
  private inFlight = 0;
  private readonly waiting: { size: number; go: () => void }[] = [];

  constructor(readonly limit: number) {}

  /** Bytes handed over and not yet released. */
  get used(): number {
    return this.inFlight;
  }

  /** Runs `go` once `size` bytes fit (at once if nothing is in flight: one response larger than the limit still goes). */
  acquire(size: number, go: () => void): void {
    if (this.waiting.length === 0 && this.fits(size)) {
      this.inFlight += size;
      go();
    } else {
      this.waiting.push({ size, go });
    }
  }

  release(size: number): void {
    this.inFlight -= size;
    while (this.waiting.length > 0 && this.fits(this.waiting[0]!.size)) {
      const next = this.waiting.shift()!;
      this.inFlight += next.size;
      next.go();
    }
  }

  private fits(size: number): boolean {
    return this.inFlight === 0 || this.inFlight + size <= this.limit;
  }
}

/** One stream's responses, handed to `write` one at a time within the budget; `write` calls `done` once flushed. */
export class StreamSender<T> {
  private queue: { message: T; size: number }[] = [];
  private busy = false;
  private closed = false;
  private held = 0;

  constructor(private readonly budget: SendBudget, private readonly write: (message: T, done: () => void) => void) {}

  send(message: T, size: number): void {
    if (this.closed) return;
    this.queue.push({ message, size });
    this.pump();
  }

  /** The stream is gone: what it held goes back to the budget, what it queued is dropped. */
  close(): void {
    this.closed = true;
    this.queue = [];
    this.releaseHeld();
  }

  private pump(): void {
    if (this.busy || this.closed || this.queue.length === 0) return;
    this.busy = true;
    const { message, size } = this.queue.shift()!;
    this.budget.acquire(size, () => {
      if (this.closed) return this.budget.release(size);
      this.held = size;
      this.write(message, () => {
        this.releaseHeld();
        this.busy = false;
        this.pump();
      });
    });
  }

  private releaseHeld(): void {
    if (this.held === 0) return;
    this.budget.release(this.held);
    this.held = 0;
  }
}
