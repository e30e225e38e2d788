"""``smolplug renditions make``: encode low-resolution renditions of a video and their manifest."""

from __future__ import annotations

import argparse

from rich.console import Console


def cmd_renditions_make(args: argparse.Namespace, console: Console) -> int:
    from rich.progress import Progress

    from ..errors import SmolplugError
    from ..video.renditions import make_renditions

    try:
        heights = [int(h) for h in args.heights.split(",") if h.strip()]
    except ValueError:
        console.print(f"[red]--heights must be comma-separated integers, got {args.heights!r}[/red]")
        return 2
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task(f"encoding {args.video}", total=None)
        try:
            rends = make_renditions(
                args.video,
                heights,
                args.out_dir,
                crf=args.crf,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
                beside_source=args.beside_source,
            )
        except (SmolplugError, OSError) as exc:
            console.print(f"[red]{exc}[/red]")
            return 1
    for r in rends:
        console.print(f"{r.width}x{r.height}: {r.path}")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    rend = sub.add_parser("renditions", help="low-resolution renditions of videos")
    rsub = rend.add_subparsers(dest="what", required=True)
    rm = rsub.add_parser("make", help="encode renditions (same frames, timestamps and keyframes) + manifest")
    rm.add_argument("video")
    rm.add_argument("--heights", default="360,180", help="comma-separated heights (default 360,180)")
    rm.add_argument(
        "--out-dir",
        default=None,
        help="where the videos go (default: the cache directory, keyed by the video)",
    )
    rm.add_argument(
        "--beside-source",
        action="store_true",
        help="write VIDEO.renditions/ and VIDEO.renditions.json next to the video instead of the cache",
    )
    rm.add_argument("--crf", type=int, default=20)
    rm.set_defaults(func=cmd_renditions_make)
