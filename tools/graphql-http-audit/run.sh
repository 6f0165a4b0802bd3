#!/usr/bin/env bash
# Starts the server on a throwaway SQLite database and runs the graphql-http
# server audits against it. Exits non-zero on any failed or warned audit.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
[ -d node_modules/graphql-http ] || npm ci --silent --no-audit --no-fund
source "$here/../serve-sqlite.sh"
node audit.mjs "http://127.0.0.1:$port/graphql"
