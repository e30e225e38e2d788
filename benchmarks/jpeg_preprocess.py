"""JPEG preprocessing benchmark on the real photo sets (../shared/data/jpeg/{photos,imagenet}).

Same images, same output (shorter side 256 -> centre crop 224 -> ImageNet mean/std ->
float32 NCHW), one process. Peers on one pinned core: torchvision-style Pillow, Pillow draft,
OpenCV IMREAD_REDUCED_* + resize, simplejpeg min_height/min_width + resize, and the floor
(simplejpeg's bare DCT-scaled decode, no resize). Then smolplug's batch API at 1..N threads.

    .venv/bin/python benchmarks/jpeg_preprocess.py [--data DIR] [--repeats N] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # keep BLAS worker threads off the timed core

from smolplug.bench import jpeg as bench  # noqa: E402
from smolplug.cli import make_console  # noqa: E402
from smolplug.frames.jpegfiles import list_jpeg_files  # noqa: E402
from smolplug.jpeg.samples import sample_jpegs  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "jpeg"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder with photos/ and imagenet/")
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--json", type=Path, help="write the raw results here")
    args = p.parse_args()
    console = make_console()

    sets = []
    for name in ("photos", "imagenet"):
        d = args.data / name
        files = list_jpeg_files(d) if d.is_dir() else []
        if files:
            sets.append((name, [(f.name, f.read_bytes()) for f in files]))
        else:
            console.print(f"[yellow]{d} not found: skipping the {name} set[/yellow]")
    if not sets:
        console.print("[yellow]no real photos: using the generated sample set[/yellow]")
        sets.append(("generated samples", sample_jpegs()))

    results = [bench.run(n, imgs, repeats=args.repeats, max_threads=args.threads) for n, imgs in sets]
    for table in bench.render(results):
        console.print(table)
    for r in results:
        s = bench.summary(r)
        console.print(
            f"[bold]{r.dataset}[/bold]: smolplug one core vs best peer ({r.best_peer().name}) "
            f"{s['vs_best_peer']:.2f}x; vs bare scaled decode {s.get('vs_floor', float('nan')):.2f}x; "
            f"2 threads / 1 thread {s.get('2_threads_vs_1', float('nan')):.2f}x"
        )
    if args.json:
        args.json.write_text(
            json.dumps([asdict(r) | {"summary": bench.summary(r)} for r in results], indent=2)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
