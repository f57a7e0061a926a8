// Swagger UI's "Try it out" calls the instance that served the page: the live document lists the request's origin
// first (X-Forwarded-Host and X-Forwarded-Proto only with TRUST_PROXY), while the committed openapi.yaml keeps the
// documented servers.
import { readFileSync } from 'node:fs';
import t from 'tap';
import { parse } from 'yaml';
import { build } from '../helper.js';

type Doc = { servers: { url: string; description?: string }[] };
const committed = parse(readFileSync(new URL('../../openapi.yaml', import.meta.url), 'utf8')) as Doc;

t.test('the live document offers the origin it was served from, then the documented servers', async (t) => {
  const ta = await build(t);
  const documented = committed.servers.map((s) => s.url);
  t.ok(documented.length > 0, 'openapi.yaml documents its servers');
  t.notOk(documented.includes('http://example.test:4321'), 'the committed file names no request origin');

  for (const url of ['/docs/json', '/openapi.json']) {
    const res = await ta.app.inject({ method: 'GET', url, headers: { host: 'example.test:4321' } });
    t.equal(res.statusCode, 200, url);
    const doc = res.json() as Doc;
    t.equal(doc.servers[0]!.url, 'http://example.test:4321', `${url}: the request's origin comes first`);
    t.same(doc.servers.slice(1).map((s) => s.url), documented, `${url}: the documented servers follow, unchanged`);
    t.match(res.headers.vary, /\bHost\b/, `${url}: caches are told the answer depends on Host`);
  }

  // The origin is per request: another host gets its own, and the generated document is not changed by either.
  const other = (await ta.app.inject({ method: 'GET', url: '/docs/json', headers: { host: '127.0.0.1:8080' } })).json() as Doc;
  t.equal(other.servers[0]!.url, 'http://127.0.0.1:8080');
  t.equal(other.servers.filter((s) => s.url === 'http://example.test:4321').length, 0, 'no origin is remembered from an earlier request');
  t.same((ta.app.swagger() as unknown as Doc).servers.map((s) => s.url), documented, 'app.swagger() (what npm run openapi writes) is untouched');

  // The origin already documented is not listed twice.
  const same = (await ta.app.inject({ method: 'GET', url: '/docs/json', headers: { host: 'localhost:3000' } })).json() as Doc;
  t.equal(same.servers[0]!.url, 'http://localhost:3000');
  t.equal(same.servers.filter((s) => s.url === 'http://localhost:3000').length, 1);

  // Swagger UI's page loads exactly this document.
  const init = await ta.app.inject({ method: 'GET', url: '/docs/static/swagger-initializer.js', headers: { host: 'example.test:4321' } });
  t.equal(init.statusCode, 200);
  t.ok(init.body.includes("url: resolveUrl('./json')"), 'the initializer loads ./json, the document with the origin first');
});

t.test('forwarded host and scheme count only with TRUST_PROXY', async (t) => {
  const forwarded = { host: 'internal:3000', 'x-forwarded-host': 'api.example.test', 'x-forwarded-proto': 'https' };

  const direct = await build(t);
  const ignored = (await direct.app.inject({ method: 'GET', url: '/docs/json', headers: forwarded })).json() as Doc;
  t.equal(ignored.servers[0]!.url, 'http://internal:3000', 'without TRUST_PROXY a client cannot choose the origin offered');

  const proxied = await build(t, { env: { TRUST_PROXY: 'true' } });
  const used = (await proxied.app.inject({ method: 'GET', url: '/docs/json', headers: forwarded })).json() as Doc;
  t.equal(used.servers[0]!.url, 'https://api.example.test', "behind a proxy, the proxy's public origin");
  const vary = (await proxied.app.inject({ method: 'GET', url: '/openapi.json', headers: forwarded })).headers.vary;
  t.match(vary, /X-Forwarded-Host/, 'and caches are told it depends on the forwarded headers');
});

t.test('a Host that is not a plain host name or address is not echoed', async (t) => {
  const ta = await build(t);
  for (const host of ['evil.test/"><script>', 'a b', 'user@host.test', `${'a'.repeat(300)}.test`]) {
    const res = await ta.app.inject({ method: 'GET', url: '/docs/json', headers: { host } });
    t.equal(res.statusCode, 200, JSON.stringify(host.slice(0, 20)));
    const doc = res.json() as Doc;
    t.same(doc.servers.map((s) => s.url), committed.servers.map((s) => s.url), 'only the documented servers');
  }
});
