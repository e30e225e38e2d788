"""Sparse plans on several cores: whole segments decoded side by side, one decoder each.

A sparse plan (a frame or two per GOP) is a chain of independent segments: a seek to a keyframe,
then the reference frames up to the target. Frame threads cannot overlap much within such a chain
(each frame waits for the one it references), but different segments share nothing: each worker
thread takes the next segment with a decoder (container and codec) of its own, decoding on one
thread (damage is then flagged as in any single-threaded decode: see
:mod:`smolplug.video.decode`). PyAV releases the GIL while FFmpeg decodes. Outcomes come back in
segment order, at most ``workers`` segments ahead of the consumer; leaving early cancels the
segments not started and waits for the running ones.
"""

from __future__ import annotations

import queue
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

from .plan import Segment

if TYPE_CHECKING:
    from .decode import Decoded, VideoDecoder

#: decoders at most per file (a sparse plan's segments are cheap to hand out; more decoders cost
#: a container and a codec context each)
MAX_WORKERS = 4


def clones(main: VideoDecoder, n: int) -> list[VideoDecoder]:
    """``n`` decoders of ``main``'s file with counters of their own (kept on it, reused, closed
    with it), told what ``main`` has learnt about the file."""
    from ..frames.readers import ReaderStats
    from .decode import VideoDecoder

    while len(main._clones) < n:
        c = VideoDecoder(main.path, main.index, ReaderStats(), strict=main.strict, lowres=main.lowres)
        c.cache, c._pos = main.cache, main._pos
        main._clones.append(c)
    for c in main._clones:
        c._threads, c._skipping, c._seekable = 1, main._skipping, main._seekable
    return main._clones[:n]


def decode_segments(main: VideoDecoder, segments: Sequence[Segment], workers: int) -> Iterator[Decoded]:
    """Every outcome of ``segments``, in order, decoded by ``workers`` clones of ``main``. Only
    the consumer's thread touches ``main``: each task reports what its clone (held by that task
    alone) counted, and the counts and what the clone learnt are added here."""
    decoders = clones(main, workers)
    free: queue.SimpleQueue = queue.SimpleQueue()
    for d in decoders:
        free.put(d)

    def work(seg: Segment) -> tuple[list[Decoded], VideoDecoder, tuple[int, int, int]]:
        d = free.get()
        try:
            st = d.stats
            frames, pixels, seeks = st.frames_decoded, st.pixels_decoded, d.seeks
            out = list(d._segment(seg))
            return out, d, (st.frames_decoded - frames, st.pixels_decoded - pixels, d.seeks - seeks)
        finally:
            free.put(d)

    pool = ThreadPoolExecutor(max_workers=len(decoders), thread_name_prefix="smolplug-segments")
    pending: deque[Future] = deque()
    todo = iter(segments)
    try:
        for seg in todo:
            pending.append(pool.submit(work, seg))
            if len(pending) >= len(decoders):
                break
        while pending:
            done, d, (frames, pixels, seeks) = pending.popleft().result()
            seg = next(todo, None)
            if seg is not None:
                pending.append(pool.submit(work, seg))
            main.stats.frames_decoded += frames
            main.stats.pixels_decoded += pixels
            main.seeks += seeks
            main._skipping &= d._skipping
            main._seekable &= d._seekable
            yield from done
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
