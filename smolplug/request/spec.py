"""Request types: what a model needs from each frame."""

from __future__ import annotations

import dataclasses
import functools
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from ..errors import SpecError

ResizePolicy = Literal["exact", "shorter-side-crop", "letterbox"]
Colorspace = Literal["RGB", "BGR", "GRAY"]
Layout = Literal["NCHW", "NHWC"]
DType = Literal["uint8", "float16", "float32"]
Interpolation = Literal["area", "bilinear"]

RESIZE_POLICIES = ("exact", "shorter-side-crop", "letterbox")
COLORSPACES = ("RGB", "BGR", "GRAY")
LAYOUTS = ("NCHW", "NHWC")
DTYPES = ("uint8", "float16", "float32")
INTERPOLATIONS = ("area", "bilinear")
MAX_SIDE = 65500  # JPEG's own limit on a dimension

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


MAX_OUTPUT_ENV = "SMOLPLUG_MAX_OUTPUT_BYTES"
# cgroup v2, then v1: a container's memory limit, often far below the host's RAM
_CGROUP_LIMITS = (Path("/sys/fs/cgroup/memory.max"), Path("/sys/fs/cgroup/memory/memory.limit_in_bytes"))


@functools.lru_cache(maxsize=1)
def machine_memory() -> int:
    """Bytes of memory this process can have: physical RAM, or a smaller cgroup limit."""
    try:
        limit = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        limit = 2**63 - 1
    for path in _CGROUP_LIMITS:
        try:
            text = path.read_text().strip()
        except OSError:
            continue
        if text.isdigit():
            limit = min(limit, int(text))
    return limit


def env_positive_int(name: str) -> int | None:
    """The positive integer in environment variable ``name`` (None when unset or empty)."""
    env = os.environ.get(name)
    if not env:
        return None
    try:
        value = int(env)
    except ValueError:
        raise SpecError(f"{name} must be an integer, got {env!r}") from None
    if value < 1:
        raise SpecError(f"{name} must be >= 1, got {value}")
    return value


def max_output_bytes() -> int:
    """Largest output buffer smolplug allocates: ``SMOLPLUG_MAX_OUTPUT_BYTES``, else
    :func:`machine_memory` (a buffer larger than the memory can only fail or thrash)."""
    limit = env_positive_int(MAX_OUTPUT_ENV)
    return machine_memory() if limit is None else limit


def _choice(name: str, value: object, allowed: Sequence[str]) -> None:
    if value not in allowed:
        raise SpecError(f"{name}={value!r} is not one of {', '.join(map(repr, allowed))}")


def _positive_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 < value <= MAX_SIDE:
        raise SpecError(f"{name} must be an integer in 1..{MAX_SIDE}, got {value!r}")


def _channel_tuple(name: str, value: object, channels: int) -> tuple[float, ...]:
    if isinstance(value, (int, float)):
        value = (value,)
    try:
        items = tuple(float(v) for v in value)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise SpecError(f"{name} must be a number or a sequence of numbers, got {value!r}") from None
    if len(items) == 1:
        items = items * channels
    if len(items) != channels:
        raise SpecError(f"{name} has {len(items)} values but the colorspace has {channels} channel(s)")
    if not all(math.isfinite(v) for v in items):
        raise SpecError(f"{name} must be finite, got {items!r}")
    return items


@dataclass(frozen=True)
class FrameSpec:
    """Output geometry and encoding of every frame handed to a model.

    Validated at construction; invalid values raise :class:`~smolplug.SpecError`.

    :param height: output height in pixels.
    :param width: output width in pixels.
    :param resize: ``"exact"`` stretches the source (or ROI) to height x width;
        ``"shorter-side-crop"`` resizes the shorter side to ``shorter_side`` keeping the
        aspect ratio, then centre-crops height x width (torchvision's ``Resize`` +
        ``CenterCrop``, zero padding when the crop is larger); ``"letterbox"`` fits the
        whole source inside, centred, padding with ``fill``.
    :param shorter_side: resize target of the shorter side for ``"shorter-side-crop"``
        (default: ``max(height, width)``, i.e. a plain centre crop).
    :param roi: region of interest ``(x, y, w, h)`` in source pixels (after EXIF
        orientation when that is applied); only this region is decoded.
    :param colorspace: ``"RGB"``, ``"BGR"`` or ``"GRAY"`` (ITU-R 601 luma).
    :param mean: per-channel mean, or None for no normalisation.
    :param std: per-channel standard deviation (with ``mean``).
    :param value_scale: pixels (0..255) are multiplied by this before ``(x - mean) / std``;
        1/255 gives torchvision's convention, 1.0 normalises raw 0..255 values.
    :param layout: ``"NCHW"`` (planar) or ``"NHWC"`` (interleaved).
    :param dtype: ``"uint8"``, ``"float16"`` or ``"float32"``; uint8 cannot be normalised.
    :param interpolation: ``"bilinear"`` (triangle filter, the default: what
        torchvision's PIL pipeline uses) or ``"area"`` (box filter, OpenCV's
        ``INTER_AREA``); both antialias when downscaling, as Pillow's ``resize`` does.
    :param fill: padding value in pixel units (0..255), normalised like any pixel.
    :param exif_orientation: rotate/flip per the EXIF orientation tag (off by default,
        as in Pillow, OpenCV's ``IMREAD_IGNORE_ORIENTATION`` and simplejpeg).
    """

    height: int
    width: int
    resize: ResizePolicy = "exact"
    shorter_side: int | None = None
    roi: tuple[float, float, float, float] | None = None
    colorspace: Colorspace = "RGB"
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    value_scale: float = 1.0 / 255.0
    layout: Layout = "NCHW"
    dtype: DType = "float32"
    interpolation: Interpolation = "bilinear"
    fill: float = 0.0
    exif_orientation: bool = False

    def __post_init__(self) -> None:
        _positive_int("height", self.height)
        _positive_int("width", self.width)
        _choice("resize", self.resize, RESIZE_POLICIES)
        _choice("colorspace", self.colorspace, COLORSPACES)
        _choice("layout", self.layout, LAYOUTS)
        _choice("dtype", self.dtype, DTYPES)
        _choice("interpolation", self.interpolation, INTERPOLATIONS)
        if self.shorter_side is not None:
            if self.resize != "shorter-side-crop":
                raise SpecError("shorter_side only applies to resize='shorter-side-crop'")
            _positive_int("shorter_side", self.shorter_side)
        if self.roi is not None:
            try:
                roi = tuple(float(v) for v in self.roi)
            except (TypeError, ValueError):
                raise SpecError(f"roi must be (x, y, w, h), got {self.roi!r}") from None
            if len(roi) != 4 or not all(math.isfinite(v) for v in roi):
                raise SpecError(f"roi must be four finite numbers (x, y, w, h), got {self.roi!r}")
            if roi[0] < 0 or roi[1] < 0 or roi[2] <= 0 or roi[3] <= 0:
                raise SpecError(f"roi needs x, y >= 0 and w, h > 0, got {self.roi!r}")
            object.__setattr__(self, "roi", roi)
        if (self.mean is None) != (self.std is None):
            raise SpecError("mean and std must be given together (or neither)")
        if self.mean is not None:
            if self.dtype == "uint8":
                raise SpecError("a uint8 output cannot be normalised: use float16/float32 or drop mean/std")
            object.__setattr__(self, "mean", _channel_tuple("mean", self.mean, self.channels))
            std = _channel_tuple("std", self.std, self.channels)
            if any(s == 0 for s in std):
                raise SpecError("std must be non-zero")
            object.__setattr__(self, "std", std)
        if not (
            isinstance(self.value_scale, (int, float))
            and math.isfinite(self.value_scale)
            and self.value_scale > 0
        ):
            raise SpecError(f"value_scale must be a positive finite number, got {self.value_scale!r}")
        if not (isinstance(self.fill, (int, float)) and 0 <= self.fill <= 255):
            raise SpecError(f"fill must be a pixel value in 0..255, got {self.fill!r}")
        if not isinstance(self.exif_orientation, bool):
            raise SpecError("exif_orientation must be a bool")

    @classmethod
    def imagenet(cls, size: int = 224, resize_to: int = 256, **changes: object) -> FrameSpec:
        """The classic ImageNet eval transform: shorter side 256, centre crop 224, mean/std, NCHW float32."""
        base = dict(resize="shorter-side-crop", shorter_side=resize_to, mean=IMAGENET_MEAN, std=IMAGENET_STD)
        base.update(changes)
        return cls(size, size, **base)  # type: ignore[arg-type]

    def replace(self, **changes: object) -> FrameSpec:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    @property
    def channels(self) -> int:
        return 1 if self.colorspace == "GRAY" else 3

    @property
    def frame_shape(self) -> tuple[int, int, int]:
        """Shape of one frame: (C, H, W) or (H, W, C)."""
        if self.layout == "NCHW":
            return (self.channels, self.height, self.width)
        return (self.height, self.width, self.channels)

    def batch_shape(self, n: int) -> tuple[int, int, int, int]:
        return (n, *self.frame_shape)

    @property
    def numpy_dtype(self) -> np.dtype:
        return np.dtype(self.dtype)

    def affine(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """Per output channel (scale, bias) with ``out = pixel * scale + bias``, pixel in 0..255."""
        c = self.channels
        if self.mean is None or self.std is None:
            return (1.0,) * c, (0.0,) * c
        scale = tuple(self.value_scale / s for s in self.std)
        bias = tuple(-m / s for m, s in zip(self.mean, self.std, strict=True))
        return scale, bias

    def fill_frame(self, frame: np.ndarray) -> None:
        """Set one frame (``frame_shape``) to the padding value ``fill``, normalised like a pixel."""
        scale, bias = self.affine()
        for c in range(self.channels):
            v = self.fill * scale[c] + bias[c]
            if self.dtype == "uint8":
                v = int(min(max(v + 0.5, 0), 255))
            if self.layout == "NCHW":
                frame[c] = v
            else:
                frame[..., c] = v

    @property
    def frame_bytes(self) -> int:
        """Bytes of one output frame."""
        return math.prod(self.frame_shape) * self.numpy_dtype.itemsize

    def check_allocation(self, n: int) -> None:
        """Refuse (:class:`~smolplug.SpecError`, naming the bytes) a buffer of ``n`` frames larger
        than :func:`max_output_bytes`, before anything is allocated."""
        need, limit = n * self.frame_bytes, max_output_bytes()
        if need > limit:
            raise SpecError(
                f"{n} frame(s) of {self.frame_shape} {self.dtype} need {need:,} bytes "
                f"({need / 2**30:.1f} GiB), over the {limit:,}-byte output limit "
                f"({MAX_OUTPUT_ENV}; default: this machine's memory)"
            )

    def allocate(self, n: int) -> np.ndarray:
        """An uninitialised batch buffer of the right shape and dtype (size-checked first)."""
        self.check_allocation(n)
        return np.empty(self.batch_shape(n), dtype=self.numpy_dtype)
