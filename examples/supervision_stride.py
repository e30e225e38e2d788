"""supervision reading every 10th frame of a real video, with smolplug's adapter off and on.

    python examples/supervision_stride.py [VIDEO] [STRIDE]

The same call, ``supervision.get_video_frames_generator(VIDEO, stride=STRIDE)``, twice: as
supervision runs it (OpenCV decodes every frame, keeps one in STRIDE), then with the
``supervision`` adapter enabled (as ``SMOLPLUG=supervision`` does at start-up): only the kept
frames, and what they depend on, are decoded. The frames are compared and both timed. Without
VIDEO: ../shared/data/video/bikes.mp4 when it is there, else a generated H.264 clip.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def default_video() -> Path:
    shared = Path(__file__).resolve().parents[2] / "shared" / "data" / "video" / "bikes.mp4"
    if shared.exists():
        return shared
    import av

    path = Path(tempfile.mkdtemp()) / "clip.mp4"
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = 640, 360, "yuv420p"
        s.options = {"preset": "veryfast", "x264-params": "keyint=50:scenecut=0:bframes=3"}
        for i in range(250):
            img = np.full((360, 640, 3), 30, np.uint8)
            img[(i * 3) % 300 :][:60, (i * 5) % 560 :][:, :80] = (230, 60, 40)
            for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(p)
        for p in s.encode():
            out.mux(p)
    return path


def main() -> int:
    import supervision as sv

    from smolplug.adapters import get

    video = Path(sys.argv[1]) if len(sys.argv) > 1 else default_video()
    stride = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    t = time.perf_counter()
    off = list(sv.get_video_frames_generator(str(video), stride=stride))
    t_off = time.perf_counter() - t
    with get("supervision"):  # enabled inside the block, restored after
        t = time.perf_counter()
        on = list(sv.get_video_frames_generator(str(video), stride=stride))
        t_on = time.perf_counter() - t
    same = len(off) == len(on) and all(np.array_equal(a, b) for a, b in zip(off, on, strict=True))
    info = sv.VideoInfo.from_video_path(str(video))
    print(f"{video.name}: {info.width}x{info.height}, {info.total_frames} frames; every {stride}th frame")
    print(f"supervision alone: {len(off)} frames in {t_off:.3f} s")
    print(
        f"with smolplug:     {len(on)} frames in {t_on:.3f} s ({t_off / t_on:.1f}x), frames identical: {same}"
    )
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
