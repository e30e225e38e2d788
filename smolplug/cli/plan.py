"""``smolplug plan``: candidate plans, their Pareto frontier and the fastest at an accuracy target."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from ._common import _load_models, _write_png


def cmd_plan(args: argparse.Namespace, console: Console) -> int:
    from rich.table import Table

    from ..jpeg.decode import default_threads
    from ..plan import planning
    from ..plan.calibrate import Profile
    from ..plan.costmodel import PlanError

    source = Path(args.source)
    try:
        planning.sample_of(source, 1)  # the one definition of what plan accepts
    except FileNotFoundError as e:
        console.print(f"[red]{e}[/red]")
        return 2
    models = _load_models(console, args.model)
    if models is None:
        return 2
    cores = args.cores or default_threads()
    profile = Profile.load()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    with console.status("measuring") as status:
        plans = planning.build_plans(
            source,
            models,
            sizes,
            modes,
            profile,
            cores=cores,
            seconds=args.seconds,
            sample=args.sample,
            progress=lambda what: status.update(f"measuring {what}"),
        )
    profile.save()
    try:
        rep = planning.report(plans, args.target, cores)
    except PlanError as e:
        console.print(f"[red]{e}[/red]")
        return 1
    est = rep.choice.estimates
    frontier = {p.name for p, _ in rep.choice.frontier}
    naive = rep.dnn_only.plan.name if rep.dnn_only else None
    table = Table(title=f"{source.name}: plans at accuracy >= {args.target:g}, {cores} cores")
    for col in ("plan", "accuracy", "pipelined frames/s", "bottleneck (core split)", "DNN-only frames/s", ""):
        table.add_column(col)
    for p in sorted(plans, key=lambda p: -est[p.name].throughput):
        e = est[p.name]
        marks = []
        if p.name == rep.choice.plan.name:
            marks.append("[green]chosen[/green]")
        if p.name == naive:
            marks.append("[yellow]DNN-only choice[/yellow]")
        if p.name in frontier:
            marks.append("frontier")
        split = ", ".join(f"{k} {v}" for k, v in e.split.items())
        table.add_row(
            p.name,
            f"{p.accuracy:.3f}",
            f"{e.throughput:,.0f}",
            f"{e.bottleneck} ({split})",
            f"{p.stages[-1].rate(cores):,.0f}",
            " · ".join(marks),
        )
    console.print(table)
    if args.ray_nodes:
        _ray_table(console, args, plans, cores)
    if args.png:
        _write_png(console, lambda path: planning.write_png(rep, path, table.title or ""), args.png)
    return 0


def _ray_table(console: Console, args: argparse.Namespace, plans: list, cores: int) -> None:
    """Each plan as a Ray pipeline: read tasks vs inference actors on ``--ray-nodes`` nodes."""
    from rich.table import Table

    from ..plan.cluster import bytes_per_frame, ray_rows

    cpn = args.ray_cores_per_node or cores
    limits = {}
    if args.ray_storage_mb_s:
        limits = {
            "storage_bytes_s": args.ray_storage_mb_s * 1e6,
            "read_bytes_per_frame": bytes_per_frame(args.source),
        }
    t = Table(title=f"on Ray: {args.ray_nodes} node(s) x {cpn} cores (one-core decode tasks, model actors)")
    for col in ("plan", "frames/s", "bottleneck", "decode tasks", "actors x threads"):
        t.add_column(col)
    for p, e in sorted(ray_rows(plans, args.ray_nodes, cpn, **limits), key=lambda pe: -pe[1].throughput):
        t.add_row(
            p.name,
            f"{e.throughput:,.0f}",
            e.bottleneck,
            str(e.decode_tasks),
            f"{e.actors} x {e.actor_threads}",
        )
    console.print(t)


def add_parser(sub: argparse._SubParsersAction) -> None:
    pl = sub.add_parser("plan", help="candidate plans, their Pareto frontier and the fastest at a target")
    pl.add_argument(
        "source",
        help="folder of JPEGs (labels from names like x_<class>.jpg, else agreement) or a video "
        "(agreement with the first model at the largest size, full decoding)",
    )
    pl.add_argument("--sample", type=int, default=200, help="video frames the accuracy is measured on")
    pl.add_argument("--model", action="append", required=True, help="[NAME=]module:attr, repeatable")
    pl.add_argument("--sizes", default="224,160,112", help="input sizes, comma list")
    pl.add_argument("--modes", default="full,reduced", help="decode modes: full, reduced")
    pl.add_argument("--target", type=float, default=0.8, help="minimum accuracy")
    pl.add_argument("--cores", type=int, help="cores for the pipeline (default: all usable)")
    pl.add_argument("--seconds", type=float, default=0.5, help="time per measurement")
    pl.add_argument("--png", help="write the accuracy-vs-throughput plot here")
    pl.add_argument("--ray-nodes", type=int, help="also cost each plan on a Ray cluster of this many nodes")
    pl.add_argument("--ray-cores-per-node", type=int, help="cores per Ray node (default: --cores)")
    pl.add_argument("--ray-storage-mb-s", type=float, help="storage read bandwidth per Ray node, MB/s")
    pl.set_defaults(func=cmd_plan)
