// The README's tables that are generated from the code must match it.
import { readFileSync } from 'node:fs';
import t from 'tap';
import { transitionsMarkdown } from '../../src/modules/rights-requests/rights-requests.transitions.js';

t.test('the README transitions table is the one the state machine generates', async (t) => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  t.ok(readme.includes(transitionsMarkdown().trim()), 'README.md holds transitionsMarkdown() verbatim; paste its output into "Rights requests"');
});
