#!/bin/sh
# Make the system user acctd (both programs run as it) and its data
# directory DIR, 0700, owned by acctd. Used by `make install` (no DESTDIR)
# and by the packages' postinst. Idempotent: an existing user is kept, and
# an existing directory is left as it is unless it still belongs to root
# (dpkg-statoverride entries are respected by the caller).
# usage: platform/adduser.sh DIR
set -eu
dir=$1
if ! id acctd >/dev/null 2>&1; then
	if command -v systemd-sysusers >/dev/null; then
		# the same line as sysusers.d/acctd.conf (platform/systemd/acctd.sysusers)
		systemd-sysusers --inline 'u acctd - "acctd daemon" /var/lib/acctd'
	elif command -v adduser >/dev/null && adduser --help 2>&1 | grep -q -- --system; then
		adduser --quiet --system --group --no-create-home --home /var/lib/acctd \
			--gecos "acctd daemon" acctd
	elif command -v useradd >/dev/null; then
		groupadd --system acctd 2>/dev/null || true
		useradd --system --gid acctd --no-create-home --home-dir /var/lib/acctd \
			--shell /usr/sbin/nologin --comment "acctd daemon" acctd
	else
		# BusyBox
		addgroup -S acctd 2>/dev/null || true
		adduser -S -D -H -h /var/lib/acctd -s /bin/false -G acctd -g "acctd daemon" acctd
	fi
fi
if [ ! -d "$dir" ]; then
	install -d -o acctd -g acctd -m 0700 "$dir"
elif command -v dpkg-statoverride >/dev/null && dpkg-statoverride --list "$dir" >/dev/null; then
	: # the administrator's choice
elif [ "$(stat -c %u "$dir")" = 0 ]; then
	chown acctd:acctd "$dir"
	chmod 0700 "$dir"
fi
