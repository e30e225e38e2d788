"""The executor's cache of a base input: every node of the traced graph run once, its output
kept, and its rule for changed inputs decided (sliding window, constant pad, pointwise, binary,
folded batch norm, or other: whole tensors), with the sliding layers' padded inputs kept channels
last for gathering windows (mixed into :class:`~smolplug.explain.incremental.Incremental`)."""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
import torch.nn.functional as F
from torch import fx

from . import nodes
from .tail import Tails
from .windows import hwc


class BaseCache:
    def _cache_base(self) -> None:
        cache: dict[fx.Node, Any] = {}
        self.cache, self.dynamic, self.rule = cache, set(), {}
        self.padded: dict[fx.Node, torch.Tensor] = {}  # (H, W, C) inputs of sliding layers, padded
        self.hwc: dict[fx.Node, torch.Tensor] = {}  # (H, W, C) operands of binary operations
        self.node_macs: dict[fx.Node, int] = {}
        self.macs_per_input = 0

        def value(n: fx.Node) -> Any:
            return cache[n]

        for node in self.gm.graph.nodes:
            if node.op == "placeholder":
                cache[node] = self.base
                self.dynamic.add(node)
                continue
            if node.op == "get_attr":
                obj: Any = self.gm
                for part in node.target.split("."):
                    obj = getattr(obj, part)
                cache[node] = obj
                continue
            args = fx.node.map_arg(node.args, value)
            kwargs = fx.node.map_arg(node.kwargs, value)
            if node.op == "output":
                cache[node] = args[0]
                self.output = args[0]
                continue
            cache[node] = out = nodes.apply(node, self.modules, args, kwargs)
            if not any(n in self.dynamic for n in node.all_input_nodes):
                continue
            self.dynamic.add(node)
            src = node.args[0] if node.args and isinstance(node.args[0], fx.Node) else None
            sl = nodes.sliding(node, self.modules, value)
            others_static = all(n is src or n not in self.dynamic for n in node.all_input_nodes)
            if sl is not None and src in self.dynamic and others_static and cache[src].dim() == 4:
                if sl.weight is not None:
                    cl = sl.weight.detach().contiguous(memory_format=torch.channels_last)
                    sl = dataclasses.replace(sl, weight=cl)
                self.rule[node] = ("sliding", sl)
                ph, pw = sl.pad
                self.padded[node] = hwc(F.pad(cache[src], (pw, pw, ph, ph), value=sl.fill))
                self.node_macs[node] = out.numel() * sl.macs_per_out
                self.macs_per_input += self.node_macs[node]
                continue
            self.node_macs[node] = nodes.linear_macs(node, self.modules, out)
            self.macs_per_input += self.node_macs[node]
            pad = nodes.constant_pad(node, self.modules)
            if pad is not None and src in self.dynamic:
                self.rule[node] = ("pad", pad)
            elif nodes.pointwise(node, self.modules):
                self.rule[node] = ("pointwise", nodes.inplace(node, self.modules))
            elif nodes.binary(node) and all(isinstance(a, fx.Node) for a in node.args):
                self.rule[node] = ("binary", None)
            else:
                self.rule[node] = ("other", None)
        folded = self._fold_batchnorms()
        if self.tails is None or self.tails.gm is not self.gm:
            self.tails = Tails(self.gm, self.dynamic, cache, folded, self.node_macs)
        self.tails.cache = cache

    def _fold_batchnorms(self) -> set[fx.Node]:
        """A convolution whose only user is an eval-mode batch norm runs with the norm folded
        in; its windows then hold the norm's output (and its cached value is the norm's).
        Returns the folded convolutions."""
        folded = set()
        for node, (kind, sl) in list(self.rule.items()):
            users = list(node.users)
            if kind != "sliding" or sl.kind != "conv" or len(users) != 1 or users[0] not in self.rule:
                continue
            bn = nodes.eval_batchnorm(users[0], self.modules)
            if bn is not None and users[0].args[0] is node:
                self.rule[node] = ("sliding", nodes.fold_batchnorm(sl, bn))
                self.rule[users[0]] = ("folded", self.rule[users[0]])
                self.cache[node] = self.cache[users[0]]
                folded.add(node)
        return folded
