"""Frame sources for :class:`~smolplug.twostage.pipeline.TwoStagePipeline`: an iterable of
``(index, status, message, image or None)``."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..errors import Status

Item = tuple[int, Status, str, "np.ndarray | None"]


def reader_frames(reader: Any, pace_fps: float | None) -> Iterator[Item]:
    """A smolplug reader's frames one by one (copied out of its ring), optionally paced."""
    t0 = time.perf_counter()
    k = 0
    for batch in reader:
        for i in range(len(batch)):
            if pace_fps:
                wait = t0 + k / pace_fps - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
            k += 1
            ok = Status(int(batch.status[i])).ok
            yield (
                int(batch.indices[i]),
                Status(int(batch.status[i])),
                batch.messages[i] if batch.messages else "",
                batch.data[i].copy() if ok else None,
            )
