#!/usr/bin/env bash
# Regenerates the JPEG fixtures Pillow cannot write, with libjpeg-turbo's own tools
# (Debian: apt-get install libjpeg-turbo-progs). The source is a small synthetic PPM
# made by tests/data/make_source.py; the files are committed, so tests do not need the tools.
set -euo pipefail
cd "$(dirname "$0")"
python3 make_source.py source.ppm
cjpeg -quality 92 -sample 1x2 source.ppm > yuv440.jpg                      # 4:4:0 (vertical chroma subsampling)
cjpeg -quality 92 -sample 2x2 -arithmetic source.ppm > arithmetic.jpg      # arithmetic entropy coding
cjpeg -quality 92 -sample 2x2 -restart 1 source.ppm > restart.jpg          # restart marker every MCU row
cjpeg -quality 92 -sample 2x2 -progressive -restart 2B source.ppm > restart_progressive.jpg
cjpeg -quality 92 -sample 2x1 source.ppm > yuv422.jpg
rm -f source.ppm
