"""Incremental occlusion (smolplug.explain) against Captum's Occlusion and plain re-inference,
on one thread, peers in one process.

224x224 input, 16x16 patch, stride 4 (a 53x53 grid, 2809 positions), baseline 0.

A. Exact. EfficientNet-Lite0 (real ImageNet weights, smolplug.zoo) and ResNet-18 (architecture
   defined here, seeded random weights: the speed does not depend on the weights): Captum's
   ``Occlusion.attribute`` over the whole grid (its default, one occluded image per forward)
   against ``smolplug.explain.occlusion`` over the whole grid; both attributions compared.
   VGG-16 (defined here, seeded random weights; one forward costs ~15 GFLOPs, so a whole grid
   of re-inference would take an hour): batch-1 re-inference on a sample of positions against
   the incremental run on every 8th grid row, both per position. Beside them: re-inference of
   sampled positions through torch at batch 1 and through smolplug's onnxruntime executor at
   batch 1 and 16 (per-position time x 2809; marked "extrapolated").
B. Approximate, EfficientNet-Lite0 on the 20 ``jpeg/imagenet`` photos: exact heatmaps, a
   quality-vs-tau table (projective-field threshold with adaptive drill-down) measured on the
   first ``--calibrate`` photos, tau chosen from it for median SSIM >= 0.95 and minimum >= 0.90,
   then SSIM / Spearman of that setting against the exact heatmaps on all 20 photos and its speed
   against Captum (the Captum time of part A: it does not depend on the image).
C. Static camera, vtest.avi (a fixed street camera): the reference engines' proxies, trained by
   the engines themselves on the reference detector's labels (NoScope-style: person in the left
   third, 50x50 input, its cascade's thresholds decide each frame: no / yes / ask the reference;
   BlazeIt-style: people per frame, the cnn16@65 proxy) and EfficientNet-Lite0 (224x224 centre
   crop, top-1 class, the first ``--lite-frames`` frames); every frame and every 3rd frame. Per
   threshold (model-input units; 0 is exact): StaticCamera's seconds against full inference in
   two layouts (torch, batches of 64: NCHW, as the engines run their proxies, and channels-last,
   which this CPU build runs much faster), the static camera's speedup over each, answers against
   full inference (NoScope decisions and Lite0 classes: share of frames agreeing; BlazeIt
   counts: mean absolute error), mean changed share of the input, share of the sparsely run
   layers' output pixels computed, multiply-adds saved. "at target": the largest threshold
   whose answers meet agreement >= 99 % / MAE <= 0.05, against the faster full inference.
D. Static camera on a clean fixed camera (made here: a textured street-like background that
   never moves and ``--movers`` objects walking through it, H.264 at ``--crf``, 320x240,
   ``--clean-frames`` frames): the NoScope- and BlazeIt-style CNN shapes (50x50, 65x65, seeded
   weights: the speed does not depend on them) and EfficientNet-Lite0 (224, the first
   ``--lite-frames`` frames), every frame and every 3rd, the exact static camera (threshold 0)
   against full inference in NCHW and channels-last; outputs compared. Where part C shows the
   method on a noisy MPEG-4 recording, this shows it where exact reuse is possible.

    .venv/bin/python benchmarks/explain.py [--quick] [--part A|B|C|ABC] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import smolplug  # noqa: E402
from smolplug.explain import occlusion  # noqa: E402
from smolplug.explain.occlusion import grid  # noqa: E402
from smolplug.explain.quality import choose_tau, spearman, ssim, tau_table  # noqa: E402
from smolplug.explain.static import StaticCamera  # noqa: E402

DATA = Path(os.environ.get("SMOLPLUG_SHARED_DATA", ROOT.parent / "shared" / "data"))
P, S = 16, 4


# -- peer models (no torchvision: architectures written out, seeded weights) -------------------


class Basic(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return self.relu(y + (x if self.down is None else self.down(x)))


def resnet18() -> nn.Module:
    torch.manual_seed(18)
    layers, cin = [], 64
    for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        layers += [Basic(cin, cout, stride), Basic(cout, cout, 1)]
        cin = cout
    return nn.Sequential(
        nn.Conv2d(3, 64, 7, 2, 3, bias=False),
        nn.BatchNorm2d(64),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(3, 2, 1),
        *layers,
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(512, 1000),
    ).eval()


def vgg16() -> nn.Module:
    torch.manual_seed(16)
    cfg = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
    layers: list[nn.Module] = []
    cin = 3
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(cin, int(v), 3, padding=1), nn.ReLU(inplace=True)]
            cin = int(v)
    head = [nn.Flatten(), nn.Linear(512 * 49, 4096), nn.ReLU(True), nn.Dropout(), nn.Linear(4096, 4096)]
    return nn.Sequential(
        *layers, nn.AdaptiveAvgPool2d(7), *head, nn.ReLU(True), nn.Dropout(), nn.Linear(4096, 1000)
    ).eval()


def photos(lite: bool) -> tuple[list[Path], torch.Tensor]:
    files = sorted((DATA / "jpeg" / "imagenet").glob("*.jpg"))
    if not files:
        raise SystemExit(f"no ImageNet photos in {DATA / 'jpeg' / 'imagenet'} (set SMOLPLUG_SHARED_DATA)")
    norm = {"mean": (127.0,) * 3, "std": (128.0,) * 3, "value_scale": 1.0} if lite else {}
    spec = smolplug.FrameSpec.imagenet(224, 256, **norm)
    return files, torch.from_numpy(smolplug.decode_jpeg_batch([f.read_bytes() for f in files], spec).data)


# -- peers ---------------------------------------------------------------------------------


def occluded_batch(x: torch.Tensor, pos: np.ndarray) -> torch.Tensor:
    out = x.repeat(len(pos), 1, 1, 1)
    for b, (i, j) in enumerate(pos):
        out[b, :, i * S : i * S + P, j * S : j * S + P] = 0.0
    return out


def per_position(run, x: torch.Tensor, pos: np.ndarray, batch: int) -> float:
    """Seconds per position of re-running ``run`` on occluded copies, ``batch`` at a time."""
    run(occluded_batch(x, pos[:batch]))  # warm-up
    t0 = time.perf_counter()
    for k in range(0, len(pos), batch):
        run(occluded_batch(x, pos[k : k + batch]))
    return (time.perf_counter() - t0) / len(pos)


def captum_seconds(model, x: torch.Tensor, target: int, stride: int = S) -> tuple[float, torch.Tensor]:
    from captum.attr import Occlusion

    t0 = time.perf_counter()
    with torch.no_grad():
        a = Occlusion(model).attribute(x, (3, P, P), (3, stride, stride), baselines=0.0, target=target)
    return time.perf_counter() - t0, a


def sample_positions(n: int, seed: int = 0) -> np.ndarray:
    ny, nx = grid((224, 224), (P, P), (S, S))
    rng = np.random.default_rng(seed)
    k = rng.choice(ny * nx, n, replace=False)
    return np.stack([k // nx, k % nx], 1)


def part_a(console, args) -> dict:
    from rich.table import Table

    from smolplug.execute.onnx import ONNXRuntimeExecutor
    from smolplug.plan.zoo import efficientnet_lite0

    table = Table(title=f"A. exact occlusion, 224x224, patch {P}, stride {S}, 1 thread (seconds per image)")
    for col in ("model", "positions", "peer", "seconds", "incremental", "speedup", "MACs saved", "check"):
        table.add_column(col)
    found: dict = {}
    ny, nx = grid((224, 224), (P, P), (S, S))
    for name in args.models.split(","):
        model = {"efficientnet_lite0": efficientnet_lite0, "resnet18": resnet18, "vgg16": vgg16}[name]()
        _, xs = photos(lite=name == "efficientnet_lite0")
        x = xs[:1]
        with torch.no_grad():
            target = int(model(x).argmax())
        sample = sample_positions(16 if name == "vgg16" else 32)
        rows: list[tuple] = []
        inc_runs, cap_runs = [], []
        sg = args.timing_stride
        nyg, nxg = grid((224, 224), (P, P), (sg, sg))
        scale = ny * nx / (nyg * nxg)  # per-position cost x the stride-4 grid's positions
        note = "" if sg == S else f" (stride-{sg} grid, {nyg * nxg} positions, x {scale:.2f})"
        if name != "vgg16":  # Captum and the incremental runs, interleaved
            approx_runs, torch_runs, ratios = [], [], []
            for k in range(args.repeats):
                t, ref = captum_seconds(model, x, target, sg)
                cap_runs.append(t * scale)
                r = occlusion(model, x, P, sg, 0.0, target, tail=args.tail, whole_at=args.whole_at)
                inc_runs.append(r.stats["seconds"]["total"] * scale)
                ratios.append(cap_runs[-1] / inc_runs[-1])
                tl = r.stats["tail"]
                print(
                    f"  {name} run {k + 1}: Captum {cap_runs[-1]:.1f} s, incremental {inc_runs[-1]:.1f} s "
                    f"(tail {args.tail}, whole_at {args.whole_at:g}: onnxruntime ran "
                    f"{sum(tl['onnx_batches'].values())} of {r.stats['batches']} batches' tails"
                    + (f"; torch: {tl['why_torch']}" if tl["why_torch"] else "")
                    + ")",
                    flush=True,
                )
                if args.tail != "torch":  # the same engine with the tail through torch
                    rt = occlusion(model, x, P, sg, 0.0, target, tail="torch")
                    torch_runs.append(rt.stats["seconds"]["total"] * scale)
                if args.approx_tau < 1:
                    ra = occlusion(
                        model,
                        x,
                        P,
                        sg,
                        0.0,
                        target,
                        tau=args.approx_tau,
                        tail=args.tail,
                        whole_at=args.approx_whole_at,
                    )
                    approx_runs.append(ra.stats["seconds"]["total"] * scale)
            inc = statistics.median(inc_runs)
            cap = statistics.median(cap_runs)
            print(
                f"  {name}: Captum / incremental per run {', '.join(f'{v:.2f}' for v in ratios)}",
                flush=True,
            )
            if torch_runs:
                tt = statistics.median(torch_runs)
                print(
                    f"  {name}: incremental, tail through torch {tt:.1f} s{note}: {cap / tt:.2f}x Captum; "
                    f"the onnxruntime tail is {tt / inc:.2f}x faster",
                    flush=True,
                )
                found.setdefault(name, {})["torch_tail"] = tt
            if approx_runs:
                apx = statistics.median(approx_runs)
                line = (
                    f"  {name}: approximate (tau {args.approx_tau:g}, whole_at {args.approx_whole_at:g}) "
                    f"{apx:.1f} s{note}: {cap / apx:.2f}x Captum, {inc / apx:.2f}x exact incremental; "
                    f"saved {ra.stats['flops_saved']:.0%}"
                )
                print(line, flush=True)
                found.setdefault(name, {})["approx"] = apx
            inc_note = f"{inc:.1f}{note}"
            saved = f"{r.stats['flops_saved']:.0%}"
        else:  # incremental on every row_step-th grid row, per position
            from smolplug.explain.occlusion import Occluder

            rows_sel = np.stack(
                np.meshgrid(np.arange(0, ny, args.row_step), np.arange(nx), indexing="ij"), -1
            ).reshape(-1, 2)
            inc_pp = []
            for _ in range(args.repeats):
                occ = Occluder(model, x, (P, P), (S, S), 0.0)
                t0 = time.perf_counter()
                occ.scores(rows_sel, 32)
                inc_pp.append((time.perf_counter() - t0) / len(rows_sel))
            inc = statistics.median(inc_pp) * ny * nx
            inc_note = (
                f"{statistics.median(inc_pp) * 1e3:.1f} ms/pos x {ny * nx} (every {args.row_step}th row)"
            )
            c = occ.engine.counters
            saved = f"{1 - c.macs_done / c.macs_full:.0%}"
        if cap_runs:
            diff = float((r.attribution - ref).abs().max())
            cap = statistics.median(cap_runs)
            rows.append(
                ("Captum Occlusion", f"{cap:.1f}{note}", cap / inc, f"attribution max diff {diff:.1e}")
            )
            found[name] = {"captum": cap, "incremental": inc, "attr_diff": diff}
        with torch.no_grad():
            b1 = statistics.median(per_position(model, x, sample, 1) for _ in range(args.repeats))
        rows.append(
            ("torch batch-1 re-inference", f"{b1 * ny * nx:.1f} (extrapolated)", b1 * ny * nx / inc, "")
        )
        found.setdefault(name, {})["batch1"] = b1 * ny * nx
        found[name]["incremental"] = inc
        if name != "vgg16":
            ort = ONNXRuntimeExecutor(model, threads=1)
            for batch in (1, 16):
                o = statistics.median(
                    per_position(lambda t, e=ort: e.run(t.numpy()), x, sample, batch)
                    for _ in range(args.repeats)
                )
                rows.append(
                    (
                        f"onnxruntime (smolplug) batch {batch}",
                        f"{o * ny * nx:.1f} (extrapolated)",
                        o * ny * nx / inc,
                        "",
                    )
                )
                found[name][f"ort{batch}"] = o * ny * nx
        for peer, secs, ratio, check in rows:
            table.add_row(name, f"{ny}x{nx}", peer, secs, inc_note, f"{ratio:.2f}x", saved, check)
            print(
                f"  {name}: {peer} {secs} s, incremental {inc_note}: {ratio:.2f}x; saved {saved} {check}",
                flush=True,
            )
    console.print(table)
    return found


def _settings(text: str, whole_at: float) -> list[tuple[float, float | None, int, float]]:
    out = []
    for item in text.split(","):
        tau, dd, coarse, *wa = item.split(":")
        out.append(
            (float(tau), None if dd == "-" else float(dd), int(coarse), float(wa[0]) if wa else whole_at)
        )
    return out


def part_b(console, args, captum_lite: float | None) -> None:
    from rich.table import Table

    from smolplug.plan.zoo import efficientnet_lite0

    model = efficientnet_lite0()
    files, xs = photos(lite=True)
    files = files[args.skip :]
    n = min(4 if args.quick else args.photos, len(files))
    images = [xs[args.skip + i : args.skip + i + 1] for i in range(n)]
    t0 = time.perf_counter()
    exact = [occlusion(model, im, P, S, tail=args.tail, whole_at=args.whole_at) for im in images]
    exact_s = (time.perf_counter() - t0) / n
    heat = [r.heatmap for r in exact]
    console.print(f"B. exact heatmaps of {n} photos: {exact_s:.1f} s per photo")
    cal = images[: args.calibrate]
    rows = []
    for tau, dd, coarse, wa in _settings(args.settings, args.whole_at) if args.calibrate else ():
        (row,), _ = tau_table(
            model,
            cal,
            [tau],
            drill_down=dd,
            exact=heat[: len(cal)],
            patch=P,
            stride=S,
            coarse=coarse,
            tail=args.tail,
            whole_at=wa,
        )
        row["coarse"], row["whole_at"] = coarse, wa
        rows.append(row)
        per = row["seconds"] / len(cal)
        print(
            f"  tau {tau:g} drill-down {dd} coarse {coarse} whole_at {wa:g}: "
            f"SSIM median {row['median_ssim']:.3f} "
            f"min {row['min_ssim']:.3f}, Spearman median {row['median_spearman']:.3f}, "
            f"{per:.2f} s/photo ({exact_s / per:.2f}x exact)",
            flush=True,
        )
    if rows:  # the exact run is a candidate too (its time: the heatmaps above, per photo)
        rows.insert(
            0,
            {
                "tau": 1.0,
                "drill_down": None,
                "coarse": 0,
                "whole_at": args.whole_at,
                "median_ssim": 1.0,
                "min_ssim": 1.0,
                "median_spearman": 1.0,
                "min_spearman": 1.0,
                "seconds": exact_s * len(cal),
                "flops_saved": float(np.mean([r.stats["flops_saved"] for r in exact])),
            },
        )
    table = Table(
        title=f"quality vs tau on {len(cal)} photos (drill-down: coarse pass every `coarse` positions)"
    )
    cols = (
        "tau",
        "drill-down",
        "coarse",
        "whole_at",
        "median SSIM",
        "min SSIM",
        "median Spearman",
        "min Spearman",
    )
    for col in (*cols, "s per photo", "vs exact", "MACs saved"):
        table.add_column(col)
    for r in rows:
        per = r["seconds"] / len(cal)
        table.add_row(
            f"{r['tau']:g}",
            str(r["drill_down"]),
            str(r["coarse"]),
            f"{r['whole_at']:g}",
            f"{r['median_ssim']:.3f}",
            f"{r['min_ssim']:.3f}",
            f"{r['median_spearman']:.3f}",
            f"{r['min_spearman']:.3f}",
            f"{per:.2f}",
            f"{exact_s / per:.2f}x",
            f"{r['flops_saved']:.0%}",
        )
    console.print(table)
    pick = choose_tau(rows, 0.95 + args.margin, 0.90 + args.margin)
    if not rows:  # no table: evaluate the first setting given
        tau, dd, coarse, wa = _settings(args.settings, args.whole_at)[0]
        pick = {"tau": tau, "drill_down": dd, "coarse": coarse, "whole_at": wa}
        console.print(
            f"evaluating tau {tau:g}, drill-down {dd}, coarse {coarse}, whole_at {wa:g} (given, no table)"
        )
    elif "coarse" in pick:
        console.print(
            f"chosen: tau {pick['tau']:g}, drill-down {pick['drill_down']}, coarse {pick['coarse']}, "
            f"whole_at {pick['whole_at']:g} "
            f"(fastest meeting median SSIM >= 0.95 / min >= 0.90 + {args.margin} on the calibration photos)"
        )
    else:  # none met it: evaluate the best-quality approximate setting anyway, and say so
        pick = max(rows, key=lambda r: r["median_ssim"])
        console.print(
            f"no setting met median SSIM >= 0.95 / min >= 0.90 on the calibration photos; evaluating the "
            f"best one (tau {pick['tau']:g}, drill-down {pick['drill_down']}, coarse {pick['coarse']}, "
            f"whole_at {pick['whole_at']:g})"
        )
    t0 = time.perf_counter()
    approx = [
        occlusion(
            model,
            im,
            P,
            S,
            tau=pick["tau"],
            drill_down=pick["drill_down"],
            coarse=pick["coarse"],
            tail=args.tail,
            whole_at=pick["whole_at"],
        )
        for im in images
    ]
    approx_s = (time.perf_counter() - t0) / n
    s = [ssim(a.heatmap, e) for a, e in zip(approx, heat, strict=True)]
    rho = [spearman(a.heatmap, e) for a, e in zip(approx, heat, strict=True)]
    s_att = [
        ssim(a.attribution[0, 0].numpy(), e.attribution[0, 0].numpy())
        for a, e in zip(approx, exact, strict=True)
    ]
    table = Table(
        title=f"approximate (tau {pick['tau']:g}, drill-down {pick['drill_down']}) vs exact on {n} photos"
    )
    for col in ("photo", "SSIM (53x53 heatmap)", "Spearman", "SSIM (224x224 attribution)"):
        table.add_column(col)
    for f, a, b, c in zip(files, s, rho, s_att, strict=False):
        table.add_row(f.name, f"{a:.3f}", f"{b:.3f}", f"{c:.3f}")
    console.print(table)
    console.print(
        f"heatmap SSIM median {np.median(s):.3f} min {np.min(s):.3f}; "
        f"Spearman median {np.median(rho):.3f} min {np.min(rho):.3f}; "
        f"attribution SSIM median {np.median(s_att):.3f} min {np.min(s_att):.3f}; "
        f"{approx_s:.2f} s per photo: {exact_s / approx_s:.2f}x exact incremental (sequential runs: "
        "load changes between them; part A times approximate and Captum alternately)"
        + (f", {captum_lite / approx_s:.2f}x Captum ({captum_lite:.1f} s)" if captum_lite else "")
    )


THRESHOLDS = (0.0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5)


def full(model, x: np.ndarray, channels_last: bool = False) -> np.ndarray:
    """The model on every frame, batches of 64 (``channels_last``: model and input in NHWC)."""
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt)
    out = []
    try:
        with torch.inference_mode():
            for s in range(0, len(x), 64):
                b = torch.from_numpy(np.ascontiguousarray(x[s : s + 64])).contiguous(memory_format=fmt)
                out.append(model(b).reshape(len(b), -1))
    finally:
        model.to(memory_format=torch.contiguous_format)
    return torch.cat(out).numpy()


def timed(fn, repeats: int) -> tuple[float, object]:
    best, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best.append(time.perf_counter() - t0)
    return statistics.median(best), out


def workloads(lite_frames: int):
    """(name, model, frames (N, C, H, W) float32, answer(outputs) -> per-frame answers, kind)."""
    from integration_tests.engines import blazeit, noscope
    from integration_tests.workload import DEFAULT_VIDEO, labels_for

    video = DEFAULT_VIDEO
    labels = labels_for(video)
    ns = noscope.NoScope(noscope.NoScopeQuery(str(video)), labels)
    c = ns.train()
    _, small = ns.load(np.arange(ns.n_frames)).arrays
    x = np.ascontiguousarray(ns._cnn_input(small), np.float32)

    def decide(out: np.ndarray) -> np.ndarray:
        s = noscope._sigmoid(out.reshape(-1))
        return np.where(s > c.upper, 2, np.where(s < c.lower, 0, 1))  # yes / no / ask the reference

    yield "NoScope proxy (50x50)", ns.model.eval(), x, decide, "agree"
    bz = blazeit.BlazeIt(str(video), labels, proxies=((16, 65),))
    bz.train()
    (xb,) = bz.load(np.arange(bz.n_frames), 65).arrays
    yield (
        "BlazeIt proxy cnn16@65",
        bz.model.eval(),
        np.ascontiguousarray(xb, np.float32),
        lambda o: o.reshape(-1),
        "mae",
    )
    from smolplug.plan.zoo import try_efficientnet_lite0

    lite = try_efficientnet_lite0()
    if lite is not None and lite_frames:
        import smolplug
        from smolplug.request.selection import FrameSelection

        spec = smolplug.FrameSpec.imagenet(224, 256, mean=(127.0,) * 3, std=(128.0,) * 3, value_scale=1.0)
        req = smolplug.FrameRequest(spec, frames=FrameSelection.every(1), batch_size=64)
        chunks = []
        with smolplug.open_frames(str(video), req) as reader:
            for b in reader:
                chunks.append(np.array(b.data))
                if sum(len(c) for c in chunks) >= lite_frames:
                    break
        xl = np.concatenate(chunks)[:lite_frames]
        yield f"EfficientNet-Lite0 (224, first {len(xl)} frames)", lite, xl, lambda o: o.argmax(1), "agree"


def camera_race(model, x: np.ndarray, threshold: float, args) -> tuple[list, list, np.ndarray, object]:
    """Full inference (NCHW, then channels-last) and a fresh StaticCamera on ``x``, timed in turn
    ``args.repeats`` times (load changes hit all three): median seconds of each, median speedup
    of the camera over each full run, the camera's outputs and its stats."""
    cam = None

    def run():
        nonlocal cam
        cam = StaticCamera(model, threshold=threshold, block=args.block, batch_size=args.camera_batch)
        return cam.run(x).numpy()

    rounds, out = [], None
    for _ in range(args.repeats):
        t_nchw, _ = timed(lambda: full(model, x), 1)
        t_nhwc, _ = timed(lambda: full(model, x, channels_last=True), 1)
        t, out = timed(run, 1)
        rounds.append((t_nchw, t_nhwc, t))
    med = [statistics.median(r[i] for r in rounds) for i in range(3)]
    vs = [statistics.median(r[i] / r[2] for r in rounds) for i in range(2)]
    return med, vs, out, cam.stats


def camera_cells(med: list, vs: list, s) -> tuple[list[str], list[str]]:
    """Table cells: seconds and speedups; changed share, pixels computed, multiply-adds saved."""
    computed, total = s.pixels
    return [*(f"{t:.2f}" for t in med), *(f"{v:.2f}x" for v in vs)], [
        f"{s.mean_changed_share:.0%}",
        f"{computed / total:.0%}" if total else "-",
        f"{1 - s.macs_done / s.macs_full:.0%}" if s.macs_full else "-",
    ]


def part_c(console, args) -> None:
    from rich.table import Table

    wanted = [w.strip().lower() for w in args.camera_models.split(",") if w.strip()]
    for name, model, frames, answer, kind in workloads(args.lite_frames if "lite0" in wanted else 0):
        if not any(w in name.lower().replace("efficientnet-", "") for w in wanted):
            continue
        for step in (1, 3):
            x = frames[::step]
            truth = answer(full(model, x))
            table = Table(
                title=f"{name}: every {'' if step == 1 else '3rd '}frame ({len(x)}); full inference (NCHW, "
                f"channels-last) and the static camera (block {args.block}, batches of {args.camera_batch}) "
                f"timed in turn, {args.repeats} rounds, medians"
            )
            for col in (
                "threshold",
                "s full NCHW",
                "s full NHWC",
                "s static",
                "vs NCHW",
                "vs NHWC",
                "agreement" if kind == "agree" else "MAE",
                "changed share",
                "pixels computed",
                "MACs saved",
            ):
                table.add_column(col)
            best = None
            for th in THRESHOLDS:
                med, vs, out, st = camera_race(model, x, th, args)
                got = answer(out)
                q = float((got == truth).mean()) if kind == "agree" else float(np.abs(got - truth).mean())
                if q >= 0.99 if kind == "agree" else q <= 0.05:
                    best = (th, vs[0], vs[1])
                times, work = camera_cells(med, vs, st)
                table.add_row(f"{th:g}", *times, f"{q:.1%}" if kind == "agree" else f"{q:.3f}", *work)
            console.print(table)
            if best:
                console.print(
                    f"at target: threshold {best[0]:g}, {best[1]:.2f}x full NCHW inference, "
                    f"{best[2]:.2f}x channels-last"
                )
            else:
                console.print("at target: no threshold meets it")


def fixed_camera(
    path: Path, n: int, movers: int, crf: int, noise: float = 10.0, w: int = 320, h: int = 240
) -> Path:
    """A fixed camera: a background that never moves (gradients plus a fixed texture of
    ``noise`` grey levels), ``movers`` dark boxes walking across it."""
    import av

    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:h, 0:w]
    bg = np.stack([(xx * 0.6 + 40) % 256, (yy * 0.9 + 60) % 256, ((xx + yy) * 0.4) % 256], -1)
    bg = np.clip(bg + rng.normal(0, noise, bg.shape), 0, 255).astype(np.uint8)
    starts = rng.integers(0, w, movers)
    rows = rng.integers(h // 4, 3 * h // 4, movers)
    speeds = rng.choice([-3, -2, 2, 3], movers)
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        s.options = {"crf": str(crf), "preset": "fast"}
        for i in range(n):
            img = bg.copy()
            for x0, y0, v in zip(starts, rows, speeds, strict=True):
                x = int((x0 + v * i) % (w + 24)) - 24
                img[y0 : y0 + 40, max(x, 0) : max(x + 16, 0)] = (30, 30, 40)
            for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(p)
        for p in s.encode():
            out.mux(p)
    return path


def part_d(console, args) -> None:
    import tempfile

    from rich.table import Table

    from integration_tests.engines.common import make_cnn
    from smolplug.plan.zoo import try_efficientnet_lite0
    from smolplug.request.selection import FrameSelection

    tmp = Path(tempfile.mkdtemp())
    clip = fixed_camera(tmp / "fixed.mp4", args.clean_frames, args.movers, args.crf)
    torch.manual_seed(0)
    models = [("NoScope-style CNN 50x50", make_cnn(50, width=16).eval(), 50, args.clean_frames)]
    models.append(("BlazeIt-style cnn16@65", make_cnn(65, width=16).eval(), 65, args.clean_frames))
    lite = try_efficientnet_lite0()
    if lite is not None and args.lite_frames:
        models.append(("EfficientNet-Lite0 224", lite.eval(), 224, args.lite_frames))
    table = Table(
        title=f"clean fixed camera ({args.clean_frames} frames, H.264 crf {args.crf}, {args.movers} movers): "
        f"exact static camera (block {args.block}, batches of {args.camera_batch}) against full inference, "
        f"{args.repeats} rounds, medians"
    )
    for col in (
        "model, frames",
        "s full NCHW",
        "s full NHWC",
        "s static",
        "vs NCHW",
        "vs NHWC",
        "max |diff|",
        "changed share",
        "pixels computed",
        "MACs saved",
    ):
        table.add_column(col)
    for name, model, size, n in models:
        spec = smolplug.FrameSpec.imagenet(size, size) if size == 224 else smolplug.FrameSpec(size, size)
        req = smolplug.FrameRequest(spec, frames=FrameSelection.every(1), batch_size=64)
        chunks = []
        with smolplug.open_frames(str(clip), req) as reader:
            for b in reader:
                chunks.append(np.array(b.data))
        frames = np.ascontiguousarray(np.concatenate(chunks)[:n], np.float32)
        for step in (1, 3):
            x = frames[::step]
            want = full(model, x)
            med, vs, out, st = camera_race(model, x, 0.0, args)
            times, work = camera_cells(med, vs, st)
            table.add_row(
                f"{name}, {'every' if step == 1 else 'every 3rd'} ({len(x)})",
                *times,
                f"{float(np.abs(out.reshape(want.shape) - want).max()):.1e}",
                *work,
            )
    console.print(table)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="sampled positions only, 4 photos (a smoke run)")
    ap.add_argument("--part", default="ABC", help="A, B, C, D or a combination")
    ap.add_argument(
        "--timing-stride", type=int, default=S, help="part A: Captum and incremental timed on this grid"
    )
    ap.add_argument("--approx-tau", type=float, default=1.0, help="part A: also time tau < 1 against Captum")
    ap.add_argument("--approx-whole-at", type=float, default=0.5, help="part A: whole_at of the tau < 1 run")
    ap.add_argument(
        "--tail", default="auto", choices=("auto", "onnx", "torch"), help="parts A, B: the whole-tensor tail"
    )
    ap.add_argument(
        "--whole-at", type=float, default=0.5, help="parts A, B: the tail starts at this window share"
    )
    ap.add_argument("--row-step", type=int, default=8, help="part A, VGG-16: every N-th grid row")
    ap.add_argument("--models", default="efficientnet_lite0,resnet18,vgg16", help="part A models")
    ap.add_argument("--lite-frames", type=int, default=240, help="part C: vtest.avi frames for Lite0")
    ap.add_argument(
        "--camera-models",
        default="noscope,blazeit,lite0",
        help="part C: which of the three models (comma-separated)",
    )
    ap.add_argument("--clean-frames", type=int, default=300, help="part D: frames of the clean fixed camera")
    ap.add_argument("--movers", type=int, default=3, help="part D: objects moving through it")
    ap.add_argument("--crf", type=int, default=23, help="part D: its H.264 quality (x264 crf)")
    ap.add_argument("--camera-batch", type=int, default=64, help="parts C, D: static-camera batch size")
    ap.add_argument("--block", type=int, default=4, help="parts C, D: block side of the change mask, pixels")
    ap.add_argument("--repeats", type=int, default=3, help="repeats of the sampled (per-position) timings")
    ap.add_argument("--photos", type=int, default=20, help="part B: photos evaluated (the first N)")
    ap.add_argument("--skip", type=int, default=0, help="part B: start at this photo")
    ap.add_argument("--calibrate", type=int, default=4, help="photos the tau table is measured on")
    ap.add_argument(
        "--settings",
        default="0.9:-:4,0.95:-:4,1:0.5:2,0.9:0.5:2,1:0.2:4",
        help="part B: approximate settings tau:drill-down(- for none):coarse[:whole_at], comma-separated",
    )
    ap.add_argument("--captum-lite", type=float, help="part B without A: Captum's seconds on Lite0")
    ap.add_argument("--margin", type=float, default=0.01, help="added to the SSIM targets when choosing tau")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    from smolplug.cli import make_console

    console = make_console()
    found = part_a(console, args) if "A" in args.part else {}
    if "B" in args.part:
        part_b(console, args, found.get("efficientnet_lite0", {}).get("captum", args.captum_lite))
    if "C" in args.part:
        part_c(console, args)
    if "D" in args.part:
        part_d(console, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
