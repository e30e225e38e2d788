"""Low-resolution renditions of a video: same frames, same timestamps, keyframes aligned.

``make_renditions`` re-encodes a video at smaller heights with libx264, forcing an IDR frame
exactly where the source has a keyframe (and nowhere else), so frame *i* and the GOP layout are
the same in every rendition. A JSON manifest next to the video lists them with the source's
fingerprint; the reader picks the smallest rendition that still covers a request.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import SmolplugError
from ..spec import FrameSpec
from .index import fingerprint, load_index

MANIFEST_VERSION = 1


class RenditionError(SmolplugError, RuntimeError):
    """A rendition could not be made, or does not match its source."""


@dataclass(frozen=True)
class Rendition:
    path: Path
    width: int
    height: int


def manifest_path(video: str | os.PathLike[str]) -> Path:
    v = Path(video)
    return v.with_name(v.name + ".renditions.json")


def _even(x: float) -> int:
    return max(2, int(round(x / 2)) * 2)


def _encode(
    src: Path,
    targets: Sequence[tuple[Path, int, int]],
    crf: int,
    preset: str,
    progress: Callable[[int, int], None] | None,
) -> None:
    """Re-encode ``src`` to every (path, width, height) with libx264: same frames, same
    timestamps, an IDR frame exactly at each source keyframe and nowhere else."""
    import av
    from av.video.frame import PictureType

    index = load_index(src)
    keyset = {int(p) for p in index.pts[index.keyframes]}
    gaps = [int(b - a) for a, b in zip(index.keyframes[:-1], index.keyframes[1:], strict=True)] or [
        index.n_frames
    ]
    keyint = max(max(gaps), index.n_frames - int(index.keyframes[-1])) + 1
    outs, streams = [], []
    try:
        with av.open(str(src)) as container:
            vs = container.streams.video[0]
            vs.thread_type = "AUTO"
            rate = vs.average_rate or vs.guessed_rate or 25
            for path, w, h in targets:
                oc = av.open(str(path) + ".tmp", "w", format="mp4")
                st = oc.add_stream("libx264", rate=rate)
                st.width, st.height, st.pix_fmt = w, h, "yuv420p"
                st.time_base = vs.time_base
                st.codec_context.time_base = vs.time_base
                st.options = {
                    "preset": preset,
                    "crf": str(crf),
                    "forced-idr": "1",
                    "x264-params": f"keyint={keyint}:min-keyint=1:scenecut=0",
                }
                outs.append(oc)
                streams.append(st)
            for done, frame in enumerate(container.decode(vs), start=1):
                if frame.pts is None:
                    raise RenditionError(f"{src}: frames without timestamps cannot be re-encoded exactly")
                for (_, w, h), oc, st in zip(targets, outs, streams, strict=True):
                    scaled = frame.reformat(width=w, height=h, format="yuv420p", interpolation="AREA")
                    scaled.pts, scaled.time_base = frame.pts, vs.time_base
                    scaled.pict_type = PictureType.I if int(frame.pts) in keyset else PictureType.NONE
                    for p in st.encode(scaled):
                        oc.mux(p)
                if progress:
                    progress(done, index.n_frames)
            for oc, st in zip(outs, streams, strict=True):
                for p in st.encode():
                    oc.mux(p)
    finally:
        for oc in outs:
            oc.close()
    for path, _, _ in targets:
        Path(str(path) + ".tmp").replace(path)
        check = load_index(path)
        if check.n_frames != index.n_frames or check.keyframes.tolist() != index.keyframes.tolist():
            raise RenditionError(
                f"{path}: {check.n_frames} frames, keyframes {check.keyframes[:5].tolist()}...: "
                f"does not match the source ({index.n_frames} frames)"
            )


def transcode(
    video: str | os.PathLike[str],
    out: str | os.PathLike[str],
    height: int,
    crf: int = 20,
    preset: str = "veryfast",
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """An H.264 copy of ``video`` at ``height`` (up or down), frame- and keyframe-aligned."""
    index = load_index(video)
    out = Path(out)
    _encode(
        Path(video), [(out, _even(index.width * height / index.height), _even(height))], crf, preset, progress
    )
    return out


def make_renditions(
    video: str | os.PathLike[str],
    heights: Sequence[int],
    out_dir: str | os.PathLike[str] | None = None,
    crf: int = 20,
    preset: str = "veryfast",
    progress: Callable[[int, int], None] | None = None,
) -> list[Rendition]:
    """Encode renditions of ``video`` at ``heights`` (smaller than the source) and write the manifest."""
    src = Path(video)
    index = load_index(src)
    heights = sorted({int(h) for h in heights}, reverse=True)
    if not heights or any(h < 2 or h >= index.height for h in heights):
        raise RenditionError(
            f"heights must be in 2..{index.height - 1} (the source is {index.height} px high)"
        )
    out = Path(out_dir) if out_dir else src.with_name(src.name + ".renditions")
    out.mkdir(parents=True, exist_ok=True)
    rends = [
        Rendition(out / f"{src.stem}.{h}p.mp4", _even(index.width * h / index.height), _even(h))
        for h in heights
    ]
    _encode(src, [(r.path, r.width, r.height) for r in rends], crf, preset, progress)
    manifest = {
        "version": MANIFEST_VERSION,
        "source": src.name,
        "fingerprint": fingerprint(src),
        "width": index.width,
        "height": index.height,
        "frames": index.n_frames,
        "renditions": [
            {"path": os.path.relpath(r.path, src.parent), "width": r.width, "height": r.height} for r in rends
        ],
    }
    manifest_path(src).write_text(json.dumps(manifest, indent=2))
    return rends


def list_renditions(video: str | os.PathLike[str]) -> list[Rendition]:
    """Renditions from the manifest, if it exists and still matches the video (else none)."""
    src = Path(video)
    try:
        m = json.loads(manifest_path(src).read_text())
    except (OSError, ValueError):
        return []
    if m.get("version") != MANIFEST_VERSION or m.get("fingerprint") != fingerprint(src):
        return []
    found = []
    for r in m.get("renditions", []):
        p = (src.parent / r["path"]).resolve()
        if p.is_file():
            found.append(Rendition(p, int(r["width"]), int(r["height"])))
    return sorted(found, key=lambda r: r.height)


def pick_rendition(
    video: str | os.PathLike[str], spec: FrameSpec, src_w: int, src_h: int, headroom: float = 1.0
) -> tuple[Rendition | None, FrameSpec]:
    """The smallest rendition covering the request (ROI mapped into its coordinates), or None."""
    from ..geometry import compute_geometry

    g = compute_geometry(spec, src_w, src_h)
    for r in list_renditions(video):
        sx, sy = r.width / src_w, r.height / src_h
        if g.sw * sx >= g.dw * headroom and g.sh * sy >= g.dh * headroom:
            roi = None
            if spec.roi is not None:
                x, y, w, h = spec.roi
                roi = (x * sx, y * sy, min(w * sx, r.width - x * sx), min(h * sy, r.height - y * sy))
            return r, spec.replace(roi=roi)
    return None, spec
