#!/usr/bin/env bash
# The depth benchmark: one tenant holding $SCALE opportunities (default a
# million), each with two custom-field values, on a scratch PostgreSQL
# database (dropped on exit):
#
#   tools/bench/depth.sh                 # the full run (about 1M rows)
#   SCALE=50000 tools/bench/depth.sh     # a quick smoke run
#
# Seeds `crm-server seed --scale $SEED_SCALE --seed 1` (scale-1 gets a tenth
# of it), then copies scale-1's opportunities (and their contact links) in
# SQL, with new ids, numbers and references, until scale-1 holds $SCALE.
# Through the API, as scale-1's admin: creates the custom fields `region`
# (SELECT: EMEA, APAC, AMER, LATAM) and `seats` (NUMBER); then gives every
# opportunity of scale-1 a value of each in SQL (EMEA on $EMEA_PCT% of
# them, the others evenly; seats 1 + floor(1000 u^2), so 100..120 matches
# about 3%), VACUUM ANALYZE, and measures:
#
#   F1  opportunities(filter: { customFields: [region any of EMEA] },
#       orderBy: CREATED_AT DESC, first: 50) { nodes { id title } }
#   F2  the same with seats between 100 and 120
#   F3  F1 with the first pipeline's pipelineId
#   F4  F2 with the first pipeline's pipelineId
#
# each under wrk (-t2 -c$CONNECTIONS -d$DURATION): req/s, p50, p99; and each
# one's page statement (the SQL of `page_statement`, reconstructed; run as
# the server runs it: as $APP_ROLE with app.tenant_id set, so row-level
# security applies, as a prepared statement) under EXPLAIN (ANALYZE,
# BUFFERS) with its custom plan, and EXPLAIN ANALYZE with the generic plan
# that sqlx's cached statements may switch to after five executions.
# Then GET /export/opportunities.csv, whole and filtered on EMEA, timed by
# curl (rows counted from the body), while the server's VmRSS is sampled
# every 0.5 s: rows/s, MB, idle and peak RSS.
#
# Environment: BENCH_PG (default postgres://postgres@127.0.0.1:5432),
# SCALE (1000000: opportunities in scale-1), SEED_SCALE (--scale given to
# the seed; default SCALE, at most 200000), EMEA_PCT (5),
# DURATION (15s), CONNECTIONS (4), WRK_TIMEOUT (30s: a slower answer
# counts as an error), PLANS (custom generic: which plans to
# print), APP_ROLE (crm_app, DATABASE_APP_ROLE's default), CRM_SERVER_BIN
# (default target/release/crm-server, built when missing).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
base="${BENCH_PG:-postgres://postgres@127.0.0.1:5432}"
scale="${SCALE:-1000000}"
seed_scale="${SEED_SCALE:-$((scale < 200000 ? scale : 200000))}"
emea_pct="${EMEA_PCT:-5}"
duration="${DURATION:-15s}"
conns="${CONNECTIONS:-4}"
wrk_timeout="${WRK_TIMEOUT:-30s}"
plans="${PLANS:-custom generic}"
app_role="${APP_ROLE:-crm_app}"
bin="${CRM_SERVER_BIN:-$root/target/release/crm-server}"
[ -x "$bin" ] || cargo build --release --quiet --manifest-path "$root/Cargo.toml" --bin crm-server
for t in wrk jq psql curl python3; do
  command -v "$t" >/dev/null || { echo "$t is needed (wrk: apt-get install wrk)" >&2; exit 2; }
done

started=$SECONDS
echo "# $bin (built $(date -r "$bin" '+%F %T'); HEAD now $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?'))," \
  "PostgreSQL $(psql -X -tAq "$base/postgres" -c 'SHOW server_version'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
db="crm_bench_depth_$$"
work="$(mktemp -d)"
psql -q "$base/postgres" -c "CREATE DATABASE $db" >/dev/null
cleanup() {
  [ -n "${sampler:-}" ] && kill "$sampler" 2>/dev/null && wait "$sampler" 2>/dev/null || true
  [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  psql -q "$base/postgres" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
export DATABASE_URL="$base/$db" JWT_SECRET="bench-secret-0123456789-abcdefghijklmnop" RUST_LOG=warn
sql() { psql -X -q -tA -v ON_ERROR_STOP=1 "$DATABASE_URL" "$@"; }
took() { echo "$((SECONDS - $1))s"; }

# ------------------------------------------------------------------ data
t0=$SECONDS
echo "# seeding --scale $seed_scale (scale-1 gets $((seed_scale / 10)))"
"$bin" seed --scale "$seed_scale" --seed 1 | tail -1
tenant="$(sql -c "SELECT id FROM tenants WHERE slug = 'scale-1'")"
have="$(sql -c "SELECT count(*) FROM opportunities WHERE tenant_id = '$tenant'")"
echo "# seed: $(took "$t0")"
if [ "$have" -lt "$scale" ]; then
  t0=$SECONDS
  echo "# copying scale-1's $have opportunities up to $scale in SQL"
  # Copy k of the whole lot goes to row (g - 1) % have + 1: new id, number
  # and reference; its times moved back by up to an hour (all by the same
  # amount, so their order holds); its contact links copied too.
  sql -v tenant="$tenant" -v have="$have" -v want="$scale" >/dev/null <<'SQL'
SELECT setseed(0.1);
CREATE TEMP TABLE src AS
  SELECT row_number() OVER (ORDER BY number) AS k, id FROM opportunities WHERE tenant_id = :'tenant';
CREATE UNIQUE INDEX ON src (k);
CREATE TEMP TABLE copies AS
  SELECT gen_random_uuid() AS id, s.id AS src, :have + g AS number,
         make_interval(secs => floor(random() * 3600)) AS back
  FROM generate_series(1, :want - :have) g JOIN src s ON s.k = (g - 1) % :have + 1;
INSERT INTO opportunities (id, tenant_id, number, reference, title, pipeline_id, stage_id, status,
    probability_override, potential_cents, currency, due_date, owner_id, source_id, lost_reason,
    closed_at, stage_entered_at, last_activity_at, version, late_marked_due, created_at, updated_at)
SELECT c.id, o.tenant_id, c.number, 'OPP-' || c.number, o.title, o.pipeline_id, o.stage_id, o.status,
    o.probability_override, o.potential_cents, o.currency, o.due_date, o.owner_id, o.source_id, o.lost_reason,
    o.closed_at - c.back, o.stage_entered_at - c.back, o.last_activity_at - c.back, 1, o.late_marked_due,
    o.created_at - c.back, o.updated_at - c.back
FROM copies c JOIN opportunities o ON o.id = c.src;
INSERT INTO opportunity_contacts (id, tenant_id, opportunity_id, contact_id, role, is_primary, created_at)
SELECT gen_random_uuid(), oc.tenant_id, c.id, oc.contact_id, oc.role, oc.is_primary, oc.created_at - c.back
FROM copies c JOIN opportunity_contacts oc ON oc.opportunity_id = c.src;
UPDATE tenants SET opportunity_seq = :want WHERE id = :'tenant';
SQL
  echo "# copies: $(took "$t0")"
fi

# ---------------------------------------------------------------- server
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
BIND_ADDRESS="127.0.0.1:$port" "$bin" serve >"$work/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 200); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fs "http://127.0.0.1:$port/healthz" >/dev/null || { echo "the server did not start:" >&2; tail -20 "$work/server.log" >&2; exit 1; }
url="http://127.0.0.1:$port/graphql"
TOKEN=""
# gql QUERY: the answer, or exits with it when it carries errors
gql() {
  local answer
  answer="$(jq -n --arg q "$1" '{query: $q}' | curl -sS "$url" -H 'content-type: application/json' \
    ${TOKEN:+-H "authorization: Bearer $TOKEN"} --data-binary @-)" || { echo "POST /graphql failed: $1" >&2; exit 1; }
  if [ "$(jq '(.errors // []) | length' <<<"$answer" 2>/dev/null || echo 1)" != 0 ]; then
    printf 'GraphQL error\n  query:  %s\n  answer: %s\n' "$1" "$answer" >&2
    exit 1
  fi
  printf '%s' "$answer"
}
TOKEN="$(gql 'mutation { login(input: { tenantSlug: "scale-1", email: "admin@scale-1.test", password: "crm-seed-password" }) { accessToken } }' | jq -r .data.login.accessToken)"
pipeline="$(gql '{ pipelines { id } }' | jq -r '.data.pipelines[0].id')"

region="$(gql 'mutation { createCustomField(input: { entity: OPPORTUNITY, key: "region", label: "Region", kind: SELECT, options: ["EMEA","APAC","AMER","LATAM"] }) { id options { id label } } }')"
seats="$(gql 'mutation { createCustomField(input: { entity: OPPORTUNITY, key: "seats", label: "Seats", kind: NUMBER }) { id } }')"
region_id="$(jq -r .data.createCustomField.id <<<"$region")"
seats_id="$(jq -r .data.createCustomField.id <<<"$seats")"
opt() { jq -r --arg l "$1" '.data.createCustomField.options[] | select(.label == $l) | .id' <<<"$region"; }
emea="$(opt EMEA)" apac="$(opt APAC)" amer="$(opt AMER)" latam="$(opt LATAM)"

t0=$SECONDS
echo "# custom-field values for scale-1's opportunities (EMEA $emea_pct%, seats 1..1000)"
sql -v tenant="$tenant" -v region="$region_id" -v seats="$seats_id" -v emea="$emea" -v apac="$apac" \
  -v amer="$amer" -v latam="$latam" -v pct="$emea_pct" >/dev/null <<'SQL'
SELECT setseed(0.2);
INSERT INTO opportunity_field_values (id, tenant_id, opportunity_id, field_id, option_id)
SELECT gen_random_uuid(), o.tenant_id, o.id, :'region',
       CASE WHEN o.u * 100 < :pct THEN :'emea'::uuid
            ELSE (ARRAY[:'apac'::uuid, :'amer'::uuid, :'latam'::uuid])[1 + floor((o.u * 100 - :pct) / ((100 - :pct) / 3.0))::int % 3]
       END
FROM (SELECT id, tenant_id, random() AS u FROM opportunities WHERE tenant_id = :'tenant') o;
-- NUMBER values are stored times 10^4
INSERT INTO opportunity_field_values (id, tenant_id, opportunity_id, field_id, num_value)
SELECT gen_random_uuid(), tenant_id, id, :'seats', (1 + floor(1000 * random() ^ 2))::bigint * 10000
FROM opportunities WHERE tenant_id = :'tenant';
SQL
echo "# values: $(took "$t0")"
t0=$SECONDS
sql -c "VACUUM ANALYZE"
echo "# vacuum analyze: $(took "$t0")"
sql -v tenant="$tenant" -v region="$region_id" -v seats="$seats_id" -v emea="$emea" -v pipeline="$pipeline" <<'SQL' >"$work/counts"
SELECT (SELECT count(*) FROM opportunities WHERE tenant_id = :'tenant'),
       (SELECT count(*) FROM opportunities WHERE tenant_id = :'tenant' AND pipeline_id = :'pipeline'),
       (SELECT count(*) FROM opportunity_field_values WHERE tenant_id = :'tenant' AND field_id = :'region' AND option_id = :'emea'),
       (SELECT count(*) FROM opportunity_field_values WHERE tenant_id = :'tenant' AND field_id = :'seats' AND num_value BETWEEN 1000000 AND 1200000),
       (SELECT count(*) FROM opportunities o JOIN opportunity_field_values v ON v.opportunity_id = o.id
         WHERE o.tenant_id = :'tenant' AND o.pipeline_id = :'pipeline' AND v.field_id = :'region' AND v.option_id = :'emea'),
       (SELECT count(*) FROM opportunities o JOIN opportunity_field_values v ON v.opportunity_id = o.id
         WHERE o.tenant_id = :'tenant' AND o.pipeline_id = :'pipeline' AND v.field_id = :'seats' AND v.num_value BETWEEN 1000000 AND 1200000),
       pg_size_pretty(pg_total_relation_size('opportunities')),
       pg_size_pretty(pg_total_relation_size('opportunity_field_values'))
SQL
IFS='|' read -r n_all n_pipe n_emea n_seats n_emea_pipe n_seats_pipe size_opps size_values <"$work/counts"
echo "# scale-1: $n_all opportunities ($n_pipe in pipeline $pipeline); EMEA $n_emea, seats 100..120 $n_seats;" \
  "with the pipeline: $n_emea_pipe, $n_seats_pipe; opportunities $size_opps, opportunity_field_values $size_values;" \
  "data ready after $(took "$started")"

# ---------------------------------------------------------------- pages
f_region="{ key: \"region\", anyOptionIds: [\"$emea\"] }"
f_seats='{ key: "seats", min: "100", max: "120" }'
page() { echo "{ opportunities(filter: { $1 }, orderBy: { field: CREATED_AT, direction: DESC }, first: 50) { nodes { id title } } }"; }
F1="$(page "customFields: [$f_region]")"
F2="$(page "customFields: [$f_seats]")"
F3="$(page "pipelineId: \"$pipeline\", customFields: [$f_region]")"
F4="$(page "pipelineId: \"$pipeline\", customFields: [$f_seats]")"
declare -A matching=([F1]=$n_emea [F2]=$n_seats [F3]=$n_emea_pipe [F4]=$n_seats_pipe)

cat >"$work/post.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["content-type"] = "application/json"
wrk.headers["authorization"] = "Bearer " .. os.getenv("TOKEN")
wrk.body = io.open(os.getenv("BODY")):read("*a")
done = function(summary, latency, requests)
  io.write(string.format("RESULT %.1f %.1f %.1f %d\n", summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.status + summary.errors.connect + summary.errors.timeout + summary.errors.read + summary.errors.write))
end
LUA
export TOKEN
declare -A rps_of p50_of p99_of err_of nodes_of
for q in F1 F2 F3 F4; do
  jq -n --arg q "${!q}" '{query: $q}' >"$work/$q.json"
  # a whole, error-free answer before it is timed
  nodes_of[$q]="$(gql "${!q}" | jq '.data.opportunities.nodes | length')"
  BODY="$work/$q.json" wrk -t2 -c"$conns" -d2s --timeout "$wrk_timeout" -s "$work/post.lua" "$url" >/dev/null
  read -r rps p50 p99 errors < <(BODY="$work/$q.json" wrk -t2 -c"$conns" -d"$duration" --timeout "$wrk_timeout" -s "$work/post.lua" "$url" | awk '/^RESULT/ { print $2, $3, $4, $5 }')
  rps_of[$q]=$rps p50_of[$q]=$p50 p99_of[$q]=$p99 err_of[$q]=$errors
  echo "# $q: $rps req/s, p50 $p50 ms, p99 $p99 ms, $errors errors"
done
# the answers still carry no errors after the load
for q in F1 F2 F3 F4; do gql "${!q}" >/dev/null; done

# ----------------------------------------------------------------- plans
# What `page_statement` builds for these lists (first: 50 → LIMIT 51):
# the tenant filter, the list's conditions, the sort key, the money joins.
cols='"opportunities"."id", "opportunities"."tenant_id", "opportunities"."number", "opportunities"."reference", "opportunities"."title", "opportunities"."pipeline_id", "opportunities"."stage_id", "opportunities"."status", "opportunities"."probability_override", "opportunities"."potential_cents", "opportunities"."currency", "opportunities"."due_date", "opportunities"."owner_id", "opportunities"."source_id", "opportunities"."lost_reason", "opportunities"."closed_at", "opportunities"."stage_entered_at", "opportunities"."last_activity_at", "opportunities"."version", "opportunities"."late_marked_due", "opportunities"."created_at", "opportunities"."updated_at", opportunities.created_at AS "sort_key"'
from='FROM "opportunities" INNER JOIN "stages" ON "stages"."id" = "opportunities"."stage_id" LEFT JOIN "exchange_rates" ON "exchange_rates"."tenant_id" = "opportunities"."tenant_id" AND "exchange_rates"."currency" = "opportunities"."currency"'
order='ORDER BY opportunities.created_at DESC, "opportunities"."id" DESC'
values='SELECT "opportunity_id" FROM "opportunity_field_values" WHERE "tenant_id" = $%d AND "field_id" = $%d'
# stmt N: "SQL|types|arguments"
stmt() {
  local sub where types args n=2
  where='"opportunities"."tenant_id" = $1'
  types="uuid" args="'$tenant'"
  case $1 in F3|F4)
    where+=' AND "opportunities"."pipeline_id" = $2'; types+=", uuid"; args+=", '$pipeline'"; n=3 ;;
  esac
  # shellcheck disable=SC2059
  sub="$(printf "$values" "$n" "$((n + 1))")"
  case $1 in
    F1|F3) sub+=" AND \"option_id\" IN (\$$((n + 2)))"; types+=", uuid, uuid, uuid"; args+=", '$tenant', '$region_id', '$emea'"; n=$((n + 3)) ;;
    F2|F4) sub+=" AND \"num_value\" >= \$$((n + 2)) AND \"num_value\" <= \$$((n + 3))"
           types+=", uuid, uuid, bigint, bigint"; args+=", '$tenant', '$seats_id', 1000000, 1200000"; n=$((n + 4)) ;;
  esac
  where+=" AND \"opportunities\".\"id\" IN ($sub)"
  printf '%s|%s|%s\n' "SELECT $cols $from WHERE $where $order LIMIT \$$n" "$types, bigint" "$args, 51"
}
explain() { # QUERY MODE
  local s types args options=
  IFS='|' read -r s types args < <(stmt "$1")
  case $2 in
    custom) options="ANALYZE, BUFFERS" ;;
    generic) options="ANALYZE, BUFFERS"; printf 'SET plan_cache_mode = force_generic_plan;\n' ;;
  esac >"$work/explain.sql"
  cat >>"$work/explain.sql" <<SQL
SET ROLE $app_role;
SELECT set_config('app.tenant_id', '$tenant', false);
PREPARE q($types) AS $s;
EXPLAIN ($options) EXECUTE q($args);
SQL
  sql -P pager=off -f "$work/explain.sql" | grep -v "^$tenant\$"
}
declare -A exec_of cost_of
for q in F1 F2 F3 F4; do
  IFS='|' read -r s _ args < <(stmt "$q")
  echo
  echo "## $q plan: ${!q}"
  echo "-- $s"
  echo "-- parameters: $args"
  for mode in $plans; do
    echo "-- $mode plan (EXPLAIN (ANALYZE, BUFFERS), as $app_role, app.tenant_id set)"
    explain "$q" "$mode" | tee "$work/$q.$mode.plan"
    exec_of[$q.$mode]="$(awk '/Execution Time/ { print $3 }' "$work/$q.$mode.plan")"
    cost_of[$q.$mode]="$(head -1 "$work/$q.$mode.plan" | sed -E 's/.*cost=[0-9.]+\.\.([0-9.]+) .*/\1/')"
  done
done

# ---------------------------------------------------------------- export
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$pid/status"; }
declare -A ex_rows ex_secs ex_mb ex_idle ex_peak ex_code
export_csv() { # NAME QUERY-STRING
  local out
  ex_idle[$1]="$(rss)"
  (while kill -0 "$pid" 2>/dev/null; do rss; sleep 0.5; done) >"$work/rss.$1" &
  sampler=$!
  out="$(curl -sS --max-time 1800 -H "Authorization: Bearer $TOKEN" -w '%{stderr}RESULT %{http_code} %{time_total} %{size_download}\n' \
    "http://127.0.0.1:$port/export/opportunities.csv$2" 2>"$work/curl.$1" | wc -l)" || true
  kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null || true
  sampler=""
  read -r _ code secs bytes < <(grep '^RESULT' "$work/curl.$1")
  grep -v '^RESULT' "$work/curl.$1" >&2 || true
  ex_code[$1]=$code ex_secs[$1]=$secs ex_rows[$1]=$((out - 1))
  ex_mb[$1]="$(python3 -c "print(f'{$bytes / 1e6:.1f}')")"
  ex_peak[$1]="$(sort -n "$work/rss.$1" | tail -1)"
  echo "# export $1: HTTP $code, $((out - 1)) rows, ${ex_mb[$1]} MB in $secs s; RSS idle $((ex_idle[$1] / 1024)) MB, peak $((ex_peak[$1] / 1024)) MB"
}
echo
export_csv all ""
export_csv emea "?filter=$(jq -rn --arg e "$emea" '{customFields: [{key: "region", anyOptionIds: [$e]}]} | tojson | @uri')"
[ "${ex_rows[all]}" = "$n_all" ] || echo "# export all: ${ex_rows[all]} rows, $n_all expected" >&2
[ "${ex_rows[emea]}" = "$n_emea" ] || echo "# export emea: ${ex_rows[emea]} rows, $n_emea expected" >&2
if grep -qiE 'error|panic' "$work/server.log"; then echo "# server log:" >&2; grep -iE 'error|panic' "$work/server.log" | tail -20 >&2; fi

# --------------------------------------------------------------- summary
echo
echo "## summary: scale-1 holds $n_all opportunities, wrk -t2 -c$conns -d$duration, total run $(took "$started")"
echo "(custom/generic: EXPLAIN ANALYZE execution time and the planner's estimated cost of each plan; past five executions of a"
echo " cached statement PostgreSQL keeps the generic plan when its estimate is below the custom plans' average)"
printf '%-4s %-37s %8s %8s %8s %8s %6s %10s %10s %10s %10s\n' query filter matching "req/s" "p50 ms" "p99 ms" errors "custom ms" "generic ms" "cust cost" "gen cost"
desc() { case $1 in F1) echo "region=EMEA" ;; F2) echo "seats 100..120" ;; F3) echo "pipeline + region=EMEA" ;; F4) echo "pipeline + seats 100..120" ;; esac; }
for q in F1 F2 F3 F4; do
  printf '%-4s %-37s %8s %8s %8s %8s %6s %10s %10s %10s %10s\n' "$q" "$(desc "$q") (${nodes_of[$q]} nodes)" "${matching[$q]}" \
    "${rps_of[$q]}" "${p50_of[$q]}" "${p99_of[$q]}" "${err_of[$q]}" "${exec_of[$q.custom]:--}" "${exec_of[$q.generic]:--}" \
    "${cost_of[$q.custom]:--}" "${cost_of[$q.generic]:--}"
done
printf '\n%-12s %5s %9s %9s %8s %9s %12s %12s\n' export HTTP rows seconds "rows/s" MB "idle RSS MB" "peak RSS MB"
for e in all emea; do
  printf '%-12s %5s %9s %9s %8s %9s %12s %12s\n' "$e" "${ex_code[$e]}" "${ex_rows[$e]}" "${ex_secs[$e]}" \
    "$(python3 -c "print(f'{${ex_rows[$e]} / max(${ex_secs[$e]}, 1e-9):.0f}')")" "${ex_mb[$e]}" \
    "$((ex_idle[$e] / 1024))" "$((ex_peak[$e] / 1024))"
done
