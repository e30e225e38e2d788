"""Boxes of a decoded frame -> the second model's input, one native pass per box.

The frame stays as the source decoded it (interleaved uint8 RGB or BGR at its own size); each
box is a region of interest in source pixels, and the native resampler crops, resizes
(antialiased, like Pillow), converts the colour order, normalises and lays out the crop straight
into the batch buffer: no intermediate crop, resized image or float copy per box.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from .. import _binding as native
from ..errors import SpecError
from ..request.spec import FrameSpec


class CropPreprocessor:
    """``crops(image, boxes)`` -> ``(N, *spec.frame_shape)``.

    :param spec: the second model's input (size, resize policy, mean/std, layout, dtype); its
        ``roi`` must be None (each box is the region).
    :param source: the channel order of the images passed in, ``"RGB"`` or ``"BGR"``.
    :param min_size: boxes narrower or shorter than this (in source pixels, after clipping to
        the image) are left out of the batch: see :meth:`clip`.
    """

    def __init__(self, spec: FrameSpec, source: str = "BGR", min_size: float = 2.0):
        if spec.roi is not None:
            raise SpecError("the crop spec's roi must be None: each box is the region")
        if source not in ("RGB", "BGR"):
            raise SpecError(f"source must be 'RGB' or 'BGR', got {source!r}")
        if source == "BGR" and spec.colorspace == "GRAY":
            raise SpecError("GRAY crops need an RGB source (luma weights are per channel)")
        self.spec = spec
        self.source = source
        self.min_size = float(min_size)
        # one native spec, its region rewritten per box; the converter reads the image as RGB,
        # so a BGR image asks for the opposite order and gets the requested one
        out_color = spec.colorspace
        if source == "BGR" and out_color != "GRAY":
            out_color = "RGB" if out_color == "BGR" else "BGR"
        self._native_spec = spec.replace(roi=(0, 0, 1, 1), colorspace=out_color)
        self._local = threading.local()  # the region is rewritten per box: one native spec per thread
        self._rgb = native.PIX_FORMATS["rgb24"][0]

    def _cspec(self) -> Any:
        c = getattr(self._local, "cspec", None)
        if c is None:
            c = self._local.cspec = native.make_spec(
                self._native_spec, strict=True, max_pixels=None, fastdct=False, fastupsample=False
            )
        return c

    def clip(self, boxes: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
        """Boxes (N, 4: x, y, w, h in source pixels) clipped to the image, and the mask of those
        kept (at least ``min_size`` on both sides after clipping)."""
        b = np.asarray(boxes, np.float64).reshape(-1, 4)
        x0 = np.clip(b[:, 0], 0, width)
        y0 = np.clip(b[:, 1], 0, height)
        x1 = np.clip(b[:, 0] + b[:, 2], 0, width)
        y1 = np.clip(b[:, 1] + b[:, 3], 0, height)
        clipped = np.stack([x0, y0, x1 - x0, y1 - y0], axis=1)
        keep = (clipped[:, 2] >= self.min_size) & (clipped[:, 3] >= self.min_size)
        return clipped, keep

    def __call__(self, image: np.ndarray, boxes: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Crops of ``boxes`` (N, 4: x, y, w, h in ``image``'s pixels, inside it: see
        :meth:`clip`) from ``image`` (H, W, 3 uint8, C-contiguous rows)."""
        img = np.asarray(image)
        if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
            raise SpecError(f"image must be (H, W, 3) uint8, got {img.shape} {img.dtype}")
        if not img.flags.c_contiguous:
            img = np.ascontiguousarray(img)
        h, w = img.shape[:2]
        b = np.asarray(boxes, np.float64).reshape(-1, 4)
        shape = self.spec.batch_shape(len(b))
        if out is None:
            out = np.empty(shape, np.dtype(self.spec.dtype))
        elif out.shape != shape or out.dtype != np.dtype(self.spec.dtype) or not out.flags.c_contiguous:
            raise SpecError(f"out must be a C-contiguous {shape} {self.spec.dtype} array")
        c = self._cspec()
        for k, (x, y, bw, bh) in enumerate(b):
            if x < 0 or y < 0 or bw <= 0 or bh <= 0 or x + bw > w + 1e-6 or y + bh > h + 1e-6:
                raise SpecError(f"box {k} {tuple(b[k])} is not inside the {w}x{h} image: clip it first")
            c.roi_x, c.roi_y, c.roi_w, c.roi_h = x, y, bw, bh
            r = native.convert_planes([img], [img.strides[0]], self._rgb, w, h, True, False, c, out[k])
            if r["status"] != 0:
                raise SpecError(f"box {k}: {r['message']}")
        return out
