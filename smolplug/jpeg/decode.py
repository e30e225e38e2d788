"""Public JPEG API: decode straight into model-ready frames.

The native backend (libjpeg-turbo via cffi) is used when ``smolplug._native``
imports; otherwise a Pillow ``draft``-mode fallback with the same contract runs,
after one warning.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from ..errors import DecodeWarning, InvalidInputError, SpecError, Status, error_for
from ..request.spec import FrameSpec, env_positive_int

try:
    from .. import _binding as _native
except ImportError as _exc:  # pragma: no cover - exercised by test_fallback in a subprocess
    _native = None
    _NATIVE_ERROR: str | None = f"{type(_exc).__name__}: {_exc}"
else:
    _NATIVE_ERROR = None

from . import _pillow as _pillow

#: Default decompression-bomb guard (Pillow's error threshold: 2 x 89,478,485 pixels).
DEFAULT_MAX_PIXELS = 178_956_970
#: Default libjpeg working-memory budget per decode (per thread): the largest image
#: ``DEFAULT_MAX_PIXELS`` admits, progressive with four full-resolution components (CMYK), buffers
#: 8 bytes of DCT coefficients per pixel = 1.33 GiB; 1.5 GiB leaves room for MCU padding and
#: libjpeg's row buffers. See docs/decoding.md.
DEFAULT_MAX_MEMORY = 1536 * 1024 * 1024
_warned_fallback = False

OnError = Literal["raise", "skip"]


def native_available() -> bool:
    """True when the compiled decoder is in use."""
    return _native is not None


def backend() -> str:
    """``"native"`` or ``"pillow"`` (the fallback)."""
    return "native" if _native is not None else "pillow"


def native_error() -> str | None:
    """Why the native extension did not import (None when it did)."""
    return _NATIVE_ERROR


def _use_fallback() -> None:
    global _warned_fallback
    if not _warned_fallback:
        _warned_fallback = True
        warnings.warn(
            f"smolplug's native decoder is unavailable ({_NATIVE_ERROR}); using the slower Pillow fallback. "
            "Reinstall smolplug with libjpeg-turbo headers present (Debian: apt-get install "
            "libjpeg62-turbo-dev) to build it.",
            RuntimeWarning,
            stacklevel=3,
        )


def default_threads() -> int:
    """Worker threads for batch calls: ``SMOLPLUG_THREADS`` or the usable cores."""
    n = env_positive_int("SMOLPLUG_THREADS")
    if n is not None:
        return n
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _is_bytes_like(item: Any) -> bool:
    try:
        m = memoryview(item)
    except TypeError:
        return False
    return m.contiguous


def _check_out(out: np.ndarray, spec: FrameSpec, n: int | None) -> np.ndarray:
    """Validate a caller buffer: a batch of ``n`` frames, or one frame when ``n`` is None."""
    if not isinstance(out, np.ndarray):
        raise SpecError(f"out must be a numpy array, got {type(out).__name__}")
    want = spec.frame_shape if n is None else spec.batch_shape(n)
    if out.shape != want or out.dtype != spec.numpy_dtype:
        raise SpecError(f"out has shape {out.shape} {out.dtype}, the spec needs {want} {spec.dtype}")
    if not out.flags.c_contiguous or not out.flags.writeable:
        raise SpecError("out must be C-contiguous and writable")
    return out


def _positive_or_none(name: str, value: object) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise SpecError(f"{name} must be a positive integer or None, got {value!r}")


def _options(
    strict: bool,
    max_pixels: int | None,
    max_memory: int | None,
    fastdct: bool,
    fastupsample: bool,
    scale_headroom: float,
) -> dict[str, Any]:
    _positive_or_none("max_pixels", max_pixels)
    _positive_or_none("max_memory", max_memory)
    if not isinstance(scale_headroom, (int, float)) or not scale_headroom >= 1.0:
        raise SpecError(
            f"scale_headroom must be a number >= 1 (inf disables DCT scaling), got {scale_headroom!r}"
        )
    return {
        "strict": bool(strict),
        "max_pixels": max_pixels,
        "max_memory": max_memory,
        "fastdct": bool(fastdct),
        "fastupsample": bool(fastupsample),
        "scale_headroom": float(scale_headroom),
    }


def decode_jpeg(
    data: bytes | bytearray | memoryview | np.ndarray,
    spec: FrameSpec,
    *,
    out: np.ndarray | None = None,
    strict: bool = True,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    max_memory: int | None = DEFAULT_MAX_MEMORY,
    fastdct: bool = False,
    fastupsample: bool = False,
    scale_headroom: float = 1.0,
) -> np.ndarray:
    """Decode one JPEG into a frame shaped and encoded as ``spec`` says.

    Only what the output needs is decoded: the smallest DCT scale M/8 that still
    covers the (ROI of the) image at the output size, only the needed columns and
    rows; resize, normalisation, layout and dtype happen in the same pass.

    :param data: the compressed image (any contiguous bytes-like object).
    :param spec: output geometry and encoding.
    :param out: optional preallocated frame (``spec.frame_shape``, ``spec.dtype``).
    :param strict: treat libjpeg warnings (truncation, corrupt segments) as errors;
        with ``strict=False`` damaged images decode and a :class:`DecodeWarning` is issued.
    :param max_pixels: refuse images with more pixels (decompression-bomb guard); None disables.
    :param max_memory: libjpeg's working-memory budget in bytes for this decode (the whole-image
        coefficient buffers of progressive and other multi-scan files); an image that needs more
        is refused with status TOO_LARGE. None disables. Independently, a Huffman-coded
        multi-scan file too small to hold one bit per DCT block is refused (TOO_LARGE) before
        anything is allocated.
    :param fastdct: use libjpeg's fast integer IDCT (less accurate, only affects full scale).
    :param fastupsample: plain chroma replication instead of smooth upsampling.
    :param scale_headroom: the DCT-scaled source must be at least this many times the
        output size. 1.0 (default) picks the smallest covering scale, the fastest; larger
        values trade speed for agreement with a full-resolution decode (see
        docs/decoding.md); ``float("inf")`` disables DCT scaling.
    :returns: the frame (``out`` when given).
    :raises DecodeError: a subclass naming the reason (``EmptyInputError``,
        ``NotJPEGError``, ``TruncatedError``, ``CorruptDataError``,
        ``UnsupportedFormatError``, ``DecompressionBombError``, ``RegionOutOfBoundsError``).
    """
    if not isinstance(spec, FrameSpec):
        raise SpecError(f"spec must be a FrameSpec, got {type(spec).__name__}")
    if not _is_bytes_like(data):
        raise InvalidInputError(f"data must be a contiguous bytes-like object, got {type(data).__name__}")
    opts = _options(strict, max_pixels, max_memory, fastdct, fastupsample, scale_headroom)
    frame = spec.allocate(1)[0] if out is None else _check_out(out, spec, None)
    if _native is not None:
        res = _native.decode_into(data, _native.make_spec(spec, **opts), frame)
    else:
        _use_fallback()
        res = _pillow.decode_into(data, spec, frame, **opts)
    status = Status(res["status"])
    if not status.ok:
        raise error_for(status, res["message"])
    if status == Status.WARNING:
        warnings.warn(DecodeWarning(res["message"]), stacklevel=2)
    return frame


@dataclass
class DecodedBatch:
    """Frames of a batch call plus the outcome of every item.

    ``data[i]`` holds item *i*'s frame when ``status[i]`` is OK or WARNING;
    otherwise it is filled with the padding value and ``messages[i]`` says why.
    No item is ever dropped: ``len(status) == len(items)``.
    """

    data: np.ndarray
    status: np.ndarray  #: int8 :class:`Status` codes, one per item
    messages: list[str]
    source_sizes: np.ndarray  #: (N, 2) stored (height, width); 0 when unknown
    scales: np.ndarray  #: DCT scale numerator M (scale M/8) used per item
    rows_decoded: np.ndarray = field(repr=False)  #: scanlines produced per item (partial decoding shows here)

    def __len__(self) -> int:
        return len(self.status)

    @property
    def ok(self) -> np.ndarray:
        """Boolean mask of items whose pixels were delivered."""
        return self.status <= Status.WARNING

    @property
    def failed(self) -> list[int]:
        """Indices of items that could not be decoded."""
        return [int(i) for i in np.flatnonzero(self.status > Status.WARNING)]

    def errors(self) -> list[tuple[int, Status, str]]:
        """(index, status, reason) for every item that failed or warned."""
        return [(int(i), Status(int(self.status[i])), self.messages[i]) for i in np.flatnonzero(self.status)]

    def raise_for_status(self) -> None:
        """Raise the first failed item's error (with ``.index`` and a count of the others)."""
        bad = self.failed
        if bad:
            i = bad[0]
            more = f" ({len(bad) - 1} more item(s) failed)" if len(bad) > 1 else ""
            exc = error_for(int(self.status[i]), f"item {i}: {self.messages[i]}{more}", index=i)
            exc.batch = self  # type: ignore[attr-defined]
            raise exc


def decode_jpeg_batch(
    items: Sequence[bytes | bytearray | memoryview | np.ndarray],
    spec: FrameSpec,
    out: np.ndarray | None = None,
    threads: int | None = None,
    on_error: OnError = "raise",
    *,
    strict: bool = True,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    max_memory: int | None = DEFAULT_MAX_MEMORY,
    fastdct: bool = False,
    fastupsample: bool = False,
    scale_headroom: float = 1.0,
) -> DecodedBatch:
    """Decode N JPEGs into one (N, C, H, W) or (N, H, W, C) array in one native call.

    Items are spread over a pool of native threads (one libjpeg handle each); the
    GIL is released for the whole batch. One bad image never aborts the batch.

    :param items: compressed images (contiguous bytes-like objects).
    :param spec: output geometry and encoding, shared by every item.
    :param out: optional preallocated ``spec.batch_shape(len(items))`` array.
    :param threads: native threads (default: :func:`default_threads`).
    :param on_error: ``"raise"``: after the batch, raise the first failed item's
        error; ``"skip"``: return, with per-item ``status``/``messages``.
    :param strict: see :func:`decode_jpeg`; with ``strict=False`` damaged items get
        status WARNING and their message.
    :param max_pixels: per-item decompression-bomb guard.
    :param max_memory: per-item (so per-thread) libjpeg working-memory budget, see :func:`decode_jpeg`.
    :param fastdct, fastupsample, scale_headroom: see :func:`decode_jpeg`.
    :returns: a :class:`DecodedBatch`.
    """
    if not isinstance(spec, FrameSpec):
        raise SpecError(f"spec must be a FrameSpec, got {type(spec).__name__}")
    if on_error not in ("raise", "skip"):
        raise SpecError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    if isinstance(items, (bytes, bytearray, memoryview, np.ndarray)):
        raise SpecError(
            "items must be a sequence of images; wrap a single image in a list or use decode_jpeg()"
        )
    items = list(items)
    n = len(items)
    if threads is None:
        threads = default_threads()
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise SpecError(f"threads must be a positive integer, got {threads!r}")
    opts = _options(strict, max_pixels, max_memory, fastdct, fastupsample, scale_headroom)
    data = spec.allocate(n) if out is None else _check_out(out, spec, n)
    valid = [_is_bytes_like(it) for it in items]

    if _native is not None and n:
        results = _native.decode_batch_into(
            items, valid, _native.make_spec(spec, **opts), data, min(threads, n)
        )
    else:
        if _native is None:
            _use_fallback()
        results = [
            _pillow.decode_into(it, spec, data[i], **opts) if valid[i] else None for i, it in enumerate(items)
        ]
    status = np.empty(n, np.int8)
    messages: list[str] = []
    sizes = np.zeros((n, 2), np.int32)
    scales = np.zeros(n, np.int8)
    rows = np.zeros(n, np.int32)
    for i, r in enumerate(results):
        if not valid[i]:
            status[i] = Status.INVALID_INPUT
            messages.append(f"item is not a contiguous bytes-like object (got {type(items[i]).__name__})")
            continue
        status[i] = r["status"]
        messages.append(r["message"])
        sizes[i] = (r["src_h"], r["src_w"])
        scales[i] = r["scale_num"]
        rows[i] = r["rows_decoded"]
    batch = DecodedBatch(data, status, messages, sizes, scales, rows)
    if on_error == "raise":
        batch.raise_for_status()
    return batch


@dataclass(frozen=True)
class JpegInfo:
    width: int  #: stored width
    height: int  #: stored height
    orientation: int  #: EXIF orientation (1 when absent)


def probe_jpeg(data: bytes | bytearray | memoryview | np.ndarray) -> JpegInfo:
    """Read a JPEG's header only: size and EXIF orientation."""
    if not _is_bytes_like(data):
        raise InvalidInputError(f"data must be a contiguous bytes-like object, got {type(data).__name__}")
    res = _native.probe(data, True) if _native is not None else _pillow.probe(data, True)
    if not Status(res["status"]).ok:
        raise error_for(res["status"], res["message"])
    return JpegInfo(res["src_w"], res["src_h"], res["orientation"])
