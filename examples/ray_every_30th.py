"""Every 30th frame of several videos on Ray Data, through a model in an actor pool.

    python examples/ray_every_30th.py [VIDEO ...] [--address ADDRESS]

Without VIDEO, three short H.264 clips are generated first. Without --address a local Ray node
(2 CPUs) is started; with it (e.g. ``auto`` after ``ray start --head``) the read runs on that
cluster — the files must then be readable at the same path on every node.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import Counter
from fractions import Fraction
from pathlib import Path

import numpy as np

import smolplug
from smolplug.request.selection import FrameSelection


def make_clip(path: Path, n: int = 150, seed: int = 0) -> Path:
    import av

    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = 320, 240, "yuv420p"
        s.options = {"preset": "veryfast", "x264-params": "keyint=25:scenecut=0"}
        for i in range(n):
            img = np.full((240, 320, 3), 40 + 60 * seed, np.uint8)
            img[100:140, (i * 2) % 280 : (i * 2) % 280 + 40] = (230, 60, 60)  # a moving block
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, 25)
            for p in s.encode(frame):
                out.mux(p)
        for p in s.encode():
            out.mux(p)
    return path


def brightness():
    """A stand-in model: mean brightness of each NCHW input (any executor-callable works)."""
    return lambda x: np.asarray(x).mean(axis=(1, 2, 3))[:, None]


def main(videos: list[Path], address: str | None) -> None:
    import ray
    from ray.data import ActorPoolStrategy

    from smolplug.ray import Predict, local, read_frames

    if address:
        local.prepare_environment()
        ray.init(address=address)
    else:
        local.init(num_cpus=2)
    spec = smolplug.FrameSpec(112, 112)  # float32 NCHW
    ds = read_frames(videos, FrameSelection.every(30), spec)
    out = ds.map_batches(
        Predict,
        fn_constructor_kwargs={"model": brightness},
        batch_size=16,
        batch_format="numpy",
        compute=ActorPoolStrategy(size=1),
        num_cpus=1,
    )
    rows = sorted(out.iter_rows(), key=lambda r: (r["path"], r["position"]))
    for r in rows:
        name, value = Path(r["path"]).name, r["output"][0]
        print(f"{name} frame {r['frame_index']:4d} {r['status']:>7}  brightness {value:.3f}")
    print(dict(Counter(r["status"] for r in rows)), f"{len(rows)} rows")
    ray.shutdown()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("videos", nargs="*", type=Path)
    ap.add_argument("--address")
    args = ap.parse_args()
    try:
        import ray.data  # noqa: F401
    except ImportError:
        print("this example needs Ray Data: pip install 'smolplug[ray]'")
        sys.exit(0)
    if args.videos:
        main(args.videos, args.address)
    else:
        with tempfile.TemporaryDirectory() as d:
            main([make_clip(Path(d) / f"cam{k}.mp4", seed=k) for k in range(3)], args.address)
