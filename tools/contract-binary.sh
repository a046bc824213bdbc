#!/usr/bin/env bash
# Runs the contract suite against a separately started mewsref binary that
# the tests know only by its URL, as an integrator would point them at any
# server (`make contract-binary`; CI runs it). The binary listens on a free
# loopback port and is stopped at the end. Its storage is CONTRACT_DB: by
# default a throw-away in-memory SQLite store; a postgres:// URL runs it on
# PostgreSQL, in a schema of its own that is dropped at the end.
#
# The suite is run twice against the same server, so the second run meets
# the data of the first: the tests must not assume an empty server.
set -euo pipefail
cd "$(dirname "$0")/.."

work="$(mktemp -d "${TMPDIR:-/tmp}/mewsref-contract-XXXXXX")"
pid=""
db="${CONTRACT_DB:-:memory:}"
schema=""
cleanup() {
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	if [ -n "$schema" ]; then
		psql -q "$CONTRACT_DB" -c "DROP SCHEMA IF EXISTS $schema CASCADE" || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

case "$db" in
postgres://* | postgresql://*)
	schema="mewsref_contract_$$_$RANDOM"
	psql -q "$db" -c "CREATE SCHEMA $schema"
	case "$db" in *\?*) db="$db&search_path=$schema" ;; *) db="$db?search_path=$schema" ;; esac
	;;
esac

go build -o "$work/mewsref" ./cmd/mewsref
"$work/mewsref" -db "$db" -addr 127.0.0.1:0 2>"$work/server.log" &
pid=$!

# The binary logs `msg=listening addr=HOST:PORT` once it accepts connections.
addr=""
for _ in $(seq 1 100); do
	addr="$(sed -n 's/.*msg=listening addr=\([^ ]*\).*/\1/p' "$work/server.log" | head -n 1)"
	[ -n "$addr" ] && break
	if ! kill -0 "$pid" 2>/dev/null; then
		echo "contract-binary: the server exited:"; cat "$work/server.log"; exit 1
	fi
	sleep 0.1
done
if [ -z "$addr" ]; then
	echo "contract-binary: the server did not start listening:"; cat "$work/server.log"; exit 1
fi

where="$db"
[ -n "$schema" ] && where="PostgreSQL, schema $schema"
echo "contract-binary: mewsref (pid $pid) at http://$addr on $where"
for run in 1 2; do
	echo "contract-binary: run $run"
	CONTRACT_BASE_URL="http://$addr" go test ./client -run Contract -count=1 -v
done
