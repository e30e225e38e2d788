"""cffi build script: compiles native/*.c into ``smolplug._native``.

Links the system libjpeg-turbo through its libjpeg API (``jpeglib.h``). When the
headers are missing, the build stops with the package to install instead of a
compiler error.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from cffi import FFI

HERE = Path(__file__).resolve().parent
SOURCES = ["sp_geometry.c", "sp_resample.c", "sp_pool.c", "sp_jpeg.c", "sp_frame.c"]

INSTALL_HINT = """\
smolplug needs the libjpeg-turbo development files (jpeglib.h, libjpeg.so) to build its native decoder.
Install them, then build again:
  Debian:        apt-get install libjpeg62-turbo-dev
  Ubuntu:        apt-get install libjpeg-turbo8-dev
  Fedora/RHEL:   dnf install libjpeg-turbo-devel
  Alpine:        apk add libjpeg-turbo-dev
  macOS:         brew install jpeg-turbo   (and set CFLAGS/LDFLAGS to its prefix)
libjpeg-turbo 1.5.3 or newer is required (jpeg_crop_scanline, jpeg_skip_scanlines).
Set SMOLPLUG_JPEG_INCLUDE / SMOLPLUG_JPEG_LIB to use a libjpeg-turbo installed elsewhere."""

PROBE = """\
#include <stdio.h>
#include <jpeglib.h>
#ifndef LIBJPEG_TURBO_VERSION_NUMBER
#error "not libjpeg-turbo"
#endif
#if LIBJPEG_TURBO_VERSION_NUMBER < 1005003
#error "libjpeg-turbo too old"
#endif
int main(void) { struct jpeg_decompress_struct c; (void)c; return 0; }
"""


def _dirs(var: str) -> list[str]:
    return [p for p in os.environ.get(var, "").split(os.pathsep) if p]


def check_libjpeg(include_dirs: list[str], library_dirs: list[str]) -> None:
    """Compile and link a probe against libjpeg-turbo; exit with the install hint on failure."""
    cc = os.environ.get("CC", "cc").split()
    if not shutil.which(cc[0]):
        sys.exit(f"smolplug: no C compiler found ({cc[0]!r}); install gcc (Debian: apt-get install gcc)")
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "probe.c"
        src.write_text(PROBE)
        cmd = [*cc, str(src), "-o", str(Path(tmp) / "probe")]
        cmd += [f"-I{d}" for d in include_dirs] + [f"-L{d}" for d in library_dirs] + ["-ljpeg"]
        proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines()
        detail = next((ln for ln in lines if "error" in ln), lines[-1] if lines else "probe failed")
        sys.exit(f"smolplug build error: {detail}\n\n{INSTALL_HINT}")


PUBLIC_HEADERS = ["sp_common.h", "sp_jpeg.h", "sp_frame.h"]


def cdef_from_headers(names: list[str]) -> str:
    """The cffi declarations, read from the public headers (one source of truth): preprocessor
    lines are dropped except integer ``#define``s, which cffi understands."""
    keep = []
    for name in names:
        for line in (HERE / name).read_text().splitlines():
            stripped = line.strip()
            if stripped.startswith("#"):
                parts = stripped.split()
                if len(parts) == 3 and parts[0] == "#define" and parts[2].isdigit():
                    keep.append(stripped)
                continue
            keep.append(line)
    return "\n".join(keep)


include_dirs = [str(HERE), *_dirs("SMOLPLUG_JPEG_INCLUDE")]
library_dirs = _dirs("SMOLPLUG_JPEG_LIB")

ffibuilder = FFI()
ffibuilder.cdef(cdef_from_headers(PUBLIC_HEADERS))
ffibuilder.set_source(
    "smolplug._native",
    "".join(f'#include "{h}"\n' for h in PUBLIC_HEADERS),
    sources=[
        str((HERE / s).relative_to(Path.cwd())) if HERE.is_relative_to(Path.cwd()) else str(HERE / s)
        for s in SOURCES
    ],
    include_dirs=include_dirs,
    library_dirs=library_dirs,
    libraries=["jpeg", "m", "pthread"],
    extra_compile_args=["-O3", "-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-clobbered"],
)

if __name__ == "__main__":
    check_libjpeg(include_dirs, library_dirs)
    ffibuilder.compile(verbose=True)
elif os.environ.get("SMOLPLUG_SKIP_JPEG_PROBE") != "1":
    check_libjpeg(include_dirs, library_dirs)
