#!/usr/bin/env bash
# Configures and builds one of the two sanitizer builds of the repository, next to the ordinary g++ build.
#   fuzz/build.sh asan [BUILD_DIR]   clang-14, AddressSanitizer + UndefinedBehaviorSanitizer + libFuzzer coverage:
#                                     the fuzzers, the Catch2 unit tests, the rpsim and rpool binaries and
#                                     the Python package (default dir: build/asan)
#   fuzz/build.sh tsan [BUILD_DIR]   g++, ThreadSanitizer: the parallel replication test (default dir: build/tsan)
# Both reuse the project's own CMake files (configured with RPSIM_SANITIZER_BUILD) and build only the targets
# they need, so a second configuration costs a few seconds and nothing outside these targets is compiled.
# RPSIM_SANITIZER_JOBS sets the parallelism (default 2).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
kind=${1:?usage: fuzz/build.sh asan|tsan [BUILD_DIR]}
jobs=${RPSIM_SANITIZER_JOBS:-2}

case "$kind" in
  asan)
    out=${2:-$src/build/asan}
    # -O1: fast enough to fuzz, much quicker to compile than -O2. Every UB check aborts (no recovery), so a
    # report cannot scroll by unnoticed. vptr needs RTTI everywhere, which the Debian libraries have.
    flags="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fsanitize=fuzzer-no-link"
    flags+=" -fno-sanitize-recover=all"
    compiler=(-DCMAKE_CXX_COMPILER=/usr/bin/clang++-14)
    mode=fuzz
    targets=(fuzz_scenario fuzz_protocol fuzz_config fuzz_session test_sim test_models test_scenarios test_pooler
             rpsim rpool rpsim_python)
    # The Python module is loaded by Debian's unsanitized python3, so it cannot carry the static ASan runtime
    # that executables get: it links the shared one, which the tests preload (tests/hardening/sanitized_run.sh).
    module_flags="$flags -shared-libasan"
    ;;
  tsan)
    out=${2:-$src/build/tsan}
    flags="-O1 -g -fno-omit-frame-pointer -fsanitize=thread"
    compiler=(-DCMAKE_CXX_COMPILER=/usr/bin/g++)
    mode=thread
    targets=(hardening_tsan_replications)
    module_flags=$flags
    ;;
  *) echo "fuzz/build.sh: unknown build '$kind' (asan or tsan)" >&2; exit 2 ;;
esac

if [ ! -x "${compiler[0]#*=}" ]; then
  echo "fuzz/build.sh: ${compiler[0]#*=} is missing (Debian packages: clang-14 libclang-rt-14-dev for asan, g++ for tsan)" >&2
  exit 2
fi
generator=()
if [ ! -f "$out/CMakeCache.txt" ] && command -v ninja >/dev/null; then generator=(-G Ninja); fi
cmake -S "$src" -B "$out" "${generator[@]}" "${compiler[@]}" \
  -DCMAKE_BUILD_TYPE=Sanitize -DRPSIM_SANITIZER_BUILD=$mode \
  -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="$flags" -DCMAKE_SHARED_LINKER_FLAGS="$flags" \
  -DCMAKE_MODULE_LINKER_FLAGS="$module_flags" \
  -DPython3_EXECUTABLE=/usr/bin/python3 >/dev/null
cmake --build "$out" -j "$jobs" --target "${targets[@]}"
