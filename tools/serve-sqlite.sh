# Sourced by the tools' run.sh: builds the server, starts it on a
# throwaway SQLite database and a free port, stops it on exit, and sets
# $port once it answers /healthz.
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cargo build --quiet --manifest-path "$root/Cargo.toml" --bin crm-server
data="$(mktemp -d)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
DATA_DIR="$data" BIND_ADDRESS="127.0.0.1:$port" RUST_LOG=warn "$root/target/debug/crm-server" serve >"$data/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$data"' EXIT
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
