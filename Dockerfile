# Rightful API image: build with the dev toolchain, ship only the compiled output, migrations/ and production
# dependencies. NODE_ENV=production is baked in, so every command in this image refuses the public development
# secrets: give it a real JWT_SECRET and MASTER_KEY (e.g. in an env file shared by the migrate and API runs).
#
#   docker build -t rightful .
#   # the migration, one-shot before each rollout (creates the database when missing, then applies migrations/):
#   docker run --rm --env-file rightful.env rightful node dist/src/cli/migrate.js
#   # the API (listens on HOST:PORT, 0.0.0.0:3000 by default):
#   docker run -d -p 3000:3000 --env-file rightful.env rightful
#   # operator CLI from the same image:
#   docker run --rm --env-file rightful.env rightful node dist/src/cli/index.js tenant create --name Acme
#   docker run --rm --env-file rightful.env rightful node dist/src/cli/index.js token --tenant ID --scope all --ttl 1h
# where rightful.env holds at least DATABASE_URL, REDIS_URL, JWT_SECRET and MASTER_KEY (see .env.example).

# --- deps: every dependency, dev included, for the TypeScript build ------------------------------------------
FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund

# --- build: tsc → dist/src/... -------------------------------------------------------------------------------
FROM deps AS build
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# --- prod-deps: production dependencies only -----------------------------------------------------------------
FROM node:20-bookworm-slim AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# --- runtime -------------------------------------------------------------------------------------------------
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000
WORKDIR /app
# Files stay owned by root: the node user can read the code but not change it.
COPY package.json ./
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# dist/src/db/migrate.js finds migrations/ by walking up from its own file, so /app/migrations is found.
COPY migrations ./migrations
USER node
EXPOSE 3000
# Liveness with node itself: the slim image has no curl or wget.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1)).catch(()=>process.exit(1))"]
# Exec form (docker-entrypoint.sh execs it): node itself gets SIGTERM, and close-with-grace drains requests.
CMD ["node", "dist/src/server.js"]
