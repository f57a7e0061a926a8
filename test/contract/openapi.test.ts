import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import t from 'tap';
import { parse } from 'yaml';

const run = promisify(execFile);
const root = new URL('../../', import.meta.url).pathname;

type Operation = {
  operationId?: string;
  summary?: string;
  description?: string;
  tags?: string[];
  responses?: Record<string, { content?: Record<string, unknown> }>;
  security?: unknown[];
};

t.test('the committed openapi.yaml matches the route schemas', async (t) => {
  const { stdout } = await run(process.execPath, ['--import=tsx', 'src/cli/openapi.ts', '--check'], { cwd: root });
  t.match(stdout, /up to date/);
});

t.test('openapi.yaml passes redocly lint with no errors', async (t) => {
  const result = await run(process.execPath, [`${root}node_modules/@redocly/cli/bin/cli.js`, 'lint', 'openapi.yaml'], { cwd: root }).then(
    (r) => ({ code: 0, out: r.stdout + r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr }),
  );
  t.equal(result.code, 0, result.out.slice(-2000));
  t.match(result.out, /valid/);
});

t.test('every operation is documented for a client generator', async (t) => {
  const doc = parse(readFileSync(`${root}openapi.yaml`, 'utf8')) as { paths: Record<string, Record<string, Operation>> };
  const ids = new Set<string>();
  let count = 0;
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      count++;
      const name = `${method.toUpperCase()} ${path}`;
      t.ok(op.operationId, `${name} has an operationId`);
      t.notOk(ids.has(op.operationId!), `${name} has a unique operationId`);
      ids.add(op.operationId!);
      t.ok(op.summary && op.summary.length > 5, `${name} has a summary`);
      t.ok(op.description && op.description.length > 30, `${name} has a description`);
      t.ok(op.tags?.length, `${name} has a tag`);
      if (path.startsWith('/v1/')) {
        for (const status of ['400', '401', '403', '429', '503']) t.ok(op.responses?.[status], `${name} documents ${status}`);
        t.ok(op.responses?.['401']?.content?.['application/problem+json'], `${name} documents errors as problem+json`);
        t.ok(Object.keys(op.responses ?? {}).some((s) => s.startsWith('2')), `${name} documents its success`);
      }
    }
  }
  t.ok(count >= 17, `all operations are present (${count})`);
});
