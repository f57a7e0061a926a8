# Sourced by .ci/run: make sure the Postgres and Redis the tests run against answer (TEST_DATABASE_ADMIN_URL and
# TEST_REDIS_URL, else DATABASE_URL / REDIS_URL, else 127.0.0.1:5432 and :6379), starting them when they are down.
# Never stops or flushes a running server. Only local servers (127.0.0.1, localhost, ::1) are started; a remote one
# is only waited for. The service itself needs neither: without DATABASE_URL and REDIS_URL it runs the embedded
# Postgres and its worker in-process (README "Quick start").
# shellcheck shell=bash

# host and port of a URL (postgres://u@h:5432/db, redis://h:6379), with the given default port.
_svc_host_port() {
  node -e 'const u = new URL(process.argv[1]); console.log((u.hostname.replace(/^\[|\]$/g, "") || "127.0.0.1") + " " + (u.port || process.argv[2]))' "$1" "$2"
}

_svc_is_local() {
  case "$1" in 127.*|localhost|::1) return 0 ;; *) return 1 ;; esac
}

_svc_pg_up() { pg_isready -q -h "$PG_HOST" -p "$PG_PORT" -t 2 >/dev/null 2>&1; }
_svc_redis_up() { [ "$(redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null)" = "PONG" ]; }

_svc_start_postgres() {
  if ! command -v pg_ctlcluster >/dev/null || [ ! -d /etc/postgresql ]; then
    echo "services: Postgres does not answer on $PG_HOST:$PG_PORT and no local cluster is installed to start (the tests need one)" >&2
    return 1
  fi
  local version
  version="$(ls /etc/postgresql | sort -V | tail -n 1)"
  echo "services: starting Postgres $version"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
}

_svc_start_redis() {
  if ! command -v redis-server >/dev/null; then
    echo "services: Redis does not answer on $REDIS_HOST:$REDIS_PORT and redis-server is not installed" >&2
    return 1
  fi
  echo "services: starting Redis on port $REDIS_PORT"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
}

# Wait up to $2 seconds for the check $1 to succeed.
_svc_wait() {
  local check="$1" limit="$2" waited=0
  until "$check"; do
    if [ "$waited" -ge "$limit" ]; then return 1; fi
    sleep 1
    waited=$((waited + 1))
  done
}

ensure_services() {
  local pg redis
  pg="$(_svc_host_port "${TEST_DATABASE_ADMIN_URL:-${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}}" 5432)"
  redis="$(_svc_host_port "${TEST_REDIS_URL:-${REDIS_URL:-redis://127.0.0.1:6379}}" 6379)"
  PG_HOST="${pg% *}" PG_PORT="${pg#* }" REDIS_HOST="${redis% *}" REDIS_PORT="${redis#* }"

  if ! _svc_pg_up && _svc_is_local "$PG_HOST"; then _svc_start_postgres; fi
  if ! _svc_redis_up && _svc_is_local "$REDIS_HOST"; then _svc_start_redis; fi

  if ! _svc_wait _svc_pg_up 60; then
    echo "services: Postgres at $PG_HOST:$PG_PORT did not answer within 60 s" >&2
    return 1
  fi
  if ! _svc_wait _svc_redis_up 30; then
    echo "services: Redis at $REDIS_HOST:$REDIS_PORT did not answer within 30 s" >&2
    return 1
  fi
  echo "services: Postgres at $PG_HOST:$PG_PORT and Redis at $REDIS_HOST:$REDIS_PORT answer"
}

# The preference page's browser tests drive Debian's Chromium (CHROMIUM_PATH, default /usr/bin/chromium) with
# playwright-core; install it from Debian's packages when it is missing.
ensure_chromium() {
  local path="${CHROMIUM_PATH:-/usr/bin/chromium}"
  if [ -x "$path" ]; then return 0; fi
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    echo "services: installing Debian's chromium for the browser tests"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium >/dev/null \
      || { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium >/dev/null; }
  fi
  [ -x "$path" ] || { echo "services: no Chromium at $path (apt-get install chromium, or set CHROMIUM_PATH)" >&2; return 1; }
}
