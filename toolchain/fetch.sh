#!/bin/sh
# Fetch the pinned Debian source packages into build/src/<package>/.
#
# The deb-src entries are derived from this machine's own apt sources
# (/etc/apt/sources.list and sources.list.d, one-line or deb822 format), so the
# mirror and suite are whatever the host already trusts; apt verifies the
# signed Sources index, we verify the .dsc against sources.lock, and
# dpkg-source verifies every tarball against the .dsc.
#
# usage: toolchain/fetch.sh BUILD_DIR
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}
apt=$build/apt
src=$build/src
lock=$top/toolchain/sources.lock

mkdir -p "$apt/parts" "$apt/lists/partial" "$src"
: > "$apt/empty.list"

# deb822 stanzas: Types: deb -> deb-src; one-line: deb ... -> deb-src ...
: > "$apt/parts/acctd-src.sources"
: > "$apt/parts/acctd-src.list"
for f in /etc/apt/sources.list.d/*.sources; do
	[ -f "$f" ] || continue
	sed -n '/^Types:/s/^Types:.*/Types: deb-src/;p' "$f" >> "$apt/parts/acctd-src.sources"
	echo >> "$apt/parts/acctd-src.sources"
done
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
	[ -f "$f" ] || continue
	sed -n 's/^[[:space:]]*deb[[:space:]]/deb-src /p' "$f" >> "$apt/parts/acctd-src.list"
done
if [ ! -s "$apt/parts/acctd-src.sources" ] && [ ! -s "$apt/parts/acctd-src.list" ]; then
	echo "fetch: no apt sources found in /etc/apt to derive deb-src entries from" >&2
	exit 1
fi

APTOPTS="-q -o Dir::Etc::SourceList=$apt/empty.list -o Dir::Etc::SourceParts=$apt/parts \
 -o Dir::State::Lists=$apt/lists -o APT::Sandbox::User=root"

need_update=1
grep -v '^#' "$lock" | while read -r pkg ver sum; do
	[ -n "$pkg" ] || continue
	dir=$src/$pkg
	# the stamp names the version and the patches applied to it
	patches=$(cat "$top/toolchain/patches/$pkg"/*.patch 2>/dev/null | sha256sum | cut -c1-16)
	if [ -f "$dir/.ok" ] && [ "$(cat "$dir/.ok")" = "$ver $sum $patches" ]; then
		continue
	fi
	if [ "$need_update" = 1 ]; then
		# shellcheck disable=SC2086
		apt-get $APTOPTS update >/dev/null
		need_update=0
	fi
	rm -rf "$dir" "$dir.dl"
	mkdir -p "$dir.dl"
	echo "fetch: $pkg $ver"
	# shellcheck disable=SC2086
	(cd "$dir.dl" && apt-get $APTOPTS source --download-only "$pkg=$ver" >/dev/null)
	dsc=$(ls "$dir.dl"/*.dsc)
	got=$(sha256sum "$dsc" | cut -d' ' -f1)
	if [ "$got" != "$sum" ]; then
		echo "fetch: $dsc: sha256 $got, sources.lock pins $sum" >&2
		exit 1
	fi
	# dpkg-source checks every tarball against the .dsc; it cannot check the
	# uploader's signature without debian-keyring, and need not: the .dsc is
	# pinned above and apt verified the signed index it came from
	if ! dpkg-source -x "$dsc" "$dir" >"$dir.dl/log" 2>&1; then
		cat "$dir.dl/log" >&2
		exit 1
	fi
	for p in "$top/toolchain/patches/$pkg"/*.patch; do
		[ -f "$p" ] || continue
		echo "fetch: $pkg: applying $(basename "$p")"
		patch -s -p1 -d "$dir" < "$p"
	done
	rm -rf "$dir.dl"
	echo "$ver $sum $patches" > "$dir/.ok"
done
