#!/bin/sh
# Build the acctd and acctd-agent Debian packages from the binaries of one
# TARGET (docs/packaging.md): `make install-acctd` / `install-agent` into a
# staging root with PREFIX=/usr, then the Debian metadata, dpkg-deb
# --root-owner-group (no fakeroot), and lintian (every tag it still prints
# must be one explained in platform/deb/lintian-explained, else exit 1).
# usage: platform/deb/build.sh OUTDIR ARCH TARGET STATIC MAKE
set -eu
out=$1 arch=$2 target=$3 static=$4 make=$5
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
# the upstream version, Debian revision 1 (the packaging lives in the tree)
version=$(sed -n 's/^#define ACCTD_VERSION "\(.*\)"/\1/p' "$top/src/common/common.h")-1
maint="acctd maintainers <maintainers@users.noreply.r-seed-467d11c9.example>"
case $target in
host) strip="strip" ;;
*) strip=$target-strip ;;
esac
[ -n "$version" ] || { echo "build.sh: no ACCTD_VERSION" >&2; exit 1; }
mkdir -p "$out"

# stage PKG: the files of `make install-PART` under $out/stage/PKG
stage() {
	pkg=$1 part=$2 root=$out/stage-$arch/$1
	rm -rf "$root"
	# shellcheck disable=SC2086
	$make -C "$top" "install-$part" TARGET="$target" DESTDIR="$root" PREFIX=/usr \
		UNITDIR=/lib/systemd/system SYSUSERSDIR=/usr/lib/sysusers.d >/dev/null
	# /etc/acctd/PKG.conf is the conffile; the sample stays in the docs
	doc=$root/usr/share/doc/$pkg
	mkdir -p "$doc/examples"
	mv "$root/etc/acctd/$pkg.conf.sample" "$doc/examples/$pkg.conf"
	find "$root/usr/sbin" -type f -exec "$strip" --remove-section=.comment \
		--remove-section=.note --strip-unneeded {} +
	find "$root/usr/share/man" -type f -exec gzip -9n {} +
	sed -e "s|@PKG@|$pkg|g" "$here/copyright" > "$doc/copyright"
	sed -e "s|@PKG@|$pkg|g" -e "s|@VERSION@|$version|g" -e "s|@MAINT@|$maint|g" \
		"$here/changelog" | gzip -9n > "$doc/changelog.Debian.gz"
	chmod -R u+rwX,go+rX,go-w "$root"
	chmod 0644 "$doc/copyright" "$doc/changelog.Debian.gz" "$doc/examples/$pkg.conf"
}

# the libc6 version the binaries need (none when static)
depends() {
	[ "$static" = 1 ] && return 0
	v=$(objdump -T "$@" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -n 1)
	echo "libc6 (>= $v)"
}

# meta PKG DATADIR DESCRIPTION-FILE EXTRA-CONTROL
meta() {
	pkg=$1 datadir=$2 root=$out/stage-$arch/$1
	mkdir -p "$root/DEBIAN"
	dep=$(depends "$root"/usr/sbin/*)
	{
		echo "Package: $pkg"
		echo "Version: $version"
		echo "Architecture: $arch"
		echo "Maintainer: $maint"
		echo "Installed-Size: $(du -sk --exclude=DEBIAN "$root" | cut -f1)"
		echo "Depends: adduser${dep:+, $dep}"
		[ -z "$4" ] || echo "$4"
		echo "Section: admin"
		echo "Priority: optional"
		cat "$3"
	} > "$root/DEBIAN/control"
	echo "/etc/acctd/$pkg.conf" > "$root/DEBIAN/conffiles"
	for s in postinst prerm postrm; do
		sed -e "s|@PKG@|$pkg|g" -e "s|@DATADIR@|$datadir|g" "$here/$s" > "$root/DEBIAN/$s.tmp"
		if [ "$s" = postinst ]; then
			# the user and its data directory: platform/adduser.sh's body
			# shellcheck disable=SC2016
			sed -e '/^@ADDUSER@$/{r '"$top/platform/adduser.sh" -e 'd;}' \
				"$root/DEBIAN/$s.tmp" | sed -e '/^#!/d' -e '/^set -eu$/d' \
				-e 's|^dir=\$1$|dir='"$datadir"'|' > "$root/DEBIAN/$s"
			sed -i '1i #!/bin/sh' "$root/DEBIAN/$s"
			rm "$root/DEBIAN/$s.tmp"
		else
			mv "$root/DEBIAN/$s.tmp" "$root/DEBIAN/$s"
		fi
		chmod 0755 "$root/DEBIAN/$s"
	done
	(cd "$root" && find . -type f ! -path './DEBIAN/*' ! -path './etc/*' -printf '%P\0' |
		LC_ALL=C sort -z | xargs -0 md5sum) > "$root/DEBIAN/md5sums"
	chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/conffiles" "$root/DEBIAN/md5sums"
	deb=$out/${pkg}_${version}_$arch.deb
	dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
	echo "  DEB     $deb"
}

stage acctd acctd
meta acctd /var/lib/acctd "$here/acctd.description" ""
stage acctd-agent agent
meta acctd-agent /var/lib/acctd-agent "$here/acctd-agent.description" \
	"Recommends: postgresql-client"

# lintian: what is left must be explained (docs/packaging.md)
log=$out/lintian-$arch.log
lintian --tag-display-limit 0 --suppress-tags-from-file "$here/lintian-explained" \
	"$out/acctd_${version}_$arch.deb" "$out/acctd-agent_${version}_$arch.deb" > "$log" 2>&1 || true
if grep -q '^[EW]:' "$log"; then
	cat "$log" >&2
	echo "build.sh: lintian tags not explained in platform/deb/lintian-explained" >&2
	exit 1
fi
echo "  LINTIAN ok ($arch; explained tags: $(grep -c '^[a-z]' "$here/lintian-explained"))"
