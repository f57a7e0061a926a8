// HEAP_GROWING_PERCENT: the API's V8 heap growing factor (src/lib/heap.ts). Its effect on memory is measured by
// `npm run bench:export`; here, the setting's range as the operator meets it.
import t from 'tap';
import { ConfigError, loadConfig } from '../../src/config.js';
import { limitHeapGrowth } from '../../src/lib/heap.js';

t.test('20 by default; 0 to 400 accepted; anything else stops the service from starting', async (t) => {
  t.equal(loadConfig({}).heapGrowingPercent, 20);
  t.equal(loadConfig({ HEAP_GROWING_PERCENT: '0' }).heapGrowingPercent, 0);
  t.equal(loadConfig({ HEAP_GROWING_PERCENT: '400' }).heapGrowingPercent, 400);
  for (const bad of ['-1', '401', '12.5', 'fast']) {
    let refused: unknown;
    try {
      loadConfig({ HEAP_GROWING_PERCENT: bad });
    } catch (err) {
      refused = err;
    }
    t.ok(refused instanceof ConfigError && /HEAP_GROWING_PERCENT/.test(refused.message), `HEAP_GROWING_PERCENT=${bad} is refused, by name`);
  }
});

t.test('the V8 setting is only ever given a whole percentage in range', async (t) => {
  for (const bad of [-1, 401, 1.5, Number.NaN]) t.throws(() => limitHeapGrowth(bad), RangeError);
  t.doesNotThrow(() => limitHeapGrowth(0));
});
