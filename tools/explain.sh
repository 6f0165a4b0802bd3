#!/usr/bin/env bash
# Shows how PostgreSQL plans the opportunities list queries the server runs.
#
#   tools/explain.sh [POSTGRES_URL]
#
# POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres) must be
# allowed to create databases. The script creates a scratch database, runs
# the server's migrations, seeds it (`crm-server seed --scale $SCALE`, or
# plain SQL when the seed subcommand fails), runs ANALYZE, prints the plans
# of the default opportunities page and of a filtered one, then drops the
# database (also on failure or Ctrl-C).
#
# Environment:
#   SCALE            opportunities to generate (default 20000, over 10 tenants)
#   CRM_SERVER_BIN   a prebuilt crm-server binary to use instead of cargo
#   SQL_SEED=1       skip the seed subcommand and insert rows with SQL
#
# The queries are the exact statements the server sends (captured with
# log_statement = 'all'; built by `page()` in
# src/modules/opportunity/query.rs), run as prepared statements like sqlx
# does: each is shown with its custom plan (EXPLAIN ANALYZE) and with the
# generic plan a long-lived connection may switch to.
set -euo pipefail

BASE_URL=${1:-postgres://postgres@127.0.0.1:5432/postgres}
SCALE=${SCALE:-20000}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DB="crm_explain_$(date +%s)_$$"
WORK=$(mktemp -d)

# the same URL, naming the scratch database (query string kept)
db_url() {
    local head=${BASE_URL%%\?*} query=""
    [[ $BASE_URL == *\?* ]] && query="?${BASE_URL#*\?}"
    local scheme=${head%%://*} rest=${head#*://}
    [[ $rest == */* ]] && rest=${rest%%/*}
    printf '%s://%s/%s%s' "$scheme" "$rest" "$1" "$query"
}
URL=$(db_url "$DB")

psql_base() { psql -X -q -v ON_ERROR_STOP=1 "$BASE_URL" "$@"; }
psql_db() { psql -X -q -v ON_ERROR_STOP=1 "$URL" "$@"; }
section() { printf '\n==== %s ====\n' "$*"; }

cleanup() {
    psql_base -c "DROP DATABASE IF EXISTS \"$DB\" WITH (FORCE)" >/dev/null 2>&1 ||
        echo "warning: could not drop database $DB" >&2
    rm -rf "$WORK"
}
trap cleanup EXIT

# ---------------------------------------------------------------- server --
export DATABASE_URL=$URL
export DATA_DIR=$WORK
export JWT_SECRET=explain-only-secret-explain-only-secret-000
export APP_ENV=development
export RUST_LOG=${RUST_LOG:-warn}

cd "$ROOT"
if [[ -n ${CRM_SERVER_BIN:-} ]]; then
    SERVER=("$CRM_SERVER_BIN")
else
    SERVER=(cargo run -q --bin crm-server --)
fi
server() { "${SERVER[@]}" "$@"; }

section "scratch database $DB"
psql_base -c "CREATE DATABASE \"$DB\""

section "migrations"
server migrate

section "seed"
seeded=""
if [[ ${SQL_SEED:-0} != 1 ]]; then
    if server seed --scale "$SCALE" >"$WORK/seed.log" 2>&1; then
        tail -n 2 "$WORK/seed.log"
        seeded="crm-server seed --scale $SCALE"
    else
        echo "crm-server seed failed (last lines below); inserting rows with SQL instead" >&2
        tail -n 5 "$WORK/seed.log" >&2
    fi
fi
if [[ -z $seeded ]]; then
    # 10 tenants, each with an admin, one pipeline of 3 stages and SCALE/10
    # opportunities created over the last 540 days; about 2/3 are OPEN.
    psql_db -v scale="$SCALE" <<'SQL'
INSERT INTO tenants (id, name, slug, currency, timezone, created_at, updated_at, opportunity_seq)
SELECT gen_random_uuid(), 'Scale ' || t, 'scale-' || t, 'EUR', 'UTC', now(), now(), 0
FROM generate_series(1, 10) t;

INSERT INTO users (id, tenant_id, email, name, role, active, password_hash, created_at, updated_at)
SELECT gen_random_uuid(), id, 'admin@' || slug || '.test', 'Admin', 'ADMIN', true, '!', now(), now()
FROM tenants;

INSERT INTO pipelines (id, tenant_id, name, position, archived, created_at, updated_at)
SELECT gen_random_uuid(), id, 'Sales', 0, false, now(), now() FROM tenants;

INSERT INTO stages (id, tenant_id, pipeline_id, name, position, probability, deleted, created_at, updated_at)
SELECT gen_random_uuid(), p.tenant_id, p.id, 'Stage ' || s, s, 10 + 30 * s, false, now(), now()
FROM pipelines p, generate_series(0, 2) s;

WITH t AS (
    SELECT id, row_number() OVER (ORDER BY slug) - 1 AS k FROM tenants
), o AS (
    SELECT i, t.id AS tenant_id, (i / 10) AS n,
           now() - (random() * interval '540 days') AS created,
           CASE WHEN i % 100 < 66 THEN 'OPEN' WHEN i % 100 < 85 THEN 'WON' ELSE 'LOST' END AS status
    FROM generate_series(0, :scale - 1) i JOIN t ON t.k = i % 10
)
INSERT INTO opportunities (
    id, tenant_id, number, reference, title, pipeline_id, stage_id, status,
    probability_override, potential_cents, currency, due_date, owner_id, source_id,
    lost_reason, closed_at, stage_entered_at, last_activity_at, version, created_at, updated_at)
SELECT gen_random_uuid(), o.tenant_id, o.n + 1, 'OPP-' || (o.n + 1), 'Deal ' || o.i,
       st.pipeline_id, st.id, o.status,
       NULL, (random() * 10000000)::bigint, CASE WHEN o.i % 7 = 0 THEN 'USD' ELSE 'EUR' END,
       CASE WHEN o.i % 4 = 0 THEN NULL ELSE (o.created + interval '60 days')::date END,
       u.id, NULL,
       CASE WHEN o.status = 'LOST' THEN 'price' END,
       CASE WHEN o.status <> 'OPEN' THEN o.created + interval '30 days' END,
       o.created, NULL, 1, o.created, o.created
FROM o
JOIN users u ON u.tenant_id = o.tenant_id
JOIN stages st ON st.tenant_id = o.tenant_id AND st.position = o.i % 3;

UPDATE tenants SET opportunity_seq = (SELECT count(*) FROM opportunities WHERE tenant_id = tenants.id);
SQL
    seeded="SQL generate_series ($SCALE rows)"
fi
echo "seeded with: $seeded"

psql_db -c "ANALYZE"

# ------------------------------------------------------------- the plans --
# The tenant with the most opportunities, and its pipeline with the most
# open ones; "today" as the server computes it for a UTC tenant.
read -r TENANT PIPELINE < <(psql_db -At -F ' ' <<'SQL'
WITH t AS (
    SELECT tenant_id FROM opportunities GROUP BY tenant_id ORDER BY count(*) DESC, tenant_id LIMIT 1
)
SELECT o.tenant_id, o.pipeline_id
FROM opportunities o JOIN t USING (tenant_id)
WHERE o.status = 'OPEN'
GROUP BY o.tenant_id, o.pipeline_id
ORDER BY count(*) DESC, o.pipeline_id
LIMIT 1
SQL
)
TODAY=$(psql_db -At -c "SELECT (now() AT TIME ZONE 'UTC')::date")

section "data"
psql_db -v tenant="$TENANT" -v pipeline="$PIPELINE" <<'SQL'
SELECT (SELECT count(*) FROM opportunities) AS opportunities,
       (SELECT count(*) FROM opportunities WHERE tenant_id = :'tenant') AS in_tenant,
       (SELECT count(*) FROM opportunities
         WHERE tenant_id = :'tenant' AND pipeline_id = :'pipeline' AND status = 'OPEN') AS open_in_pipeline;
SQL

COLUMNS='"opportunities"."id", "opportunities"."tenant_id", "opportunities"."number", "opportunities"."reference", "opportunities"."title", "opportunities"."pipeline_id", "opportunities"."stage_id", "opportunities"."status", "opportunities"."probability_override", "opportunities"."potential_cents", "opportunities"."currency", "opportunities"."due_date", "opportunities"."owner_id", "opportunities"."source_id", "opportunities"."lost_reason", "opportunities"."closed_at", "opportunities"."stage_entered_at", "opportunities"."last_activity_at", "opportunities"."version", "opportunities"."created_at", "opportunities"."updated_at", opportunities.created_at AS "sort_key"'
FROM='FROM "opportunities" INNER JOIN "stages" ON "stages"."id" = "opportunities"."stage_id" LEFT JOIN "exchange_rates" ON "exchange_rates"."tenant_id" = "opportunities"."tenant_id" AND "exchange_rates"."currency" = "opportunities"."currency"'
ORDER='ORDER BY opportunities.created_at DESC, "opportunities"."id" DESC'

# { opportunities(first: 20) { ... } }
DEFAULT_SQL="SELECT $COLUMNS $FROM WHERE \"opportunities\".\"tenant_id\" = \$1 $ORDER LIMIT \$2"
# { opportunities(filter: { pipelineId: ..., statuses: [OPEN, LATE] }) { ... } }
# i.e. status = 'OPEN': OPEN and LATE are the two halves of it
FILTERED_SQL="SELECT $COLUMNS $FROM WHERE \"opportunities\".\"tenant_id\" = \$1 AND \"opportunities\".\"pipeline_id\" = \$2 AND ((\"opportunities\".\"status\" = \$3 AND (\"opportunities\".\"due_date\" IS NULL OR \"opportunities\".\"due_date\" >= \$4)) OR (\"opportunities\".\"status\" = \$5 AND \"opportunities\".\"due_date\" < \$6)) $ORDER LIMIT \$7"

explain() { # name, prepare-types, sql, args
    local name=$1 types=$2 sql=$3 args=$4
    section "$name: SQL"
    echo "$sql"
    echo "-- parameters: $args"
    section "$name: custom plan (EXPLAIN ANALYZE, BUFFERS)"
    psql_db -P pager=off <<SQL | tee "$WORK/$name.plan"
PREPARE q($types) AS $sql;
EXPLAIN (ANALYZE, BUFFERS) EXECUTE q($args);
SQL
    section "$name: generic plan (plan_cache_mode = force_generic_plan)"
    psql_db -P pager=off <<SQL | tee "$WORK/$name.generic"
SET plan_cache_mode = force_generic_plan;
PREPARE q($types) AS $sql;
EXPLAIN EXECUTE q($args);
SQL
}

explain default "uuid, bigint" "$DEFAULT_SQL" "'$TENANT', 21"
explain filtered "uuid, uuid, text, date, text, date, bigint" "$FILTERED_SQL" \
    "'$TENANT', '$PIPELINE', 'OPEN', '$TODAY', 'OPEN', '$TODAY', 21"

# ---------------------------------------------------------------- verdict --
section "verdict"
verdict() { # name, file
    local name=$1 file=$2
    local scan sort
    scan=$(grep -oE '(Index|Index Only|Bitmap Index) Scan( Backward)? (using|on) [a-z_]+' "$file" | head -n 1 || true)
    sort=$(grep -cE '(^|->  )Sort  ' "$file" || true)
    if [[ -z $scan ]]; then
        echo "$name: NO index is used (sequential scan)"
    elif [[ $sort -gt 0 ]]; then
        echo "$name: $scan, but every match is sorted before LIMIT (no index gives the order)"
    else
        echo "$name: $scan, in ORDER BY order: stops after LIMIT rows"
    fi
}
verdict "default page, custom plan " "$WORK/default.plan"
verdict "default page, generic plan" "$WORK/default.generic"
verdict "filtered,     custom plan " "$WORK/filtered.plan"
verdict "filtered,     generic plan" "$WORK/filtered.generic"
if grep -qE '(^|->  )Sort  ' "$WORK/filtered.plan" "$WORK/filtered.generic"; then
    cat <<'EOF'
Filtered page: an index on
  opportunities (tenant_id, pipeline_id, status, created_at, id)
(e.g. ix_opportunities_pipeline extended with created_at, id) lets the
custom plan read the newest matches in index order and stop after LIMIT.
EOF
fi
if grep -qE '(^|->  )Sort  ' "$WORK/filtered.generic"; then
    cat <<'EOF'
The generic plan sorts as long as the status filter is an OR of two
branches ((status = $3 AND due >= $4) OR (status = $5 AND due < $6));
`status_condition` emitting a single status = 'OPEN' when both OPEN and
LATE are asked for lets it use that index too.
EOF
fi
