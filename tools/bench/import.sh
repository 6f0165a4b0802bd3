#!/usr/bin/env bash
# The import benchmark: a $ROWS-row opportunities CSV (default 100,000) as
# a French spreadsheet writes it (`;`, amounts `1 234,56 €`, dates
# 31/12/2030, Windows-1252 headers), with 500 distinct contact emails
# (deduplicated), tags, a SELECT custom field, external ids, and one row
# in a hundred bad; uploaded, dry-run, then imported, on a scratch
# database (dropped on exit), while the server's VmRSS is sampled every
# 0.5 s:
#
#   tools/bench/import.sh                       # PostgreSQL, 100k rows
#   BENCH_DB=sqlite tools/bench/import.sh       # SQLite
#   ROWS=10000 tools/bench/import.sh            # a quick run
#
# Prints the upload time, the dry run's and the import's rows per second,
# and the RSS idle, during the upload and during each run (peak).
# Environment: BENCH_PG (postgres://postgres@127.0.0.1:5432), BENCH_DB
# (postgres | sqlite), ROWS (100000), DRY_RUN (1; 0 skips the dry run),
# CRM_SERVER_BIN (default
# target/release/crm-server, built when missing).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
base="${BENCH_PG:-postgres://postgres@127.0.0.1:5432}"
backend="${BENCH_DB:-postgres}"
rows="${ROWS:-100000}"
bin="${CRM_SERVER_BIN:-$root/target/release/crm-server}"
[ -x "$bin" ] || cargo build --release --quiet --manifest-path "$root/Cargo.toml" --bin crm-server
for t in jq curl python3; do
  command -v "$t" >/dev/null || { echo "$t is needed" >&2; exit 2; }
done
work="$(mktemp -d)"
db="crm_bench_import_$$"
cleanup() {
  [ -n "${sampler:-}" ] && kill "$sampler" 2>/dev/null && wait "$sampler" 2>/dev/null || true
  [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  [ "$backend" = postgres ] && psql -q "$base/postgres" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
if [ "$backend" = postgres ]; then
  psql -q "$base/postgres" -c "CREATE DATABASE $db" >/dev/null
  export DATABASE_URL="$base/$db"
else
  export DATABASE_URL="sqlite://$work/bench.db?mode=rwc"
fi
export JWT_SECRET="bench-secret-0123456789-abcdefghijklmnop" RUST_LOG=warn
echo "# $bin (built $(date -r "$bin" '+%F %T'); HEAD $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')), $backend, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$rows" "$work/deals.csv" <<'PY'
import random, sys
rows, path = int(sys.argv[1]), sys.argv[2]
random.seed(1)
stages = ["Request received", "Quote sent", "Quote signed"]
regions = ["EMEA", "APAC", "AMER", "LATAM"]
tags = ["Salon 2026", "Hot", "VIP", "Relance"]
with open(path, "wb") as f:
    f.write("Réf;Nom de l'affaire;Montant;Échéance;Étape;E-mail;Nom du contact;Société;Région;Tags\r\n".encode("cp1252"))
    for i in range(rows):
        bad = i % 100 == 99
        amount = f"{random.randint(100, 99999)} {random.randint(0, 999):03d},{random.randint(0, 99):02d} €"
        if bad:
            amount = "beaucoup"
        c = i % 500
        line = ";".join([
            f"EXT-{i}", f"Affaire {i}", amount,
            f"{random.randint(1, 28):02d}/{random.randint(1, 12):02d}/{random.randint(2027, 2030)}",
            random.choice(stages), f"contact{c}@client{c % 50}.fr", f"Contact {c}", f"Client {c % 50} SA",
            random.choice(regions), ", ".join(random.sample(tags, random.randint(0, 2))),
        ])
        f.write((line + "\r\n").encode("cp1252"))
PY
echo "# file: $rows rows, $(du -h "$work/deals.csv" | cut -f1)"

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
BIND_ADDRESS="127.0.0.1:$port" "$bin" serve >"$work/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 200); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fs "http://127.0.0.1:$port/healthz" >/dev/null || { echo "the server did not start:" >&2; tail -20 "$work/server.log" >&2; exit 1; }
url="http://127.0.0.1:$port"
TOKEN=""
gql() {
  local answer
  answer="$(jq -n --arg q "$1" '{query: $q}' | curl -sS "$url/graphql" -H 'content-type: application/json' \
    ${TOKEN:+-H "authorization: Bearer $TOKEN"} --data-binary @-)"
  if [ "$(jq '(.errors // []) | length' <<<"$answer")" != 0 ]; then
    printf 'GraphQL error\n  query:  %s\n  answer: %s\n' "$1" "$answer" >&2; exit 1
  fi
  printf '%s' "$answer"
}
signed="$(gql 'mutation { signUp(input: { tenantName: "Import Bench", name: "Admin", email: "admin@bench.test", password: "bench-password-1" }) { accessToken tenant { slug } } }')"
TOKEN="$(jq -r .data.signUp.accessToken <<<"$signed")"
slug="$(jq -r .data.signUp.tenant.slug <<<"$signed")"
# access tokens are short-lived: a long run signs in again now and then
relogin() {
  TOKEN=""
  TOKEN="$(gql "mutation { login(input: { tenantSlug: \"$slug\", email: \"admin@bench.test\", password: \"bench-password-1\" }) { accessToken } }" | jq -r .data.login.accessToken)"
}
gql 'mutation { createCustomField(input: { entity: OPPORTUNITY, key: "region", label: "Région", kind: SELECT, options: ["EMEA","APAC","AMER","LATAM"] }) { id } }' >/dev/null

rss() { awk '/VmRSS/ { print int($2 / 1024) }' "/proc/$pid/status"; }
sample() { local peak=0 r; while :; do r="$(rss)"; [ "$r" -gt "$peak" ] && peak="$r" && echo "$peak" >"$1"; sleep 0.5; done; }
idle="$(rss)"
echo "# RSS idle: ${idle} MB"

echo 0 >"$work/peak.upload"; sample "$work/peak.upload" & sampler=$!
t0="$(date +%s.%N)"
up="$(curl -sS -X POST "$url/import/opportunities.csv?fileName=deals.csv" -H "authorization: Bearer $TOKEN" --data-binary @"$work/deals.csv")"
t1="$(date +%s.%N)"
kill "$sampler"; wait "$sampler" 2>/dev/null || true; sampler=""
id="$(jq -r .id <<<"$up")"
[ "$id" != null ] || { echo "upload failed: $up" >&2; exit 1; }
printf '# upload: %s rows in %.1f s, peak RSS %s MB\n' "$(jq .totalRows <<<"$up")" "$(echo "$t1 - $t0" | bc -l)" "$(cat "$work/peak.upload")"
mapping="$(gql "{ importJob(id: \"$id\") { suggestedMapping { column field customFieldKey } } }" \
  | jq -c '[.data.importJob.suggestedMapping[] | select(.field != null) | {column, field, customFieldKey}]' \
  | sed -E 's/"([a-zA-Z]+)":/\1:/g')"

run() {  # run DRY UNTIL
  echo 0 >"$work/peak.$1"; sample "$work/peak.$1" & sampler=$!
  local t0 t1 job status
  t0="$(date +%s.%N)"
  gql "mutation { startImport(input: { importId: \"$id\", mapping: $mapping, numberFormat: COMMA_DECIMAL, dryRun: $1 }) { id } }" >/dev/null
  local polls=0
  while :; do
    polls=$((polls + 1))
    [ $((polls % 300)) = 0 ] && relogin
    job="$(gql "{ importJob(id: \"$id\") { status processedRows createdCount updatedCount errorCount } }")"
    status="$(jq -r .data.importJob.status <<<"$job")"
    [ "$status" = "$2" ] && break
    case "$status" in FAILED|CANCELLED) echo "the run ended $status: $job" >&2; exit 1;; esac
    sleep 1
  done
  t1="$(date +%s.%N)"
  kill "$sampler"; wait "$sampler" 2>/dev/null || true; sampler=""
  local secs; secs="$(echo "$t1 - $t0" | bc -l)"
  printf '# %s: %s in %.1f s = %.0f rows/s, peak RSS %s MB\n' "$([ "$1" = true ] && echo 'dry run' || echo 'import ')" \
    "$(jq -c .data.importJob <<<"$job")" "$secs" "$(echo "$rows / $secs" | bc -l)" "$(cat "$work/peak.$1")"
}
[ "${DRY_RUN:-1}" = 0 ] || run true VALIDATED
run false COMPLETED
echo "# RSS after: $(rss) MB"
if [ "$backend" = postgres ]; then
  echo "# contacts: $(psql -X -tAq "$DATABASE_URL" -c 'SELECT count(*) FROM contacts') (500 people and 50 companies expected), opportunities: $(psql -X -tAq "$DATABASE_URL" -c 'SELECT count(*) FROM opportunities')"
fi
if grep -qiE 'panic' "$work/server.log"; then echo "# server log:" >&2; grep -iE 'panic' "$work/server.log" | tail -20 >&2; fi
