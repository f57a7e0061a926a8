// How far the API's V8 heap may grow before a full collection. V8 lets the old generation grow to 1.1–4 times the
// data that survived the last full collection (its own heuristic, and for a heap of this size it leans to the top),
// so short-lived garbage that outlives two young collections piles up long before it is reclaimed. Building export
// packages makes exactly that garbage: measured by `npm run bench:export`, four downloads at once grew the API's RSS
// by about 80 MB with V8's heuristic and by 19–27 MB at 20 % (README "Operating it" and "Benchmarks"). A full
// collection marks concurrently, and at this live size costs a few milliseconds, so the hot paths pay little for it.
import v8 from 'node:v8';

/** Sets V8's heap growing factor to 1 + percent/100 from the next collection on; 0 leaves V8's own heuristic. */
export function limitHeapGrowth(percent: number): void {
  if (!Number.isInteger(percent) || percent < 0 || percent > 400) throw new RangeError('heap growing percent must be an integer from 0 to 400');
  // Read by V8 each time it sets the next collection's limit, so setting it once the process runs takes effect.
  if (percent > 0) v8.setFlagsFromString(`--heap-growing-percent=${percent}`);
}
