"""The pipelined runner: a frame reader feeding an executor, both busy at once.

    reader thread:  read + decode + preprocess into the ring  ->  bounded queue  ->
    caller thread:  executor.submit(batch)  ...  pending.result()  ->  postprocess  ->  results

The reader runs ahead by at most ``queue_size`` batches (backpressure: it blocks when the
executor falls behind), so memory is bounded by the reader's ring of preallocated buffers. An
executor on an accelerator keeps up to ``inflight`` batches outstanding (its
``max_inflight``): the host-to-device copy of one batch overlaps the inference of the one
before, while the reader decodes the next ones. The ring must be deep enough that no buffer is
refilled while the executor may still read it: ``ring_size >= queue_size + inflight + 1``.
:meth:`PipelinedRunner.open` builds the reader with such a ring, in the executor's host memory
(page-locked for CUDA, so copies are DMA straight from the ring). Results come in frame order:
one reader delivers ascending indices, and batches are submitted and completed in the order
they were produced. An exception in either stage stops both and is raised to the caller; so is
Ctrl-C (KeyboardInterrupt); the reader thread is joined in every case. Per-stage wall time is
collected (:class:`StageTimes`).
"""

from __future__ import annotations

import collections
import contextlib
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..errors import SpecError
from ..frames.readers import FrameBatch, FrameReader, FrameRequest
from .executors import Executor, Pending

_DONE = object()


def ring_size_for(queue_size: int, inflight: int = 1) -> int:
    """Batch buffers a reader's ring needs under a runner: one being filled, ``queue_size``
    queued, ``inflight`` submitted to the executor and not yet completed."""
    return queue_size + inflight + 1


@dataclass
class StageTimes:
    """Seconds spent per stage (reader thread and caller thread run concurrently)."""

    decode: float = 0.0  #: reader: read + decode + resize/normalise into the batch buffer
    queue_full: float = 0.0  #: reader blocked because the executor is behind (backpressure)
    queue_empty: float = 0.0  #: executor idle, waiting for the reader
    infer: float = 0.0  #: executor: submit (staging copy, launch) + waiting for results
    post: float = 0.0  #: postprocess
    wall: float = 0.0
    batches: int = 0
    frames: int = 0

    def as_dict(self) -> dict[str, float]:
        return {k: v for k, v in self.__dict__.items()}


@dataclass
class Result:
    """One batch's outputs, with the frames they belong to."""

    indices: np.ndarray
    status: np.ndarray  #: per-frame Status (frames that failed are reported, never dropped)
    output: Any
    timestamps: np.ndarray | None = None
    messages: list[str] = field(default_factory=list)


def _put(q: queue.Queue, item: Any, stop: threading.Event) -> None:
    """Put ``item`` on the bounded queue, waiting while it is full, unless ``stop`` is set."""
    while not stop.is_set():
        try:
            q.put(item, timeout=0.05)
            return
        except queue.Full:
            continue


class PipelinedRunner:
    """Runs ``executor`` on every batch of ``reader`` while the next batches are decoded.

    :param postprocess: ``f(output, batch) -> value`` applied in the caller thread (default:
        the executor output as is). The batch's ``data`` is only valid inside this call.
    :param queue_size: batches the reader may run ahead (>= 1).
    :param inflight: batches submitted to the executor and not yet completed (default: the
        executor's ``max_inflight``, 1 for CPU executors).
    """

    def __init__(
        self,
        reader: FrameReader,
        executor: Executor,
        *,
        queue_size: int = 2,
        postprocess: Callable[[Any, FrameBatch], Any] | None = None,
        inflight: int | None = None,
    ):
        if queue_size < 1:
            raise SpecError(f"queue_size must be >= 1, got {queue_size}")
        inflight = getattr(executor, "max_inflight", 1) if inflight is None else inflight
        if inflight < 1:
            raise SpecError(f"inflight must be >= 1, got {inflight}")
        need = ring_size_for(queue_size, inflight)
        ring = getattr(reader, "request", None) and reader.request.ring_size
        if ring is not None and ring < need:
            raise SpecError(
                f"the reader's ring_size ({ring}) must be >= queue_size + inflight + 1 ({need}): "
                "otherwise a batch buffer would be refilled while the executor reads it"
            )
        self.reader = reader
        self.executor = executor
        self.queue_size = queue_size
        self.inflight = inflight
        self.postprocess = postprocess
        self.times = StageTimes()
        self._thread: threading.Thread | None = None
        self._owns_reader = False

    @classmethod
    def open(
        cls,
        source: Any,
        request: FrameRequest,
        executor: Executor,
        *,
        queue_size: int = 2,
        postprocess: Callable[[Any, FrameBatch], Any] | None = None,
        inflight: int | None = None,
        pm: Any = None,
    ) -> PipelinedRunner:
        """A runner over ``source`` whose reader (from ``smolplug_open_frames``) has a ring deep
        enough for ``queue_size`` and the executor's in-flight batches, allocated with the
        executor's ``host_allocator`` unless the request names one. Use it as a context manager
        (it closes the reader)."""
        from ..api import open_frames

        inflight = getattr(executor, "max_inflight", 1) if inflight is None else inflight
        request = replace(
            request,
            ring_size=max(request.ring_size, ring_size_for(queue_size, inflight)),
            allocator=request.allocator or getattr(executor, "host_allocator", None),
        )
        runner = cls(
            open_frames(source, request, pm=pm),
            executor,
            queue_size=queue_size,
            postprocess=postprocess,
            inflight=inflight,
        )
        runner._owns_reader = True
        return runner

    def __enter__(self) -> PipelinedRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the reader if :meth:`open` made it."""
        if self._owns_reader:
            self._owns_reader = False
            self.reader.close()

    def _produce(self, q: queue.Queue, stop: threading.Event) -> None:
        it = iter(self.reader)
        try:
            while not stop.is_set():
                t0 = time.perf_counter()
                try:
                    batch = next(it)
                except StopIteration:
                    break
                t1 = time.perf_counter()
                self.times.decode += t1 - t0
                _put(q, batch, stop)
                self.times.queue_full += time.perf_counter() - t1
        except BaseException as e:  # delivered to the caller, raised there
            item: Any = e
        else:
            item = _DONE
        _put(q, item, stop)

    def __iter__(self) -> Iterator[Result]:
        q: queue.Queue = queue.Queue(maxsize=self.queue_size)
        stop = threading.Event()
        self._thread = threading.Thread(
            target=self._produce, args=(q, stop), name="smolplug-reader", daemon=True
        )
        start = time.perf_counter()
        pending: collections.deque[tuple[FrameBatch, Pending]] = collections.deque()
        self._thread.start()
        try:
            while True:
                t0 = time.perf_counter()
                item = q.get()
                t1 = time.perf_counter()
                self.times.queue_empty += t1 - t0
                if item is _DONE:
                    break
                if isinstance(item, BaseException):
                    raise item
                batch: FrameBatch = item
                pending.append((batch, self.executor.submit(batch.data)))
                self.times.infer += time.perf_counter() - t1
                if len(pending) >= self.inflight:
                    yield self._finish(*pending.popleft())
            while pending:
                yield self._finish(*pending.popleft())
        finally:
            stop.set()
            while self._thread.is_alive():  # unblock a reader waiting on a full queue
                with contextlib.suppress(queue.Empty):
                    q.get_nowait()
                self._thread.join(timeout=0.05)
            self.times.wall += time.perf_counter() - start

    def _finish(self, batch: FrameBatch, job: Pending) -> Result:
        t0 = time.perf_counter()
        out = job.result()
        t1 = time.perf_counter()
        self.times.infer += t1 - t0
        if self.postprocess is not None:
            out = self.postprocess(out, batch)
        self.times.post += time.perf_counter() - t1
        self.times.batches += 1
        self.times.frames += len(batch)
        return Result(
            batch.indices.copy(),
            batch.status.copy(),
            out,
            None if batch.timestamps is None else batch.timestamps.copy(),
            list(batch.messages),
        )

    def run(self) -> list[Result]:
        """All results, in frame order."""
        return list(self)
