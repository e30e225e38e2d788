"""Video frame loading: decode only the frames a query needs, at the resolution it needs."""

from .index import VideoIndex, load_index
from .reader import VideoReader

__all__ = ["VideoIndex", "VideoReader", "load_index"]
