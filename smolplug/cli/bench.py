"""``smolplug bench jpeg``: JPEG -> batch preprocessing, smolplug beside Pillow, OpenCV and simplejpeg."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console


def _load_dir(path: Path) -> list[tuple[str, bytes]]:
    from ..frames.jpegfiles import list_jpeg_files

    return [(p.name, p.read_bytes()) for p in list_jpeg_files(path)]


def cmd_bench_jpeg(args: argparse.Namespace, console: Console) -> int:
    from ..bench import jpeg as bench
    from ..jpeg.samples import sample_jpegs

    sets: list[tuple[str, list[tuple[str, bytes]]]] = []
    for d in args.images or []:
        p = Path(d)
        if not p.is_dir():
            console.print(f"[red]not a directory: {p}[/red]")
            return 2
        imgs = _load_dir(p)
        if not imgs:
            console.print(f"[red]no JPEG files in {p}[/red]")
            return 2
        sets.append((p.name, imgs))
    if not sets:
        console.print("[dim]no --images given: using the built-in generated sample set[/dim]")
        sets.append(("generated samples", sample_jpegs()))
    results = []
    with console.status("benchmarking") as status:
        for name, imgs in sets:
            results.append(
                bench.run(
                    name,
                    imgs,
                    repeats=args.repeats,
                    max_threads=args.threads,
                    progress=lambda s, name=name: status.update(f"{name}: {s}"),
                )
            )
    for table in bench.render(results):
        console.print(table)
    for r in results:
        s = bench.summary(r)
        parts = [f"vs best peer {s['vs_best_peer']:.2f}x"]
        if "vs_floor" in s:
            parts.append(f"vs bare scaled decode {s['vs_floor']:.2f}x")
        if "2_threads_vs_1" in s:
            parts.append(f"2 threads / 1 thread {s['2_threads_vs_1']:.2f}x")
        console.print(f"[bold]{r.dataset}[/bold]: smolplug one core " + ", ".join(parts))
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    bench = sub.add_parser("bench", help="side-by-side benchmarks")
    bsub = bench.add_subparsers(dest="what", required=True)
    bj = bsub.add_parser("jpeg", help="JPEG -> 224x224 normalised batch, smolplug vs peers")
    bj.add_argument(
        "--images",
        action="append",
        metavar="DIR",
        help="directory of JPEGs (repeatable); default: generated samples",
    )
    bj.add_argument("--repeats", type=int, default=5, help="timed passes per pipeline (best is kept)")
    bj.add_argument("--threads", type=int, default=None, help="max smolplug threads (default: all cores)")
    bj.set_defaults(func=cmd_bench_jpeg)
