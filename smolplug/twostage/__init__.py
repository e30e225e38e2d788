"""Two-model pipelines: a detector finds boxes, a second model runs on every box.

Enters: a video (or any frame source) and two models. Leaves: per frame, in frame order, the
boxes and the second model's output for each, with per-stage accounting.

    source -> detector workers (+ native crops) -> broker (batches crops across frames)
           -> second model -> joined per frame

See :mod:`smolplug.twostage.pipeline`, ``benchmarks/two_stage.py`` and docs/two_stage.md.
"""

from .crops import CropPreprocessor
from .detectors import HOGPeopleDetector
from .pipeline import FrameOutcome, PipelineStats, TwoStagePipeline

__all__ = ["CropPreprocessor", "FrameOutcome", "HOGPeopleDetector", "PipelineStats", "TwoStagePipeline"]
