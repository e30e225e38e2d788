"""Read every 30th frame of a video at 100x100, decoding only what that needs.

    python examples/sampled_video_frames.py [VIDEO]

Without VIDEO, a short H.264 clip is generated first.
"""

from __future__ import annotations

import sys
import tempfile
from fractions import Fraction
from pathlib import Path

import numpy as np

import smolplug
from smolplug.request.selection import FrameSelection
from smolplug.video import VideoReader


def make_clip(path: Path, n: int = 120) -> Path:
    import av

    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = 320, 240, "yuv420p"
        s.options = {"preset": "veryfast", "x264-params": "keyint=50:scenecut=0"}
        for i in range(n):
            img = np.full((240, 320, 3), 40, np.uint8)
            img[100:140, (i * 2) % 280 : (i * 2) % 280 + 40] = (230, 60, 60)  # a moving block
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, 25)
            for p in s.encode(frame):
                out.mux(p)
        for p in s.encode():
            out.mux(p)
    return path


def main(video: Path) -> None:
    spec = smolplug.FrameSpec(100, 100, dtype="uint8", layout="NHWC")
    request = smolplug.FrameRequest(spec, batch_size=8, frames=FrameSelection.every(30))
    with smolplug.open_frames(video, request) as reader:
        for batch in reader:
            print(
                f"frames {batch.indices.tolist()} at {np.round(batch.timestamps, 2).tolist()} s:"
                f" {batch.data.shape}, status {batch.status.tolist()}"
            )
        if isinstance(reader, VideoReader):
            print(
                f"decoded {reader.frames_decoded} of {reader.index.n_frames} frames, {reader.seeks} seek(s)"
            )


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(Path(sys.argv[1]))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            main(make_clip(Path(tmp) / "clip.mp4"))
