"""The pipelined runner: order, backpressure, errors from either stage, clean shutdown."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

import smolplug
from smolplug.errors import SpecError
from smolplug.execute.executors import CallableExecutor, Executor, Pending
from smolplug.execute.runner import PipelinedRunner
from smolplug.frames.readers import FrameBatch, FrameReader, FrameRequest, ReaderStats

from .conftest import encode, synthetic_rgb

SPEC = smolplug.FrameSpec(8, 8, layout="NHWC", dtype="uint8")


class FakeReader(FrameReader):
    """Yields ``n`` batches of ``size`` frames whose pixels equal their frame index; can fail."""

    def __init__(self, n=20, size=4, fail_at=None, ring_size=4, delay=0.0):
        self.request = FrameRequest(SPEC, batch_size=size, ring_size=ring_size)
        self.stats = ReaderStats()
        self.n, self.size, self.fail_at, self.delay = n, size, fail_at, delay
        self.produced = 0
        self.ring = [SPEC.allocate(size) for _ in range(ring_size)]

    def __len__(self):
        return self.n * self.size

    def __iter__(self):
        for k in range(self.n):
            if k == self.fail_at:
                raise OSError(f"disk gone at batch {k}")
            time.sleep(self.delay)
            buf = self.ring[k % len(self.ring)]
            idx = np.arange(k * self.size, (k + 1) * self.size)
            buf[:] = (idx % 251).astype(np.uint8)[:, None, None, None]
            self.produced += 1
            yield FrameBatch(buf, idx, np.zeros(self.size, np.int8), [""] * self.size)


def _threads_after(before: int) -> int:
    for _ in range(50):
        if threading.active_count() <= before:
            break
        time.sleep(0.01)
    return threading.active_count()


def test_results_come_in_frame_order_and_match_the_frames():
    before = threading.active_count()
    r = FakeReader()
    runner = PipelinedRunner(r, CallableExecutor(lambda x: x[:, 0, 0, 0].astype(int)), queue_size=2)
    results = runner.run()
    idx = np.concatenate([res.indices for res in results])
    np.testing.assert_array_equal(idx, np.arange(80))
    np.testing.assert_array_equal(np.concatenate([res.output for res in results]), idx % 251)
    assert runner.times.frames == 80 and runner.times.batches == 20
    assert _threads_after(before) == before


def test_a_real_jpeg_folder_through_the_runner(tmp_path):
    for i in range(7):
        (tmp_path / f"{i}.jpg").write_bytes(encode(synthetic_rgb(96, 64, seed=i)))
    spec = smolplug.FrameSpec(16, 16)
    req = FrameRequest(spec, batch_size=3, ring_size=4)
    with smolplug.open_frames(tmp_path, req) as reader:
        results = PipelinedRunner(reader, CallableExecutor(lambda x: x.mean(axis=(1, 2, 3)))).run()
    means = np.concatenate([r.output for r in results])
    direct = [smolplug.decode_jpeg((tmp_path / f"{i}.jpg").read_bytes(), spec).mean() for i in range(7)]
    np.testing.assert_allclose(means, direct, rtol=1e-6)


def test_backpressure_bounds_how_far_the_reader_runs_ahead():
    r = FakeReader(n=12)
    ahead = []

    def slow(x):
        ahead.append(r.produced)
        time.sleep(0.01)
        return x.shape[0]

    runner = PipelinedRunner(r, CallableExecutor(slow), queue_size=1)
    assert len(runner.run()) == 12
    # the reader may hold: the batch being run, one queued, one decoded and waiting to be queued
    assert max(a - i for i, a in enumerate(ahead)) <= 3
    assert runner.times.queue_full > 0


def test_a_reader_error_reaches_the_caller_and_stops_the_thread():
    before = threading.active_count()
    runner = PipelinedRunner(FakeReader(fail_at=3), CallableExecutor(lambda x: 0))
    seen = []
    with pytest.raises(OSError, match="disk gone at batch 3"):
        for res in runner:
            seen.append(res.indices[0])
    assert seen == [0, 4, 8]  # everything before the failure was delivered
    assert _threads_after(before) == before


@pytest.mark.parametrize("exc", [RuntimeError("model broke"), KeyboardInterrupt()])
def test_an_executor_error_or_ctrl_c_stops_the_reader(exc):
    before = threading.active_count()
    r = FakeReader(n=1000, delay=0.001)
    calls = []

    def boom(x):
        calls.append(1)
        if len(calls) == 3:
            raise exc
        return 0

    with pytest.raises(type(exc)):
        PipelinedRunner(r, CallableExecutor(boom), queue_size=2).run()
    assert _threads_after(before) == before
    assert r.produced < 10  # stopped, not drained to the end


def test_stopping_early_joins_the_reader():
    before = threading.active_count()
    runner = PipelinedRunner(FakeReader(n=1000), CallableExecutor(lambda x: 0))
    it = iter(runner)
    next(it)
    it.close()
    assert _threads_after(before) == before


def test_a_ring_too_shallow_for_the_queue_is_refused():
    with pytest.raises(SpecError, match="ring_size"):
        PipelinedRunner(FakeReader(ring_size=2), CallableExecutor(lambda x: 0), queue_size=2)
    with pytest.raises(SpecError, match="queue_size"):
        PipelinedRunner(FakeReader(), CallableExecutor(lambda x: 0), queue_size=0)


class LazyExecutor(Executor):
    """Reads a submitted batch only when its result is asked for, as an accelerator's
    asynchronous copy does: a ring buffer refilled too early would show up as wrong values."""

    def __init__(self, max_inflight: int, slow: float = 0.0):
        self.max_inflight = max_inflight
        self.slow = slow
        self.outstanding = 0
        self.most = 0

    def run(self, batch):
        return batch[:, 0, 0, 0].astype(int)

    def submit(self, batch):
        self.outstanding += 1
        self.most = max(self.most, self.outstanding)
        ex = self

        class Later(Pending):
            def result(self):
                time.sleep(ex.slow)  # the reader keeps filling the ring meanwhile
                ex.outstanding -= 1
                return ex.run(batch)

        return Later()


@pytest.mark.parametrize("inflight", [1, 2, 3])
def test_inflight_batches_overlap_and_their_buffers_are_never_refilled_early(inflight):
    ex = LazyExecutor(inflight, slow=0.002)
    r = FakeReader(n=30, ring_size=2 + inflight + 1)  # exactly queue_size + inflight + 1
    runner = PipelinedRunner(r, ex, queue_size=2)
    assert runner.inflight == inflight
    results = runner.run()
    idx = np.concatenate([res.indices for res in results])
    np.testing.assert_array_equal(idx, np.arange(120))
    np.testing.assert_array_equal(np.concatenate([res.output for res in results]), idx % 251)
    assert ex.most == inflight and ex.outstanding == 0
    with pytest.raises(SpecError, match=r"queue_size \+ inflight \+ 1"):
        PipelinedRunner(FakeReader(ring_size=2 + inflight), ex, queue_size=2)


def test_open_sizes_the_ring_and_fills_it_with_the_executors_host_memory(tmp_path):
    for i in range(7):
        (tmp_path / f"{i}.jpg").write_bytes(encode(synthetic_rgb(96, 64, seed=i)))
    spec = smolplug.FrameSpec(16, 16)
    allocated = []

    def allocator(shape, dtype):
        buf = np.zeros(shape, dtype)
        allocated.append(buf)
        return buf

    ex = LazyExecutor(2)
    ex.run = lambda x: x.mean(axis=(1, 2, 3))
    ex.host_allocator = allocator
    with PipelinedRunner.open(tmp_path, FrameRequest(spec, batch_size=2), ex, queue_size=2) as runner:
        assert runner.reader.request.ring_size == 5 and len(allocated) == 5
        means = np.concatenate([r.output for r in runner])
    direct = [smolplug.decode_jpeg((tmp_path / f"{i}.jpg").read_bytes(), spec).mean() for i in range(7)]
    np.testing.assert_allclose(means, direct, rtol=1e-6)
    assert runner.reader._io is None  # closed with the runner


def test_a_request_allocator_must_return_a_fitting_buffer(tmp_path):
    (tmp_path / "a.jpg").write_bytes(encode(synthetic_rgb(32, 32)))
    spec = smolplug.FrameSpec(8, 8)
    with pytest.raises(SpecError, match="callable"):
        FrameRequest(spec, allocator=42)
    bad = FrameRequest(spec, allocator=lambda shape, dtype: np.zeros(shape, np.float64))
    with pytest.raises(SpecError, match="allocator must return"):
        smolplug.open_frames(tmp_path, bad)
    assert FrameRequest(spec, allocator=np.empty) == FrameRequest(spec)  # not part of the request's identity
