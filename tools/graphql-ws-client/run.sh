#!/usr/bin/env bash
# Starts the server on a throwaway SQLite database and drives it with the
# unmodified graphql-ws npm client (createClient). Exits non-zero on failure.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
[ -d node_modules/graphql-ws ] || npm ci --silent --no-audit --no-fund
source "$here/../serve-sqlite.sh"
node client.mjs "http://127.0.0.1:$port/graphql"
