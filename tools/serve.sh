# Sourced by test and tool scripts: starts throwaway servers and stops
# them on exit.
#
#   source tools/serve.sh
#   crm_server_start sqlite|postgres [NAME=value ...]   # sets $port
#
# Each call starts one server on a free port, on a fresh SQLite file (in a
# temporary DATA_DIR) or a fresh PostgreSQL database (created on
# $CRM_PG_URL, default postgres://postgres@127.0.0.1:5432, and dropped on
# exit), with the given extra environment, waits until it answers
# /healthz, and sets $port. Everything started is stopped and removed on
# exit (an EXIT trap); when the script fails, the servers' logs are shown.
#
# The server binary is built once with `cargo build --bin crm-server`,
# unless CRM_SERVER_BIN names one to use as it is.
crm_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
crm_pids=()
crm_dirs=()
crm_databases=()
crm_logs=()
crm_bin=""
: "${CRM_PG_URL:=postgres://postgres@127.0.0.1:5432}"

# Sets $crm_bin: $CRM_SERVER_BIN, or the server built (once) from this tree.
crm_server_build() {
  [ -n "${crm_bin:-}" ] && return 0
  if [ -n "${CRM_SERVER_BIN:-}" ]; then
    crm_bin="$CRM_SERVER_BIN"
  else
    (cd "$crm_root" && cargo build --quiet --bin crm-server)
    crm_bin="${CARGO_TARGET_DIR:-$crm_root/target}/debug/crm-server"
  fi
}

crm_server_cleanup() {
  local status=$? i
  for i in "${!crm_pids[@]}"; do
    kill "${crm_pids[$i]}" 2>/dev/null || true
    wait "${crm_pids[$i]}" 2>/dev/null || true
    if [ "$status" -ne 0 ] && [ -s "${crm_logs[$i]}" ]; then
      echo "# server log (${crm_logs[$i]##*/} of server $((i + 1))):" >&2
      tail -n 40 "${crm_logs[$i]}" | sed 's/^/#   /' >&2
    fi
  done
  for i in "${crm_databases[@]}"; do
    psql -q "$CRM_PG_URL/postgres" -c "drop database if exists \"$i\" with (force)" >/dev/null 2>&1 || true
  done
  for i in "${crm_dirs[@]}"; do rm -rf "$i"; done
  return "$status"
}
trap crm_server_cleanup EXIT

crm_server_start() {
  local backend="${1:-sqlite}" data url db pid
  shift || true
  crm_server_build
  data="$(mktemp -d)"
  crm_dirs+=("$data")
  case "$backend" in
    sqlite) url="sqlite://$data/crm.db?mode=rwc" ;;
    postgres)
      db="crm_test_$(date +%s)_$$_$RANDOM"
      psql -q "$CRM_PG_URL/postgres" -c "create database \"$db\"" >/dev/null
      crm_databases+=("$db")
      url="$CRM_PG_URL/$db"
      ;;
    *) echo "unknown backend '$backend' (sqlite or postgres)" >&2; return 2 ;;
  esac
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  env DATA_DIR="$data" DATABASE_URL="$url" BIND_ADDRESS="127.0.0.1:$port" RUST_LOG=warn NO_COLOR=1 "$@" \
    "$crm_bin" serve >"$data/server.log" 2>&1 &
  pid=$!
  crm_pids+=("$pid")
  crm_logs+=("$data/server.log")
  for _ in $(seq 1 300); do
    curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && return 0
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "the server ($backend) exited before answering /healthz" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "the server ($backend) did not answer /healthz within 30 s" >&2
  return 1
}
