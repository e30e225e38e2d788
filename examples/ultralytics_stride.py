"""Ultralytics predicting on every 10th frame of a real video, with smolplug's adapter off and on.

    python examples/ultralytics_stride.py [VIDEO] [STRIDE]

The same call, ``YOLO(...).predict(VIDEO, vid_stride=STRIDE, stream=True)``, twice: as Ultralytics
runs it (its loader grabs, i.e. decodes, every frame and keeps one in STRIDE), then with the
``ultralytics`` adapter enabled (as ``SMOLPLUG=ultralytics`` does at start-up): only the kept
frames, and what they depend on, are decoded. The boxes are compared and both runs timed.

Ultralytics needs torchvision, whose PyPI builds pair with PyPI's CUDA torch: run this in the
environment ``scripts/bootstrap-hosts`` makes (``.venv-hosts/bin/python examples/...``). No
weights can be downloaded here, so the model is YOLOv8n built from Ultralytics' packaged
``yolov8n.yaml``, untrained and seeded, at a near-zero confidence threshold (hundreds of boxes a
frame to compare); pass ``--weights yolov8n.pt`` where you have a checkpoint. Without VIDEO:
../shared/data/video/bikes.mp4 when it is there, else a generated H.264 clip.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from supervision_stride import default_video  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("video", nargs="?", type=Path)
    ap.add_argument("stride", nargs="?", type=int, default=10)
    ap.add_argument("--weights", default="yolov8n.yaml")
    args = ap.parse_args()
    try:
        import torch
        from ultralytics import YOLO
    except ImportError:
        print("Ultralytics is not installed here: run scripts/bootstrap-hosts, then")
        print("  .venv-hosts/bin/python examples/ultralytics_stride.py")
        return 0

    from smolplug.adapters import get

    video = args.video or default_video()
    torch.manual_seed(0)
    model = YOLO(args.weights)
    conf = 1e-6 if args.weights.endswith(".yaml") else 0.25

    def predict() -> tuple[float, list[np.ndarray]]:
        t = time.perf_counter()
        boxes = [
            r.boxes.data.numpy()
            for r in model.predict(
                str(video), vid_stride=args.stride, conf=conf, device="cpu", verbose=False, stream=True
            )
        ]
        return time.perf_counter() - t, boxes

    predict()  # warm-up: model fusing, first allocations
    t_off, off = predict()
    with get("ultralytics"):  # enabled inside the block, restored after
        t_on, on = predict()
    same = len(off) == len(on) and all(np.array_equal(a, b) for a, b in zip(off, on, strict=True))
    print(f"{video.name}: every {args.stride}th frame, {args.weights}, {sum(len(b) for b in off)} boxes")
    print(f"Ultralytics alone: {len(off)} frames in {t_off:.3f} s")
    speedup = t_off / t_on
    print(f"with smolplug:     {len(on)} frames in {t_on:.3f} s ({speedup:.2f}x), boxes identical: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
