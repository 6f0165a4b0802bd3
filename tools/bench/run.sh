#!/usr/bin/env bash
# The read-path benchmark: the server under wrk, side by side with the
# same reads as bare SQL under pgbench, in one run (compare the ratios:
# these machines are noisy).
#
#   tools/bench/run.sh
#
# Seeds `crm-server seed --scale $SCALE --seed 1` into a scratch
# PostgreSQL database (dropped on exit), starts the release server on it,
# signs in as scale-1's admin and measures, on scale-1's first pipeline:
#   Q1  50 opportunities by due date, with stage, primary contact, owner
#   Q2  Q1 plus each one's first 5 activities
#   Q3  the pipeline's per-stage count, total and weighted potential
# each for $DURATION with $CONNECTIONS connections (wrk -t2), then the
# equivalent SQL through pgbench (-j2, same connections and duration).
#
# Environment: BENCH_PG (default postgres://postgres@127.0.0.1:5432),
# SCALE (100000), DURATION (30s), CONNECTIONS (32), CRM_SERVER_BIN (default
# target/release/crm-server, built when missing).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
here="$root/tools/bench"
base="${BENCH_PG:-postgres://postgres@127.0.0.1:5432}"
scale="${SCALE:-100000}"
duration="${DURATION:-30s}"
conns="${CONNECTIONS:-32}"
bin="${CRM_SERVER_BIN:-$root/target/release/crm-server}"
[ -x "$bin" ] || cargo build --release --quiet --manifest-path "$root/Cargo.toml" --bin crm-server
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)" >&2; exit 2; }

db="crm_bench_$$"
work="$(mktemp -d)"
psql -q "$base/postgres" -c "CREATE DATABASE $db" >/dev/null
cleanup() {
  [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  psql -q "$base/postgres" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
export DATABASE_URL="$base/$db" JWT_SECRET="bench-secret-0123456789-abcdefghijklmnop" RUST_LOG=warn
echo "# seeding $scale opportunities"
"$bin" seed --scale "$scale" --seed 1 | tail -2
psql -q "$DATABASE_URL" -c "ANALYZE" >/dev/null
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
BIND_ADDRESS="127.0.0.1:$port" "$bin" serve >"$work/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
url="http://127.0.0.1:$port/graphql"
gql() { curl -fs "$url" -H 'content-type: application/json' ${TOKEN:+-H "authorization: Bearer $TOKEN"} -d "$1"; }
TOKEN="$(gql '{"query":"mutation { login(input: { tenantSlug: \"scale-1\", email: \"admin@scale-1.test\", password: \"crm-seed-password\" }) { accessToken } }"}' | jq -r .data.login.accessToken)"
pipeline="$(gql '{"query":"{ pipelines { id } }"}' | jq -r '.data.pipelines[0].id')"
tenant="$(gql '{"query":"{ tenant { id } }"}' | jq -r .data.tenant.id)"
echo "# pipeline $pipeline holds $(psql -tA "$DATABASE_URL" -c "SELECT count(*) FROM opportunities WHERE pipeline_id = '$pipeline'") opportunities"

card='id title dueDate stage { id name } primaryContact { id name } owner { id name }'
q1="{ opportunities(filter: { pipelineId: \"$pipeline\" }, orderBy: { field: DUE_DATE }, first: 50) { nodes { $card } } }"
q2="{ opportunities(filter: { pipelineId: \"$pipeline\" }, orderBy: { field: DUE_DATE }, first: 50) { nodes { $card activities(first: 5) { nodes { id kind subject } } } } }"
q3="{ pipeline(id: \"$pipeline\") { stages { id count totalPotential { amount } weightedPotential { amount } } } }"

# the same reads as SQL: the page, then each relation of its rows
page="SELECT o.* FROM opportunities o WHERE o.tenant_id = '$tenant' AND o.pipeline_id = '$pipeline' ORDER BY COALESCE(o.due_date, '9999-12-31'), o.id LIMIT 51"
cat >"$work/q1.sql" <<SQL
WITH page AS ($page) SELECT * FROM page;
WITH page AS ($page) SELECT s.* FROM stages s WHERE s.tenant_id = '$tenant' AND s.id IN (SELECT stage_id FROM page);
WITH page AS ($page) SELECT u.id, u.name FROM users u WHERE u.tenant_id = '$tenant' AND u.id IN (SELECT owner_id FROM page);
WITH page AS ($page) SELECT oc.opportunity_id, c.* FROM opportunity_contacts oc JOIN contacts c ON c.id = oc.contact_id WHERE oc.tenant_id = '$tenant' AND oc.is_primary AND oc.opportunity_id IN (SELECT id FROM page);
SQL
cp "$work/q1.sql" "$work/q2.sql"
cat >>"$work/q2.sql" <<SQL
WITH page AS ($page) SELECT a.* FROM page, LATERAL (SELECT * FROM activities a WHERE a.tenant_id = '$tenant' AND a.opportunity_id = page.id ORDER BY a.done, a.at_ms, a.id LIMIT 6) a;
SQL
cat >"$work/q3.sql" <<SQL
SELECT o.stage_id, count(*), sum(o.potential_cents), sum(o.potential_cents * s.probability / 100) FROM opportunities o JOIN stages s ON s.id = o.stage_id WHERE o.tenant_id = '$tenant' AND o.pipeline_id = '$pipeline' AND o.status = 'OPEN' GROUP BY o.stage_id;
SQL

cat >"$work/post.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["content-type"] = "application/json"
wrk.headers["authorization"] = "Bearer " .. os.getenv("TOKEN")
wrk.body = io.open(os.getenv("BODY")):read("*a")
done = function(summary, latency, requests)
  io.write(string.format("RESULT %.1f %.1f %.1f %d\n", summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, summary.errors.status + summary.errors.connect + summary.errors.timeout))
end
LUA
export TOKEN
printf '%-4s %12s %10s %10s %14s %8s\n' query "server req/s" "p50 ms" "p99 ms" "bare SQL tps" ratio
for q in q1 q2 q3; do
  jq -n --arg q "${!q}" '{query: $q}' >"$work/$q.json"
  # one answer must be whole before it is timed
  answer="$(BODY="$work/$q.json" curl -fs "$url" -H 'content-type: application/json' -H "authorization: Bearer $TOKEN" -d @"$work/$q.json")"
  [ "$(jq '.errors // [] | length' <<<"$answer")" = 0 ] || { echo "$q failed: $answer" >&2; exit 1; }
  read -r rps p50 p99 errors < <(BODY="$work/$q.json" wrk -t2 -c"$conns" -d"$duration" -s "$work/post.lua" "$url" | awk '/^RESULT/ { print $2, $3, $4, $5 }')
  [ "$errors" = 0 ] || echo "# $q: $errors errors under load" >&2
  tps="$(pgbench -n -j2 -c"$conns" -T"${duration%s}" -f "$work/$q.sql" "$DATABASE_URL" 2>"$work/pgbench.err" | awk '/^tps/ { print $3; exit }')"
  [ -n "$tps" ] || { echo "pgbench failed on $q:" >&2; cat "$work/pgbench.err" >&2; exit 1; }
  ratio="$(python3 -c "print(f'{$rps / $tps:.0%}')")"
  printf '%-4s %12s %10s %10s %14s %8s\n' "$q" "$rps" "$p50" "$p99" "$tps" "$ratio"
done
