#!/bin/sh
# Make a self-signed ECDSA P-256 certificate: PREFIX.crt and PREFIX.key (0600).
# usage: tools/mkcert.sh PREFIX COMMON_NAME [SAN]
set -eu
prefix=$1
cn=$2
san=${3:-"DNS:localhost,IP:127.0.0.1,IP:::1"}
umask 077
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	-keyout "$prefix.key" -out "$prefix.crt" -days 825 -subj "/CN=$cn" \
	-addext "subjectAltName=$san" 2>/dev/null
chmod 600 "$prefix.key"
chmod 644 "$prefix.crt"
