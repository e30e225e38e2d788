"""Generated test clips (PyAV encoders): chosen GOPs, B-frames, open/closed GOPs, VFR, start
times, display rotation. ``tests/media.py`` builds its corpus on :func:`make_clip`."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np


def moving_frame(i: int, w: int, h: int) -> np.ndarray:
    """Every frame differs (a moving block, a frame-number bar), so an off-by-one shows. The
    background is a gradient (red grows to the right, green downwards), so every rotation and
    mirror of the image is distinguishable."""
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([(xx * 255 // max(w - 1, 1)), (yy * 255 // max(h - 1, 1)), np.full_like(xx, 96)], -1)
    x0, y0 = (i * 3) % max(w - 24, 1), (i * 2) % max(h - 16, 1)
    img[y0 : y0 + 16, x0 : x0 + 24] = (250, 40, 40)
    img[h - 6 :, : (i * 5) % w] = 255
    return img.astype(np.uint8)


def make_clip(
    path: Path,
    codec: str = "libx264",
    n: int = 60,
    w: int = 160,
    h: int = 96,
    fps: int = 25,
    gop: int = 12,
    bframes: int = 2,
    options: dict | None = None,
    vfr: bool = False,
    pix_fmt: str = "yuv420p",
    *,
    first_pts: int = 0,
    rotation: int | None = None,
    container_format: str | None = None,
    x264_params: str = "",
) -> Path:
    """Encode ``n`` :func:`moving_frame` frames into ``path`` (container from the extension, or
    ``container_format``).

    :param first_pts: timestamp (in frames) of the first frame: negative makes the MP4/MOV muxer
        write an edit list that trims those frames, positive a non-zero start time.
    :param rotation: display rotation (degrees counter-clockwise) stored as the stream's display
        matrix; the frames themselves are encoded unrotated.
    :param x264_params: extra ``key=value:...`` x264 parameters (e.g. ``b-pyramid=normal``).
    """
    import av

    rng = np.random.default_rng(0)
    with av.open(str(path), "w", format=container_format) as out:
        s = out.add_stream(codec, rate=fps)
        s.width, s.height, s.pix_fmt = w, h, pix_fmt
        if rotation is not None:
            s.set_display_rotation(rotation)
        opts = dict(options or {})
        if codec == "libx265":
            opts.setdefault(
                "x265-params", f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes={bframes}:log-level=error"
            )
            opts.setdefault("preset", "ultrafast")
        elif codec == "libx264":
            params = f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes={bframes}"
            if opts.pop("open_gop", False):
                params += ":open-gop=1"
            if x264_params:
                params += ":" + x264_params
            opts.setdefault("x264-params", params)
            opts.setdefault("preset", "veryfast")
        else:
            s.codec_context.gop_size = gop
            if bframes:
                s.codec_context.max_b_frames = bframes
        s.options = opts
        if vfr:
            s.time_base = Fraction(1, 1000)
            s.codec_context.time_base = Fraction(1, 1000)
        t = 0
        for i in range(n):
            frame = av.VideoFrame.from_ndarray(moving_frame(i, w, h), format="rgb24")
            if vfr:
                frame.pts = t
                frame.time_base = Fraction(1, 1000)
                t += int(rng.integers(20, 90))
            else:
                frame.pts = first_pts + i
                frame.time_base = Fraction(1, fps)
            for p in s.encode(frame):
                out.mux(p)
        for p in s.encode():
            out.mux(p)
    return path


def sequential_planes(path: Path) -> dict[int, list[np.ndarray]]:
    """pts -> raw planes of a plain sequential decode (the exactness reference)."""
    import av

    res = {}
    with av.open(str(path)) as c:
        for f in c.decode(c.streams.video[0]):
            res[int(f.pts)] = [np.frombuffer(p, np.uint8).reshape(-1, p.line_size).copy() for p in f.planes]
    return res
