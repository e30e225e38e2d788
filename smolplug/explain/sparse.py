"""Sparse execution of a batch of frames that each differ from one reference frame in a few
places (static cameras): each layer computes only the pixels its changed input reaches.

An activation of the batch is held as its changed pixels (:class:`Rows`: one C-vector per
changed position, in channels-last order; everywhere else the reference's value, cached once
per reference). A convolution or pooling layer finds the output positions whose inputs meet
the changed ones (the mask dilated by the kernel, moved by the stride), gathers their inputs
through one lookup table — the reference's pixels, then the changed ones, then the padding
value — and computes them as one matrix product (groups of 1), a weighted sum (depthwise), or a
max / mean (pooling). Pointwise layers run on the rows alone, explicit padding moves them, and
residual adds combine two sets of rows on the union of their positions. A layer whose change
covers more than ``dense_share`` of the batch, and any node without a rule, gets whole tensors
(:class:`Dense`) and runs as is.

Several far-apart changes in one frame cost what they cover, not a box around them; frames of a
batch are independent, so a batch runs as a few large operations. Exact: every computed pixel
reads its true inputs, and outside the mask the reference's values are exact. The last frame of
a batch can become the next reference without another forward (``adopt``).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import fx

from . import nodes
from .incremental import STATIC, Incremental
from .pixels import Dense, Rows, columns, lookup, positions, reach, sliding_rows, weight_matrix


class SparseExecutor(Incremental):
    """``model`` traced and every node's output cached for ``reference`` (1, C, H, W).

    :meth:`run` takes frames (N, C, H, W) and a mask (N, 1, H, W) of the input pixels that may
    differ from the reference, and returns the model's outputs. ``dense_share``: a layer whose
    changed outputs exceed this share of the batch's runs whole."""

    def __init__(self, model: torch.nn.Module, reference: torch.Tensor, dense_share: float = 0.5):
        self.dense_share = float(dense_share)
        self.pixels = [0, 0]  # outputs computed, outputs of the layers run sparsely
        self._weights: dict[fx.Node, torch.Tensor] = {}
        super().__init__(model, reference)

    def rebase(self, base: torch.Tensor) -> None:
        super().rebase(base)
        self.padded, self.hwc = {}, {}  # the window executor's caches: not used here
        self._rows: dict[fx.Node, torch.Tensor] = {}

    # -- running a batch -------------------------------------------------------------------

    def run(self, frames: torch.Tensor, mask: torch.Tensor, adopt: int | None = None) -> Any:  # type: ignore[override]
        """The model's output (batch first) for ``frames``; ``mask`` (N, 1, H, W) bool covers
        every input pixel where a frame differs from the reference. ``adopt``: the frame of the
        batch that becomes the new reference afterwards (its activations are at hand: no
        forward), None to keep the reference."""
        N = frames.shape[0]
        self.counters.variants += N
        self.counters.batches += 1
        self.counters.macs_full += N * self.macs_per_input
        with torch.inference_mode():
            if self.gm is None:
                return self.model(frames)
            env: dict[fx.Node, Any] = {}
            for node in self.gm.graph.nodes:
                if node.op == "placeholder":
                    env[node] = self._sparse(node, Dense(frames, mask))
                elif node.op == "output":
                    out = fx.node.map_arg(node.args[0], lambda n: self._value(n, env, N))
                    if adopt is not None:
                        self._adopt(env, adopt % N)
                    return out
                elif node not in self.dynamic:
                    env[node] = STATIC
                else:
                    env[node] = self._step(node, env, N)
        raise ValueError("graph without output")

    def _adopt(self, env: dict[fx.Node, Any], index: int) -> None:
        for node, v in env.items():
            if node not in self.dynamic:
                continue
            if isinstance(v, Rows):
                self.cache[node] = self._dense(v, frame=index).full
                continue
            t = v.full if isinstance(v, Dense) else v
            if isinstance(t, torch.Tensor) and t.dim() >= 1:
                self.cache[node] = t[index : index + 1].clone()
        self.base = self.cache[next(iter(self.gm.graph.nodes))]
        out = next(n for n in reversed(self.gm.graph.nodes) if n.op == "output")
        self.output = fx.node.map_arg(out.args[0], lambda n: self.cache[n])
        self._rows.clear()

    # -- representations -------------------------------------------------------------------

    def _base_rows(self, node: fx.Node) -> torch.Tensor:
        """The reference's output of ``node`` as (H * W, C) pixel rows."""
        if node not in self._rows:
            t = self.cache[node]
            self._rows[node] = t[0].permute(1, 2, 0).reshape(-1, t.shape[1]).contiguous()
        return self._rows[node]

    def _sparse(self, node: fx.Node, d: Dense) -> Dense | Rows:
        """Whole tensors as rows when little of them changed."""
        if d.mask is None or d.mask.float().mean() > self.dense_share:
            return d
        pos = positions(d.mask)
        C = d.full.shape[1]
        data = d.full.permute(0, 2, 3, 1).reshape(-1, C).index_select(0, pos)
        return Rows(data, pos, tuple(d.full.shape), node, d.mask)

    def _dense(self, r: Rows, frame: int | None = None) -> Dense:
        """Rows pasted into the reference's values (of one frame only, with ``frame``)."""
        N, C, H, W = r.shape
        pos, data = r.pos, r.data
        if frame is not None:
            keep = (pos >= frame * H * W) & (pos < (frame + 1) * H * W)
            pos, data, N = pos[keep] - frame * H * W, data[keep], 1
        out = self._base_rows(r.base).repeat(N, 1)
        out.index_copy_(0, pos, data)
        mask = r.mask if frame is None else r.mask[frame : frame + 1]
        return Dense(out.view(N, H, W, C).permute(0, 3, 1, 2), mask)

    def _value(self, n: fx.Node, env: dict, N: int) -> Any:
        v = env[n]
        if v is STATIC:
            t = self.cache[n]
            return t.expand(N, *t.shape[1:]) if isinstance(t, torch.Tensor) else t
        if isinstance(v, Rows):
            v = env[n] = self._dense(v)
        return v.full if isinstance(v, Dense) else v

    def _lookup(self, v: Any, node: fx.Node, pos: torch.Tensor, shape: tuple) -> torch.Tensor:
        """Rows of ``v`` (the value of ``node``) at flat positions ``pos``."""
        N, C, H, W = shape
        if v is STATIC:
            return self._base_rows(node).index_select(0, pos % (H * W))
        if isinstance(v, Dense):
            return v.full.permute(0, 2, 3, 1).reshape(-1, C).index_select(0, pos)
        table = torch.cat([self._base_rows(v.base), v.data])
        where = (torch.arange(N * H * W) % (H * W)).index_copy_(0, v.pos, H * W + torch.arange(len(v.pos)))
        return table.index_select(0, where.index_select(0, pos))

    # -- nodes -----------------------------------------------------------------------------

    def _step(self, node: fx.Node, env: dict, N: int) -> Any:
        kind, arg = self.rule[node]
        src = node.args[0] if node.args and isinstance(node.args[0], fx.Node) else None
        v = env.get(src)
        if kind == "folded":
            if isinstance(v, Dense | Rows) and self.rule[src][0] == "sliding":
                return v  # the convolution before it ran with the norm folded in
            kind, arg = arg
        if isinstance(v, Rows):
            if kind == "pointwise":
                data = v.data.clone() if arg else v.data
                out = nodes.apply(
                    node, self.modules, (data[:, :, None, None], *node.args[1:]), dict(node.kwargs)
                )
                out = out.flatten(1)
                return Rows(out, v.pos, (v.shape[0], out.shape[1], *v.shape[2:]), node, v.mask)
            if kind == "sliding":
                return self._sliding(node, arg, v, N)
            if kind == "pad":
                return self._pad(node, arg, v)
        if kind == "sliding" and isinstance(v, Dense):
            return self._whole(node, arg, v)
        if kind == "pad" and isinstance(v, Dense):
            out = nodes.apply(node, self.modules, (v.full, *node.args[1:]), dict(node.kwargs))
            return Dense(out, None if v.mask is None else F.pad(v.mask, arg, value=False))
        if kind == "pointwise" and isinstance(v, Dense):
            data = v.full.clone() if arg else v.full
            return Dense(nodes.apply(node, self.modules, (data, *node.args[1:]), dict(node.kwargs)), v.mask)
        if kind == "binary":
            out = self._binary(node, env, N)
            if out is not None:
                return out
        if isinstance(v, Rows) and _shape_query(node):  # x.size(0), x.shape, x.dim(): no data needed
            meta = torch.empty(v.shape, device="meta")
            return nodes.apply(node, self.modules, (meta, *node.args[1:]), dict(node.kwargs))
        # anything else runs whole; a 4-D result counts as changed everywhere
        args = fx.node.map_arg(node.args, lambda n: self._value(n, env, N))
        kwargs = fx.node.map_arg(node.kwargs, lambda n: self._value(n, env, N))
        out = nodes.apply(node, self.modules, args, kwargs)
        self.counters.macs_done += nodes.linear_macs(node, self.modules, out)
        if isinstance(out, torch.Tensor) and out.dim() == 4 and out.shape[0] == N:
            return Dense(out, None)
        return out

    def _whole(self, node: fx.Node, sl: nodes.Sliding, v: Dense) -> Dense:
        ph, pw = sl.pad
        out = sl.run(F.pad(v.full, (pw, pw, ph, ph), value=sl.fill))
        self.counters.macs_done += out.numel() * sl.macs_per_out
        Ho, Wo = out.shape[2:]
        return Dense(out, None if v.mask is None else reach(v.mask, sl, Ho, Wo))

    def _pad(self, node: fx.Node, pad: tuple[int, int, int, int], v: Rows) -> Rows:
        left, right, top, bottom = pad
        N, C, H, W = v.shape
        H2, W2 = H + top + bottom, W + left + right
        n, rem = v.pos // (H * W), v.pos % (H * W)
        pos = (n * H2 + rem // W + top) * W2 + rem % W + left
        return Rows(v.data, pos, (N, C, H2, W2), node, F.pad(v.mask, pad, value=False))

    def _sliding(self, node: fx.Node, sl: nodes.Sliding, v: Rows, N: int) -> Dense | Rows:
        c = self.counters
        N, C, H, W = v.shape
        Ho, Wo = self.cache[node].shape[2:]
        om = reach(v.mask, sl, Ho, Wo)
        if om.float().mean() > self.dense_share:
            return self._whole(node, sl, self._dense(v))
        if (
            sl.kind == "conv"
            and sl.kernel == (1, 1)
            and sl.stride == (1, 1)
            and sl.pad == (0, 0)
            and sl.groups == 1
        ):
            out = (
                torch.addmm(sl.bias, v.data, self._matrix(node, sl))
                if sl.bias is not None
                else v.data @ self._matrix(node, sl)
            )
            c.macs_done += out.numel() * sl.macs_per_out
            self.pixels[0] += len(v.pos)
            self.pixels[1] += N * Ho * Wo
            return Rows(out, v.pos, (N, out.shape[1], Ho, Wo), node, v.mask)
        pos = positions(om)
        self.pixels[0] += len(pos)
        self.pixels[1] += N * Ho * Wo
        table, where = lookup(self._base_rows(v.base), v, sl.pad, sl.fill)
        cols = columns(table, where, pos, sl, (Ho, Wo))
        out = sliding_rows(sl, cols, self._matrix(node, sl) if sl.kind == "conv" else None)
        c.macs_done += out.numel() * sl.macs_per_out
        return Rows(out, pos, (N, out.shape[1], Ho, Wo), node, om)

    def _matrix(self, node: fx.Node, sl: nodes.Sliding) -> torch.Tensor:
        if node not in self._weights:
            self._weights[node] = weight_matrix(sl)
        return self._weights[node]

    def _binary(self, node: fx.Node, env: dict, N: int) -> Any:
        a, b = node.args
        va, vb = env[a], env[b]
        if not all(x is STATIC or isinstance(x, Dense | Rows) for x in (va, vb)):
            return None
        ca, cb = self.cache[a], self.cache[b]
        if not (isinstance(ca, torch.Tensor) and isinstance(cb, torch.Tensor) and ca.dim() == cb.dim() == 4):
            return None
        if ca.shape != cb.shape:  # a product with a per-channel constant
            if isinstance(va, Rows) and vb is STATIC and cb.shape[2:] == (1, 1):
                out = nodes.apply(node, self.modules, (va.data[:, :, None, None], cb), {}).flatten(1)
                return Rows(out, va.pos, va.shape, node, va.mask)
            return None
        if any(isinstance(x, Dense) for x in (va, vb)):
            ta, tb = self._value(a, env, N), self._value(b, env, N)
            masks = [x.mask for x in (va, vb) if x is not STATIC]
            m = (
                None
                if any(k is None for k in masks)
                else masks[0]
                if len(masks) == 1
                else masks[0] | masks[1]
            )
            return Dense(nodes.apply(node, self.modules, (ta, tb), {}), m)
        masks = [x.mask for x in (va, vb) if isinstance(x, Rows)]
        mask = masks[0] if len(masks) == 1 else masks[0] | masks[1]
        shape = (N, *ca.shape[1:])
        pos = positions(mask)
        out = nodes.apply(
            node, self.modules, (self._lookup(va, a, pos, shape), self._lookup(vb, b, pos, shape)), {}
        )
        return Rows(out, pos, shape, node, mask)


def _shape_query(node: fx.Node) -> bool:
    """The node asks only for its argument's shape (``size``, ``dim``, ``shape``, ``ndim``)."""
    if node.op == "call_method":
        return node.target in ("size", "dim")
    return (
        node.op == "call_function"
        and node.target is getattr
        and len(node.args) == 2
        and node.args[1] in ("shape", "ndim")
    )
