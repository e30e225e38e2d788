"""Low-resolution renditions of a video: the same frames at smaller sizes.

``make_renditions`` re-encodes a video at smaller heights with libx264: rendition frame *i* is the
source's frame *i* (the i-th frame of a sequential decode), with the source's display matrix, an
IDR frame at every seek point of the source (and wherever else libx264's GOP limit puts one), and
strictly increasing timestamps (the source's seconds where it has them, else the frame rate's), so
sources with broken timestamps (AVI, packed B-frames) get renditions too.

Renditions and their manifest live in the cache directory by default (``smolplug.cache
.cache_dir() / "renditions" / <the source's fingerprint>``): media folders are often read-only or
shared. ``beside_source=True`` writes ``VIDEO.renditions/`` and ``VIDEO.renditions.json`` next to
the video instead. The reader picks the smallest rendition that still covers a request.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..cache import cache_dir
from ..errors import SmolplugError
from ..request.spec import FrameSpec
from .container import display_matrix
from .index import VideoIndex, fingerprint
from .scan import load_index

MANIFEST_VERSION = 2


class RenditionError(SmolplugError, RuntimeError):
    """A rendition could not be made, or does not match its source."""


@dataclass(frozen=True)
class Rendition:
    path: Path
    width: int  #: stored width
    height: int  #: stored height


def manifest_path(video: str | os.PathLike[str]) -> Path:
    """The manifest beside the video (``beside_source=True``)."""
    v = Path(video)
    return v.with_name(v.name + ".renditions.json")


def cached_manifest_path(video: str | os.PathLike[str]) -> Path:
    """The manifest in the cache directory, keyed by the video's fingerprint."""
    return cache_dir() / "renditions" / fingerprint(video)[:20] / "manifest.json"


def _even(x: float) -> int:
    return max(2, int(round(x / 2)) * 2)


def _output_pts(index: VideoIndex) -> tuple[np.ndarray, Fraction]:
    """Strictly increasing timestamps for the re-encoded frames, in the source's time base when
    its frame times allow, else in frames."""
    tb = index.time_base
    pts = np.round(index.timestamps / float(tb)).astype(np.int64)
    if len(pts) > 1 and np.any(np.diff(pts) <= 0):
        return np.arange(len(pts), dtype=np.int64), Fraction(1, 1)
    return pts, tb


def _encode(
    src: Path,
    targets: Sequence[tuple[Path, int, int]],
    crf: int,
    preset: str,
    progress: Callable[[int, int], None] | None,
    max_gop: int | None = None,
) -> None:
    """Re-encode ``src`` to every (path, width, height) with libx264, frame by frame in the order
    a sequential decode outputs them, an IDR frame at each seek point of the source (and at least
    every ``max_gop`` frames when given)."""
    import av
    from av.video.frame import PictureType
    from av.video.reformatter import VideoReformatter

    from .container import av_error, decoded_frames, open_video

    index = load_index(src)
    n = index.n_frames
    anchors = set(index.keyframes.tolist())
    keys = index.keyframes
    gaps = np.diff(np.append(keys, n)) if len(keys) else np.asarray([n])
    keyint = int(min(max(int(gaps.max()), 1), 250)) + 1
    if max_gop is not None:
        keyint = min(keyint, max(int(max_gop), 1))
    out_pts, out_tb = _output_pts(index)
    outs, streams, scalers = [], [], []
    done = 0
    try:
        with open_video(src) as container:
            vs = container.streams.video[0]
            vs.thread_type = "AUTO"
            rate = vs.average_rate or vs.guessed_rate or Fraction(25)
            for done, frame in enumerate(decoded_frames(container, vs)):
                if done >= n:
                    raise RenditionError(f"{src}: decodes to more frames than its index ({n}): re-index it")
                if not outs:
                    matrix = display_matrix(frame)
                    for path, w, h in targets:
                        oc = av.open(str(path) + ".tmp", "w", format="mp4")
                        st = oc.add_stream("libx264", rate=rate)
                        st.width, st.height, st.pix_fmt = w, h, "yuv420p"
                        st.time_base = out_tb
                        st.codec_context.time_base = out_tb
                        st.options = {
                            "preset": preset,
                            "crf": str(crf),
                            "forced-idr": "1",
                            "x264-params": f"keyint={keyint}:min-keyint=1:scenecut=0",
                        }
                        if matrix is not None:
                            st.set_display_matrix(matrix.tolist())
                        outs.append(oc)
                        streams.append(st)
                        scalers.append(VideoReformatter())  # its swscale context, kept
                for (_, w, h), oc, st, sc in zip(targets, outs, streams, scalers, strict=True):
                    scaled = sc.reformat(frame, width=w, height=h, format="yuv420p", interpolation="AREA")
                    scaled.pts, scaled.time_base = int(out_pts[done]), out_tb
                    scaled.pict_type = PictureType.I if done in anchors else PictureType.NONE
                    for p in st.encode(scaled):
                        oc.mux(p)
                if progress:
                    progress(done + 1, n)
            for oc, st in zip(outs, streams, strict=True):
                for p in st.encode():
                    oc.mux(p)
    except av.error.FFmpegError as exc:
        raise RenditionError(str(av_error(src, exc, "cannot re-encode"))) from exc
    finally:
        for oc in outs:
            oc.close()
    if outs and done + 1 != n:
        raise RenditionError(f"{src}: decoded {done + 1} frames, its index has {n}")
    for path, _, _ in targets:
        Path(str(path) + ".tmp").replace(path)
        check = load_index(path)
        if check.n_frames != n or not set(index.keyframes.tolist()) <= set(check.keyframes.tolist()):
            raise RenditionError(
                f"{path}: {check.n_frames} frames, keyframes {check.keyframes[:5].tolist()}...: "
                f"does not match the source ({n} frames)"
            )


def transcode(
    video: str | os.PathLike[str],
    out: str | os.PathLike[str],
    height: int,
    crf: int = 20,
    preset: str = "veryfast",
    progress: Callable[[int, int], None] | None = None,
    max_gop: int | None = None,
) -> Path:
    """An H.264 copy of ``video`` at ``height`` (up or down), frame- and keyframe-aligned; with
    ``max_gop``, extra IDR frames keep every GOP at most that long (a camera-like stream)."""
    index = load_index(video)
    out = Path(out)
    size = (out, _even(index.width * height / index.height), _even(height))
    _encode(Path(video), [size], crf, preset, progress, max_gop)
    return out


def make_renditions(
    video: str | os.PathLike[str],
    heights: Sequence[int],
    out_dir: str | os.PathLike[str] | None = None,
    crf: int = 20,
    preset: str = "veryfast",
    progress: Callable[[int, int], None] | None = None,
    *,
    beside_source: bool = False,
) -> list[Rendition]:
    """Encode renditions of ``video`` at stored ``heights`` (smaller than the source) and write
    their manifest: in the cache directory (default), beside the video (``beside_source``), or
    in ``out_dir`` (the manifest then goes to the cache directory)."""
    src = Path(video)
    index = load_index(src)
    heights = sorted({int(h) for h in heights}, reverse=True)
    if not heights or any(h < 2 or h >= index.height for h in heights):
        raise RenditionError(
            f"heights must be in 2..{index.height - 1} (the source is {index.height} px high)"
        )
    if beside_source:
        manifest = manifest_path(src)
        out = Path(out_dir) if out_dir else src.with_name(src.name + ".renditions")
    else:
        manifest = cached_manifest_path(src)
        out = Path(out_dir) if out_dir else manifest.parent
    out.mkdir(parents=True, exist_ok=True)
    rends = [
        Rendition(out / f"{src.stem}.{h}p.mp4", _even(index.width * h / index.height), _even(h))
        for h in heights
    ]
    _encode(src, [(r.path, r.width, r.height) for r in rends], crf, preset, progress)
    doc = {
        "version": MANIFEST_VERSION,
        "source": src.name,
        "fingerprint": fingerprint(src),
        "width": index.width,
        "height": index.height,
        "frames": index.n_frames,
        "renditions": [
            {"path": os.path.relpath(r.path, manifest.parent), "width": r.width, "height": r.height}
            for r in rends
        ],
    }
    manifest.parent.mkdir(parents=True, exist_ok=True)
    tmp = manifest.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(doc, indent=2))
    tmp.replace(manifest)
    return rends


def list_renditions(video: str | os.PathLike[str]) -> list[Rendition]:
    """Renditions from the manifest (cache directory, then beside the video), if it exists and
    still matches the video (else none)."""
    src = Path(video)
    fp = fingerprint(src)
    for manifest in (cached_manifest_path(src), manifest_path(src)):
        try:
            m = json.loads(manifest.read_text())
        except (OSError, ValueError):
            continue
        if m.get("version") != MANIFEST_VERSION or m.get("fingerprint") != fp:
            continue
        found = []
        for r in m.get("renditions", []):
            p = (manifest.parent / r["path"]).resolve()
            if p.is_file():
                found.append(Rendition(p, int(r["width"]), int(r["height"])))
        return sorted(found, key=lambda r: r.height)
    return []


def pick_rendition(
    video: str | os.PathLike[str],
    spec: FrameSpec,
    src_w: int,
    src_h: int,
    headroom: float = 1.0,
    transposed: bool = False,
) -> tuple[Rendition | None, FrameSpec]:
    """The smallest rendition covering the request (ROI mapped into its coordinates), or None.
    ``src_w`` x ``src_h`` is the source in the request's coordinates: as displayed, ``transposed``
    when that swaps the stored width and height (renditions are stored like their source)."""
    from ..request.geometry import compute_geometry

    g = compute_geometry(spec, src_w, src_h)
    for r in list_renditions(video):
        rw, rh = (r.height, r.width) if transposed else (r.width, r.height)
        sx, sy = rw / src_w, rh / src_h
        if g.sw * sx >= g.dw * headroom and g.sh * sy >= g.dh * headroom:
            roi = None
            if spec.roi is not None:
                x, y, w, h = spec.roi
                roi = (x * sx, y * sy, min(w * sx, rw - x * sx), min(h * sy, rh - y * sy))
            return r, spec.replace(roi=roi)
    return None, spec
