"""The traced executor: a model's every activation cached for a base input, then batches of
changed inputs run through windows (each variant's changed window of each layer, computed from
the cached input around it), as incremental view maintenance.

A variant is described by its changed window of the input (a :class:`Win`: origin and data of
one common size per batch). Each node of the ``torch.fx`` graph then yields one of

- the base input's value (the node does not depend on the input: weights, constants);
- a :class:`Win`: the node's output equals the base one outside the window, and the window's
  data (computed exactly, or cut to ``tau`` of the layer when approximate) is held;
- a whole tensor for the batch, after a node with no window rule (pasted into the base tensor
  and run as is: always correct, no saving from there on; the node is listed in ``fallbacks``).

Once every activation later nodes read covers its whole layer (``whole_at`` of it or more: the
rest is pasted from the cache), the rest of the graph (the tail) saves nothing more; with
``tail="onnx"`` or ``"auto"`` it runs as one compiled unit through onnxruntime
(:mod:`~smolplug.explain.tail`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import fx

from . import nodes
from .cache import BaseCache
from .tail import TailCut, Tails
from .windows import Axis, Win, affected, common, gather, hwc, paste, reads, union

STATIC = object()  # marker: the node's value is the base input's, for every variant


@dataclass
class Counters:
    """Work done so far: variants run, multiply-adds of convolutions and linear layers done and
    what whole re-inference would have done, fallbacks (node name -> why); batches whose tail
    ran through onnxruntime / torch, per frontier node, and why torch ran a tail."""

    variants: int = 0
    batches: int = 0
    macs_done: int = 0
    macs_full: int = 0
    fallbacks: dict[str, str] = field(default_factory=dict)
    tail_onnx: dict[str, int] = field(default_factory=dict)
    tail_torch: dict[str, int] = field(default_factory=dict)
    tail_why: dict[str, str] = field(default_factory=dict)


class Incremental(BaseCache, TailCut):
    """``model`` traced and every node's output cached for ``base`` (1, C, H, W).

    :meth:`run` takes a batch of changed input windows and returns the model's outputs for the
    changed inputs. ``tau`` < 1 cuts each sliding-window layer's changed window to that fraction
    of the layer (Krypton's projective-field threshold): faster, approximate. A model
    ``torch.fx`` cannot trace is run whole on each changed input (``traced`` is False and
    ``why_untraced`` says why).

    ``tail``: where the windows cover whole layers (``whole_at`` of each layer or more), the
    rest of the graph runs through torch (``"torch"``), through onnxruntime where it exports
    and matches torch on the first batch (``"onnx"``), or where it is also faster than the
    windowed torch run from the same node, timed once on the first batch that reaches it
    (``"auto"``); torch otherwise, and ``counters.tail_why`` says why."""

    def __init__(
        self,
        model: torch.nn.Module,
        base: torch.Tensor,
        tau: float = 1.0,
        tail: str = "torch",
        whole_at: float = 1.0,
    ):
        if tail not in ("torch", "onnx", "auto"):
            raise ValueError(f"tail must be 'torch', 'onnx' or 'auto', not {tail!r}")
        self.model, self.base, self.tau = model, base, float(tau)
        self.tail, self.whole_at = tail, float(whole_at)
        self.counters = Counters()
        self.why_untraced = ""
        self.tails: Tails | None = None
        try:
            self.gm: fx.GraphModule | None = fx.symbolic_trace(model)
        except Exception as e:  # any Python the tracer cannot follow: whole re-inference
            self.gm, self.why_untraced = None, f"{type(e).__name__}: {e}"
        if self.gm is not None:
            self.modules = dict(self.gm.named_modules())
        self.rebase(base)

    def rebase(self, base: torch.Tensor) -> None:
        """Cache every node's output for a new base input of the same shape (the trace is
        kept: a new reference frame costs one forward)."""
        self.base = base
        with torch.inference_mode():
            if self.gm is None:
                self.output = self.model(base)
                self.macs_per_input = 0
            else:
                self._cache_base()

    @property
    def traced(self) -> bool:
        return self.gm is not None

    # -- running a batch -------------------------------------------------------------------

    def run(self, win: Win) -> Any:
        """The model's output (batch first) for each changed input in ``win``."""
        B = win.data.shape[0]
        self.counters.variants += B
        self.counters.batches += 1
        self.counters.macs_full += B * self.macs_per_input
        with torch.inference_mode():
            if self.gm is None:
                return self.model(self.materialize(win, self.base))
            return self._run(win, B)

    def materialize(self, w: Win, base: torch.Tensor) -> torch.Tensor:
        full = base.expand(w.data.shape[0], *base.shape[1:]).clone()
        paste(full, w.data, w.y, w.x)
        return full

    def _run(self, win: Win, B: int) -> Any:
        env: dict[fx.Node, Any] = {}
        cut, race = self.tail != "torch", None
        for i, node in enumerate(self.tails.order):
            if node.op == "placeholder":
                env[node] = win
            elif node.op == "output":
                out = fx.node.map_arg(node.args[0], lambda n: self._whole(n, env[n]))
                if race is not None:
                    self._judge(*race)
                return out
            elif node not in self.dynamic:
                env[node] = STATIC
            else:
                env[node] = self._node(node, env, B)
                if cut and i in self.tails.live and self._covered(i, env):
                    cut = False  # one frontier per batch: onnxruntime from here, or torch
                    out, race = self._tail(i, env, B)
                    if out is not None and race is None:
                        return out
                    if race is not None:
                        race = (*race, time.perf_counter())
        raise ValueError("graph without output")

    def _whole(self, n: fx.Node, v: Any) -> Any:
        if v is STATIC:
            return self.cache[n]
        if isinstance(v, Win):
            return self.materialize(v, self.cache[n])
        return v

    def _node(self, node: fx.Node, env: dict, B: int) -> Any:
        kind, arg = self.rule[node]
        src = node.args[0] if node.args and isinstance(node.args[0], fx.Node) else None
        w = env.get(src)
        if kind == "sliding" and isinstance(w, Win):
            return self._sliding(node, arg, w)
        if kind == "folded":
            if isinstance(w, Win):
                return w
            kind, arg = arg  # the convolution ran whole, unfolded: run the norm
        if kind == "pad" and isinstance(w, Win):
            left, _, top, _ = arg
            return Win(w.data, w.y + top, w.x + left)
        if kind == "pointwise" and isinstance(w, Win):
            data = w.data.clone() if arg else w.data
            return Win(nodes.apply(node, self.modules, (data, *node.args[1:]), dict(node.kwargs)), w.y, w.x)
        if kind == "binary":
            out = self._binary(node, env)
            if out is not None:
                return out
        if node.op == "call_method" and node.target in ("size", "dim") and isinstance(w, Win):
            shape = torch.Size((B, *self.cache[src].shape[1:]))
            return (
                len(shape) if node.target == "dim" else shape if len(node.args) == 1 else shape[node.args[1]]
            )
        if (
            node.op == "call_function"
            and node.target is getattr
            and isinstance(w, Win)
            and node.args[1] == "shape"
        ):
            return torch.Size((B, *self.cache[src].shape[1:]))
        return self._fallback(node, env)

    def _sliding(self, node: fx.Node, sl: nodes.Sliding, w: Win) -> Win:
        c = self.counters
        src_shape, out_shape = self.cache[node.args[0]].shape, self.cache[node].shape
        _, _, h, wd = w.data.shape
        if sl.kernel == (1, 1) and sl.stride == (1, 1) and sl.pad == (0, 0):
            out = sl.run(w.data)
            c.macs_done += out.numel() * sl.macs_per_out
            return Win(out, w.y, w.x)
        ay = Axis(sl.kernel[0], sl.stride[0], sl.pad[0], src_shape[2], out_shape[2])
        ax = Axis(sl.kernel[1], sl.stride[1], sl.pad[1], src_shape[3], out_shape[3])
        oy, oh = common(*affected(w.y, h, ay), out_shape[2], self.tau)
        ox, ow = common(*affected(w.x, wd, ax), out_shape[3], self.tau)
        ry, rh = reads(oy, oh, ay)
        rx, rw = reads(ox, ow, ax)
        region = gather(self.padded[node], ry, rx, rh, rw)
        paste(region, w.data, w.y + sl.pad[0] - ry, w.x + sl.pad[1] - rx)
        out = sl.run(region)
        c.macs_done += out.numel() * sl.macs_per_out
        return Win(out, oy, ox)

    def _binary(self, node: fx.Node, env: dict) -> Any:
        a, b = node.args
        va, vb = env[a], env[b]
        ca, cb = self.cache[a], self.cache[b]
        if not (isinstance(ca, torch.Tensor) and isinstance(cb, torch.Tensor) and ca.dim() == 4):
            return None
        wins = [v for v in (va, vb) if isinstance(v, Win)]
        if not wins or any(not (v is STATIC or isinstance(v, Win)) for v in (va, vb)):
            return None
        if ca.shape != cb.shape:
            if isinstance(va, Win) and vb is STATIC and cb.dim() == 4 and cb.shape[2:] == (1, 1):
                return Win(nodes.apply(node, self.modules, (va.data, cb), {}), va.y, va.x)
            return None
        H, W = ca.shape[2:]
        if len(wins) == 2:
            (ah, aw), (bh, bw) = va.data.shape[2:], vb.data.shape[2:]
            y, h = union(va.y, ah, vb.y, bh, H)
            x, wd = union(va.x, aw, vb.x, bw, W)
        else:
            y, x = wins[0].y, wins[0].x
            h, wd = wins[0].data.shape[2:]

        def region(v: Any, n: fx.Node) -> torch.Tensor:
            if (
                isinstance(v, Win)
                and v.data.shape[2:] == (h, wd)
                and np.array_equal(v.y, y)
                and np.array_equal(v.x, x)
            ):
                return v.data
            if n not in self.hwc:
                self.hwc[n] = hwc(self.cache[n])
            r = gather(self.hwc[n], y, x, h, wd)
            if isinstance(v, Win):
                paste(r, v.data, v.y - y, v.x - x)
            return r

        out = nodes.apply(node, self.modules, (region(va, a), region(vb, b)), {})
        return Win(out, y, x)

    def _fallback(self, node: fx.Node, env: dict) -> Any:
        def whole(n: fx.Node) -> Any:
            v = env[n]
            if isinstance(v, Win) and node.name not in self.counters.fallbacks:
                share = v.data.shape[2] * v.data.shape[3] / (self.cache[n].shape[2] * self.cache[n].shape[3])
                what = node.target if node.op != "call_module" else type(self.modules[node.target]).__name__
                self.counters.fallbacks[node.name] = f"{getattr(what, '__name__', what)} (window {share:.0%})"
            return self._whole(n, v)

        args = fx.node.map_arg(node.args, whole)
        kwargs = fx.node.map_arg(node.kwargs, whole)
        kind, sl = self.rule[node]
        out = nodes.apply(node, self.modules, args, kwargs)
        if kind == "sliding":
            self.counters.macs_done += out.numel() * sl.macs_per_out
        else:
            self.counters.macs_done += nodes.linear_macs(node, self.modules, out)
        return out
