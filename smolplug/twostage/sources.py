"""Frame sources for :class:`~smolplug.twostage.pipeline.TwoStagePipeline`: an iterable of
``(index, status, message, image or None)``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from ..errors import Status

Item = tuple[int, Status, str, "np.ndarray | None"]


def reader_frames(reader: Any) -> Iterator[Item]:
    """A smolplug reader's frames one by one (copied out of its ring)."""
    for batch in reader:
        for i in range(len(batch)):
            status = Status(int(batch.status[i]))
            yield (
                int(batch.indices[i]),
                status,
                batch.messages[i] if batch.messages else "",
                batch.data[i].copy() if status.ok else None,
            )
