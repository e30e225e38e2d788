"""Low-resolution fine-tuning: accuracy of low-resolution plans before and after.

1. NoScope-style specialized CNN ("person in the left third", 50x50 input), trained on vtest.avi
   frames i%3==1 with HOG labels, evaluated on frames i%3==2 with its inputs degraded to
   25/16/12/8 px ("down-up": downsampled, then upsampled back to 50x50), before and after
   fine-tuning on degraded training frames.
2. EfficientNet-Lite0 (pretrained) with inputs degraded to 112/80 px: fine-tuned by distillation
   (the full-resolution model is the teacher, so unlabelled data works) on the 12 photos and
   frames of vtest.avi and bikes.mp4; evaluated as top-1 on the 20 labelled ImageNet JPEGs and as
   agreement with the teacher on held-out photos/frames.

    .venv/bin/python benchmarks/lowres_finetune.py [--skip-noscope] [--skip-efficientnet]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import smolplug  # noqa: E402
from smolplug.cli import make_console  # noqa: E402
from smolplug.frames.readers import FrameRequest  # noqa: E402
from smolplug.plan.finetune import accuracy, finetune_lowres  # noqa: E402
from smolplug.plan.planning import filename_labels  # noqa: E402
from smolplug.request.selection import FrameSelection  # noqa: E402

DATA = ROOT.parent / "shared" / "data"


def noscope_rows():
    from integration_tests.engines import noscope
    from integration_tests.engines.common import train_cnn
    from integration_tests.engines.reference import label_video

    video = DATA / "video" / "vtest.avi"
    eng = noscope.NoScope(noscope.NoScopeQuery(str(video)), label_video(video))
    idx = np.arange(eng.n_frames)
    tr, va = idx[idx % 3 == 1], idx[idx % 3 == 2]
    data = eng.load(np.union1d(tr, va))
    pos = {int(f): i for i, f in enumerate(data.indices)}
    small = data.arrays[1]
    eng.mean = small[[pos[f] for f in tr]].astype(np.float32).mean(axis=0)
    xt, xv = eng._cnn_input(small[[pos[f] for f in tr]]), eng._cnn_input(small[[pos[f] for f in va]])
    yt, yv = eng.truth[tr].astype(np.float32), eng.truth[va]
    model = train_cnn(xt, yt, loss="bce")
    rows = [("NoScope CNN", "50 (native)", accuracy(model, xv, yv), None, "")]
    for low in (25, 16, 12, 8):
        t = time.perf_counter()
        ft = finetune_lowres(model, xt, yt, low, epochs=10, lr=5e-4)
        rows.append(
            (
                "NoScope CNN",
                f"{low} down-up",
                accuracy(model, xv, yv, low),
                accuracy(ft.model, xv, yv, low),
                f"{time.perf_counter() - t:.0f} s",
            )
        )
    return rows, "held-out frames, accuracy vs HOG labels"


def efficientnet_rows():
    import torch

    from smolplug.plan.zoo import efficientnet_lite0, input_fields

    model = efficientnet_lite0()
    spec = smolplug.FrameSpec.imagenet(224, 256, **input_fields(model))
    inet = sorted((DATA / "jpeg" / "imagenet").glob("*.jpg"))
    xi = smolplug.decode_jpeg_batch([f.read_bytes() for f in inet], spec).data
    yi = filename_labels(inet)
    photos = sorted((DATA / "jpeg" / "photos").glob("*.jpg"))
    parts = [smolplug.decode_jpeg_batch([f.read_bytes() for f in photos], spec).data]
    for name, every in (("vtest.avi", 6), ("bikes.mp4", 6)):
        req = FrameRequest(spec, batch_size=64, frames=FrameSelection.every(every))
        with smolplug.open_frames(str(DATA / "video" / name), req) as r:
            parts.append(np.concatenate([b.data.copy() for b in r])[:120])
    x = np.concatenate(parts)
    with torch.inference_mode():
        teacher = model(torch.from_numpy(x)).numpy()
    perm = np.random.default_rng(0).permutation(len(x))
    tr, ho = perm[: int(len(x) * 0.75)], perm[int(len(x) * 0.75) :]
    rows = [("EfficientNet-Lite0", "224 (native)", accuracy(model, xi, yi), None, "ImageNet top-1")]
    for low in (112, 80):
        t = time.perf_counter()
        ft = finetune_lowres(model, x[tr], teacher[tr], low, epochs=3, lr=1e-4, batch_size=16)
        dt = f"{time.perf_counter() - t:.0f} s"
        rows.append(
            (
                "EfficientNet-Lite0",
                f"{low} down-up",
                accuracy(model, xi, yi, low),
                accuracy(ft.model, xi, yi, low),
                f"ImageNet top-1 (20 images); {dt}",
            )
        )
        rows.append(
            (
                "EfficientNet-Lite0",
                f"{low} down-up",
                accuracy(model, x[ho], teacher[ho], low),
                accuracy(ft.model, x[ho], teacher[ho], low),
                f"agreement with teacher, {len(ho)} held-out",
            )
        )
    return rows, f"{len(tr)} unlabelled training images"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--skip-noscope", action="store_true")
    ap.add_argument("--skip-efficientnet", action="store_true")
    args = ap.parse_args(argv)
    console = make_console()
    from rich.table import Table

    t = Table(title="low-resolution plans: accuracy before -> after fine-tuning")
    for col in ("model", "input", "before", "after", "note"):
        t.add_column(col)
    for skip, fn in ((args.skip_noscope, noscope_rows), (args.skip_efficientnet, efficientnet_rows)):
        if skip:
            continue
        rows, what = fn()
        console.print(what)
        for m, inp, before, after, note in rows:
            t.add_row(m, inp, f"{before:.3f}", "" if after is None else f"{after:.3f}", note)
    console.print(t)
    return 0


if __name__ == "__main__":
    sys.exit(main())
