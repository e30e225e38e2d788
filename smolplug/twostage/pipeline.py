"""Two models in a pipeline: a detector finds boxes, a second model runs on every box.

    source thread     frames from a smolplug reader (decoded once, interleaved uint8)
        -> detect queue (bounded) ->
    detector workers  detector(frame) -> boxes; every box cropped, resized, normalised from the
                      decoded frame in one native pass (:class:`CropPreprocessor`)
        -> broker inbox (bounded) ->
    broker thread     crops of any frames batched up to ``max_batch`` or ``max_wait_ms``, each
                      row tagged (frame, box); the second model runs on the batch
        -> outcomes ->
    caller            boxes and outputs joined back per frame, given out in frame order

Backpressure: at most ``max_frames_in_flight`` frames are between the source and the caller
(the source waits for a frame to be given out before it reads another), and every queue is
bounded, so memory stays bounded whatever the source's rate. Every frame the source reads comes
out once, in order: with its boxes and one output per box, or with the status and message the
reader gave it (not decoded: no boxes). An exception in any stage stops them all and is raised to
the caller; leaving the iteration early (``break``, Ctrl-C) stops and joins every thread.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from ..errors import SpecError, Status
from ..request.spec import FrameSpec
from .broker import DONE, Broker, Stopped, drain, put, suppress_stopped
from .crops import CropPreprocessor
from .results import FrameOutcome, PipelineStats, join_outcomes, rss_bytes
from .sources import reader_frames


class TwoStagePipeline:
    """Source -> detector -> crops -> broker -> second model, joined per frame in frame order.

    :param frames: an iterable of ``(index, status, message, image)``: ``image`` an (H, W, 3)
        uint8 array in ``source_colorspace`` (kept by the pipeline: not reused by the source), or
        None when ``status`` says it was not decoded. :meth:`open` builds it from a video.
    :param detector: ``detector(image) -> (N, 5)`` boxes x, y, w, h, score in image pixels.
    :param classifier: the second model: an smolplug executor (``run(batch)``) or a callable on a
        ``(B, *crop_spec.frame_shape)`` batch returning one output row per crop.
    :param crop_spec: the second model's input.
    :param max_batch: crops per batch at most.
    :param max_wait_ms: how long the broker waits for more crops once it holds one.
    :param detector_workers: detector threads (OpenCV, onnxruntime and the native crops release
        the GIL).
    :param queue_size: frames waiting for a detector, and crop groups waiting in the broker.
    :param max_frames_in_flight: frames between the source and the caller (default: enough for
        every queue and worker).
    :param monitor_interval: when set, queue sizes and RSS are sampled every this many seconds
        into :attr:`stats`.samples.
    :param pace_fps: release frames no faster than this rate, as a camera would; when the
        pipeline is slower the source is held back (``stats.source_blocked``), no frame dropped.
    """

    def __init__(
        self,
        frames: Any,
        detector: Callable[[np.ndarray], np.ndarray],
        classifier: Any,
        crop_spec: FrameSpec,
        *,
        source_colorspace: str = "BGR",
        max_batch: int = 16,
        max_wait_ms: float = 10.0,
        detector_workers: int = 1,
        queue_size: int = 4,
        max_frames_in_flight: int | None = None,
        monitor_interval: float | None = None,
        pace_fps: float | None = None,
    ):
        if max_batch < 1 or detector_workers < 1 or queue_size < 1 or max_wait_ms < 0:
            raise SpecError("max_batch, detector_workers and queue_size must be >= 1, max_wait_ms >= 0")
        self.frames = frames
        self.detector = detector
        self.classify = classifier.run if hasattr(classifier, "run") else classifier
        self.classifier = classifier
        self.crops = CropPreprocessor(crop_spec, source_colorspace)
        self.crop_spec = crop_spec
        self.max_batch = int(max_batch)
        self.max_wait = float(max_wait_ms) / 1e3
        self.detector_workers = int(detector_workers)
        self.queue_size = int(queue_size)
        self.max_in_flight = max_frames_in_flight or (2 * queue_size + detector_workers + max_batch + 2)
        self.monitor_interval = monitor_interval
        self.pace_fps = pace_fps
        self.stats = PipelineStats()
        self._lock = threading.Lock()
        self._closers: list[Callable[[], None]] = []

    @classmethod
    def open(
        cls,
        source: Any,
        detector: Callable[[np.ndarray], np.ndarray],
        classifier: Any,
        crop_spec: FrameSpec,
        *,
        frames: Any = None,
        detector_size: tuple[int, int] | None = None,
        batch_size: int = 4,
        **options: Any,
    ) -> TwoStagePipeline:
        """A pipeline over the frames of video ``source`` read by smolplug (``frames``: a
        :class:`~smolplug.request.selection.FrameSelection`, default every frame), decoded once as
        interleaved uint8 BGR at ``detector_size`` (width, height; default the video's own);
        ``options`` are the constructor's."""
        from ..api import open_frames
        from ..frames.readers import FrameRequest
        from ..video import load_index

        if detector_size is None:
            ix = load_index(source)
            detector_size = (ix.width, ix.height)
        spec = FrameSpec(detector_size[1], detector_size[0], layout="NHWC", dtype="uint8", colorspace="BGR")
        request = FrameRequest(spec, frames=frames, batch_size=batch_size, on_error="skip")
        reader = open_frames(source, request)
        frames_in = reader_frames(reader)
        pipe = cls(frames_in, detector, classifier, crop_spec, source_colorspace="BGR", **options)
        pipe._closers.append(reader.close)
        return pipe

    def close(self) -> None:
        while self._closers:
            self._closers.pop()()

    def __enter__(self) -> TwoStagePipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run(self) -> list[FrameOutcome]:
        return list(self)

    # -- the stages ---------------------------------------------------------------------------
    def __iter__(self) -> Iterator[FrameOutcome]:
        st = self.stats
        stop = threading.Event()
        slots = threading.Semaphore(self.max_in_flight)
        detect_q: queue.Queue = queue.Queue(maxsize=self.queue_size)
        inbox: queue.Queue = queue.Queue(maxsize=self.queue_size)
        events: queue.Queue = queue.Queue()  # bounded by the in-flight frames
        in_flight = [0]  # frames read and not yet given out (for the monitor)

        def guarded(fn: Callable[[], None]) -> Callable[[], None]:
            def body() -> None:
                try:
                    fn()
                except Stopped:
                    pass
                except BaseException as e:  # raised to the caller
                    events.put(("error", e))

            return body

        def source() -> None:
            seq = 0
            it = iter(self.frames)
            t_start = time.perf_counter()
            try:
                while True:
                    if self.pace_fps:  # a camera: frame k is not there before t_start + k / fps
                        wait = t_start + seq / self.pace_fps - time.perf_counter()
                        if wait > 0:
                            time.sleep(wait)
                    t0 = time.perf_counter()
                    while not slots.acquire(timeout=0.05):
                        if stop.is_set():
                            raise Stopped
                    t1 = time.perf_counter()
                    try:
                        index, status, message, image = next(it)
                    except StopIteration:
                        slots.release()
                        break
                    in_flight[0] += 1
                    t2 = time.perf_counter()
                    if image is None or not Status(status).ok:
                        events.put(("frame", seq, int(index), Status(status), message, None, None, t2))
                    else:
                        put(detect_q, (seq, int(index), Status(status), message, image, t2), stop)
                    with self._lock:
                        st.source_blocked += (t1 - t0) + (time.perf_counter() - t2)
                        st.decode += t2 - t1
                    seq += 1
            finally:
                events.put(("end", seq))
                for _ in range(self.detector_workers):
                    with suppress_stopped():
                        put(detect_q, DONE, stop)

        def detect_worker() -> None:
            try:
                while True:
                    try:
                        item = detect_q.get(timeout=0.05)
                    except queue.Empty:
                        if stop.is_set():
                            return
                        continue
                    if item is DONE:
                        break
                    seq, index, status, message, image, t_src = item
                    t0 = time.perf_counter()
                    boxes = np.asarray(self.detector(image), np.float32).reshape(-1, 5)
                    t1 = time.perf_counter()
                    h, w = image.shape[:2]
                    clipped, keep = self.crops.clip(boxes[:, :4], w, h)
                    out = boxes.copy()
                    out[:, :4] = clipped
                    crops = self.crops(image, clipped[keep])
                    t2 = time.perf_counter()
                    with self._lock:
                        st.detect += t1 - t0
                        st.crop += t2 - t1
                    events.put(("frame", seq, index, status, message, out, keep, t_src))
                    if len(crops):
                        put(inbox, (seq, np.arange(len(crops)), crops, time.perf_counter()), stop)
            finally:
                with suppress_stopped():
                    put(inbox, DONE, stop)

        def monitor() -> None:
            t0 = time.perf_counter()
            while not stop.wait(self.monitor_interval):
                st.samples.append(
                    {
                        "t": time.perf_counter() - t0,
                        "detect_q": detect_q.qsize(),
                        "broker_inbox": inbox.qsize(),
                        "in_flight": in_flight[0],
                        "rss_mb": rss_bytes() / 2**20,
                    }
                )

        threads = [threading.Thread(target=guarded(source), name="smolplug-source", daemon=True)]
        threads += [
            threading.Thread(target=guarded(detect_worker), name=f"smolplug-detect-{k}", daemon=True)
            for k in range(self.detector_workers)
        ]
        broker = Broker(self.classify, self.max_batch, self.max_wait, self.detector_workers, st, self._lock)
        run_broker = lambda: broker.run(inbox, events, stop)  # noqa: E731
        threads.append(threading.Thread(target=guarded(run_broker), name="smolplug-broker", daemon=True))
        if self.monitor_interval:
            threads.append(threading.Thread(target=monitor, name="smolplug-monitor", daemon=True))
        start = time.perf_counter()
        for t in threads:
            t.start()
        try:

            def release() -> None:
                in_flight[0] -= 1
                slots.release()

            yield from join_outcomes(events, st, release)
        finally:
            stop.set()
            for q in (detect_q, inbox):  # unblock anything waiting on a full queue
                drain(q)
            for t in threads:
                while t.is_alive():
                    drain(detect_q)
                    drain(inbox)
                    t.join(timeout=0.05)
            st.wall += time.perf_counter() - start
            seconds = getattr(self.classifier, "device_seconds", None)
            if isinstance(seconds, dict):
                st.h2d = float(seconds.get("h2d", 0.0))
