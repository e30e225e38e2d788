"""Keyframe index of a video, built from packets without decoding, cached on disk.

Frame *i* is the i-th frame in presentation order, i.e. the packet with the i-th smallest
timestamp; that is also the i-th frame a plain sequential decode outputs. The cache is keyed by
the file's path and invalidated when its size, mtime or head/tail bytes change.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..errors import SmolplugError

INDEX_VERSION = 3


class UnindexableError(SmolplugError, ValueError):
    """The stream's packets carry no usable timestamps (the reader then decodes sequentially)."""


def cache_dir() -> Path:
    """``SMOLPLUG_CACHE_DIR``, else ``$XDG_CACHE_HOME/smolplug``, else ``~/.cache/smolplug``."""
    env = os.environ.get("SMOLPLUG_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "smolplug"


def fingerprint(path: str | os.PathLike[str]) -> str:
    """Size, mtime and the first and last 64 KiB: changes when the file does."""
    p = Path(path)
    st = p.stat()
    h = hashlib.sha1(f"{st.st_size}:{st.st_mtime_ns}".encode())
    with p.open("rb") as f:
        h.update(f.read(65536))
        if st.st_size > 65536:
            f.seek(max(st.st_size - 65536, 65536))
            h.update(f.read(65536))
    return h.hexdigest()


@dataclass
class VideoIndex:
    path: str
    fingerprint: str
    codec: str
    width: int
    height: int
    pix_fmt: str
    time_base: Fraction
    pts: np.ndarray  #: int64 timestamps in presentation order (stream time base)
    keyframe: np.ndarray  #: bool, frame i is a closed keyframe: exact decoding can start there
    has_b_frames: bool
    #: bool, the container flags frame i as a keyframe (open-GOP keyframes included: what
    #: "I-frames" means to hosts such as EvaDB's ``SAMPLE IFRAMES``)
    flagged: np.ndarray | None = None

    @property
    def n_frames(self) -> int:
        return len(self.pts)

    @property
    def timestamps(self) -> np.ndarray:
        """Seconds, float64, per frame."""
        return self.pts.astype(np.float64) * float(self.time_base)

    @property
    def keyframes(self) -> np.ndarray:
        return np.flatnonzero(self.keyframe)

    @property
    def flagged_keyframes(self) -> np.ndarray:
        return np.flatnonzero(self.flagged if self.flagged is not None else self.keyframe)

    def to_json(self) -> dict:
        return {
            "version": INDEX_VERSION,
            "path": self.path,
            "fingerprint": self.fingerprint,
            "codec": self.codec,
            "width": self.width,
            "height": self.height,
            "pix_fmt": self.pix_fmt,
            "time_base": [self.time_base.numerator, self.time_base.denominator],
            "pts": self.pts.tolist(),
            "keyframes": self.keyframes.tolist(),
            "flagged_keyframes": self.flagged_keyframes.tolist(),
            "has_b_frames": self.has_b_frames,
        }

    @classmethod
    def from_json(cls, d: dict) -> VideoIndex:
        pts = np.asarray(d["pts"], np.int64)
        key = np.zeros(len(pts), bool)
        key[np.asarray(d["keyframes"], np.int64)] = True
        flagged = np.zeros(len(pts), bool)
        flagged[np.asarray(d["flagged_keyframes"], np.int64)] = True
        return cls(
            d["path"],
            d["fingerprint"],
            d["codec"],
            d["width"],
            d["height"],
            d["pix_fmt"],
            Fraction(*d["time_base"]),
            pts,
            key,
            d["has_b_frames"],
            flagged,
        )


def build_index(path: str | os.PathLike[str]) -> VideoIndex:
    """Demux every packet of the first video stream (no decoding) and index it."""
    import av

    fp = fingerprint(path)
    with av.open(str(path)) as container:
        if not container.streams.video:
            raise UnindexableError(f"{path}: no video stream")
        stream = container.streams.video[0]
        ts: list[int] = []
        keys: list[bool] = []
        try:
            for packet in container.demux(stream):
                if packet.size == 0:
                    continue
                t = packet.pts if packet.pts is not None else packet.dts
                if t is None:
                    raise UnindexableError(f"{path}: packets without timestamps")
                ts.append(int(t))
                keys.append(bool(packet.is_keyframe))
        except av.error.FFmpegError:
            pass  # a truncated/corrupt tail: index what was readable; the reader reports the rest
        cc = stream.codec_context
        pts = np.asarray(ts, np.int64)
        key_decode = _closed_keyframes(pts, np.asarray(keys, bool))
        order = np.argsort(pts, kind="stable")
        pts = pts[order]
        if len(pts) and np.any(np.diff(pts) == 0):
            raise UnindexableError(f"{path}: duplicate timestamps")
        key = key_decode[order]
        flagged = np.asarray(keys, bool)[order]
        if len(key) and not key[0]:
            key[0] = True  # decoding from the start of the file always works
        return VideoIndex(
            str(Path(path).resolve()),
            fp,
            cc.name,
            cc.width,
            cc.height,
            cc.pix_fmt or "",
            Fraction(stream.time_base),
            pts,
            key,
            bool(cc.has_b_frames),
            flagged,
        )


def _closed_keyframes(pts_decode_order: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Keyframes usable as exact seek points: no later packet (in decode order) shows an earlier
    frame. A keyframe with such "leading" pictures opens an open GOP (x265's default CRA, x264's
    open-gop): after a seek the decoder lacks their references, and trailing frames were seen to
    differ from a sequential decode, so only closed keyframes are used."""
    closed = key.copy()
    n = len(pts_decode_order)
    positions = np.flatnonzero(key)
    for j, start in enumerate(positions):
        end = positions[j + 1] if j + 1 < len(positions) else n
        if end > start + 1 and pts_decode_order[start + 1 : end].min() < pts_decode_order[start]:
            closed[start] = False
    return closed


def _cache_file(path: str | os.PathLike[str], directory: Path) -> Path:
    key = hashlib.sha1(str(Path(path).resolve()).encode()).hexdigest()
    return directory / f"{key}.index.json"


def load_index(path: str | os.PathLike[str], cache: Path | str | None | bool = None) -> VideoIndex:
    """The index of ``path``, from the cache when still valid, else built and cached.

    :param cache: a directory, None for :func:`cache_dir`, or False to bypass the cache.
    """
    if cache is False:
        return build_index(path)
    directory = Path(cache) if cache else cache_dir()
    f = _cache_file(path, directory)
    fp = fingerprint(path)
    try:
        data = json.loads(f.read_text())
        if data.get("version") == INDEX_VERSION and data.get("fingerprint") == fp:
            return VideoIndex.from_json(data)
    except (OSError, ValueError, KeyError, TypeError):
        pass
    index = build_index(path)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        tmp = f.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(index.to_json()))
        tmp.replace(f)  # atomic: concurrent readers never see half a file
    except OSError:
        pass  # a read-only cache is not an error
    return index
