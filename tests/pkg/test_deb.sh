#!/bin/sh
# make deb-test (a make test stage): the amd64 packages on this machine
# (root; a test machine). Installs acctd and acctd-agent with dpkg, checks
# what a user gets, starts the packaged acctd as the packaged user on its
# data directory, keeps an edited conffile over a reinstall, removes and
# purges, and purges at the end even when a check failed.
# usage: tests/pkg/test_deb.sh DEBDIR ARCH
set -u
debdir=$1 arch=$2
top=$(cd "$(dirname "$0")/../.." && pwd)
version=$(sed -n 's/^#define ACCTD_VERSION "\(.*\)"/\1/p' "$top/src/common/common.h")-1
acctd_deb=$debdir/acctd_${version}_$arch.deb
agent_deb=$debdir/acctd-agent_${version}_$arch.deb
tmp=$(mktemp -d)
pid=
passed=0
failed=0

# COMMAND… FILE for each certificate and key an operator puts where the
# sample configs name them
sample_certs_each() {
	for f in /etc/acctd/tls.crt /etc/acctd/tls.key /etc/acctd/node.crt \
	    /etc/acctd/node.key /etc/acctd/acctd-push.crt; do
		"$@" "$f" || return 1
	done
}

cleanup() {
	[ -z "$pid" ] || kill "$pid" 2>/dev/null
	sample_certs_each rm -f
	dpkg --purge acctd acctd-agent >/dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# check NAME COMMAND…: one line per check
check() {
	name=$1
	shift
	if out=$("$@" 2>&1); then
		passed=$((passed + 1))
		echo "ok    $name"
	else
		failed=$((failed + 1))
		echo "FAIL  $name"
		printf '%s\n' "$out" | sed 's/^/      /' | head -n 20
	fi
}

mode_owner() {
	[ "$(stat -c '%a %U:%G' "$1")" = "$2" ] || {
		echo "$1: $(stat -c '%a %U:%G' "$1"), want $2"
		return 1
	}
}

is_absent() {
	[ ! -e "$1" ] || { echo "$1 still there"; return 1; }
}

acctd_ok() {
	[ "$("$@")" = ok ]
}

# $2… fails, and its message names $1
refused_naming() {
	what=$1
	shift
	out=$("$@" 2>&1) && { echo "accepted: $out"; return 1; }
	printf '%s\n' "$out" | grep -q -- "$what" || { echo "$out"; return 1; }
}

# what an operator does after installing (README "Deploying"): the
# certificates and keys the sample configs name, owned by acctd (the units
# run as acctd), keys 0600; the agent pins acctd's push certificate
sample_certs() {
	"$top/tools/mkcert.sh" /etc/acctd/tls "acctd" &&
	"$top/tools/mkcert.sh" /etc/acctd/node "node1" &&
	cp /etc/acctd/tls.crt /etc/acctd/acctd-push.crt &&
	sample_certs_each chown acctd:acctd
}

# the packaged acctd, as the packaged user, on the packaged data dir, with
# a certificate of its own and a free port: ready, /healthz answers
serve() {
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	"$top/tools/mkcert.sh" "$tmp/tls" "acctd deb test" >/dev/null 2>&1 || return 1
	chown acctd:acctd "$tmp/tls.key" "$tmp/tls.crt" && chmod 0755 "$tmp"
	cat > "$tmp/acctd.conf" <<CONF
listen = [ "127.0.0.1:$port" ];
tls = { cert = "$tmp/tls.crt"; key = "$tmp/tls.key"; };
data_dir = "/var/lib/acctd";
passwords = { pbkdf2_iterations = 1000; };
dns = { hosts_file = "/var/lib/acctd/workspaces.hosts"; };
CONF
	setpriv --reuid=acctd --regid=acctd --init-groups /usr/sbin/acctd -c "$tmp/acctd.conf" \
		2>"$tmp/acctd.log" &
	pid=$!
	n=0
	until grep -q 'ready on' "$tmp/acctd.log"; do
		n=$((n + 1))
		if [ $n -ge 100 ] || ! kill -0 "$pid" 2>/dev/null; then
			cat "$tmp/acctd.log"
			return 1
		fi
		sleep 0.1
	done
	curl -sfk "https://127.0.0.1:$port/healthz" | grep -q '"status":"ok"' || return 1
	kill "$pid" && wait "$pid"
	rc=$?
	pid=
	[ $rc -eq 0 ] || { echo "acctd exited $rc"; cat "$tmp/acctd.log"; return 1; }
	mode_owner /var/lib/acctd/data.mdb "600 acctd:acctd"
}

if [ "$(id -u)" != 0 ]; then
	echo "test_deb: dpkg -i needs root (make test's machine is a root test machine)" >&2
	exit 1
fi
if dpkg -s acctd >/dev/null 2>&1 || dpkg -s acctd-agent >/dev/null 2>&1; then
	echo "test_deb: acctd or acctd-agent is installed on this machine; not touching it" >&2
	exit 1
fi
check "dpkg -i acctd acctd-agent" dpkg -i "$acctd_deb" "$agent_deb"
check "acctd -t refuses the sample before its certificate exists, naming tls.cert" \
	refused_naming "tls.cert: /etc/acctd/tls.crt" /usr/sbin/acctd -t -c /etc/acctd/acctd.conf
check "the sample configs' certificates made (tools/mkcert.sh)" sample_certs
check "acctd -t -c /etc/acctd/acctd.conf says ok" acctd_ok /usr/sbin/acctd -t -c /etc/acctd/acctd.conf
check "acctd-agent -t -c /etc/acctd/acctd-agent.conf says ok" \
	acctd_ok /usr/sbin/acctd-agent -t -c /etc/acctd/acctd-agent.conf
check "the system user acctd exists" id acctd
check "/var/lib/acctd is 0700 acctd:acctd" mode_owner /var/lib/acctd "700 acctd:acctd"
check "/var/lib/acctd-agent is 0700 acctd:acctd" mode_owner /var/lib/acctd-agent "700 acctd:acctd"
check "the agent sample's hook is the packaged one" \
	grep -q '^hook = "/usr/libexec/acctd/apply-postgres";' /etc/acctd/acctd-agent.conf
check "apply-postgres is installed, executable" test -x /usr/libexec/acctd/apply-postgres
check "the units run the packaged binaries" \
	grep -q '^ExecStart=/usr/sbin/acctd -c /etc/acctd/acctd.conf$' /lib/systemd/system/acctd.service
check "systemd-analyze verify acctd.service acctd-agent.service" \
	systemd-analyze verify /lib/systemd/system/acctd.service /lib/systemd/system/acctd-agent.service
for page in acctd.8 acctd.conf.5 acctd-agent.8 acctd-agent.conf.5; do
	check "man page $page" mandoc -T lint -W warning "/usr/share/man/man${page##*.}/$page.gz"
done
check "the packaged acctd runs as acctd on /var/lib/acctd" serve

echo "# edited by test_deb" >> /etc/acctd/acctd.conf
check "dpkg -i again (reinstall)" dpkg -i "$acctd_deb" "$agent_deb"
check "the edited conffile is kept" grep -q '^# edited by test_deb$' /etc/acctd/acctd.conf
check "the store is kept" test -f /var/lib/acctd/data.mdb

check "dpkg -r acctd acctd-agent" dpkg -r acctd acctd-agent
check "remove: the binaries are gone" is_absent /usr/sbin/acctd
check "remove: the config is kept" grep -q '^# edited by test_deb$' /etc/acctd/acctd.conf
check "remove: the store is kept" test -f /var/lib/acctd/data.mdb
sample_certs_each rm -f
check "dpkg --purge acctd acctd-agent" dpkg --purge acctd acctd-agent
check "purge: the config is gone" is_absent /etc/acctd/acctd.conf
check "purge: /var/lib/acctd is gone" is_absent /var/lib/acctd
check "purge: /var/lib/acctd-agent is gone" is_absent /var/lib/acctd-agent

echo "deb: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
