#!/usr/bin/env bash
# The event-log benchmark, in one run (compare the ratios: these machines
# are noisy), each part on scratch PostgreSQL databases (dropped on exit)
# cloned from a `crm-server seed --scale $SCALE --seed 1` template:
#
#   tools/bench/events.sh
#
#   write     createOpportunity under wrk (-t2 -c$CONNECTIONS, $DURATION),
#             the commit before the event log ($BASE_REV) and this build
#             alternately (base, head, base, head... $ROUNDS pairs), each
#             on its own fresh database: req/s, p50, p99, head/base ratios.
#   webhooks  one instance (WEBHOOK_WORKERS default 4) delivering to a
#             local receiver that answers 204 (EVENT_SWEEP_INTERVAL_MS=0,
#             so that only the new opportunities are delivered), with $WEBHOOK_ENDPOINTS
#             endpoints (one tenant each) and $WEBHOOK_OPPS new
#             opportunities: "live" creates them while the workers run;
#             "drain" creates them with WEBHOOK_WORKERS=0, then restarts
#             with the workers and times the backlog. Deliveries per second
#             at the receiver, first to last delivery (dupes: the same
#             webhook-id again at an endpoint); lag (live only) =
#             the event's timestamp to its receipt.
#   fanout    $SUBSCRIBERS WebSockets on one instance, one opportunityEvents
#             subscription each, then $FANOUT_EVENTS createOpportunity
#             $FANOUT_SPACING_MS apart: p50/p99 from each mutation's HTTP
#             response to each subscriber's receipt.
#
# Environment: PARTS ("write webhooks fanout"), BENCH_PG (default
# postgres://postgres@127.0.0.1:5432), SCALE (10000), DURATION (20s),
# CONNECTIONS (32), ROUNDS (2), WEBHOOK_ENDPOINTS ("1 4"), WEBHOOK_OPPS
# (2000), CREATE_CONCURRENCY (16), SUBSCRIBERS (1000), FANOUT_EVENTS (50),
# FANOUT_SPACING_MS (100), CRM_SERVER_BIN (default target/release/crm-server,
# built when missing), BASE_REV (6521e39), BASE_BIN (default
# /tmp/base-target/release/crm-server, built when missing from a worktree
# at /tmp/base with CARGO_TARGET_DIR=/tmp/base-target).
# Needs wrk, jq, psql, node 20 and tests/clients/node_modules (npm ci there).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
here="$root/tools/bench"
base="${BENCH_PG:-postgres://postgres@127.0.0.1:5432}"
parts="${PARTS:-write webhooks fanout}"
scale="${SCALE:-10000}"
duration="${DURATION:-20s}"
conns="${CONNECTIONS:-32}"
rounds="${ROUNDS:-2}"
endpoint_counts="${WEBHOOK_ENDPOINTS:-1 4}"
opps="${WEBHOOK_OPPS:-2000}"
create_conc="${CREATE_CONCURRENCY:-16}"
subscribers="${SUBSCRIBERS:-1000}"
fanout_events="${FANOUT_EVENTS:-50}"
fanout_spacing="${FANOUT_SPACING_MS:-100}"
head_bin="${CRM_SERVER_BIN:-$root/target/release/crm-server}"
base_rev="${BASE_REV:-6521e39}"
base_bin="${BASE_BIN:-/tmp/base-target/release/crm-server}"
helper="$here/events-helper.cjs"
has() { [[ " $parts " == *" $1 "* ]]; }

command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)" >&2; exit 2; }
command -v node >/dev/null || { echo "node 20 is needed" >&2; exit 2; }
if { has webhooks || has fanout; } && [ ! -d "$root/tests/clients/node_modules/ws" ]; then
  echo "tests/clients/node_modules is needed (cd tests/clients && npm ci)" >&2; exit 2
fi
[ -x "$head_bin" ] || cargo build --release --quiet --manifest-path "$root/Cargo.toml" --bin crm-server
if has write && [ ! -x "$base_bin" ]; then
  [ -d /tmp/base ] || git -C "$root" worktree add /tmp/base "$base_rev"
  (cd /tmp/base && CARGO_TARGET_DIR=/tmp/base-target cargo build --release --quiet --bin crm-server)
fi

work="$(mktemp -d)"
dbs=()
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null || true; done
  for d in "${dbs[@]}"; do
    psql -q "$base/postgres" -c "DROP DATABASE IF EXISTS $d WITH (FORCE)" >/dev/null 2>&1 || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
export JWT_SECRET="bench-secret-0123456789-abcdefghijklmnop" RUST_LOG=warn
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
sql() { psql -tAq "$base/$1" -c "$2"; }

# template NAME BIN: seeds a database once, cloned by every measurement
template() {
  dbs+=("$1")
  psql -q "$base/postgres" -c "CREATE DATABASE $1" >/dev/null
  echo "# seeding $scale opportunities with $2" >&2
  DATABASE_URL="$base/$1" "$2" seed --scale "$scale" --seed 1 >/dev/null
  psql -q "$base/$1" -c "VACUUM ANALYZE" >/dev/null
}
# fresh NAME TEMPLATE
fresh() {
  dbs+=("$1")
  psql -q "$base/postgres" -c "CREATE DATABASE $1 TEMPLATE $2" >/dev/null
}
drop() { psql -q "$base/postgres" -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" >/dev/null; }

# start BIN DB [VAR=value...]: sets pid and url
start() {
  local bin="$1" db="$2" port
  shift 2
  port="$(free_port)"
  env "$@" DATABASE_URL="$base/$db" BIND_ADDRESS="127.0.0.1:$port" "$bin" serve >>"$work/server.log" 2>&1 &
  pid=$!
  pids+=("$pid")
  url="http://127.0.0.1:$port/graphql"
  for _ in $(seq 1 200); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && return; sleep 0.1; done
  echo "the server did not start:" >&2; tail -20 "$work/server.log" >&2; exit 1
}
stop() {
  kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
  local rest=() p
  for p in "${pids[@]}"; do [ "$p" = "$pid" ] || rest+=("$p"); done
  pids=("${rest[@]}")
}
gql() { curl -fs "$url" -H 'content-type: application/json' ${TOKEN:+-H "authorization: Bearer $TOKEN"} -d "$1"; }
# login N: TOKEN, STAGE (first stage of the first pipeline), TENANT of scale-N's admin
login() {
  TOKEN=""
  TOKEN="$(gql "{\"query\":\"mutation { login(input: { tenantSlug: \\\"scale-$1\\\", email: \\\"admin@scale-$1.test\\\", password: \\\"crm-seed-password\\\" }) { accessToken } }\"}" | jq -r .data.login.accessToken)"
  [ -n "$TOKEN" ] && [ "$TOKEN" != null ] || { echo "login to scale-$1 failed" >&2; exit 1; }
  STAGE="$(gql '{"query":"{ pipelines { stages { id } } }"}' | jq -r '.data.pipelines[0].stages[0].id')"
  TENANT="$(gql '{"query":"{ tenant { id } }"}' | jq -r .data.tenant.id)"
  export TOKEN STAGE
}
ratio() { python3 -c "import sys; a=[float(x) for x in sys.argv[1].split()]; b=[float(x) for x in sys.argv[2].split()]; print(f'{(sum(a)/len(a))/(sum(b)/len(b)):.2f}')" "$1" "$2"; }

if has write; then
  cat >"$work/create.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["content-type"] = "application/json"
wrk.headers["authorization"] = "Bearer " .. os.getenv("TOKEN")
local stage, prefix = os.getenv("STAGE"), os.getenv("PREFIX")
local threads, n = 0, 0
function setup(thread) threads = threads + 1; thread:set("tid", threads) end
function request()
  n = n + 1
  return wrk.format(nil, nil, nil, string.format(
    '{"query":"mutation($i: CreateOpportunityInput!) { createOpportunity(input: $i) { id } }",'
    .. '"variables":{"i":{"title":"%s %d-%d","stageId":"%s","potential":"100"}}}', prefix, tid, n, stage))
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %.1f %.1f %.1f %d %d\n", summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.status + summary.errors.connect + summary.errors.timeout, summary.requests))
end
LUA
  template "crm_bench_ev_$$_tb" "$base_bin"
  template "crm_bench_ev_$$_th" "$head_bin"
  echo "## createOpportunity, wrk -t2 -c$conns -d$duration: base = $base_bin ($base_rev)," \
    "head = $head_bin (built $(date -r "$head_bin" '+%F %T'), HEAD now $(git -C "$root" rev-parse --short HEAD))"
  printf '%-6s %-5s %10s %9s %9s %8s\n' round build "req/s" "p50 ms" "p99 ms" rows
  declare -A rps_of p99_of
  for r in $(seq 1 "$rounds"); do
    for which in base head; do
      bin="$base_bin"; tpl="crm_bench_ev_$$_tb"
      [ "$which" = head ] && { bin="$head_bin"; tpl="crm_bench_ev_$$_th"; }
      db="crm_bench_ev_$$_${which}_$r"
      fresh "$db" "$tpl"
      start "$bin" "$db"
      login 1
      PREFIX=warmup wrk -t2 -c"$conns" -d2s -s "$work/create.lua" "$url" >/dev/null
      read -r rps p50 p99 errors requests < <(PREFIX=bench wrk -t2 -c"$conns" -d"$duration" -s "$work/create.lua" "$url" | awk '/^RESULT/ { print $2, $3, $4, $5, $6 }')
      stop
      rows="$(sql "$db" "SELECT count(*) FROM opportunities WHERE title LIKE 'bench %'")"
      drop "$db"
      [ "$errors" = 0 ] || echo "# $which round $r: $errors HTTP errors" >&2
      [ "$rows" -ge "$requests" ] || echo "# $which round $r: $requests answers but $rows rows: GraphQL errors?" >&2
      printf '%-6s %-5s %10s %9s %9s %8s\n' "$r" "$which" "$rps" "$p50" "$p99" "$rows"
      rps_of[$which]+="$rps "; p99_of[$which]+="$p99 "
    done
  done
  echo "head/base: req/s x$(ratio "${rps_of[head]}" "${rps_of[base]}"), p99 x$(ratio "${p99_of[head]}" "${p99_of[base]}") (means over $rounds rounds)"
  drop "crm_bench_ev_$$_tb"
fi

if has webhooks || has fanout; then
  tpl="crm_bench_ev_$$_th"
  psql -tAq "$base/postgres" -c "SELECT 1 FROM pg_database WHERE datname = '$tpl'" | grep -q 1 || template "$tpl" "$head_bin"
fi

if has webhooks; then
  rport="$(free_port)"
  node "$helper" receive "$rport" &
  pids+=("$!")
  for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$rport/stats" >/dev/null 2>&1 && break; sleep 0.1; done
  db="crm_bench_ev_$$_webhooks"
  fresh "$db" "$tpl"
  # no due-date sweep: its BECAME_LATE events would be delivered too
  hooks=(WEBHOOK_ALLOW_HTTP=true WEBHOOK_ALLOW_PRIVATE=true EVENT_SWEEP_INTERVAL_MS=0)
  # register N TENANT: N endpoints on scale-TENANT
  register() {
    for k in $(seq 1 "$1"); do
      gql "{\"query\":\"mutation { createWebhookEndpoint(input: { url: \\\"http://127.0.0.1:$rport/h/$2-$k\\\" }) { endpoint { id } secret } }\"}" |
        jq -e .data.createWebhookEndpoint.endpoint.id >/dev/null || { echo "createWebhookEndpoint failed" >&2; exit 1; }
    done
  }
  # caught_up: waits until every endpoint of $TENANT delivered the whole log
  caught_up() {
    for _ in $(seq 1 3000); do
      [ "$(sql "$db" "SELECT count(*) FROM webhook_endpoints e JOIN event_heads h ON h.tenant_id = e.tenant_id WHERE e.tenant_id = '$TENANT' AND e.position < h.seq")" = 0 ] && return
      sleep 0.1
    done
    echo "# deliveries did not catch up in 300 s" >&2
  }
  echo "## webhook deliveries, one instance, WEBHOOK_WORKERS=4, $opps opportunities (created $create_conc at a time)"
  printf '%-6s %9s %10s %11s %5s %9s %13s %12s %12s\n' mode endpoints "creates/s" deliveries dupes seconds "deliveries/s" "lag p50 ms" "lag p99 ms"
  report() { # MODE N CREATES/S
    local s
    s="$(curl -fs "http://127.0.0.1:$rport/stats")"
    [ "$(jq '.count - .duplicates' <<<"$s")" = $((opps * $2)) ] || echo "# $1 $2: $(jq '.count - .duplicates' <<<"$s") distinct deliveries, $((opps * $2)) expected" >&2
    printf '%-6s %9s %10.0f %11s %5s %9.2f %13.0f %12s %12s\n' "$1" "$2" "$3" "$(jq .count <<<"$s")" "$(jq .duplicates <<<"$s")" "$(jq .seconds <<<"$s")" \
      "$(jq 'if .seconds > 0 then (.count - 1) / .seconds else 0 end' <<<"$s")" \
      "$([ "$1" = live ] && jq .lagP50 <<<"$s" || echo -)" "$([ "$1" = live ] && jq .lagP99 <<<"$s" || echo -)"
  }
  t=0
  start "$head_bin" "$db" "${hooks[@]}"
  for n in $endpoint_counts; do
    t=$((t + 1)); login "$t"; register "$n" "$t"
    curl -fs "http://127.0.0.1:$rport/reset" >/dev/null
    c="$(node "$helper" create "$url" "$TOKEN" "$STAGE" "$opps" "$create_conc" "webhook")"
    caught_up
    report live "$n" "$(jq .rate <<<"$c")"
  done
  stop
  for n in $endpoint_counts; do
    t=$((t + 1))
    start "$head_bin" "$db" "${hooks[@]}" WEBHOOK_WORKERS=0
    login "$t"; register "$n" "$t"
    c="$(node "$helper" create "$url" "$TOKEN" "$STAGE" "$opps" "$create_conc" "webhook")"
    stop
    curl -fs "http://127.0.0.1:$rport/reset" >/dev/null
    start "$head_bin" "$db" "${hooks[@]}"
    caught_up
    report drain "$n" "$(jq .rate <<<"$c")"
    stop
  done
  drop "$db"
fi

if has fanout; then
  ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
  [ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -gt $((subscribers + 100)) ] ||
    { echo "ulimit -n $(ulimit -n) is too low for $subscribers sockets" >&2; exit 1; }
  db="crm_bench_ev_$$_fanout"
  fresh "$db" "$tpl"
  start "$head_bin" "$db"
  login 1
  echo "## fan-out: $subscribers sockets x 1 opportunityEvents, $fanout_events createOpportunity ${fanout_spacing} ms apart"
  f="$(node "$helper" fanout "$url" "$TOKEN" "$STAGE" "$subscribers" "$fanout_events" "$fanout_spacing")" ||
    { echo "fan-out failed: $f" >&2; exit 1; }
  printf '%11s %9s %8s %9s %9s %9s %14s %10s\n' subscribers receipts missing "p50 ms" "p99 ms" "max ms" "mutation p50" "connect s"
  jq -r '[.subscribers, .receipts, .missing, (.p50*10|round/10), (.p99*10|round/10), (.max*10|round/10), (.mutationP50*10|round/10), (.connectSeconds*10|round/10)] | @tsv' <<<"$f" |
    while IFS=$'\t' read -r a b c d e g h i; do printf '%11s %9s %8s %9s %9s %9s %14s %10s\n' "$a" "$b" "$c" "$d" "$e" "$g" "$h" "$i"; done
  stop
  drop "$db"
fi
