"""The inputs of a read: paths, directories and globs expanded into files; each video indexed
(in a Ray task, on the driver's behalf) and sized for planning."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import Status
from ..request.spec import FrameSpec
from .pieces import HD_PIXELS


@dataclass
class VideoFile:
    """One input video as the driver knows it after indexing."""

    path: str
    index: Any  #: VideoIndex (driver side) or None when the file cannot be read
    ref: Any = None  #: the index in Ray's object store
    status: int = 0
    error: str = ""
    pixels: int = 0  #: pixels of the picture a reader will decode (its rendition's)


def index_file(path: str, cache: str | None, spec: FrameSpec, headroom: float, autorotate: bool) -> VideoFile:
    """Index one video (from the cache when valid) and find the picture size a reader of ``spec``
    decodes; a file that cannot be read comes back with its status and message."""
    from ..errors import DecodeError
    from ..video.renditions import pick_rendition
    from ..video.scan import load_index

    try:
        index = load_index(path, cache)
    except FileNotFoundError as e:
        return VideoFile(path, None, status=int(Status.IO_ERROR), error=f"{path}: {e.strerror or e}")
    except DecodeError as e:
        return VideoFile(path, None, status=int(e.status), error=str(e))
    except OSError as e:
        return VideoFile(path, None, status=int(Status.IO_ERROR), error=f"{path}: {e}")
    pixels = index.width * index.height
    if headroom != math.inf and pixels:
        t = autorotate and index.transposed
        dw, dh = (index.display_width, index.display_height) if autorotate else (index.width, index.height)
        try:
            rend, _ = pick_rendition(path, spec, dw, dh, headroom, t)
        except Exception:  # noqa: BLE001 - the reader decides; this only sizes the pieces
            rend = None
        if rend is not None:
            pixels = rend.width * rend.height
    return VideoFile(path, index, pixels=pixels or HD_PIXELS)


def expand(
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]], suffixes: Sequence[str]
) -> list[str]:
    """Files named by ``paths``: files as given (any name), directories' files with one of
    ``suffixes`` in natural order, glob patterns' matches; a name that matches nothing stays
    (it is then reported as unreadable, not dropped)."""
    import glob

    from ..frames.readers import _natural_key

    items = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
    out: list[str] = []
    for item in items:
        s = os.fspath(item)
        p = Path(s)
        if p.is_dir():
            found = [q for q in p.iterdir() if q.is_file() and q.suffix.lower() in suffixes]
            out += [str(q) for q in sorted(found, key=_natural_key)]
        elif any(c in s for c in "*?[") and not p.exists():
            out += sorted(glob.glob(s, recursive=True), key=lambda m: _natural_key(Path(m)))
        else:
            out.append(s)
    return out
