"""``smolplug calibrate``: measure preprocessing and DNN throughput on this machine into the profile."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from ._common import _load_models


def cmd_calibrate(args: argparse.Namespace, console: Console) -> int:
    from rich.table import Table

    from ..plan import calibrate as cal

    ints = lambda s: [int(x) for x in s.split(",") if x.strip()]  # noqa: E731
    sources = [*(args.images or []), *(args.video or [])] or [cal.sample_folder()]
    for s in sources:
        if not Path(s).exists():
            console.print(f"[red]{s} not found[/red]")
            return 2
    models = _load_models(console, args.model or [])
    if models is None:
        return 2
    profile = cal.Profile.load()
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    with console.status("calibrating") as status:
        rows = cal.calibrate(
            profile,
            sources,
            ints(args.sizes),
            ints(args.threads),
            modes=modes,
            models=models,
            batch_size=args.batch,
            seconds=args.seconds,
            force=args.force,
            progress=lambda what: status.update(f"measuring {what}"),
        )
    path = profile.save()
    table = Table(
        title=f"calibration profile {profile.key} ({profile.env['cpu']}, {profile.env['cores']} cores)"
    )
    for col, just in (("entry", "left"), ("threads", "right"), ("items/s", "right")):
        table.add_column(col, justify=just)  # type: ignore[arg-type]
    for entry, t, rate in rows:
        table.add_row(entry, str(t), f"{rate:,.0f}")
    console.print(table)
    console.print(f"saved {path}")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    cal = sub.add_parser("calibrate", help="measure preprocessing and DNN throughput on this machine")
    cal.add_argument("--images", action="append", help="JPEG folder (repeatable; default: built-in samples)")
    cal.add_argument("--video", action="append", help="video file (repeatable)")
    cal.add_argument("--sizes", default="224,112,56", help="output sizes (square), comma list")
    cal.add_argument("--threads", default="1,2", help="decoding / DNN threads, comma list")
    cal.add_argument("--modes", default="full,reduced", help="decode modes: full, reduced (DCT/renditions)")
    cal.add_argument("--model", action="append", help="NAME=module:attr (a model, or a factory making one)")
    cal.add_argument("--batch", type=int, default=64, help="DNN batch size")
    cal.add_argument("--seconds", type=float, default=0.6, help="time per measurement")
    cal.add_argument("--force", action="store_true", help="measure again what the profile already has")
    cal.set_defaults(func=cmd_calibrate)
