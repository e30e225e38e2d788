"""A long street-camera workload built from the real footage: one hour (by default) of 1920x1080
H.264 at vtest.avi's 10 frames/s, for the end-to-end benchmark's ``--long`` run.

How it is made (deterministic: a fixed seed and ``RECIPE`` version; rebuilt only when either or
the source changes):

* vtest.avi (795 frames, 80 s of a pedestrian street, one static camera) is decoded once and
  played in *passes*, forwards or backwards, until the hour is full (45.3 passes).
* Each pass frames the scene differently: a 16:9 window of the 768x576 source, zoomed 1.0-1.3x
  at a random position; in a third of the passes the window pans slowly (at most ~0.3 source
  pixels a frame) from one position to another; brightness and contrast change per pass
  (gain 0.75-1.1, offset -12..+12 levels), like light over a day. The window is scaled to
  1920x1080 (bilinear), so no frame repeats an earlier one pixel for pixel.
* Encoded like a camera's stream: libx264 ``superfast`` (CABAC, deblocking, 3 B-frames), CRF 23,
  a closed GOP of 2 s (an IDR frame every 20 frames, no scene cuts) — about 2.5 Mbit/s.

How its statistics differ from a real day of this camera: the same 80 s of people recur 45
times (identical trajectories, different framing), so a proxy trained on the first minutes has
seen every person the query will meet; occupancy is uniform (no rush hour, no empty night — a
real day has long idle stretches that proxies and difference detectors dispose of cheaply);
light changes per pass, not gradually, and there is no weather or night; and the pans move the
background, which a fixed camera's difference detector would not see. Per-frame costs (decode,
resize, CNN, reference call) do not depend on these; reference-call counts of the BlazeIt-style
queries depend on the count distribution, which is vtest.avi's.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

RECIPE = 1
SIZE = (1920, 1080)
FPS = 10
GOP = 20  # frames: 2 s
SEED = 2026
Progress = Callable[[str, int, int], None]


def _source_frames(src: Path) -> np.ndarray:
    cap = cv2.VideoCapture(str(src))
    frames = []
    try:
        while True:
            ok, f = cap.read()
            if not ok:
                break
            frames.append(f)
    finally:
        cap.release()
    if not frames:
        raise OSError(f"{src}: no frame could be decoded")
    return np.stack(frames)


def passes(n_frames: int, src_frames: int, src_w: int, src_h: int, seed: int = SEED) -> list[dict]:
    """The per-pass framing (window, pan, direction, light) covering ``n_frames`` output frames."""
    rng = np.random.default_rng(seed)
    out, done = [], 0
    while done < n_frames:
        zoom = rng.uniform(1.0, 1.3)
        w = src_w / zoom
        h = w * SIZE[1] / SIZE[0]
        if h > src_h:
            h, w = src_h, src_h * SIZE[0] / SIZE[1]

        def spot(w: float = w, h: float = h) -> tuple[float, float]:
            return rng.uniform(0, src_w - w), rng.uniform(0, src_h - h)

        start = spot()
        end = spot() if rng.random() < 1 / 3 else start
        length = min(src_frames, n_frames - done)
        # at most ~0.3 source pixels a frame
        dist = math.hypot(end[0] - start[0], end[1] - start[1])
        if dist > 0.3 * length:
            t = 0.3 * length / dist
            end = (start[0] + t * (end[0] - start[0]), start[1] + t * (end[1] - start[1]))
        out.append(
            {
                "size": (w, h),
                "start": start,
                "end": end,
                "reverse": bool(rng.random() < 0.5),
                "gain": float(rng.uniform(0.75, 1.1)),
                "offset": float(rng.uniform(-12, 12)),
                "frames": length,
            }
        )
        done += length
    return out


def render(src: np.ndarray, p: dict, j: int) -> np.ndarray:
    """Output frame ``j`` of pass ``p`` (BGR, ``SIZE``)."""
    n = p["frames"]
    f = src[len(src) - 1 - j] if p["reverse"] else src[j]
    t = j / max(n - 1, 1)
    x = p["start"][0] + t * (p["end"][0] - p["start"][0])
    y = p["start"][1] + t * (p["end"][1] - p["start"][1])
    w, h = p["size"]
    # the window's affine map to the output (sub-pixel positions: a pan moves smoothly)
    m = np.array([[SIZE[0] / w, 0, -x * SIZE[0] / w], [0, SIZE[1] / h, -y * SIZE[1] / h]], np.float64)
    img = cv2.warpAffine(f, m, SIZE, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return cv2.convertScaleAbs(img, alpha=p["gain"], beta=p["offset"])


def build(src: Path, out: Path, seconds: int, progress: Progress | None = None) -> Path:
    """Write the long video to ``out`` (through a temporary file)."""
    import av

    frames = _source_frames(src)
    n = int(seconds * FPS)
    plan = passes(n, len(frames), frames.shape[2], frames.shape[1])
    tmp = out.with_name(out.name + ".tmp.mp4")
    oc = av.open(str(tmp), "w")
    try:
        st = oc.add_stream("libx264", rate=FPS)
        st.width, st.height, st.pix_fmt = SIZE[0], SIZE[1], "yuv420p"
        st.options = {
            "preset": "superfast",
            "crf": "23",
            "x264-params": f"keyint={GOP}:min-keyint={GOP}:scenecut=0",
        }
        i = 0
        for p in plan:
            for j in range(p["frames"]):
                img = render(frames, p, j)
                vf = av.VideoFrame.from_ndarray(cv2.cvtColor(img, cv2.COLOR_BGR2YUV_I420), format="yuv420p")
                vf.pts = i
                for pkt in st.encode(vf):
                    oc.mux(pkt)
                i += 1
                if progress and i % 200 == 0:
                    progress("encode", i, n)
        for pkt in st.encode():
            oc.mux(pkt)
    finally:
        oc.close()
    tmp.replace(out)
    return out


def source_key(src: Path) -> str:
    """What identifies a source's content for the caches built from it: its size and a hash of
    its first and last 64 KiB (not its path or mtime, which change when a data folder is copied
    or mounted again)."""
    size = src.stat().st_size
    h = hashlib.sha1(str(size).encode())
    with src.open("rb") as f:
        h.update(f.read(1 << 16))
        f.seek(max(size - (1 << 16), 0))
        h.update(f.read())
    return f"{src.name}:{size}:{h.hexdigest()[:16]}"


def long_video(
    src: Path,
    media: Path,
    seconds: int = 3600,
    progress: Progress | None = None,
) -> Path:
    """The long video for ``src`` under ``media``/long, built once (minutes: ~45 encoded frames
    a second on two cores) and reused while the source and the recipe are unchanged."""
    out = media / "long" / f"{src.stem}_long_{seconds}s_1080p.mp4"
    stamp = out.with_name(out.name + ".source")
    key = f"recipe {RECIPE} seed {SEED}: {source_key(src)}"
    if not out.exists() or not stamp.exists() or stamp.read_text() != key:
        out.parent.mkdir(parents=True, exist_ok=True)
        t = time.perf_counter()
        build(src, out, seconds, progress)
        stamp.write_text(key)
        if progress:
            progress(f"encoded in {time.perf_counter() - t:.0f} s", 1, 1)
    return out
