"""Incremental inference: a model re-run on slightly changed inputs computes only what changes.

Enters: a ``torch.nn.Module`` (traced with ``torch.fx``) and an image, or a static camera's
frames. Leaves: occlusion explanations (:func:`occlusion`: heatmap on Captum's grid and
Captum's attribution, exact or approximate) and per-frame model outputs. The window arithmetic
is in :mod:`~smolplug.explain.windows`, the traced executor in
:mod:`~smolplug.explain.incremental`, heatmap quality (SSIM, Spearman, the tau table) in
:mod:`~smolplug.explain.quality`.
"""

from .incremental import Incremental, Win
from .occlusion import OcclusionResult, occlusion

__all__ = ["Incremental", "OcclusionResult", "Win", "occlusion"]
