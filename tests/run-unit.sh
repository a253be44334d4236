#!/bin/sh
# Run cmocka unit test binaries (under qemu-user when QEMU is given) and
# print one closing line "N passed, N failed". Exit 1 if any test failed or
# a binary crashed.
# usage: tests/run-unit.sh "QEMU PREFIX or empty" BIN...
# (UNIT_LABEL names the closing line, "unit" unless set: run-valgrind.sh)
qemu=$1
shift
ACCTD_SRCDIR=$(cd "$(dirname "$0")/.." && pwd)
export ACCTD_SRCDIR
pass=0 fail=0 rc=0
for t in "$@"; do
	out=$($qemu "$t" 2>&1)
	st=$?
	printf '%s\n' "$out" | grep -E '^\[  (FAILED|  OK  |PASSED)|^\[==========\]' | grep -v '^\[==========\] tests: Running' 
	p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -1)
	f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | tail -1)
	pass=$((pass + ${p:-0}))
	fail=$((fail + ${f:-0}))
	if [ $st -ne 0 ] || [ -z "$p" ]; then
		printf '%s\n' "$out" | tail -30
		echo "${UNIT_LABEL:-unit}: $t exited $st"
		rc=1
		[ -n "$f" ] || fail=$((fail + 1))
	fi
done
echo "unit tests ran ${qemu:+under $qemu }on $(basename "$(dirname "$(dirname "$(dirname "$1")")")")"
echo "${UNIT_LABEL:-unit}: $pass passed, $fail failed"
[ $fail -eq 0 ] || rc=1
exit $rc
