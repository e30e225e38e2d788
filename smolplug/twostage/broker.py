"""The broker between the two models: crops of any frames in, batches of the second model out.

Detector workers put groups of crops (one frame's, tagged with the frame's sequence number and
the boxes' numbers) into a bounded inbox; the broker starts a batch when it holds one crop and
runs it when it holds ``max_batch`` crops, when ``max_wait`` has passed since the batch started,
or when every producer has finished. A group may be split across two batches. Each batch's
outputs go back to the joiner, row by row, as ``("out", seq, box numbers, outputs)``.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import SpecError
from .results import PipelineStats

DONE = object()  #: what each producer puts in the inbox when it has finished


class Stopped(Exception):
    """The pipeline was stopped (an error elsewhere, or the caller left)."""


class suppress_stopped:  # noqa: N801 - used as a context manager, like contextlib's
    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, *rest: Any) -> bool:
        return kind is Stopped


def put(q: queue.Queue, item: Any, stop: threading.Event) -> None:
    """Put on a bounded queue, waiting while it is full; :class:`Stopped` once ``stop`` is set."""
    while True:
        if stop.is_set():
            raise Stopped
        try:
            q.put(item, timeout=0.05)
            return
        except queue.Full:
            continue


def drain(q: queue.Queue) -> None:
    while True:
        try:
            q.get_nowait()
        except queue.Empty:
            return


Group = tuple[int, np.ndarray, np.ndarray, float]  #: (seq, box numbers, crops, time it entered)


class Broker:
    def __init__(
        self,
        classify: Callable[[np.ndarray], Any],
        max_batch: int,
        max_wait: float,
        producers: int,
        stats: PipelineStats,
        lock: threading.Lock,
    ):
        self.classify = classify
        self.max_batch = max_batch
        self.max_wait = max_wait
        self.producers = producers
        self.stats = stats
        self.lock = lock

    def run(self, inbox: queue.Queue, events: queue.Queue, stop: threading.Event) -> None:
        done = 0
        pending: list[Group] = []
        rows = 0
        start = 0.0
        while done < self.producers or pending:
            item = None
            if done < self.producers:
                timeout = 0.05 if not pending else max(0.0, start + self.max_wait - time.perf_counter())
                try:
                    item = inbox.get(timeout=timeout)
                except queue.Empty:
                    if stop.is_set():
                        return
            if item is DONE:
                done += 1
            elif item is not None:
                if not pending:
                    start = time.perf_counter()
                pending.append(item)
                rows += len(item[1])
            full = rows >= self.max_batch
            late = pending and time.perf_counter() >= start + self.max_wait
            if pending and (full or late or done == self.producers):
                rows -= self._run_batch(pending, events)
                if pending:
                    start = time.perf_counter()

    def _run_batch(self, pending: list[Group], events: queue.Queue) -> int:
        """Run the second model on up to ``max_batch`` rows of ``pending`` (removed from it)."""
        take, n = [], 0
        while pending and n < self.max_batch:
            seq, ids, crops, t_in = pending[0]
            k = min(len(ids), self.max_batch - n)
            take.append((seq, ids[:k], crops[:k], t_in))
            if k == len(ids):
                pending.pop(0)
            else:
                pending[0] = (seq, ids[k:], crops[k:], t_in)
            n += k
        t0 = time.perf_counter()
        batch = take[0][2] if len(take) == 1 else np.concatenate([c for _, _, c, _ in take])
        out = np.asarray(self.classify(batch))
        t1 = time.perf_counter()
        if len(out) != n:
            raise SpecError(f"the second model returned {len(out)} rows for a batch of {n} crops")
        with self.lock:
            st = self.stats
            st.classify += t1 - t0
            st.crops += n
            st.batch_sizes.append(n)
            st.broker_wait += sum(len(ids) * (t0 - t_in) for _, ids, _, t_in in take)
        at = 0
        for seq, ids, _, _ in take:
            events.put(("out", seq, ids, out[at : at + len(ids)]))
            at += len(ids)
        return n
