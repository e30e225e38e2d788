"""``smolplug explain``: an occlusion heatmap of a model's prediction for an image."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from ._common import _load_models, _write_png


def cmd_explain(args: argparse.Namespace, console: Console) -> int:
    import torch

    from ..errors import SmolplugError
    from ..explain import occlusion
    from ..explain.render import to_rgb, write_png
    from ..jpeg.decode import decode_jpeg
    from ..plan.zoo import input_fields
    from ..request.spec import FrameSpec

    image = Path(args.image)
    if not image.is_file():
        console.print(f"[red]no such image: {image}[/red]")
        return 2
    models = _load_models(console, [args.model])
    if models is None:
        return 2
    name, model = models[0]
    if not isinstance(model, torch.nn.Module):
        console.print(f"[red]{name} is not a torch.nn.Module[/red]")
        return 2
    if args.threads:
        torch.set_num_threads(args.threads)
    fields = input_fields(model)
    spec = FrameSpec.imagenet(args.size, round(args.size * 256 / 224), **fields)
    try:
        x = decode_jpeg(image.read_bytes(), spec)
    except SmolplugError as e:
        console.print(f"[red]{image}: {e}[/red]")
        return 2
    with console.status(f"occluding {image.name} ({args.patch}px patches, stride {args.stride})"):
        r = occlusion(
            model,
            torch.from_numpy(x),
            args.patch,
            args.stride,
            args.baseline,
            args.target,
            tau=args.tau,
            drill_down=args.drill_down,
            tail=args.tail,
            whole_at=args.whole_at,
        )
    s = r.stats
    mode = (
        "exact"
        if args.tau >= 1 and args.drill_down is None
        else f"approximate (tau {args.tau:g}, drill-down {args.drill_down})"
    )
    console.print(
        f"{image.name}: class {r.target} (score {r.base_score:.3f}), {mode}: {s['positions']} positions on a "
        f"{s['grid'][0]}x{s['grid'][1]} grid in {s['seconds']['total']:.1f} s, "
        f"{s['flops_saved']:.0%} of the convolution/linear multiply-adds saved"
    )
    i, j = divmod(int(r.heatmap.argmax()), r.heatmap.shape[1])
    console.print(
        f"largest drop {r.heatmap.max():.3f} with the patch at row {i * args.stride}, "
        f"column {j * args.stride}"
    )
    t = s["tail"]
    if t["onnx_batches"]:
        console.print(
            f"onnxruntime ran the tail of {sum(t['onnx_batches'].values())} of {s['batches']} batches"
        )
    for node, why in t["why_torch"].items():
        console.print(f"[yellow]torch ran the tail after {node}: {why}[/yellow]")
    if s["fallbacks"]:
        console.print("run whole from: " + ", ".join(f"{k} {v}" for k, v in s["fallbacks"].items()))
    if not s["traced"]:
        console.print(f"[yellow]not traceable, every position re-run whole: {s['why_untraced']}[/yellow]")
    if args.png:
        title = f"{image.name}: {name}, class {r.target}"
        att = r.attribution[0, 0].numpy()
        _write_png(console, lambda path: write_png(to_rgb(x, fields), att, path, title), args.png)
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("explain", help="occlusion heatmap of a model's prediction (incremental inference)")
    p.add_argument("image", help="a JPEG image")
    p.add_argument(
        "--model", required=True, help="[NAME=]module:attr, e.g. smolplug.plan.zoo:efficientnet_lite0"
    )
    p.add_argument("--png", help="write the heatmap over the image here")
    p.add_argument("--size", type=int, default=224, help="model input size (centre crop)")
    p.add_argument("--patch", type=int, default=16, help="occluding patch side, pixels")
    p.add_argument("--stride", type=int, default=4, help="patch stride, pixels")
    p.add_argument("--baseline", type=float, default=0.0, help="value the patch is filled with")
    p.add_argument("--target", type=int, help="class to explain (default: the predicted one)")
    p.add_argument("--tau", type=float, default=1.0, help="projective-field threshold (< 1: approximate)")
    p.add_argument(
        "--drill-down", type=float, help="coarse pass, then this fraction of positions (approximate)"
    )
    p.add_argument(
        "--tail",
        choices=("auto", "onnx", "torch"),
        default="auto",
        help="where the windows cover whole layers, run the rest of the model through onnxruntime "
        "(onnx; auto: where it is also faster than torch) or torch",
    )
    p.add_argument(
        "--whole-at",
        type=float,
        default=0.5,
        help="the tail starts where every window covers this share of its layer (exact at any value)",
    )
    p.add_argument("--threads", type=int, help="torch threads (and onnxruntime's for the tail)")
    p.set_defaults(func=cmd_explain)
