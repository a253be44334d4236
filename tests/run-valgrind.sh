#!/bin/sh
# The host unit tests under valgrind's memcheck: an invalid read or write,
# a use of uninitialised memory, or memory still allocated at exit (a
# definite, indirect or possible leak) fails the binary, whose cmocka
# verdict is then counted as one failure. Ends with the line
# "valgrind: N passed, N failed" like tests/run-unit.sh.
# Without --track-origins (it finds the same errors, and doubles the time):
# VALGRIND_ORIGINS=1 adds it, to see where an uninitialised value came from.
# usage: tests/run-valgrind.sh BIN...
here=$(cd "$(dirname "$0")" && pwd)
command -v valgrind >/dev/null || { echo "valgrind: not installed (toolchain/prereqs.sh valgrind)"; exit 1; }
UNIT_LABEL=valgrind exec "$here/run-unit.sh" "valgrind -q --error-exitcode=99 --leak-check=full \
--show-leak-kinds=definite,indirect,possible --errors-for-leak-kinds=definite,indirect,possible \
${VALGRIND_ORIGINS:+--track-origins=yes }--suppressions=$here/valgrind.supp" "$@"
