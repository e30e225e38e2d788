"""What a caller asks for: which frames, at what size and layout.

Enters: the caller's (host adapter's or user's) description of a request.
Leaves: :class:`FrameSpec` (output size, resize policy, colour, layout, dtype, normalisation),
:class:`FrameSelection` (which frames of a video), and the source/destination rectangle
:func:`compute_geometry` derives from them (the Python twin of ``native/sp_geometry.c``), all
handed to the decoders in :mod:`smolplug.jpeg` and :mod:`smolplug.video`.
"""

from .geometry import Geometry, compute_geometry
from .selection import FrameSelection
from .spec import IMAGENET_MEAN, IMAGENET_STD, FrameSpec

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "FrameSelection", "FrameSpec", "Geometry", "compute_geometry"]
