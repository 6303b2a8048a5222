#!/usr/bin/env bash
# Runs one fuzzer of the asan build (fuzz/build.sh asan) for a bounded time.
#   fuzz/run.sh TARGET SECONDS [BUILD_DIR]     TARGET: scenario, protocol, config or session
# First every saved crash (fuzz/regressions/TARGET/) and every seed (fuzz/corpus/TARGET/) is replayed once;
# then libFuzzer mutates for SECONDS. Exits non-zero on any crash, leak, timeout (10 s per input), out-of-memory
# or sanitizer report, leaving the input in BUILD_DIR/fuzz-artifacts/TARGET/ (copy it into
# fuzz/regressions/TARGET/ to keep it as a regression test). New inputs found go to BUILD_DIR/fuzz-corpus/TARGET/,
# which later runs reuse; the seed corpus in the repository is never written.
set -euo pipefail
shopt -s nullglob
src=$(cd "$(dirname "$0")/.." && pwd)
target=${1:?usage: fuzz/run.sh scenario|protocol|config|session SECONDS [BUILD_DIR]}
seconds=${2:?usage: fuzz/run.sh TARGET SECONDS [BUILD_DIR]}
build=${3:-$src/build/asan}
bin=$build/fuzzers/fuzz_$target
[ -x "$bin" ] || { echo "fuzz/run.sh: $bin is missing; run fuzz/build.sh asan first" >&2; exit 2; }

export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1:abort_on_error=0:allocator_may_return_null=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
if [ -z "${ASAN_SYMBOLIZER_PATH:-}" ] && [ -x /usr/lib/llvm-14/bin/llvm-symbolizer ]; then
  export ASAN_SYMBOLIZER_PATH=/usr/lib/llvm-14/bin/llvm-symbolizer
fi

seeds=$src/fuzz/corpus/$target
regressions=$src/fuzz/regressions/$target
found=$build/fuzz-corpus/$target
artifacts=$build/fuzz-artifacts/$target
mkdir -p "$found" "$artifacts"
options=(-timeout=10 -rss_limit_mb=2048 -max_len=16384 -artifact_prefix="$artifacts/" -print_final_stats=1)
[ -f "$src/fuzz/$target.dict" ] && options+=(-dict="$src/fuzz/$target.dict")

# Replay: a fuzzer given files runs each once and stops at the first failure.
replay=()
[ -d "$regressions" ] && replay+=("$regressions"/*)
replay+=("$seeds"/*)
echo "fuzz/run.sh: replaying ${#replay[@]} saved inputs of $target"
"$bin" "${options[@]}" "${replay[@]}" >"$build/fuzz-replay-$target.log" 2>&1 ||
  { tail -n 60 "$build/fuzz-replay-$target.log"; echo "fuzz/run.sh: a saved input of $target fails" >&2; exit 1; }

echo "fuzz/run.sh: fuzzing $target for ${seconds}s"
if ! "$bin" "${options[@]}" -max_total_time="$seconds" "$found" "$seeds" >"$build/fuzz-$target.log" 2>&1; then
  tail -n 80 "$build/fuzz-$target.log"
  echo "fuzz/run.sh: fuzz_$target failed; the input is in $artifacts/ (log: $build/fuzz-$target.log)" >&2
  exit 1
fi
grep -E '^(stat::|Done|INFO: -max_total_time)' "$build/fuzz-$target.log" || true
