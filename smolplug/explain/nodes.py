"""What each traced node is, for windowed execution: a sliding-window layer (convolution,
pooling) with its geometry, an explicit constant pad, an elementwise operation, a binary
elementwise operation, or anything else (run on whole tensors)."""

from __future__ import annotations

import dataclasses
import operator
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import fx, nn

#: modules that act on each element (or each channel, in eval mode) on their own
POINTWISE_MODULES = (
    nn.ReLU,
    nn.ReLU6,
    nn.SiLU,
    nn.Sigmoid,
    nn.Tanh,
    nn.Hardswish,
    nn.Hardsigmoid,
    nn.Hardtanh,
    nn.LeakyReLU,
    nn.GELU,
    nn.ELU,
    nn.Identity,
    nn.Dropout,
    nn.Dropout2d,
    nn.BatchNorm2d,
)
POINTWISE_FUNCTIONS = {
    F.relu,
    torch.relu,
    F.relu6,
    F.hardtanh,
    torch.sigmoid,
    F.sigmoid,
    F.silu,
    F.hardswish,
    F.hardsigmoid,
    torch.tanh,
    F.gelu,
    F.leaky_relu,
    F.elu,
    torch.clamp,
}
POINTWISE_METHODS = {"relu", "relu_", "sigmoid", "tanh", "clamp", "clamp_", "contiguous", "float"}
BINARY_FUNCTIONS = {operator.add, operator.sub, operator.mul, torch.add, torch.sub, torch.mul, operator.iadd}
BINARY_METHODS = {"add", "sub", "mul", "add_", "mul_"}


@dataclass(frozen=True)
class Sliding:
    """A convolution or pooling layer, run on regions padded beforehand (padding 0)."""

    kind: str  # conv, max, avg
    kernel: tuple[int, int]  # effective (dilated) extent
    stride: tuple[int, int]
    pad: tuple[int, int]  # symmetric padding (top/bottom, left/right)
    fill: float  # padding value
    pool: Any  # pooling: region -> output
    macs_per_out: int  # multiply-adds per output element (0 for pooling)
    weight: torch.Tensor | None = None  # convolution
    bias: torch.Tensor | None = None
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1

    def run(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind != "conv":
            return self.pool(x)
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


def _pair(v: Any) -> tuple[int, int]:
    return (int(v[0]), int(v[1])) if isinstance(v, tuple | list) else (int(v), int(v))


def _conv(weight, bias, stride, padding, dilation, groups) -> Sliding | None:
    if weight.dim() != 4:
        return None
    kh, kw = weight.shape[2:]
    st, dil = _pair(stride), _pair(dilation)
    ext = (dil[0] * (kh - 1) + 1, dil[1] * (kw - 1) + 1)
    if isinstance(padding, str):
        if padding == "valid":
            pad = (0, 0)
        elif padding == "same" and st == (1, 1) and all(e % 2 == 1 for e in ext):
            pad = ((ext[0] - 1) // 2, (ext[1] - 1) // 2)
        else:
            return None
    else:
        pad = _pair(padding)

    return Sliding("conv", ext, st, pad, 0.0, None, int(weight[0].numel()), weight, bias, dil, int(groups))


def _pool(kind: str, k, s, p, dil=1, ceil_mode=False, count_include_pad=True, divisor=None) -> Sliding | None:
    k, p = _pair(k), _pair(p)
    s = _pair(s if s not in (None, ()) else k)
    d = _pair(dil)
    if ceil_mode or (kind == "avg" and (not count_include_pad or divisor is not None)):
        return None  # ceil_mode windows and pad-excluding averages depend on the layer's border
    ext = (d[0] * (k[0] - 1) + 1, d[1] * (k[1] - 1) + 1)
    if kind == "max":

        def run(x: torch.Tensor) -> torch.Tensor:
            return F.max_pool2d(x, k, s, 0, d)

        return Sliding("max", ext, s, p, float("-inf"), run, 0, dilation=d)
    if d != (1, 1):
        return None

    def run_avg(x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(x, k, s, 0)

    return Sliding("avg", ext, s, p, 0.0, run_avg, 0)


def _call_args(node: fx.Node, names: tuple[str, ...], defaults: dict[str, Any], value: Any) -> dict:
    out = dict(defaults)
    out.update(zip(names, node.args, strict=False))
    out.update(node.kwargs)
    return {k: (value(v) if isinstance(v, fx.Node) else v) for k, v in out.items()}


def sliding(node: fx.Node, modules: dict[str, nn.Module], value: Any) -> Sliding | None:
    """The node as a sliding-window layer, or None. ``value(node)`` gives a static node's value
    (the weights of a functional convolution)."""
    if node.op == "call_module":
        m = modules[node.target]
        if type(m) is nn.Conv2d or (isinstance(m, nn.Conv2d) and type(m).forward is nn.Conv2d.forward):
            if m.padding_mode != "zeros":
                return None
            return _conv(m.weight, m.bias, m.stride, m.padding, m.dilation, m.groups)
        if isinstance(m, nn.MaxPool2d) and not m.return_indices:
            return _pool("max", m.kernel_size, m.stride, m.padding, m.dilation, m.ceil_mode)
        if isinstance(m, nn.AvgPool2d):
            return _pool(
                "avg",
                m.kernel_size,
                m.stride,
                m.padding,
                1,
                m.ceil_mode,
                m.count_include_pad,
                m.divisor_override,
            )
        return None
    if node.op != "call_function":
        return None
    if node.target in (F.conv2d, torch.conv2d):
        names = ("input", "weight", "bias", "stride", "padding", "dilation", "groups")
        defaults = {"bias": None, "stride": 1, "padding": 0, "dilation": 1, "groups": 1}
        a = _call_args(node, names, defaults, value)
        return _conv(a["weight"], a["bias"], a["stride"], a["padding"], a["dilation"], a["groups"])
    if node.target in (F.max_pool2d, torch.max_pool2d):
        names = ("input", "kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices")
        d = {"stride": None, "padding": 0, "dilation": 1, "ceil_mode": False, "return_indices": False}
        a = _call_args(node, names, d, value)
        if a["return_indices"]:
            return None
        return _pool("max", a["kernel_size"], a["stride"], a["padding"], a["dilation"], a["ceil_mode"])
    if node.target in (F.avg_pool2d, torch._C._nn.avg_pool2d):
        names = (
            "input",
            "kernel_size",
            "stride",
            "padding",
            "ceil_mode",
            "count_include_pad",
            "divisor_override",
        )
        d = {
            "stride": None,
            "padding": 0,
            "ceil_mode": False,
            "count_include_pad": True,
            "divisor_override": None,
        }
        a = _call_args(node, names, d, value)
        return _pool(
            "avg",
            a["kernel_size"],
            a["stride"],
            a["padding"],
            1,
            a["ceil_mode"],
            a["count_include_pad"],
            a["divisor_override"],
        )
    return None


def constant_pad(node: fx.Node, modules: dict[str, nn.Module]) -> tuple[int, int, int, int] | None:
    """(left, right, top, bottom) of a non-negative constant pad of the last two dimensions."""
    if node.op == "call_module":
        m = modules[node.target]
        if isinstance(m, nn.ZeroPad2d | nn.ConstantPad2d):
            p = tuple(int(v) for v in m.padding)
            return p if len(p) == 4 and min(p) >= 0 else None
        return None
    if node.op == "call_function" and node.target is F.pad:
        pad = node.args[1] if len(node.args) > 1 else node.kwargs.get("pad")
        mode = node.args[2] if len(node.args) > 2 else node.kwargs.get("mode", "constant")
        if mode == "constant" and isinstance(pad, tuple | list) and len(pad) in (2, 4):
            p = tuple(int(v) for v in pad) + (0, 0)[: 4 - len(pad)]
            return p if min(p) >= 0 and all(not isinstance(v, fx.Node) for v in pad) else None
    return None


def pointwise(node: fx.Node, modules: dict[str, nn.Module]) -> bool:
    """True when the node maps each element (channel-wise constants at most) of its first
    argument on its own, and its other arguments are constants."""
    if not node.args or not isinstance(node.args[0], fx.Node):
        return False
    if any(isinstance(a, fx.Node) for a in list(node.args[1:]) + list(node.kwargs.values())):
        return False
    if node.op == "call_module":
        m = modules[node.target]
        return isinstance(m, POINTWISE_MODULES) and not (
            isinstance(m, nn.BatchNorm2d | nn.Dropout) and m.training
        )
    if node.op == "call_function":
        if node.target is F.dropout:
            training = node.kwargs.get("training", node.args[2] if len(node.args) > 2 else True)
            return training is False
        return node.target in POINTWISE_FUNCTIONS or (node.target in BINARY_FUNCTIONS and len(node.args) == 2)
    if node.op == "call_method":
        return node.target in POINTWISE_METHODS or (node.target in BINARY_METHODS and len(node.args) == 2)
    return False


def binary(node: fx.Node) -> bool:
    """An elementwise binary operation on two tensors (residual add, gating)."""
    if len(node.args) != 2 or node.kwargs:
        return False
    if node.op == "call_function":
        return node.target in BINARY_FUNCTIONS
    return node.op == "call_method" and node.target in BINARY_METHODS


def inplace(node: fx.Node, modules: dict[str, nn.Module]) -> bool:
    """True when the node writes into its first argument."""
    if node.op == "call_module":
        return bool(getattr(modules[node.target], "inplace", False))
    if node.op == "call_method":
        return str(node.target).endswith("_")
    return node.op == "call_function" and (node.target is operator.iadd or node.kwargs.get("inplace") is True)


def apply(node: fx.Node, modules: dict[str, nn.Module], args: tuple, kwargs: dict) -> Any:
    """Run the node's operation on given arguments."""
    if node.op == "call_module":
        return modules[node.target](*args, **kwargs)
    if node.op == "call_function":
        return node.target(*args, **kwargs)
    if node.op == "call_method":
        return getattr(args[0], node.target)(*args[1:], **kwargs)
    raise ValueError(f"cannot run {node.op} node {node.name}")


def linear_macs(node: fx.Node, modules: dict[str, nn.Module], out: Any) -> int:
    """Multiply-adds of a linear layer's output (0 for anything else)."""
    if not isinstance(out, torch.Tensor):
        return 0
    if node.op == "call_module" and isinstance(modules[node.target], nn.Linear):
        return out.numel() * modules[node.target].in_features
    return 0


def eval_batchnorm(node: fx.Node, modules: dict[str, nn.Module]) -> nn.BatchNorm2d | None:
    """The node's BatchNorm2d module when it is one in eval mode with running statistics."""
    if node.op != "call_module":
        return None
    m = modules[node.target]
    ok = isinstance(m, nn.BatchNorm2d) and not m.training and m.running_mean is not None
    return m if ok else None


def fold_batchnorm(sl: Sliding, bn: nn.BatchNorm2d) -> Sliding:
    """The convolution with the batch norm after it folded into its weights and bias (one pass
    instead of two; equal up to float rounding)."""
    scale = torch.rsqrt(bn.running_var + bn.eps)
    if bn.weight is not None:
        scale = scale * bn.weight
    shift = -bn.running_mean * scale + (bn.bias if bn.bias is not None else 0.0)
    weight = (sl.weight * scale[:, None, None, None]).detach()
    bias = (shift + (sl.bias * scale if sl.bias is not None else 0.0)).detach()
    return dataclasses.replace(sl, weight=weight, bias=bias)
