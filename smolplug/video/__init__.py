"""Video frame loading: decode only the frames a query needs, at the resolution it needs."""

from .index import VideoIndex
from .reader import VideoReader
from .scan import load_index

__all__ = ["VideoIndex", "VideoReader", "load_index"]
