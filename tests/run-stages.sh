#!/bin/sh
# make test's stages in concurrent lanes: the API suites wait on the network
# and on acctd's sleeps far more than they compute, so they overlap well
# with the compiling lanes on a 2-core machine. Each lane runs its stages
# in order and stops at the first failure; the lanes run side by side, each
# into its own log (LOGDIR/<lane>.log), printed whole when all are done,
# followed by one line per stage with its wall time.
# usage: tests/run-stages.sh LOGDIR 'lane|stage cmd|stage cmd…' …
# (a stage is "name=command"; its command runs under sh -c)
set -u
logdir=$1
shift
mkdir -p "$logdir"
rm -f "$logdir"/*.log "$logdir"/*.times
t0=$(date +%s)
pids=
for lane in "$@"; do
	name=${lane%%|*}
	(
		rest=${lane#*|}
		while [ -n "$rest" ]; do
			stage=${rest%%|*}
			case $rest in *"|"*) rest=${rest#*|} ;; *) rest= ;; esac
			s=$(date +%s)
			echo "=== $name: ${stage%%=*}: ${stage#*=}"
			sh -c "${stage#*=}"
			rc=$?
			e=$(date +%s)
			printf '%-28s %4ds  (at %4ds)  %s\n' "$name: ${stage%%=*}" $((e - s)) $((e - t0)) \
				"$([ $rc -eq 0 ] && echo ok || echo "FAILED ($rc)")" >> "$logdir/$name.times"
			[ $rc -eq 0 ] || exit $rc
		done
	) > "$logdir/$name.log" 2>&1 &
	pids="$pids $!:$name"
done
failed=
for p in $pids; do
	wait "${p%%:*}" || failed="$failed ${p#*:}"
done
for lane in "$@"; do
	cat "$logdir/${lane%%|*}.log"
done
echo "stages (wall seconds; lanes ran side by side, $(( $(date +%s) - t0 ))s in all):"
cat "$logdir"/*.times
if [ -n "$failed" ]; then
	echo "make test: failed in lane(s):$failed (logs in $logdir)"
	exit 1
fi
