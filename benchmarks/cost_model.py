"""Cost-model benchmark: are the pipelined predictions right, and does the choice pay?

Candidates: EfficientNet-Lite0 (pretrained) at input sizes x decode modes ("full": no DCT
scaling; "reduced": DCT-scaled decoding) on ../shared/data/jpeg/imagenet. Accuracy: top-1 on the
20 labelled images. Stages: measured through a fresh calibration profile (decode and DNN at
1..cores threads; the DNN through smolplug's "auto" executor, i.e. the faster of torch and
onnxruntime). Then every plan is run end to end with the pipelined runner at the core split the
model predicts, on the images replicated to --images, and predicted vs measured throughput is
compared. Finally the plan chosen by the pipelined model and the one NoScope's DNN-only model
chooses are compared, measured.

Targets (issue): predicted within 15% of measured for every frontier plan; the chosen plan
within 5% of the fastest measured plan meeting the target; on a preprocessing-bound query the
DNN-only choice measurably slower than the pipelined model's.

    .venv/bin/python benchmarks/cost_model.py [--sizes 128,96,64] [--target 0.5] [--images 400]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import smolplug
from smolplug.bench import cycled_jpegs
from smolplug.cli import make_console
from smolplug.execute.runner import PipelinedRunner
from smolplug.frames.readers import FrameRequest
from smolplug.jpeg import default_threads
from smolplug.plan.calibrate import Profile, environment
from smolplug.plan.planning import build_plans, report
from smolplug.plan.zoo import efficientnet_lite0, input_fields
from smolplug.request.spec import FrameSpec

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "jpeg" / "imagenet"


def measure_plan(plan, model, paths, cores: int, split: dict[str, int], rounds: int) -> float:
    s, mode = plan.params["size"], plan.params["mode"]
    spec = FrameSpec.imagenet(s, round(s * 256 / 224), **input_fields(model))
    req = FrameRequest(
        spec,
        batch_size=32,
        threads=split.get("decode", 1),
        ring_size=4,
        scale_headroom=float("inf") if mode == "full" else 1.0,
    )
    ex = smolplug.make_executor(model, "cpu", threads=split.get("dnn", 1))
    best = 0.0
    for _ in range(rounds):
        t = time.perf_counter()
        with smolplug.open_frames(paths, req) as reader:
            n = sum(len(r.indices) for r in PipelinedRunner(reader, ex, queue_size=2))
        best = max(best, n / (time.perf_counter() - t))
    return best


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="160,128,96,64")
    ap.add_argument("--target", type=float, default=0.5)
    ap.add_argument("--images", type=int, default=400)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--cores", type=int, default=default_threads())
    args = ap.parse_args(argv)
    console = make_console()
    from rich.table import Table

    paths = cycled_jpegs(DATA, args.images)
    if not paths:
        console.print(f"[red]no JPEGs in {DATA}[/red]")
        return 2
    model = efficientnet_lite0()
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        profile = Profile.load(Path(tmp), environment())
        with console.status("measuring stages and accuracy") as st:
            plans = build_plans(
                DATA,
                [("eff", model)],
                sizes,
                ["full", "reduced"],
                profile,
                cores=args.cores,
                progress=lambda w: st.update(w),
            )
    rep = report(plans, args.target, args.cores)
    est = rep.choice.estimates
    measured = {}
    with console.status("running plans end to end") as st:
        for p in plans:
            st.update(f"running {p.name}")
            measured[p.name] = measure_plan(p, model, paths, args.cores, est[p.name].split, args.rounds)
    frontier = {p.name for p, _ in rep.choice.frontier}
    naive = rep.dnn_only.plan.name if rep.dnn_only else None
    t = Table(title=f"EfficientNet-Lite0 plans, {args.cores} cores, target accuracy {args.target:g}")
    for col in ("plan", "accuracy", "split", "predicted fps", "measured fps", "error", "DNN-only fps", ""):
        t.add_column(col)
    worst = 0.0
    for p in sorted(plans, key=lambda p: -est[p.name].throughput):
        e, m = est[p.name], measured[p.name]
        err = e.throughput / m - 1
        if p.name in frontier:
            worst = max(worst, abs(err))
        marks = [
            x
            for x, c in (
                ("chosen", p.name == rep.choice.plan.name),
                ("DNN-only choice", p.name == naive),
                ("frontier", p.name in frontier),
            )
            if c
        ]
        split = ", ".join(f"{k} {v}" for k, v in e.split.items())
        t.add_row(
            p.name,
            f"{p.accuracy:.2f}",
            split,
            f"{e.throughput:.0f}",
            f"{m:.0f}",
            f"{err:+.1%}",
            f"{p.stages[-1].rate(args.cores):.0f}",
            " · ".join(marks),
        )
    console.print(t)
    ok_plans = [p for p in plans if p.accuracy >= args.target]
    fastest = max(ok_plans, key=lambda p: measured[p.name])
    chosen = rep.choice.plan.name
    console.print(f"worst prediction error over the frontier: {worst:.1%} (target <= 15%)")
    console.print(
        f"chosen {chosen}: {measured[chosen]:.0f} fps; fastest measured at the target: {fastest.name} "
        f"{measured[fastest.name]:.0f} fps -> {measured[chosen] / measured[fastest.name]:.1%} of it "
        "(target >= 95%)"
    )
    if naive:
        console.print(
            f"DNN-only model's choice {naive}: {measured[naive]:.0f} fps measured, "
            f"{measured[chosen] / measured[naive]:.2f}x slower than the pipelined model's choice"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
