// Group commit for the worker's bookkeeping: calls of one kind made while a statement of that kind is in flight are
// gathered and sent as one statement when it returns, so N jobs running at once cost a few round trips instead of N
// (each a statement, a commit and a wake-up of a Postgres backend: measured as most of the worker's time). A lone
// call goes out at once: no timer, nothing added to its latency when the worker is idle.
export type BatchOptions = {
  /** Calls in one statement at most. */
  max?: number;
  /** Statements of this kind in flight at once. */
  inFlight?: number;
};

/**
 * `run` takes the gathered calls and answers each, in order, in one statement (all or nothing). When it throws for
 * several calls, each goes again on its own, so a call that fails takes only itself down.
 */
export function createBatcher<I, O>(run: (items: I[]) => Promise<O[]>, opts: BatchOptions = {}): (item: I) => Promise<O> {
  const max = opts.max ?? 100;
  const limit = opts.inFlight ?? 1;
  type Call = { item: I; resolve: (o: O) => void; reject: (err: unknown) => void };
  const waiting: Call[] = [];
  let running = 0;

  async function flush(calls: Call[]): Promise<void> {
    try {
      const out = await run(calls.map((c) => c.item));
      calls.forEach((c, i) => c.resolve(out[i] as O));
    } catch (err) {
      if (calls.length === 1) return calls[0]!.reject(err);
      await Promise.all(calls.map((c) => run([c.item]).then((o) => c.resolve(o[0] as O), c.reject)));
    }
  }

  function pump(): void {
    while (running < limit && waiting.length > 0) {
      running++;
      void flush(waiting.splice(0, max)).finally(() => {
        running--;
        pump();
      });
    }
  }

  return (item) =>
    new Promise<O>((resolve, reject) => {
      waiting.push({ item, resolve, reject });
      pump();
    });
}
