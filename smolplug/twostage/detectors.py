"""First-stage models: what finds the boxes the second model classifies.

A detector is any callable ``detector(image) -> boxes``: ``image`` the decoded frame (H, W, 3
uint8, in the pipeline's ``source_colorspace``), ``boxes`` an (N, 5) float array of x, y, w, h in
the image's pixels and a score. :class:`HOGPeopleDetector` is the one that runs anywhere (OpenCV's
pedestrian HOG + linear SVM, no weights to download).
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

#: OpenCV's people detector as the reference engines run it
HOG_PARAMS: dict[str, Any] = {"winStride": (8, 8), "padding": (8, 8), "scale": 1.1}


class HOGPeopleDetector:
    """OpenCV's ``HOGDescriptor`` people detector (``opencv-python-headless``), one descriptor per
    thread (``detectMultiScale`` releases the GIL: detector workers run in parallel).

    :param threads: OpenCV's own worker threads (``cv2.setNumThreads``, process-wide); 1 keeps
        one detector call on one core, so that the pipeline's workers decide the parallelism.
    :param min_score: boxes scoring below this are dropped.
    """

    def __init__(self, params: dict[str, Any] | None = None, threads: int | None = 1, min_score: float = 0.0):
        try:
            import cv2
        except ImportError:
            raise ImportError(
                "HOGPeopleDetector needs OpenCV: pip install 'opencv-python-headless<5'"
            ) from None
        self._cv2 = cv2
        if threads is not None:
            cv2.setNumThreads(int(threads))
        self.params = dict(HOG_PARAMS if params is None else params)
        self.min_score = float(min_score)
        self._local = threading.local()

    def _hog(self) -> Any:
        h = getattr(self._local, "hog", None)
        if h is None:
            h = self._local.hog = self._cv2.HOGDescriptor()
            h.setSVMDetector(self._cv2.HOGDescriptor_getDefaultPeopleDetector())
        return h

    def __call__(self, image: np.ndarray) -> np.ndarray:
        rects, weights = self._hog().detectMultiScale(image, **self.params)
        out = np.zeros((len(rects), 5), np.float32)
        if len(rects):
            out[:, :4] = np.asarray(rects, np.float32).reshape(-1, 4)
            out[:, 4] = np.asarray(weights, np.float32).reshape(-1)
        return out[out[:, 4] >= self.min_score] if self.min_score > 0 else out
