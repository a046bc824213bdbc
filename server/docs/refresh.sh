#!/usr/bin/env bash
# Refreshes the Redoc bundle that the server embeds and serves at /docs,
# from the npm registry (npm pack checks the tarball's integrity):
#
#	make docs-assets                      # the version pinned in the Makefile
#	bash server/docs/refresh.sh 2.5.4     # the same, by hand
#
# It writes redoc.standalone.js, its licence files and SOURCE (what was
# taken from where); commit them together.
set -euo pipefail
version="${1:?usage: refresh.sh REDOC_VERSION}"
dir="$(cd "$(dirname "$0")" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

(cd "$tmp" && npm pack --silent "redoc@$version" >/dev/null)
tar -xzf "$tmp/redoc-$version.tgz" -C "$tmp" \
	package/LICENSE package/bundles/redoc.standalone.js package/bundles/redoc.standalone.js.LICENSE.txt
cp "$tmp/package/bundles/redoc.standalone.js" "$dir/redoc.standalone.js"
cp "$tmp/package/bundles/redoc.standalone.js.LICENSE.txt" "$dir/redoc.standalone.js.LICENSE.txt"
cp "$tmp/package/LICENSE" "$dir/LICENSE.redoc"
{
	echo "package: redoc@$version (npm registry)"
	echo "tarball integrity: $(cd "$tmp" && npm view --silent "redoc@$version" dist.integrity)"
	echo "file: bundles/redoc.standalone.js"
	echo "sha256: $(sha256sum "$dir/redoc.standalone.js" | cut -d' ' -f1)"
} >"$dir/SOURCE"
echo "server/docs: redoc@$version vendored"
