// Prometheus metrics shared by the API and the worker: one registry per process with Node's default metrics
// (event-loop lag, heap, GC, CPU), the state of the outbox, the queue, webhook deliveries and rights requests read
// at scrape time, and, on the API, HTTP requests by route pattern. Labels never carry an id, a tenant or personal
// data: only route patterns, methods, status codes, request types and fixed state names.
import { createHash, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type pg from 'pg';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { problem } from './problem.js';

/** Database and queue figures are read at most this often, however many scrapers ask: a scrape storm cannot load Postgres. */
export const METRICS_CACHE_MS = 5_000;

/** A source slower than this is reported down for that read, so a scrape never hangs on a dependency. */
const SOURCE_TIMEOUT_MS = 3_000;

const QUEUE_STATES = ['waiting', 'active', 'delayed'] as const;
const DELIVERY_OUTCOMES = ['pending', 'succeeded', 'failed'] as const;

function within<T>(ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

export type QueueCounts = () => Promise<Partial<Record<(typeof QUEUE_STATES)[number], number>>>;

/** The rights requests' vocabulary the gauges are labelled by, handed in by the composition root (app.ts, the
 * worker runtime): the request types, and the statuses that count as open. */
export type RequestVocabulary = { types: readonly string[]; openStatuses: readonly string[] };

export type MetricsOptions = {
  /** The Postgres pool the gauges read from (read-only aggregate queries). */
  pool: pg.Pool;
  requests: RequestVocabulary;
  /** Job counts by queue name; absent when the deployment runs without Redis. */
  queues?: Record<string, QueueCounts>;
  /** Decides what is due and overdue (the clock the relay and the services use). */
  clock?: () => Date;
  cacheMs?: number;
  /** The API's HTTP series (requests by route pattern and status, and their duration); the worker has none. */
  http?: boolean;
  /** Told when a source cannot be read (its gauges are then absent from that scrape). */
  onSourceError?: (source: 'postgres' | 'redis', err: Error) => void;
};

export type Metrics = {
  registry: Registry;
  /** Counts one answered HTTP request under its route pattern (never the raw URL). */
  observeRequest(method: string, route: string, status: number, seconds: number): void;
  /** The exposition, in Prometheus text format. */
  render(): Promise<{ contentType: string; body: string }>;
};

type Snapshot = {
  postgres: {
    outboxDue: number;
    outboxOldestDueAgeSeconds: number;
    requests: { type: string; open: number; overdue: number }[];
    deliveries: { status: string; n: number }[];
  } | null;
  queues: { queue: string; state: string; n: number }[] | null;
};

type SnapshotRow = {
  outbox_due: number;
  outbox_oldest_due_age: number;
  requests: { type: string; open: number; overdue: number }[];
  deliveries: { status: string; n: number }[];
};

// One statement, cross-tenant aggregates only (operators' totals; nothing of a tenant leaves), read through the one
// function that answers counts across tenants: row-level security shows the application's role one tenant's rows at
// a time (migrations/0013_row_level_security.sql). Due outbox rows come from the partial index on pending rows;
// rights requests and deliveries are counted by state.
const SNAPSHOT_SQL = 'SELECT outbox_due, outbox_oldest_due_age, requests, deliveries FROM rightful_metrics_snapshot($1::timestamptz, $2::text[])';

export function createMetrics(opts: MetricsOptions): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const clock = opts.clock ?? (() => new Date());
  const cacheMs = opts.cacheMs ?? METRICS_CACHE_MS;

  let cached: { at: number; snapshot: Promise<Snapshot> } | null = null;
  /** One read shared by every gauge of a scrape and every scrape within the cache time. */
  function snapshot(): Promise<Snapshot> {
    const now = Date.now();
    if (cached && now - cached.at < cacheMs) return cached.snapshot;
    cached = { at: now, snapshot: read() };
    return cached.snapshot;
  }

  async function read(): Promise<Snapshot> {
    const down = (source: 'postgres' | 'redis') => (err: Error) => {
      opts.onSourceError?.(source, err);
      return null;
    };
    const postgres = within(SOURCE_TIMEOUT_MS, opts.pool.query<SnapshotRow>(SNAPSHOT_SQL, [clock().toISOString(), [...opts.requests.openStatuses]])).then(
      ({ rows: [row] }) =>
        row
          ? { outboxDue: row.outbox_due, outboxOldestDueAgeSeconds: Math.max(0, row.outbox_oldest_due_age), requests: row.requests, deliveries: row.deliveries }
          : null,
      down('postgres'),
    );
    const queues = opts.queues
      ? Promise.all(
          Object.entries(opts.queues).map(async ([queue, counts]) => {
            const c = await within(SOURCE_TIMEOUT_MS, counts());
            return QUEUE_STATES.map((state) => ({ queue, state, n: c[state] ?? 0 }));
          }),
        ).then((all) => all.flat(), down('redis'))
      : null;
    return { postgres: await postgres, queues: await queues };
  }

  new Gauge({
    name: 'rightful_metrics_source_up',
    help: 'Whether the last read of a source for these metrics succeeded (1) or failed (0); its gauges are absent while it fails',
    labelNames: ['source'],
    registers: [registry],
    async collect() {
      const s = await snapshot();
      this.set({ source: 'postgres' }, s.postgres ? 1 : 0);
      if (opts.queues) this.set({ source: 'redis' }, s.queues ? 1 : 0);
    },
  });

  /** A gauge filled from the snapshot; reset first, so a failed read leaves it absent rather than stale. */
  const gauge = <L extends string>(name: string, help: string, labelNames: L[], fill: (g: Gauge<L>, s: Snapshot) => void) =>
    new Gauge<L>({
      name,
      help,
      labelNames,
      registers: [registry],
      async collect() {
        const s = await snapshot();
        this.reset();
        fill(this, s);
      },
    });

  gauge('rightful_outbox_due_rows', 'Outbox rows due (pending, their time passed) and not yet handed to the queue', [], (g, s) => {
    if (s.postgres) g.set(s.postgres.outboxDue);
  });
  gauge('rightful_outbox_oldest_due_age_seconds', 'Seconds since the oldest due outbox row fell due; 0 when none is due', [], (g, s) => {
    if (s.postgres) g.set(s.postgres.outboxOldestDueAgeSeconds);
  });
  gauge('rightful_queue_jobs', 'Jobs in a BullMQ queue by state (waiting, active, delayed)', ['queue', 'state'], (g, s) => {
    for (const q of s.queues ?? []) g.set({ queue: q.queue, state: q.state }, q.n);
  });
  gauge('rightful_webhook_deliveries', 'Webhook deliveries by outcome: pending (being retried), succeeded, failed (retries exhausted or endpoint disabled)', ['outcome'], (g, s) => {
    if (!s.postgres) return;
    for (const outcome of DELIVERY_OUTCOMES) g.set({ outcome }, s.postgres.deliveries.find((d) => d.status === outcome)?.n ?? 0);
  });
  gauge('rightful_rights_requests_open', 'Open rights requests (received, awaiting approval or identity, in progress), by type, all tenants', ['type'], (g, s) => {
    if (!s.postgres) return;
    for (const type of opts.requests.types) g.set({ type }, s.postgres.requests.find((r) => r.type === type)?.open ?? 0);
  });
  gauge('rightful_rights_requests_overdue', 'Open rights requests past their Art. 12(3) due time, by type, all tenants', ['type'], (g, s) => {
    if (!s.postgres) return;
    for (const type of opts.requests.types) g.set({ type }, s.postgres.requests.find((r) => r.type === type)?.overdue ?? 0);
  });

  const requests = opts.http
    ? new Counter({
        name: 'rightful_http_requests_total',
        help: 'HTTP requests answered, by method, route pattern and status',
        labelNames: ['method', 'route', 'status'],
        registers: [registry],
      })
    : null;
  const duration = opts.http
    ? new Histogram({
        name: 'rightful_http_request_duration_seconds',
        help: 'Time to answer an HTTP request, by method, route pattern and status',
        labelNames: ['method', 'route', 'status'],
        buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
        registers: [registry],
      })
    : null;

  return {
    registry,
    observeRequest(method, route, status, seconds) {
      const labels = { method, route, status: String(status) };
      requests?.inc(labels);
      duration?.observe(labels, seconds);
    },
    async render() {
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Checks an Authorization header against `Bearer <token>` in constant time (both sides hashed to one length). */
export function bearerMatches(header: string | undefined, token: string): boolean {
  return timingSafeEqual(digest(header ?? ''), digest(`Bearer ${token}`));
}

/** Who may read /metrics where: with METRICS_TOKEN, every /metrics asks for it; METRICS_PORT opens a listener of its own. */
export type MetricsAccess = { token: string | null; port: number | null };

/** The answers of a plain HTTP /metrics (the worker's health server, the API's separate metrics port). */
export async function answerMetrics(metrics: Metrics, token: string | null, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  if (token !== null && !bearerMatches(req.headers.authorization, token)) {
    res.writeHead(401, { 'content-type': 'application/problem+json' });
    res.end(JSON.stringify(problem(401, 'UNAUTHORIZED', 'Unauthorized', METRICS_TOKEN_WANTED)));
    return;
  }
  const { contentType, body } = await metrics.render();
  res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' });
  res.end(body);
}

/** The detail of the 401 that any /metrics answers without the token. */
export const METRICS_TOKEN_WANTED = 'Send the metrics token as "Authorization: Bearer <METRICS_TOKEN>"';

/** A listener that serves only GET /metrics (HEAD too); anything else is a 404. */
export async function startMetricsServer(
  metrics: Metrics,
  access: { token: string | null; port: number; host: string },
  onError: (err: Error) => void,
): Promise<{ port: number | null; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'application/problem+json' });
      res.end(JSON.stringify(problem(404, 'ROUTE_NOT_FOUND', 'Not found', 'Only GET /metrics is served here')));
      return;
    }
    answerMetrics(metrics, access.token, req, res).catch((err: Error) => {
      onError(err);
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/problem+json' });
      res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(access.port, access.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : null,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

export type MetricsHandler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

/** The worker's GET /metrics, served on its health server: null when metrics are off (neither METRICS_TOKEN nor
 * METRICS_PORT is set). The worker's health port is its own listener, so the token is asked only when it is set. */
export function workerMetrics(
  access: MetricsAccess,
  deps: Omit<MetricsOptions, 'onSourceError'> & { log: { warn(obj: object, msg: string): void; error(obj: object, msg: string): void } },
): MetricsHandler | null {
  if (access.token === null && access.port === null) return null;
  const metrics = createMetrics({ ...deps, onSourceError: (source, err) => deps.log.warn({ source, err: { message: err.message } }, 'metrics source unavailable') });
  return (req, res) => {
    answerMetrics(metrics, access.token, req, res).catch((err: Error) => {
      deps.log.error({ err: { message: err.message } }, 'metrics not rendered');
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/problem+json' });
      res.end();
    });
  };
}
