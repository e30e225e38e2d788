"""Executors: run a model on batches. The interface behind ``smolplug_make_executor``."""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import Any

import numpy as np


class Executor(abc.ABC):
    """Runs a model on numpy batches laid out as the request's FrameSpec says."""

    name: str = "executor"
    device: str = "cpu"

    @abc.abstractmethod
    def run(self, batch: np.ndarray) -> Any:
        """Run the model on one batch and return its output (numpy where possible)."""

    def close(self) -> None:  # noqa: B027 - optional override
        """Release device resources."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class CallableExecutor(Executor):
    """Any Python callable taking a numpy batch (numpy/onnx/sklearn models, test doubles)."""

    name = "callable"

    def __init__(self, fn: Callable[[np.ndarray], Any]):
        self.fn = fn

    def run(self, batch: np.ndarray) -> Any:
        return self.fn(batch)


class TorchCPUExecutor(Executor):
    """A ``torch.nn.Module`` in eval mode under ``inference_mode``; batches shared zero-copy."""

    name = "torch-cpu"

    def __init__(self, model: Any, threads: int | None = None):
        import torch

        self.torch = torch
        self.model = model.eval()
        if threads:
            torch.set_num_threads(threads)

    def run(self, batch: np.ndarray) -> Any:
        with self.torch.inference_mode():
            out = self.model(self.torch.from_numpy(batch))
        return out.numpy() if isinstance(out, self.torch.Tensor) else out


def is_torch_module(model: Any) -> bool:
    """True for a torch.nn.Module, without importing torch when the host has not."""
    import sys

    torch = sys.modules.get("torch")
    return torch is not None and isinstance(model, torch.nn.Module)
