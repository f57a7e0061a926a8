// Group commit for the worker's bookkeeping: calls of one kind made while a statement of that kind is in flight are
// gathered and sent as one statement when it returns, so N jobs running at once cost a few round trips instead of N
// (each a statement, a commit and a wake-up of a Postgres backend: measured as most of the worker's time). A lone
// call goes out at once: no timer, nothing added to its latency when the worker is idle. Calls are gathered per
// tenant scope and each statement runs in its calls' scope: row-level security shows a statement one tenant's rows.
import { currentTenant, inScopeOf } from '../../db/tenant-scope.js';

export type BatchOptions = {
  /** Calls in one statement at most. */
  max?: number;
  /** Statements of this kind in flight at once. */
  inFlight?: number;
};

/**
 * One call, or several at once (a job's rows): calls made together go out together, up to the statement's `max`;
 * each still has its own answer, so one that fails takes only itself down.
 */
export type Batched<I, O> = ((item: I) => Promise<O>) & { many(items: I[]): Promise<O>[] };

/**
 * `run` takes the gathered calls and answers each, in order, in one statement (all or nothing). When it throws for
 * several calls, each goes again on its own, so a call that fails takes only itself down.
 */
export function createBatcher<I, O>(run: (items: I[]) => Promise<O[]>, opts: BatchOptions = {}): Batched<I, O> {
  const max = opts.max ?? 100;
  const limit = opts.inFlight ?? 1;
  type Call = { item: I; tenant: string | null; resolve: (o: O) => void; reject: (err: unknown) => void };
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

  /** The oldest waiting call and the calls of its tenant after it, up to `max`, taken out of the queue in order. */
  function nextBatch(): Call[] {
    const tenant = waiting[0]!.tenant;
    const batch: Call[] = [];
    for (let i = 0; i < waiting.length && batch.length < max; ) {
      if (waiting[i]!.tenant === tenant) batch.push(...waiting.splice(i, 1));
      else i++;
    }
    return batch;
  }

  function pump(): void {
    while (running < limit && waiting.length > 0) {
      running++;
      const batch = nextBatch();
      void inScopeOf(batch[0]!.tenant, () => flush(batch)).finally(() => {
        running--;
        pump();
      });
    }
  }

  const call = (item: I) => new Promise<O>((resolve, reject) => waiting.push({ item, tenant: currentTenant(), resolve, reject }));
  const one = (item: I): Promise<O> => {
    const answer = call(item);
    pump();
    return answer;
  };
  return Object.assign(one, {
    many(items: I[]): Promise<O>[] {
      const answers = items.map(call);
      pump();
      return answers;
    },
  });
}
