#!/bin/sh
# make test's stages, one after another, with live output; at the end one
# line per stage with its wall time (also in LOGDIR/stages.times). Stops at
# the first failing stage.
# usage: tests/run-stages.sh LOGDIR 'stage=command' …   (commands run under sh -c)
set -u
logdir=$1
shift
mkdir -p "$logdir"
times=$logdir/stages.times
: > "$times"
t0=$(date +%s)
rc=0
for stage in "$@"; do
	s=$(date +%s)
	echo "=== make test: ${stage%%=*}: ${stage#*=}"
	sh -c "${stage#*=}"
	rc=$?
	e=$(date +%s)
	printf '%-14s %5ds  (at %5ds)  %s\n' "${stage%%=*}" $((e - s)) $((e - t0)) \
		"$([ $rc -eq 0 ] && echo ok || echo "FAILED ($rc)")" >> "$times"
	[ $rc -eq 0 ] || break
done
echo "stages (wall seconds, $(( $(date +%s) - t0 ))s in all):"
cat "$times"
exit $rc
