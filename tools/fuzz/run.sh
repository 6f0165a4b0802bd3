#!/usr/bin/env bash
# Fuzzes the GraphQL API with schemathesis (generated from schema.graphql),
# once on SQLite and once on PostgreSQL, each with a signed-up tenant's token
# and without one. Fails when an answer is >= 500, a GraphQL error lacks
# extensions.code or is coded INTERNAL, or the server panics or dies.
#
# Environment (all optional):
#   FUZZ_MAX_EXAMPLES  examples per operation and run (default 40)
#   FUZZ_SEED          schemathesis seed (default 20261201)
#   FUZZ_DATABASES     "sqlite postgres" (default), or one of them
#   FUZZ_PG_URL        server URL, default postgres://postgres@127.0.0.1:5432
#   CRM_SERVER_BIN     use this binary instead of `cargo build --bin crm-server`
# Logs (schemathesis output, server logs, stats) land in target/fuzz-out/.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

SCHEMATHESIS_VERSION=4.32.5
max_examples="${FUZZ_MAX_EXAMPLES:-40}"
seed="${FUZZ_SEED:-20261201}"
databases="${FUZZ_DATABASES:-sqlite postgres}"
pg_url="${FUZZ_PG_URL:-postgres://postgres@127.0.0.1:5432}"
venv="$root/target/fuzz-venv"
out="$root/target/fuzz-out"
started=$SECONDS

echo "== schemathesis $SCHEMATHESIS_VERSION (venv $venv)"
if [ "$("$venv/bin/schemathesis" --version 2>/dev/null || true)" != "schemathesis, version $SCHEMATHESIS_VERSION" ]; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi
"$venv/bin/schemathesis" --version

if [ -n "${CRM_SERVER_BIN:-}" ]; then
  bin="$CRM_SERVER_BIN"
  echo "== using $bin"
else
  echo "== cargo build --bin crm-server"
  cargo build --quiet --bin crm-server
  bin="$root/target/debug/crm-server"
fi

rm -rf "$out"
mkdir -p "$out"
work="$(mktemp -d)"
pid=""
pg_db=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  if [ -n "$pg_db" ]; then
    psql "$pg_url/postgres" -qAtc "DROP DATABASE IF EXISTS \"$pg_db\" WITH (FORCE)" >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

verdicts=()   # "stats-file:schemathesis-exit-code" for driver.py report
problems=()   # server-level failures (panic, died, did not start)

fuzz_one() {  # $1 = label, $2 = DATABASE_URL
  local label="$1" db_url="$2" dir="$work/$1"
  mkdir -p "$dir"
  local port
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  local url="http://127.0.0.1:$port/graphql"
  echo "== $label: server on 127.0.0.1:$port"
  DATABASE_URL="$db_url" DATA_DIR="$dir" BIND_ADDRESS="127.0.0.1:$port" APP_ENV=development \
    ACCESS_TOKEN_TTL_SECS=3600 RUST_LOG=warn RUST_BACKTRACE=1 LOG_FORMAT=text \
    "$bin" serve >"$out/$label-server.log" 2>&1 &
  pid=$!
  local up=""
  for _ in $(seq 1 600); do
    if curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; then up=1; break; fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$up" ]; then
    problems+=("$label: server did not answer /healthz (see target/fuzz-out/$label-server.log)")
    tail -20 "$out/$label-server.log" || true
    kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=""
    return
  fi
  "$venv/bin/python" "$here/driver.py" setup "$url" "$dir"

  local auth rc
  for auth in token anonymous; do
    local name="$label-$auth"
    local headers=()
    [ "$auth" = token ] && headers=(-H "Authorization: Bearer $(cat "$dir/token")")
    echo "== $name: schemathesis run schema.graphql --max-examples $max_examples --seed $seed"
    rc=0
    (cd "$dir" && PYTHONPATH="$here" PYTHONDONTWRITEBYTECODE=1 SCHEMATHESIS_HOOKS=fuzz_hooks \
      FUZZ_STATS="$out/$name.json" FUZZ_LABEL="$name" FUZZ_IDS="$dir/ids" \
      timeout 600 "$venv/bin/schemathesis" run "$root/schema.graphql" --url "$url" "${headers[@]}" \
        --checks crm_server_contract --max-examples "$max_examples" --seed "$seed" --workers 1 \
        --continue-on-failure --no-shrink --generation-database none --request-timeout 30 \
        --no-color --output-truncate true >"$out/$name.log" 2>&1) || rc=$?
    sed -n '/^=* SUMMARY =*$/,$p' "$out/$name.log" | grep -v '^\s*$' | sed 's/^/    /' | tail -25
    verdicts+=("$out/$name.json:$rc")
  done

  if ! kill -0 "$pid" 2>/dev/null; then
    problems+=("$label: the server process died during the run")
  elif ! curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; then
    problems+=("$label: the server no longer answers /healthz")
  fi
  if grep -q "panicked" "$out/$label-server.log"; then
    problems+=("$label: 'panicked' in the server log: $(grep -m1 panicked "$out/$label-server.log" | cut -c1-300)")
  fi
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  pid=""
}

for db in $databases; do
  case "$db" in
    sqlite)
      mkdir -p "$work/sqlite"
      fuzz_one sqlite "sqlite://$work/sqlite/fuzz.db?mode=rwc"
      ;;
    postgres)
      if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null && [ -d /etc/postgresql ]; then
        pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
        for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
      fi
      pg_db="fuzz_$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
      if psql "$pg_url/postgres" -qAtc "CREATE DATABASE \"$pg_db\"" >/dev/null; then
        fuzz_one postgres "$pg_url/$pg_db"
        psql "$pg_url/postgres" -qAtc "DROP DATABASE IF EXISTS \"$pg_db\" WITH (FORCE)" >/dev/null || true
      else
        problems+=("postgres: could not create database $pg_db on $pg_url")
      fi
      pg_db=""
      ;;
    *) echo "unknown database '$db' in FUZZ_DATABASES" >&2; exit 2 ;;
  esac
done

rc=0
"$venv/bin/python" "$here/driver.py" report "${verdicts[@]}" || rc=1
if [ ${#problems[@]} -gt 0 ]; then
  rc=1
  echo
  echo "== server problems"
  printf '  %s\n' "${problems[@]}"
fi
echo "fuzz: $([ $rc = 0 ] && echo PASSED || echo FAILED) in $((SECONDS - started))s (logs: target/fuzz-out/)"
exit $rc
