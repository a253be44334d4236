#!/bin/sh
# Run libFuzzer targets one at a time and print one line per target:
#   fuzz_x: N execs, N/s, cov N, ft N, corpus N, crashes N
# usage: tests/fuzz/run.sh fuzz|smoke SECONDS BIN...
#   fuzz   new inputs go to build/host-fuzz/corpus/<target>/ (kept between
#          runs); tests/fuzz/corpus/<target>/ is read, never written
#   smoke  the committed corpus is replayed, then SECONDS of fuzzing (fixed
#          seed) into a throwaway directory (make test: the targets must not rot)
# A crash, leak, timeout or out-of-memory leaves its input in
# build/host-fuzz/crashes/<target>/ and makes the exit status 1.
mode=$1 secs=$2
shift 2
root=$(cd "$(dirname "$0")/../.." && pwd)
rc=0 passed=0 failed=0
for bin in "$@"; do
	t=$(basename "$bin")
	b=$(dirname "$bin")
	seeds=$root/tests/fuzz/corpus/$t
	art=$b/crashes/$t
	if [ "$mode" = smoke ]; then
		# a fixed seed: make test does the same mutations every time
		work=$b/smoke/$t seed=-seed=1
		rm -rf "$work"
	else
		work=$b/corpus/$t seed=
	fi
	mkdir -p "$work" "$art" "$seeds"
	dict=
	[ -f "$root/tests/fuzz/$t.dict" ] && dict=-dict=$root/tests/fuzz/$t.dict
	before=$(ls "$art" | wc -l)
	log=$b/$t.log
	# leaks are checked per input (libFuzzer's default); the whole-request
	# target's server threads keep memory across inputs by design
	LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$root/tests/fuzz/lsan.supp:print_suppressions=0} \
	ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_stack_use_after_return=1} \
	UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
	"$bin" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=20 \
	    -max_len=16384 -print_final_stats=1 -artifact_prefix="$art/" \
	    $seed $dict "$work" "$seeds" >"$log" 2>&1
	st=$?
	after=$(ls "$art" | wc -l)
	crashes=$((after - before))
	[ $st -ne 0 ] && [ $crashes -eq 0 ] && crashes=1
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
	last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -1)
	cov=$(printf '%s\n' "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
	ft=$(printf '%s\n' "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
	corp=$(printf '%s\n' "$last" | sed -n 's/.* corp: \([0-9]*\).*/\1/p')
	printf '%s: %s execs, %s/s, cov %s, ft %s, corpus %s, crashes %d\n' \
	    "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$crashes"
	if [ $crashes -ne 0 ]; then
		grep -E 'ERROR: |runtime error|SUMMARY|Test unit written' "$log" | head -5 | sed 's/^/    /'
		echo "    full output: $log"
		rc=1
		failed=$((failed + 1))
	else
		passed=$((passed + 1))
	fi
done
echo "fuzz ran in $mode mode, ${secs} s per target"
echo "fuzz: $passed passed, $failed failed"
exit $rc
