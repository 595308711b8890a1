# Sourced by the shell tests: `check "what" command...` runs the command and
# prints "ok   what" or "FAIL what" (and sets fail=1); the test ends with
# `exit $fail`.
fail=0
check() {
  local what="$1"; shift
  if "$@"; then echo "ok   $what"; else echo "FAIL $what"; fail=1; fi
}
