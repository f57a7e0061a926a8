// The gate that bounds heavy work (export packages built at once): at most `max` run, the rest wait in order, and
// beyond the queue a caller is refused at once.
import t from 'tap';
import { createGate } from '../../src/lib/gate.js';

t.test('at most max at once; waiters enter in order as places are released; a full queue refuses', async (t) => {
  const gate = createGate(2, 2);
  const a = await gate.enter();
  const b = await gate.enter();
  t.ok(a && b);
  t.equal(gate.running, 2);
  const order: string[] = [];
  const c = gate.enter().then((r) => (order.push('c'), r));
  const d = gate.enter().then((r) => (order.push('d'), r));
  t.equal(gate.waiting, 2);
  t.equal(await gate.enter(), null, 'a third waiter is refused: the queue holds two');
  a!();
  a!(); // released twice: one place only
  const rc = await c;
  t.same(order, ['c'], 'the first waiter enters on the first release, the second still waits');
  t.equal(gate.running, 2);
  b!();
  const rd = await d;
  t.same(order, ['c', 'd']);
  rc!();
  rd!();
  t.equal(gate.running, 0);
  t.equal(gate.waiting, 0);
  t.ok(await gate.enter(), 'free again');
});
