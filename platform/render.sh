#!/bin/sh
# Render the install-path templates (platform/**/*.in) and the sample
# configs with the Makefile's paths, so the binary, the units, the init
# scripts, the samples and the man pages name the same places (issue 14
# point 7: install paths come from one place, the Makefile).
# usage: platform/render.sh OUTDIR SBINDIR LIBEXECDIR SYSCONFDIR
set -eu
out=$1 sbindir=$2 libexecdir=$3 sysconfdir=$4
top=$(dirname "$0")/..
render() {
	mkdir -p "$(dirname "$out/$2")"
	sed -e "s|@SBINDIR@|$sbindir|g" -e "s|@LIBEXECDIR@|$libexecdir|g" \
		-e "s|@SYSCONFDIR@|$sysconfdir|g" "$top/$1" > "$out/$2.tmp"
	if grep -n '@[A-Z]*DIR@' "$out/$2.tmp" >&2; then
		echo "render.sh: $1: unknown @…@ left" >&2
		exit 1
	fi
	mv "$out/$2.tmp" "$out/$2"
}
# the samples are valid configs as they stand (unit tests load them): only
# their default install paths change
sample() {
	mkdir -p "$out/config"
	sed -e "s|/usr/local/libexec/|$libexecdir/|g" -e "s|/etc/acctd/|$sysconfdir/acctd/|g" \
		"$top/config/$1" > "$out/config/$1"
}
for f in systemd/acctd.service systemd/acctd-agent.service \
	openwrt/acctd.init openwrt/acctd-agent.init \
	busybox/S90acctd busybox/S91acctd-agent; do
	render "platform/$f.in" "$f"
done
chmod 0755 "$out"/openwrt/* "$out"/busybox/*
sample acctd.conf
sample acctd-agent.conf
