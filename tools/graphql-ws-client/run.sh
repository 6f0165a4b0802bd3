#!/usr/bin/env bash
# Starts the server on a throwaway SQLite database and drives it with the
# unmodified graphql-ws npm client (createClient). Exits non-zero on failure.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$here/../.."
cd "$here"
[ -d node_modules/graphql-ws ] || npm ci --silent --no-audit --no-fund
cargo build --quiet --manifest-path "$root/Cargo.toml" --bin crm-server
bin="$root/target/debug/crm-server"
data="$(mktemp -d)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
DATA_DIR="$data" BIND_ADDRESS="127.0.0.1:$port" RUST_LOG=warn "$bin" serve >"$data/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$data"' EXIT
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
node client.mjs "http://127.0.0.1:$port/graphql"
