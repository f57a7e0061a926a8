// Baseline 1: a bare Fastify 5 server — no auth, no zod, no rate limit, no logger — with one route doing one
// indexed select through pg (the consent_state primary key), on a pool the size of the service's.
// Env: DATABASE_URL, PORT, HOST (127.0.0.1), DATABASE_POOL_MAX (10).
import Fastify from 'fastify';
import pg from 'pg';

const pool = new pg.Pool({
  connectionString: process.env.DATABASE_URL,
  max: Number(process.env.DATABASE_POOL_MAX ?? 10),
});
const app = Fastify({ logger: false });

app.get<{ Params: { id: string } }>('/state/:id', async (request) => {
  const { rows } = await pool.query('SELECT status FROM consent_state WHERE subject_id = $1 AND purpose_key = $2', [
    request.params.id,
    'newsletter',
  ]);
  return { status: rows[0]?.status ?? null };
});

const close = async () => {
  await app.close();
  await pool.end();
  process.exit(0);
};
process.on('SIGTERM', close);
process.on('SIGINT', close);

await app.listen({ host: process.env.HOST ?? '127.0.0.1', port: Number(process.env.PORT ?? 3001) });
