#!/bin/sh
# Install the Debian packages named on the command line that are missing.
# Make targets call this with what they need, so a fresh Debian 12 machine
# needs nothing but git and make (and this script needs only dpkg and apt).
set -eu
missing=
for p in "$@"; do
	# dpkg-query says "install ok installed" only for a fully installed package
	s=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[ "$s" = "install ok installed" ] || missing="$missing $p"
done
[ -n "$missing" ] || exit 0
echo "prereqs: installing$missing"
SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo
stamp=/var/lib/apt/periodic/acctd-update-stamp
# refresh the package lists once a day at most
if [ ! -f "$stamp" ] || [ -n "$(find "$stamp" -mmin +1440 2>/dev/null)" ]; then
	$SUDO apt-get -q -o DPkg::Lock::Timeout=600 update >/dev/null
	$SUDO mkdir -p "$(dirname "$stamp")" && $SUDO touch "$stamp"
fi
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $SUDO apt-get -q -y -o DPkg::Lock::Timeout=600 install --no-install-recommends $missing >/dev/null
