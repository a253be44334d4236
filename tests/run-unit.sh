#!/bin/sh
# Run cmocka unit test binaries (under qemu-user when QEMU is given) and
# print one closing line "N passed, N failed". Exit 1 if any test failed or
# a binary crashed. The binaries run UNIT_JOBS at a time (default 2: they
# are CPU-bound, and each makes its own temp dirs); their outputs are
# printed in the order given.
# usage: tests/run-unit.sh "QEMU PREFIX or empty" BIN...
# (UNIT_LABEL names the closing line, "unit" unless set: run-valgrind.sh)
qemu=$1
shift
ACCTD_SRCDIR=$(cd "$(dirname "$0")/.." && pwd)
export ACCTD_SRCDIR
tmp=$(mktemp -d /tmp/acctd-unit-run.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
RUN_QEMU=$qemu RUN_TMP=$tmp
export RUN_QEMU RUN_TMP
i=0
for t in "$@"; do
	i=$((i + 1))
	printf '%s %s\n' "$i" "$t"
done | xargs -P "${UNIT_JOBS:-2}" -L 1 sh -c \
	'$RUN_QEMU "$2" > "$RUN_TMP/$1.out" 2>&1; echo $? > "$RUN_TMP/$1.rc"' run-unit
pass=0 fail=0 rc=0 i=0
for t in "$@"; do
	i=$((i + 1))
	out=$(cat "$tmp/$i.out" 2>/dev/null)
	st=$(cat "$tmp/$i.rc" 2>/dev/null || echo 127)
	printf '%s\n' "$out" | grep -E '^\[  (FAILED|  OK  |PASSED)|^\[==========\]' | grep -v '^\[==========\] tests: Running'
	p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -1)
	f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | tail -1)
	pass=$((pass + ${p:-0}))
	fail=$((fail + ${f:-0}))
	if [ "$st" -ne 0 ] || [ -z "$p" ]; then
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
