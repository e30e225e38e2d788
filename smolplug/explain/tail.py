"""The whole-tensor tail of a batch, run as one compiled unit through onnxruntime.

Once every activation that later nodes read covers its whole layer (or, with ``whole_at`` < 1,
at least that share of it: the rest is pasted from the cache, still exact), the windows save
nothing more: the remaining subgraph runs on whole tensors. :func:`build` cuts that subgraph out
of the traced graph as a ``torch.fx.GraphModule`` whose inputs are the frontier activations;
:func:`session` exports it with the TorchScript ONNX exporter (as
:func:`smolplug.execute.onnx.export_onnx` does, batch dimension dynamic) and checks onnxruntime's
outputs against torch's on the first batch. Sessions are kept per process, keyed by the model's
weights and the frontier, so the next image of the same model reuses them.
"""

from __future__ import annotations

import io
import time
import warnings
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import fx

from .windows import Win

#: largest difference between onnxruntime's and torch's tail outputs, x max(1, |torch's|)
TOLERANCE = 1e-5


@dataclass
class Tail:
    """The subgraph after a frontier: the frontier's tensor nodes (``inputs``, names in order)
    feed ``gm``, whose outputs are the values of ``outputs`` (names of the model's output
    leaves computed in the tail). ``session`` is None when torch runs it, and ``why`` says
    why."""

    gm: fx.GraphModule | None
    inputs: list[str]
    outputs: list[str]
    session: Any = None
    why: str = ""
    checked: dict[str, float] = field(default_factory=dict)  # max difference; seconds, when timed

    def run(self, tensors: list[torch.Tensor]) -> list[torch.Tensor]:
        s = self.session
        feed = {i.name: t.contiguous().numpy() for i, t in zip(s.get_inputs(), tensors, strict=True)}
        return [torch.from_numpy(o) for o in s.run(None, feed)]


def build(
    gm: fx.GraphModule, order: list[fx.Node], index: int, live: list[fx.Node], dynamic: set, cache: dict
) -> Tail:
    """The tail after ``order[index]``: ``live`` are the dynamic nodes computed up to there that
    later nodes read. Nodes that do not depend on the input become constants (get_attr)."""
    g = fx.Graph()
    env: dict[fx.Node, Any] = {}
    inputs = [n for n in live if isinstance(cache[n], torch.Tensor)]
    names = [n.name for n in inputs]
    for n in inputs:
        env[n] = g.placeholder(n.name)
    for n in live:
        if n in env:
            continue
        if inputs and n.op == "call_method" and n.target == "size" and tuple(n.args[1:]) == (0,):
            env[n] = g.call_method("size", (env[inputs[0]], 0))  # the batch size
        elif n.op == "call_method" and n.target == "dim":
            env[n] = cache[n]
        else:
            return Tail(None, names, [], why=f"{n.name} ({type(cache[n]).__name__}) crosses the frontier")
    attrs: dict[str, Any] = {}

    def arg(n: fx.Node) -> Any:
        if n not in env:  # a node that does not depend on the input: a constant
            v = cache[n]
            if n.op == "get_attr":
                attrs[n.target] = v
                env[n] = g.get_attr(n.target)
            elif isinstance(v, torch.Tensor):
                name = f"_const_{n.name}"
                attrs[name] = v.clone()
                env[n] = g.get_attr(name)
            else:
                env[n] = v
        return env[n]

    inside: set[fx.Node] = set()
    outputs: list[fx.Node] = []
    for n in order[index + 1 :]:
        if n.op == "output":
            leaves: list[fx.Node] = []
            fx.node.map_arg(n.args[0], leaves.append)
            outputs = [m for m in leaves if m in inside and isinstance(cache[m], torch.Tensor)]
            if any(m in inside and m not in outputs for m in leaves):
                return Tail(None, names, [], why="an output that is not a tensor")
            g.output(tuple(env[m] for m in outputs))
        elif n in dynamic:
            if n.op == "call_module":
                attrs[n.target] = gm.get_submodule(n.target)
            env[n] = g.node_copy(n, arg)
            inside.add(n)
    if not outputs:
        return Tail(None, names, [], why="no output computed after the frontier")
    # eval: a new GraphModule is in training mode, and exporting restores that mode on the
    # model's own submodules (batch norms would then update their statistics)
    return Tail(fx.GraphModule(attrs, g).eval(), names, [m.name for m in outputs])


_SESSIONS: OrderedDict[tuple, Tail] = OrderedDict()
_KEEP = 32


def cached(key: tuple) -> Tail | None:
    t = _SESSIONS.get(key)
    if t is not None:
        _SESSIONS.move_to_end(key)
    return t


def keep(key: tuple, t: Tail) -> None:
    _SESSIONS[key] = t
    while len(_SESSIONS) > _KEEP:
        _SESSIONS.popitem(last=False)


def session(t: Tail, example: list[torch.Tensor], threads: int) -> Tail:
    """``t`` with an onnxruntime session for its subgraph, exported and checked against torch
    on the first two variants of ``example`` (the first batch's frontier tensors); on any
    failure ``why`` says why torch runs it."""
    if t.gm is None:
        return t
    try:
        import onnxruntime as ort
    except ImportError:
        t.why = "onnxruntime is not installed"
        return t
    with torch.inference_mode(False), torch.no_grad():
        ex = tuple(e[:2].detach().clone().contiguous() for e in example)
        names = [f"in{k}" for k in range(len(ex))]
        outs = [f"out{k}" for k in range(len(t.outputs))]
        buf = io.BytesIO()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
                torch.onnx.export(
                    t.gm,
                    ex,
                    buf,
                    dynamo=False,
                    input_names=names,
                    output_names=outs,
                    dynamic_axes={n: {0: "batch"} for n in names + outs},
                    opset_version=17,
                )
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = max(1, threads)
            opts.inter_op_num_threads = 1
            t.session = ort.InferenceSession(buf.getvalue(), opts, providers=["CPUExecutionProvider"])
        except Exception as e:  # an operation the exporter or onnxruntime does not take
            t.why = f"onnx export failed: {type(e).__name__}: {str(e).splitlines()[0][:200]}"
            t.session = None
            return t
        got = t.run(list(ex))
        ref = t.gm(*(e.clone() for e in ex))
    ref = list(ref) if isinstance(ref, tuple | list) else [ref]
    diff = max(float(((a - b).abs() / b.abs().clamp(min=1)).max()) for a, b in zip(got, ref, strict=True))
    t.checked["max_diff"] = diff
    if not diff <= TOLERANCE:
        t.why, t.session = f"onnxruntime differs from torch by {diff:.1e}", None
    return t


class Tails:
    """An engine's frontiers: after which nodes a tail may start (``cuts``; the dynamic nodes
    read later, ``live[i]``), the multiply-adds of each tail per input, and the tails found."""

    def __init__(self, gm: fx.GraphModule, dynamic: set, cache: dict, folded: set, node_macs: dict):
        self.gm, self.dynamic, self.cache = gm, dynamic, cache
        self.order = list(gm.graph.nodes)
        pos = {n: i for i, n in enumerate(self.order)}
        last = {n: max(pos[u] for u in n.users) for n in dynamic if n.users}
        self.live: dict[int, list[fx.Node]] = {}
        self.macs: dict[int, int] = {}
        after = 0
        for i in range(len(self.order) - 1, -1, -1):
            n = self.order[i]
            live = [m for m in self.order[: i + 1] if m in last and last[m] > i]
            worth = any(m in dynamic and m.op != "output" for m in self.order[i + 1 :])
            if n in dynamic and live and worth and not any(m in folded for m in live):
                self.live[i] = live
                self.macs[i] = after
            after += node_macs.get(n, 0)
        self.tails: dict[tuple, Tail] = {}
        self._hash: str | None = None

    def get(self, i: int, tensors: list[torch.Tensor]) -> Tail:
        threads = torch.get_num_threads()
        key = (i, tuple(tuple(t.shape[1:]) for t in tensors), threads)
        t = self.tails.get(key)
        if t is None:
            if self._hash is None:
                from ..execute.executors import model_hash

                self._hash = model_hash(self.gm)
            shared = (self._hash, self.order[i].name, *key)
            t = cached(shared)
            if t is None:
                with torch.inference_mode(False):
                    t = build(self.gm, self.order, i, self.live[i], self.dynamic, self.cache)
                    t = session(t, tensors, threads)
                keep(shared, t)
            self.tails[key] = t
        return t


class TailCut:
    """The executor's side of the tail (mixed into :class:`~smolplug.explain.incremental.
    Incremental`): whether a batch reached its frontier, the tail run through onnxruntime, and
    ``"auto"``'s one timed race against the windowed torch run."""

    def _judge(self, t: Any, name: str, onnx_s: float, t0: float) -> None:
        """``"auto"``: keep onnxruntime for this tail only if it beat the windowed torch run."""
        torch_s = time.perf_counter() - t0
        t.checked.update(onnx_s=onnx_s, torch_s=torch_s)
        self.counters.tail_torch[name] = self.counters.tail_torch.get(name, 0) + 1
        if onnx_s > torch_s:
            t.session = None
            t.why = f"onnxruntime slower ({onnx_s * 1e3:.0f} ms vs torch {torch_s * 1e3:.0f} ms a batch)"
            self.counters.tail_why.setdefault(name, t.why)

    def _covered(self, i: int, env: dict) -> bool:
        """Every activation read after node ``i`` covers ``whole_at`` of its layer or more."""
        for n in self.tails.live[i]:
            v = env[n]
            if isinstance(v, Win):
                h, w = v.data.shape[2:]
                if h * w < self.whole_at * self.cache[n].shape[2] * self.cache[n].shape[3]:
                    return False
        return True

    def _tail(self, i: int, env: dict, B: int) -> tuple[Any, tuple | None]:
        """The rest of the graph after node ``i`` through onnxruntime (None when torch runs it)
        and, the first time ``"auto"`` reaches this tail, (tail, onnxruntime's seconds): the
        batch then also runs on in torch, timed."""
        tensors = [
            env[n].data
            if isinstance(env[n], Win) and env[n].data.shape[2:] == self.cache[n].shape[2:]
            else self._whole(n, env[n])
            for n in self.tails.live[i]
            if isinstance(self.cache[n], torch.Tensor)
        ]
        t = self.tails.get(i, tensors)
        name, c = self.tails.order[i].name, self.counters
        if t.session is None:
            c.tail_torch[name] = c.tail_torch.get(name, 0) + 1
            c.tail_why.setdefault(name, t.why)
            return None, None
        race = self.tail == "auto" and "onnx_s" not in t.checked
        if race:
            t.run(tensors)  # onnxruntime allocates for a new batch size on its first run
        t0 = time.perf_counter()
        got = dict(zip(t.outputs, t.run(tensors), strict=True))
        if race:
            return None, (t, name, time.perf_counter() - t0)
        c.tail_onnx[name] = c.tail_onnx.get(name, 0) + 1
        c.macs_done += B * self.tails.macs[i]
        out = self.tails.order[-1]
        return fx.node.map_arg(
            out.args[0], lambda n: got[n.name] if n.name in got else self._whole(n, env[n])
        ), None
