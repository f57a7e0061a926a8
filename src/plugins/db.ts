// Postgres: the pool (with timeouts and an error listener) and Drizzle, closed when the app closes.
import fp from 'fastify-plugin';
import type pg from 'pg';
import { createDb, createPool, type Db } from '../db/client.js';

declare module 'fastify' {
  interface FastifyInstance {
    db: Db;
    pool: pg.Pool;
  }
}

export default fp(
  async (app) => {
    const pool = createPool(app.config.database, app.log);
    app.decorate('pool', pool);
    app.decorate('db', createDb(pool));
    app.addHook('onClose', async () => {
      await pool.end();
    });
  },
  { name: 'db', dependencies: ['config'] },
);
