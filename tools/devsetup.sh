#!/bin/sh
# Prepare build/run for `make run`: a development TLS certificate (ECDSA
# P-256, self-signed, for 127.0.0.1 and localhost), a data directory and
# the rendered development config. Idempotent: an existing certificate and
# data directory are kept, so the bootstrap password stays valid.
#
# usage: tools/devsetup.sh RUN_DIR TEMPLATE
set -eu
run=$1
tmpl=$2
mkdir -p "$run"
chmod 700 "$run"
if [ ! -f "$run/tls.crt" ] || [ ! -f "$run/tls.key" ]; then
	tools/mkcert.sh "$run/tls" "acctd development"
	echo "devsetup: made $run/tls.crt (self-signed; your browser will warn)"
fi
sed "s#@RUN@#$run#g" "$tmpl" > "$run/acctd.dev.conf"
