#!/usr/bin/env bash
# Breaking-change check of the spec, run by `make breaking`.
#
# Compares each document of SPECS (default: the messaging API and the admin
# API, openapi/messaging.yaml and openapi/admin.yaml) at BASE (default
# HEAD~1, the previous commit) with the working tree and fails when a change
# would break existing clients (of the API or of the admin API: tests and
# scripts of our users call both), unless that change is acknowledged in
# openapi/breaking-acknowledged.md. Where there is nothing to compare (first
# commit, shallow clone, file new at BASE) it says so and passes.
#
# Environment: BASE (a git revision), SPECS (space-separated paths), ACK, and
# OASDIFF_MODULE (oasdiff as module@version; the Makefile pins it).
set -euo pipefail
cd "$(dirname "$0")/.."

BASE="${BASE:-HEAD~1}"
SPECS="${SPECS:-${SPEC:-openapi/messaging.yaml openapi/admin.yaml}}"
ACK="${ACK:-openapi/breaking-acknowledged.md}"
OASDIFF_MODULE="${OASDIFF_MODULE:-github.com/oasdiff/oasdiff@v1.33.0}"

if ! git rev-parse --verify --quiet "$BASE^{commit}" >/dev/null; then
	echo "breaking: there is no commit $BASE here (first commit, or a shallow clone); nothing to compare, skipped."
	exit 0
fi
work="$(mktemp -d "${TMPDIR:-/tmp}/mewsref-breaking-XXXXXX")"
trap 'rm -rf "$work"' EXIT
# Built once from the module proxy (and Go's build cache), outside go.mod.
GOBIN="$work" go install "$OASDIFF_MODULE"
oasdiff="$work/oasdiff"

ignore=()
if [ -f "$ACK" ]; then
	ignore=(--err-ignore "$ACK")
fi

check() {
	local SPEC="$1"
	base_spec="$work/base-$(basename "$SPEC")"
	if ! git show "$BASE:$SPEC" >"$base_spec" 2>/dev/null; then
		echo "breaking: $SPEC does not exist at $BASE; nothing to compare, skipped."
		return 0
	fi
	echo "breaking: $SPEC at $BASE ($(git rev-parse --short "$BASE")) -> working tree; acknowledged: $ACK"
	# --flatten-allof compares what the allOf branches say together (every
	# request is Credentials + its own properties), so that moving a property
	# between branches is not reported as a change. ERR-level changes break
	# clients and fail; WARN-level ones are printed for review.
	flags=(breaking --flatten-allof --fail-on ERR --color never "${ignore[@]}")
	if ! "$oasdiff" "${flags[@]}" "$base_spec" "$SPEC"; then
		echo
		echo "breaking: the spec change above breaks existing clients. Undo it or, if it is intended"
		echo "(Mews changed the API), acknowledge it: add these lines to $ACK, each with the date"
		echo "and why (see README, \"Changing the spec\"):"
		echo
		"$oasdiff" "${flags[@]}" --format singleline "$base_spec" "$SPEC" 2>/dev/null | sed -n 's/^error\( at [^,]*\)\{0,1\}, /- /p' || true
		return 1
	fi
}

failed=0
for spec in $SPECS; do
	check "$spec" || failed=1
done
exit "$failed"
