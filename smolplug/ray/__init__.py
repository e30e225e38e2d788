"""Scale-out on Ray Data: smolplug's sampled, low-resolution reading as a Ray ``Datasource``.

Enters: video files (or JPEG folders/globs), a frame selection and a
:class:`~smolplug.request.FrameSpec`.
Leaves: a ``ray.data.Dataset`` with one row per requested frame (tensor, path, frame index,
timestamp, status, message), read by tasks that each decode one (file, GOP range) piece at the
smallest covering rendition (:mod:`smolplug.ray.pieces`, :mod:`smolplug.ray.datasource`);
:class:`Predict` runs a smolplug executor over it in an actor pool (``map_batches``).

Ray is optional (``pip install 'smolplug[ray]'``): this package imports without it and its
readers raise an ImportError saying what to install. Cost a Ray pipeline (decode tasks vs
inference actors) with :func:`smolplug.plan.cluster.ray_pipeline` or ``smolplug plan --ray-nodes``.
"""

from __future__ import annotations

from .infer import Predict
from .pieces import Piece, image_pieces, video_pieces
from .read import frames_datasource, read_frames, read_images, require_ray

__all__ = [
    "Piece",
    "Predict",
    "frames_datasource",
    "image_pieces",
    "read_frames",
    "read_images",
    "require_ray",
    "video_pieces",
]
