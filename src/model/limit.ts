// Bounded parallelism: one helper for every place that works on many targets (services, clusters) at once.

/** Calls `fn` on every item, at most `limit` at a time; rejects with the first error (the others still run). */
export async function forEachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), items.length) }, worker));
}
