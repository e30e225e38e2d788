#!/usr/bin/env bash
# Builds smolplug's extension with AddressSanitizer + UndefinedBehaviorSanitizer into build/asan/
# (the normal build in smolplug/ is not touched) and runs the fuzzer on it:
#
#   tests/fuzz/build_asan.sh --target jpeg --iterations 20000 --seed 1 --jobs 2
#
# Arguments go to `python -m tests.fuzz`; none: build only. Environment: PYTHON (default
# .venv/bin/python), SMOLPLUG_ASAN_BUILD (build directory), NICE (default 10).
#
# The Python interpreter is not instrumented, so the ASan runtime is preloaded. Leak detection is
# off: CPython and numpy keep allocations alive until exit by design, and every report would be
# theirs. Any ASan or UBSan report aborts the process (the runner reports the job as crashed).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PY=${PYTHON:-$ROOT/.venv/bin/python}
OUT=${SMOLPLUG_ASAN_BUILD:-$ROOT/build/asan}
SAN="-fsanitize=address,undefined,float-cast-overflow -fno-omit-frame-pointer -fno-sanitize-recover=undefined"

mkdir -p "$OUT"
(cd "$OUT" && CFLAGS="$SAN -g" LDFLAGS="$SAN" "$PY" "$ROOT/native/build_native.py" > build.log 2>&1) || {
    tail -40 "$OUT/build.log"
    exit 1
}
SO=$(find "$OUT/smolplug" -maxdepth 1 -name '_native*.so' -newer "$ROOT/native/sp_jpeg.c" | head -1)
if [ -z "$SO" ]; then
    echo "build_asan.sh: no fresh extension in $OUT/smolplug (see $OUT/build.log)" >&2
    exit 1
fi
echo "sanitizer build: $SO"
[ $# -eq 0 ] && exit 0

export SMOLPLUG_FUZZ_NATIVE=$SO
export LD_PRELOAD=$(gcc -print-file-name=libasan.so)
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:halt_on_error=1:print_summary=1:${ASAN_OPTIONS:-}
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}
cd "$ROOT"
exec nice -n "${NICE:-10}" "$PY" -m tests.fuzz "$@"
