#!/usr/bin/env bash
# Runs fuzz mutants through the native decoder under valgrind's memcheck, which sees what the
# sanitizer build cannot: reads of uninitialised memory (in smolplug's code and in libjpeg).
#
#   tests/fuzz/memcheck.sh [SEED] [GROUPS]     (default: seed 0, groups 0..199 = 2400 mutants)
#
# The mutants are the fuzzer's own (python -m tests.fuzz --replay 0:GROUPS --save DIR), decoded by
# tests/fuzz/decode_files.c with four request shapes, strict and not. Exit status 1 on any report.
# libjpeg-turbo's SIMD code is switched off (JSIMD_FORCENONE): memcheck approximates some of its
# vector instructions and flags defined colour-converted pixels as undefined (the output does not
# change with the heap's contents): with SIMD on, scaled 4:4:4 and 4:4:0 decodes all report.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PY=${PYTHON:-$ROOT/.venv/bin/python}
SEED=${1:-0}
NGROUPS=${2:-200}
OUT=$ROOT/build/memcheck
rm -rf "$OUT/inputs"
mkdir -p "$OUT/inputs"
command -v valgrind > /dev/null || { echo "memcheck.sh needs valgrind (Debian: apt-get install valgrind)" >&2; exit 2; }
cc -g -O1 -std=gnu11 -I"$ROOT/native" "$ROOT/tests/fuzz/decode_files.c" \
    "$ROOT"/native/sp_jpeg.c "$ROOT"/native/sp_resample.c "$ROOT"/native/sp_geometry.c "$ROOT"/native/sp_pool.c \
    -ljpeg -lm -lpthread -o "$OUT/decode_files"
(cd "$ROOT" && "$PY" -m tests.fuzz --target jpeg --seed "$SEED" --replay "0:$NGROUPS" --save "$OUT/inputs" > /dev/null)
find "$OUT/inputs" -name '*.bin' -print0 | sort -z | JSIMD_FORCENONE=1 xargs -0 nice -n "${NICE:-10}" \
    valgrind -q --error-exitcode=1 --track-origins=yes "$OUT/decode_files"
