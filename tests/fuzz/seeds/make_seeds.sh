#!/usr/bin/env bash
# Regenerates the fuzz seeds Pillow cannot write (arithmetic coding, one scan per component, odd
# sampling, restart intervals) with libjpeg-turbo's own tools (Debian: apt-get install
# libjpeg-turbo-progs). The files are committed: running the fuzzer does not need the tools.
set -euo pipefail
cd "$(dirname "$0")"
python3 - <<'PY'
import math
w, h = 41, 29  # odd, not a multiple of any MCU size
rows = []
for y in range(h):
    for x in range(w):
        inside = 10 <= x < 25 and 8 <= y < 20
        rows.append((200, 40, 90) if inside else (x * 255 // (w - 1), y * 255 // (h - 1),
                    int(128 + 90 * math.sin(x / 5.0) * math.cos(y / 7.0))))
with open("source.ppm", "wb") as f:
    f.write(b"P6\n%d %d\n255\n" % (w, h) + bytes(v for px in rows for v in px))
PY
printf '0: 0 63 0 0;\n1: 0 63 0 0;\n2: 0 63 0 0;\n' > one_scan_per_component.txt
cjpeg -quality 85 -sample 2x2 -arithmetic source.ppm > arithmetic.jpg
cjpeg -quality 85 -sample 2x2 -arithmetic -progressive source.ppm > arithmetic_progressive.jpg
cjpeg -quality 85 -grayscale -arithmetic -progressive source.ppm > arithmetic_progressive_gray.jpg
cjpeg -quality 85 -sample 1x1 -scans one_scan_per_component.txt source.ppm > noninterleaved.jpg
cjpeg -quality 85 -sample 4x1 -restart 1B source.ppm > yuv411_restart.jpg
cjpeg -quality 85 -sample 2x1,1x2,1x1 source.ppm > odd_sampling.jpg
cjpeg -quality 85 -sample 2x2 -progressive -restart 1 source.ppm > progressive_restart.jpg
cjpeg -quality 95 -sample 1x2 -optimize -dct float source.ppm > yuv440_optimized.jpg
# chroma at 2x4 and 4x2 relative sampling: libjpeg-turbo < 3.0 mis-sizes them in jpeg_crop_scanline
python3 - <<'PY'
import math
w, h = 64, 48
px = bytes(v for y in range(h) for x in range(w)
           for v in ((x * 4) % 256, (y * 5) % 256, int(128 + 100 * math.sin(x / 3.0 + y / 5.0))))
open("source64.ppm", "wb").write(b"P6\n64 48\n255\n" + px)
PY
cjpeg -quality 90 -sample 2x4,1x1,1x1 source64.ppm > sampling_2x4.jpg
cjpeg -quality 90 -sample 4x2,1x1,1x1 source64.ppm > sampling_4x2.jpg
rm -f source.ppm source64.ppm one_scan_per_component.txt
