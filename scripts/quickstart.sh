#!/usr/bin/env bash
# `npm run quickstart`: local Postgres/Redis up, migrate, a demo tenant (made once), a 12-hour token with every
# scope, then the built API in the foreground with a token and curl examples printed first. Safe to re-run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

DEMO_TENANT_NAME="Demo controller"
PORT="${PORT:-3000}"
WORKER_HEALTH_PORT="${WORKER_HEALTH_PORT:-$((PORT + 1))}"

# shellcheck source=./services.sh
source scripts/services.sh
ensure_services

if [ ! -d node_modules ]; then
  echo "quickstart: installing dependencies (npm ci)"
  npm ci --no-audit --no-fund
fi

echo "quickstart: migrating"
npm run -s migrate

# The demo tenant is looked up by name, so re-running never piles up tenants.
find_demo_tenant() {
  node --input-type=module -e '
    import pg from "pg";
    const client = new pg.Client({ connectionString: process.env.DATABASE_URL || "postgres://postgres@127.0.0.1:5432/rightful" });
    await client.connect();
    const { rows } = await client.query("SELECT id FROM tenants WHERE name = $1 ORDER BY created_at LIMIT 1", [process.argv[1]]);
    await client.end();
    if (rows[0]) console.log(rows[0].id);
  ' "$DEMO_TENANT_NAME"
}

TENANT_ID="$(find_demo_tenant)"
if [ -z "$TENANT_ID" ]; then
  echo "quickstart: creating tenant \"$DEMO_TENANT_NAME\""
  TENANT_ID="$(npm run -s cli -- tenant create --name "$DEMO_TENANT_NAME" --timezone Europe/Sofia --policy eu --holidays BG \
    | node -e 'let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => console.log(JSON.parse(s).id))')"
else
  echo "quickstart: using existing tenant \"$DEMO_TENANT_NAME\" ($TENANT_ID)"
fi

TOKEN="$(npm run -s cli -- token --tenant "$TENANT_ID" --scope all --ttl 12h --sub quickstart)"

if node -e 'const s = require("net").connect(+process.argv[1], "127.0.0.1"); s.on("connect", () => process.exit(0)).on("error", () => process.exit(1))' "$PORT"; then
  echo "quickstart: port $PORT is taken by another program; stop it or run: PORT=3001 npm run quickstart" >&2
  exit 1
fi

echo "quickstart: building"
npm run -s build

URL="http://localhost:$PORT"
cat <<INFO

================================================================================
Rightful API on $URL   (Swagger UI: $URL/docs, readiness: $URL/readyz)
Tenant "$DEMO_TENANT_NAME": $TENANT_ID
A token with every scope, valid for 12 hours - paste these into another terminal:

export TOKEN='$TOKEN'

# Register a consent-based purpose (201; 409 when "newsletter" exists already)
curl -s -w '\n' -X POST $URL/v1/purposes \\
  -H "Authorization: Bearer \$TOKEN" -H 'Content-Type: application/json' \\
  -d '{"key":"newsletter","legal_basis":"consent","direct_marketing":true,"data_categories":["email"],"retention":"Until consent is withdrawn","translations":{"en":{"title":"Newsletter","description":"Monthly news and offers by email."}}}'

# Record a subject (201 when new, 200 with the same subject when the email is known already)
curl -s -w '\n' -X POST $URL/v1/subjects \\
  -H "Authorization: Bearer \$TOKEN" -H 'Content-Type: application/json' \\
  -d '{"external_ref":"crm-1001","identifiers":[{"type":"email","value":"Ada@Example.com"}]}'

# Then grant consent and check who may be contacted (re-posting the subject answers 200 with its id)
SUBJECT_ID=\$(curl -s -X POST $URL/v1/subjects \\
  -H "Authorization: Bearer \$TOKEN" -H 'Content-Type: application/json' \\
  -d '{"external_ref":"crm-1001","identifiers":[{"type":"email","value":"Ada@Example.com"}]}' \\
  | node -p 'JSON.parse(require("fs").readFileSync(0, "utf8")).id')
curl -s -w '\n' -X POST $URL/v1/subjects/\$SUBJECT_ID/consents \\
  -H "Authorization: Bearer \$TOKEN" -H 'Content-Type: application/json' \\
  -d '{"decisions":[{"purpose":"newsletter","action":"grant","source":"web_form","evidence":{"form_id":"signup-page"}}]}'
curl -s -w '\n' -X POST $URL/v1/consents/check \\
  -H "Authorization: Bearer \$TOKEN" -H 'Content-Type: application/json' \\
  -d '{"purpose":"newsletter","identifiers":[{"type":"email","value":"ada@example.com"}]}'

# Webhooks: the event worker runs beside the API (health on http://localhost:$WORKER_HEALTH_PORT/healthz);
# register a receiver with POST $URL/v1/webhook-endpoints (https; see README "Events and webhooks").

Another token:  npm run -s cli -- token --tenant $TENANT_ID --scope all --ttl 12h
Stop the API and the worker with Ctrl-C; run \`npm run quickstart\` again to restart them (the tenant is kept).
================================================================================

INFO

export PORT
# The event worker in the background, stopped with the API.
WORKER_HEALTH_PORT="$WORKER_HEALTH_PORT" node dist/src/worker.js &
WORKER_PID=$!
trap 'kill -TERM "$WORKER_PID" 2>/dev/null; wait "$WORKER_PID" 2>/dev/null' EXIT
trap 'exit 130' INT TERM
node dist/src/server.js
