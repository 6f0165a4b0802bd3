# Sourced by the tools' run.sh: builds the server, starts it on a
# throwaway SQLite database and a free port, stops it on exit, and sets
# $port once it answers /healthz. (tools/serve.sh does the work; it can
# also start PostgreSQL-backed servers.)
source "$(dirname "${BASH_SOURCE[0]}")/serve.sh"
crm_server_start sqlite
