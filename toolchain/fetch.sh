#!/bin/sh
# Fetch the pinned Debian source packages into build/src/<package>/.
#
# The deb-src entries are derived from this machine's own apt sources
# (/etc/apt/sources.list and sources.list.d, one-line or deb822 format), so the
# mirror and suite are whatever the host already trusts; apt verifies the
# signed Sources index, we verify the .dsc against sources.lock, and
# dpkg-source verifies every tarball against the .dsc.
#
# The host stays on its own Debian release; the pins come from a newer one
# (sources.lock says which): for every entry of the host's release
# (bookworm, bookworm-updates, bookworm-security) the same mirror's entry for
# ACCTD_DEB_RELEASE (default trixie) is added, deb-src only. Source packages
# need none of that release's binaries, so nothing on the host changes: the
# apt state is private to BUILD_DIR/apt.
#
# usage: toolchain/fetch.sh BUILD_DIR          fetch and patch the pins
#        toolchain/fetch.sh BUILD_DIR --check  each pin beside the newest
#                                              version the configured releases offer
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}
mode=${2:-fetch}
host_rel=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
new_rel=${ACCTD_DEB_RELEASE:-trixie}
apt=$build/apt
src=$build/src
lock=$top/toolchain/sources.lock

mkdir -p "$apt/parts" "$apt/lists/partial" "$src"
: > "$apt/empty.list"

# deb822 stanzas: Types: deb -> deb-src; one-line: deb ... -> deb-src ...
: > "$apt/parts/acctd-src.sources"
: > "$apt/parts/acctd-src.list"
# a stanza (or line) whose suites are the host's release and its -updates
# and -security is printed twice: as it is, and for $new_rel
for f in /etc/apt/sources.list.d/*.sources; do
	[ -f "$f" ] || continue
	awk -v host="$host_rel" -v new="$new_rel" '
	BEGIN { RS = ""; ORS = "\n\n" }
	{
		n = split($0, l, "\n"); out = ""; again = 0
		for (i = 1; i <= n; i++) {
			if (l[i] ~ /^Types:/) l[i] = "Types: deb-src"
			if (host != "" && l[i] ~ /^Suites:/ && l[i] ~ ("[ \t]" host "(-updates|-security)?([ \t]|$)"))
				again = 1
			out = out l[i] "\n"
		}
		print out
		if (again) { gsub("[ \t]" host, " " new, out); print out }
	}' "$f" >> "$apt/parts/acctd-src.sources"
done
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
	[ -f "$f" ] || continue
	sed -n 's/^[[:space:]]*deb[[:space:]]/deb-src /p' "$f" | while read -r line; do
		echo "$line"
		case " $line " in
		*" $host_rel "*|*" $host_rel-updates "*|*" $host_rel-security "*)
			[ -n "$host_rel" ] && echo "$line" | sed "s/ $host_rel\([- ]\)/ $new_rel\1/; s/ $host_rel\$/ $new_rel/" ;;
		esac
	done >> "$apt/parts/acctd-src.list"
done
if [ ! -s "$apt/parts/acctd-src.sources" ] && [ ! -s "$apt/parts/acctd-src.list" ]; then
	echo "fetch: no apt sources found in /etc/apt to derive deb-src entries from" >&2
	exit 1
fi

APTOPTS="-q -o Dir::Etc::SourceList=$apt/empty.list -o Dir::Etc::SourceParts=$apt/parts \
 -o Dir::State::Lists=$apt/lists -o APT::Sandbox::User=root"

if [ "$mode" = --check ]; then
	# shellcheck disable=SC2086
	apt-get $APTOPTS update >/dev/null
	printf '%-10s %-24s %-24s %s\n' package pinned newest offered
	grep -v '^#' "$lock" | while read -r pkg ver sum; do
		[ -n "$pkg" ] || continue
		newest=
		# shellcheck disable=SC2086
		for v in $(apt-cache $APTOPTS showsrc --only-source "$pkg" 2>/dev/null |
		    sed -n 's/^Version: //p'); do
			if [ -z "$newest" ] || dpkg --compare-versions "$v" gt "$newest"; then
				newest=$v
			fi
		done
		if [ -z "$newest" ]; then
			note="not offered by any configured release"
		elif dpkg --compare-versions "$newest" gt "$ver"; then
			note="NEWER: see docs/dependencies.md"
		else
			note="up to date"
		fi
		printf '%-10s %-24s %-24s %s\n' "$pkg" "$ver" "${newest:--}" "$note"
	done
	exit 0
fi

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
	# apt-get fails when one file is missing, but keeps the ones it got
	# shellcheck disable=SC2086
	(cd "$dir.dl" && apt-get $APTOPTS source --download-only "$pkg=$ver" >/dev/null 2>&1) || true
	dsc=$(ls "$dir.dl"/*.dsc 2>/dev/null || true)
	if [ -z "$dsc" ]; then
		# The mirror lacks the .dsc (some registries carry the tarballs
		# but not every .dsc). The signed Sources index apt verified
		# lists the .dsc's sha256 and every other file's: when the
		# listed .dsc is the pinned one, that stanza stands in for it,
		# written out as an unsigned .dsc whose checksums dpkg-source
		# verifies as usual.
		dsc=$dir.dl/index.dsc
		# shellcheck disable=SC2086
		apt-cache $APTOPTS showsrc --only-source "$pkg" | awk -v v="$ver" '
			BEGIN { RS = ""; FS = "\n" }
			index($0, "\nVersion: " v "\n") { print; exit }' > "$dir.dl/stanza"
		if ! grep -q "^ $sum [0-9]* [^ ]*\.dsc\$" "$dir.dl/stanza"; then
			echo "fetch: $pkg $ver: no .dsc on the mirror, and the index does not list the pinned $sum" >&2
			exit 1
		fi
		awk '
			/^(Format|Version):/ { print; next }
			/^Package:/ { sub(/^Package:/, "Source:"); print; next }
			/^(Files|Checksums-Sha256):/ { keep = 1; print; next }
			/^[^ ]/ { keep = 0 }
			keep && !/\.dsc$/ { print }' "$dir.dl/stanza" > "$dsc"
		echo "fetch: $pkg: the mirror has no .dsc; using the signed index's entry for it"
	else
		got=$(sha256sum "$dsc" | cut -d' ' -f1)
		if [ "$got" != "$sum" ]; then
			echo "fetch: $dsc: sha256 $got, sources.lock pins $sum" >&2
			exit 1
		fi
	fi
	# dpkg-source checks every tarball against the .dsc (and fails on a
	# missing one); it cannot check the uploader's signature without
	# debian-keyring, and need not: the .dsc is pinned above and apt
	# verified the signed index it came from
	if ! dpkg-source -x "$dsc" "$dir" >"$dir.dl/log" 2>&1; then
		# The mirror may lack Debian's own tarball too (libconfig,
		# cmocka in trixie). Then the upstream tarball alone is built:
		# the signed index's entry for the pinned .dsc lists its sha256,
		# checked here; Debian's packaging (not its code) is missing.
		orig=$(ls "$dir.dl"/*.orig.tar.* 2>/dev/null | head -1 || true)
		if [ -s "$dir.dl/stanza" ] && [ -n "$orig" ] &&
		    grep -q "^ $(sha256sum "$orig" | cut -d' ' -f1) [0-9]* $(basename "$orig")\$" "$dir.dl/stanza"; then
			rm -rf "$dir" && mkdir -p "$dir"
			tar -xf "$orig" -C "$dir" --strip-components=1
			echo "fetch: $pkg: the mirror has no Debian tarball; building $(basename "$orig") (sha256 as the signed index lists it)"
		else
			cat "$dir.dl/log" >&2
			exit 1
		fi
	fi
	for p in "$top/toolchain/patches/$pkg"/*.patch; do
		[ -f "$p" ] || continue
		echo "fetch: $pkg: applying $(basename "$p")"
		patch -s -p1 -d "$dir" < "$p"
	done
	rm -rf "$dir.dl"
	echo "$ver $sum $patches" > "$dir/.ok"
done
