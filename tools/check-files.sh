#!/usr/bin/env bash
# Fails when a tracked file is an executable binary (build output such as a
# committed ./mewsref) or larger than 2 MB. The vendored Redoc bundle
# (server/docs/) and the npm lock file are allowed to be large.
# The committed content is checked (the index), as a clean clone has it.
# Usage: tools/check-files.sh [repository directory, default .]
set -eu # no pipefail: head closes the pipe of git cat-file early, on purpose
cd "${1:-.}"

limit=$((2 * 1024 * 1024))
allowed() {
	case "$1" in
	server/docs/* | tools/npm/package-lock.json) return 0 ;;
	esac
	return 1
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# mode, object and path of every entry, and the files git sees as text.
git ls-files -z --stage | tr '\0' '\n' >"$tmp/index"
git grep -I -l --cached -e '' -- . >"$tmp/text" 2>/dev/null || true
cut -f1 "$tmp/index" | cut -d' ' -f2 |
	git cat-file --batch-check='%(objectsize)' >"$tmp/sizes"

declare -A text
while IFS= read -r path; do text[$path]=1; done <"$tmp/text"

found=0
while IFS=$'\t' read -r meta path && IFS= read -r size <&3; do
	mode=${meta%% *}
	object=${meta#* }
	object=${object%% *}
	case "$mode" in 120000 | 160000) continue ;; esac # links, submodules
	allowed "$path" && continue
	if [ "$size" -gt "$limit" ]; then
		echo "check-files: $path is $size bytes, more than 2 MB: keep large files out of the repository"
		found=1
	fi
	[ "$size" -eq 0 ] && continue
	[ -n "${text[$path]:-}" ] && continue
	# Not text: an executable binary by its magic number (ELF, Mach-O, PE)
	# or by the executable bit.
	magic=$(git cat-file blob "$object" | head -c 4 | od -An -tx1 | tr -d ' \n')
	case "$magic" in
	7f454c46 | feedface | feedfacf | cefaedfe | cffaedfe | cafebabe | 4d5a*) exe=yes ;;
	*) if [ "$mode" = 100755 ]; then exe=yes; else exe=no; fi ;;
	esac
	if [ "$exe" = yes ]; then
		echo "check-files: $path is an executable binary: build output does not belong in the repository (git rm --cached '$path' and add it to .gitignore)"
		found=1
	fi
done <"$tmp/index" 3<"$tmp/sizes"
exit "$found"
