#!/usr/bin/env bash
# Runs one test command of the suite against the ASan+UBSan build (fuzz/build.sh asan) and fails it if any
# sanitized process wrote a report, even one whose stderr nobody reads.
#   tests/hardening/sanitized_run.sh REPORT_DIR [--python] -- COMMAND...
# Every report goes to a file REPORT_DIR/report.PID (log_path), not to stderr: an rpool worker's stderr is its
# logfile or /dev/null, and a test that captures a child's stderr would otherwise swallow it. A worker that
# dies of a report is restarted by its supervisor and the test could still pass; the files are what fails it.
# Exit status: the command's, or 1 when it succeeded but a report exists (the reports are printed).
#
# --python: Debian's /usr/bin/python3 is not sanitized, so the shared ASan runtime the rpsim module links
# (-shared-libasan) is preloaded into it and every process it starts. LeakSanitizer is off there
# (detect_leaks=0): CPython keeps interned objects, caches and modules alive until exit by design, so a leak
# check of the interpreter reports its own allocations, not ours. Memory errors and UB are still reported.
# The rpsim binary the Python tests compare against (RPSIM) carries the static runtime and refuses to start
# beside a preloaded one ("incompatible ASan runtimes"), so RPSIM becomes a shim that drops LD_PRELOAD.
set -euo pipefail
shopt -s nullglob
usage="usage: tests/hardening/sanitized_run.sh REPORT_DIR [--python] -- COMMAND..."
reports=${1:?$usage}
shift
python=0
if [ "${1:-}" = --python ]; then python=1; shift; fi
[ "${1:-}" = -- ] || { echo "$usage" >&2; exit 2; }
shift
[ $# -gt 0 ] || { echo "$usage" >&2; exit 2; }

rm -rf "$reports"
mkdir -p "$reports"
leaks=1
if [ $python = 1 ]; then
  runtime=$(/usr/bin/clang++-14 -print-file-name=libclang_rt.asan-x86_64.so)
  [ -f "$runtime" ] || { echo "sanitized_run.sh: the shared ASan runtime is missing (Debian package libclang-rt-14-dev)" >&2; exit 2; }
  if [ -n "${RPSIM:-}" ]; then
    shim_dir=$(mktemp -d)
    trap 'rm -rf "$shim_dir"' EXIT
    printf '#!/bin/sh\nunset LD_PRELOAD\nexec "%s" "$@"\n' "$RPSIM" >"$shim_dir/rpsim"
    chmod +x "$shim_dir/rpsim"
    export RPSIM=$shim_dir/rpsim
  fi
  export LD_PRELOAD=$runtime
  leaks=0
fi
export ASAN_OPTIONS="halt_on_error=1:abort_on_error=0:detect_leaks=$leaks:log_path=$reports/report"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$reports/report"
if [ -z "${ASAN_SYMBOLIZER_PATH:-}" ] && [ -x /usr/lib/llvm-14/bin/llvm-symbolizer ]; then
  export ASAN_SYMBOLIZER_PATH=/usr/lib/llvm-14/bin/llvm-symbolizer
fi

set +e
"$@"
rc=$?
set -e
found=("$reports"/*)
if [ ${#found[@]} -gt 0 ]; then
  for f in "${found[@]}"; do
    echo "==== $f"
    cat "$f"
  done
  echo "sanitized_run.sh: ${#found[@]} sanitizer report(s) in $reports" >&2
  [ $rc -ne 0 ] || rc=1
fi
exit $rc
