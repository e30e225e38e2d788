"""onnxruntime on the CPU: a torch module exported to ONNX once (cached by weights, input
shape, torch version and opset), or an ``.onnx`` file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from .executors import BackendUnavailable, Executor, model_hash


def export_onnx(model: Any, chw: tuple[int, ...], cache: Path | None = None, opset: int = 17) -> Path:
    """``model`` exported to ONNX once per (weights, input C/H/W, torch version, opset), batch
    dimension dynamic; later calls return the cached file."""
    import warnings

    import torch

    from ..cache import cache_dir

    d = (cache or cache_dir()) / "onnx"
    key = f"{model_hash(model)}-{'x'.join(map(str, chw))}-torch{torch.__version__}-op{opset}"
    path = d / f"{key}.onnx"
    if path.exists():
        return path
    d.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    was_training = model.training
    model.eval()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
            torch.onnx.export(
                model,
                (torch.zeros(1, *chw),),
                str(tmp),
                dynamo=False,
                input_names=["input"],
                output_names=["output"],
                dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
                opset_version=opset,
            )
    finally:
        model.train(was_training)
    tmp.replace(path)
    return path


class ONNXRuntimeExecutor(Executor):
    """onnxruntime on the CPU. Takes an ONNX file, or a torch module that is exported on the
    first batch (its C/H/W is part of the cache key) and cached."""

    name = "onnxruntime-cpu"

    def __init__(self, model: Any, threads: int | None = None, cache: Path | None = None):
        try:
            import onnxruntime
        except ImportError:
            raise BackendUnavailable("onnxruntime is not installed (pip install onnxruntime)") from None
        self._ort = onnxruntime
        self.model, self.threads, self.cache = model, threads, cache
        self._sessions: dict[tuple[int, ...], Any] = {}
        self.onnx_path: Path | None = None

    def _session(self, chw: tuple[int, ...]) -> Any:
        s = self._sessions.get(chw)
        if s is None:
            if isinstance(self.model, str | os.PathLike):
                self.onnx_path = Path(self.model)
            else:
                self.onnx_path = export_onnx(self.model, chw, self.cache)
            opts = self._ort.SessionOptions()
            if self.threads:
                opts.intra_op_num_threads = int(self.threads)
                opts.inter_op_num_threads = 1
            s = self._ort.InferenceSession(str(self.onnx_path), opts, providers=["CPUExecutionProvider"])
            self._sessions[chw] = s
        return s

    def run(self, batch: np.ndarray) -> Any:
        s = self._session(tuple(batch.shape[1:]))
        x = np.ascontiguousarray(batch, np.float32)
        return s.run(None, {s.get_inputs()[0].name: x})[0]
