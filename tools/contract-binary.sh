#!/usr/bin/env bash
# Runs the contract suite against a separately started mewsref binary that
# the tests know only by its URL, as an integrator would point them at any
# server (`make contract-binary`; CI runs it). The binary listens on a free
# loopback port, on a throw-away in-memory store, and is stopped at the end.
#
# The suite is run twice against the same server, so the second run meets
# the data of the first: the tests must not assume an empty server.
set -euo pipefail
cd "$(dirname "$0")/.."

work="$(mktemp -d "${TMPDIR:-/tmp}/mewsref-contract-XXXXXX")"
pid=""
cleanup() {
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/mewsref" ./cmd/mewsref
"$work/mewsref" -db :memory: -addr 127.0.0.1:0 2>"$work/server.log" &
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

echo "contract-binary: mewsref (pid $pid) at http://$addr"
for run in 1 2; do
	echo "contract-binary: run $run"
	CONTRACT_BASE_URL="http://$addr" go test ./client -run Contract -count=1 -v
done
