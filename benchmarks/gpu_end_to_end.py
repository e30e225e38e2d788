"""GPU end-to-end benchmark: JPEGs -> preprocessing -> a CNN on torch CUDA (fp16), smolplug vs a
torch DataLoader with Pillow/torchvision-style transforms and the same number of workers.

Images: ../shared/data/jpeg/imagenet (20 ImageNet JPEGs, 512x512) replicated to --images.
Models: a ResNet-50 (torchvision's architecture, written out here: torchvision is not installable
next to the CPU torch wheel; random weights, the work is the same) and EfficientNet-Lite0
(pretrained, if installed). For each: img/s of the DNN alone (a ready batch on the GPU),
preprocessing alone (each loader drained), and end to end (loader -> GPU -> model).

smolplug's path: ``PipelinedRunner.open`` -> the reader decodes with ``--workers`` native
threads into a ring of page-locked (pinned) batch buffers, in fp16 when the model runs in fp16
(half the bytes to copy); the torch CUDA executor copies batch i+1 on a copy stream while batch
i computes (2 in flight). The DataLoader baseline: ``--workers`` worker processes, Pillow decode
+ torchvision-style transforms, ``pin_memory=True``, ``non_blocking`` copies.

    .venv/bin/python benchmarks/gpu_end_to_end.py --images 20000 --workers 15     # on a GPU host
    .venv/bin/python benchmarks/gpu_end_to_end.py --device cpu --images 64 --batch 16  # smoke run

Targets (issue): >= 10,000 img/s end to end on an H100, >= 3x the DataLoader baseline.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

import smolplug
from smolplug.bench import cycled_jpegs
from smolplug.bench.jpeg_peers import pillow_pipeline
from smolplug.cli import make_console
from smolplug.execute.runner import PipelinedRunner
from smolplug.frames.readers import FrameRequest
from smolplug.plan import zoo

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "jpeg" / "imagenet"


def resnet50():
    """ResNet-50 v1.5 (torchvision's layout: 3-4-6-3 bottlenecks, stride on the 3x3)."""
    import torch
    from torch import nn

    class Bottleneck(nn.Module):
        def __init__(self, cin, width, stride):
            super().__init__()
            cout = width * 4
            self.body = nn.Sequential(
                nn.Conv2d(cin, width, 1, bias=False),
                nn.BatchNorm2d(width),
                nn.ReLU(inplace=True),
                nn.Conv2d(width, width, 3, stride, 1, bias=False),
                nn.BatchNorm2d(width),
                nn.ReLU(inplace=True),
                nn.Conv2d(width, cout, 1, bias=False),
                nn.BatchNorm2d(cout),
            )
            self.down = (
                nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                if stride != 1 or cin != cout
                else nn.Identity()
            )

        def forward(self, x):
            return torch.relu(self.body(x) + self.down(x))

    layers, cin = [], 64
    for width, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
        for i in range(blocks):
            layers.append(Bottleneck(cin, width, stride if i == 0 else 1))
            cin = width * 4
    return nn.Sequential(
        nn.Conv2d(3, 64, 7, 2, 3, bias=False),
        nn.BatchNorm2d(64),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(3, 2, 1),
        *layers,
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(2048, 1000),
    )


class PillowDataset:
    """torchvision-style: PIL decode, Resize(256) bilinear, CenterCrop(224), ToTensor, Normalize."""

    def __init__(self, paths):
        self.paths = paths

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        out = np.empty((3, 224, 224), np.float32)
        pillow_pipeline(Path(self.paths[i]).read_bytes(), out)  # the JPEG benchmark's Pillow peer
        return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=20000)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) - 1))
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--dtype", default="float16")
    args = ap.parse_args(argv)
    console = make_console()
    import torch
    from rich.table import Table

    paths = cycled_jpegs(DATA, args.images)
    if not paths:
        console.print(f"[red]no JPEGs in {DATA}[/red]")
        return 2
    dev = torch.device(args.device)
    dtype = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32}[args.dtype]
    if dev.type == "cpu":
        dtype = torch.float32
    console.print(
        f"{args.images} images, batch {args.batch}, {args.workers} workers / decoding threads, "
        f"{torch.cuda.get_device_name() if dev.type == 'cuda' else 'CPU'}, {dtype}"
    )
    spec = smolplug.FrameSpec.imagenet(224, 256)
    models = [("ResNet-50", resnet50())]
    eff = zoo.try_efficientnet_lite0()
    if eff is not None:
        models.append(("EfficientNet-Lite0", eff))

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize()

    # preprocessing alone
    loader = torch.utils.data.DataLoader(
        PillowDataset(paths), batch_size=args.batch, num_workers=args.workers, pin_memory=dev.type == "cuda"
    )
    t = time.perf_counter()
    n = sum(len(b) for b in loader)
    pre_dl = n / (time.perf_counter() - t)
    # fp16 straight out of the decoder when the model runs in fp16: half the bytes to copy
    spec_in = spec.replace(dtype="float16") if dev.type == "cuda" and args.dtype == "float16" else spec
    req = FrameRequest(spec_in, batch_size=args.batch, threads=args.workers, ring_size=4)
    t = time.perf_counter()
    with smolplug.open_frames(paths, req) as reader:
        n = sum(len(b) for b in reader)
    pre_sp = n / (time.perf_counter() - t)

    stages: dict = {}
    table = Table(title="img/s (higher is better)")
    for col in (
        "model",
        "DNN alone",
        "preprocess: DataLoader",
        "preprocess: smolplug",
        "e2e: DataLoader",
        "e2e: smolplug",
        "smolplug / DataLoader",
    ):
        table.add_column(col, justify="right")
    for name, model in models:
        model = model.eval().to(dev, dtype=dtype, memory_format=torch.channels_last)
        x = torch.zeros(args.batch, 3, 224, 224, device=dev, dtype=dtype).contiguous(
            memory_format=torch.channels_last
        )
        with torch.inference_mode():
            for _ in range(3):
                model(x)
            sync()
            reps = max(3, args.images // args.batch)
            t = time.perf_counter()
            for _ in range(reps):
                model(x)
            sync()
            dnn = reps * args.batch / (time.perf_counter() - t)

            t = time.perf_counter()
            n = 0
            for b in loader:
                b = b.to(dev, non_blocking=True).to(dtype).contiguous(memory_format=torch.channels_last)
                model(b)
                n += len(b)
            sync()
            e2e_dl = n / (time.perf_counter() - t)

        ex = smolplug.make_executor(
            model.float() if dev.type == "cpu" else model, args.device, backend="torch", dtype=args.dtype
        )
        t = time.perf_counter()
        with PipelinedRunner.open(paths, req, ex, queue_size=2) as runner:
            n = sum(len(r.indices) for r in runner)
        e2e_sp = n / (time.perf_counter() - t)
        stages[name] = (runner.times, getattr(ex, "staged_bytes", 0), getattr(ex, "device_seconds", None))
        table.add_row(
            name,
            f"{dnn:,.0f}",
            f"{pre_dl:,.0f}",
            f"{pre_sp:,.0f}",
            f"{e2e_dl:,.0f}",
            f"{e2e_sp:,.0f}",
            f"[bold]{e2e_sp / e2e_dl:.2f}x[/bold]",
        )
    console.print(table)
    for name, (tm, staged, dev_s) in stages.items():
        console.print(
            f"smolplug {name}: decode {tm.decode:.2f} s, reader blocked {tm.queue_full:.2f} s, "
            f"executor idle {tm.queue_empty:.2f} s, executor {tm.infer:.2f} s, wall {tm.wall:.2f} s; "
            f"staging copies {staged / 1e9:.2f} GB (0 when the ring is pinned)"
            + (f"; GPU: copies {dev_s['h2d']:.2f} s, compute {dev_s['compute']:.2f} s" if dev_s else "")
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
