#!/usr/bin/env bash
# Runs real GraphQL clients against the server:
#
#   tests/clients/run.sh [sqlite|postgres] [CHECK ...]
#
# Installs the pinned packages (npm ci) when node_modules is missing,
# builds the server (or uses $CRM_SERVER_BIN), starts two throwaway
# servers on the chosen backend (PostgreSQL: fresh databases on
# $CRM_PG_URL, dropped on exit) and runs every `*.check.mjs` of this
# directory (or only the CHECKs named, e.g. `apollo urql`):
#
#   GRAPHQL_URL            the server, default settings
#   GRAPHQL_URL_SHORT_TTL  a second server with ACCESS_TOKEN_TTL_SECS=2
#
# Both may deliver webhooks to plain-http receivers on 127.0.0.1
# (WEBHOOK_ALLOW_HTTP, WEBHOOK_ALLOW_PRIVATE; WEBHOOK_WORKERS=2).
#
# A check is a node script (run with --conditions=development, so that
# Apollo Client warns as in development) printing `ok N - name` lines and
# exiting non-zero on failure. The checks run in parallel; their output is
# printed check by check. Exits non-zero when any check fails.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
backend="${1:-sqlite}"
shift || true

if [ $# -gt 0 ]; then
  checks=()
  for name in "$@"; do checks+=("${name%.check.mjs}.check.mjs"); done
else
  checks=(*.check.mjs)
fi
for check in "${checks[@]}"; do
  [ -f "$check" ] || { echo "no such check: $check" >&2; exit 2; }
done

[ -d node_modules ] || npm ci --silent --no-audit --no-fund

source "$here/../../tools/serve.sh"
webhooks=(WEBHOOK_ALLOW_HTTP=true WEBHOOK_ALLOW_PRIVATE=true WEBHOOK_WORKERS=2)
crm_server_start "$backend" "${webhooks[@]}"
export GRAPHQL_URL="http://127.0.0.1:$port/graphql"
crm_server_start "$backend" "${webhooks[@]}" ACCESS_TOKEN_TTL_SECS=2
export GRAPHQL_URL_SHORT_TTL="http://127.0.0.1:$port/graphql"

out="$(mktemp -d)"
crm_dirs+=("$out")
started=$SECONDS
pids=()
for check in "${checks[@]}"; do
  timeout 150 node --conditions=development "$check" >"$out/$check.log" 2>&1 &
  pids+=($!)
done
failed=()
for i in "${!checks[@]}"; do
  status=0
  wait "${pids[$i]}" || status=$?
  echo "# ${checks[$i]} ($backend)"
  cat "$out/${checks[$i]}.log"
  if [ "$status" -ne 0 ]; then
    [ "$status" -eq 124 ] && echo "not ok - ${checks[$i]} timed out after 150 s"
    failed+=("${checks[$i]}")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "# FAILED on $backend: ${failed[*]}"
  exit 1
fi
echo "# all ${#checks[@]} checks passed on $backend in $((SECONDS - started)) s"
