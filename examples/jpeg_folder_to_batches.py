"""Decode a folder of JPEGs into normalised NCHW batches through the plugin system.

    python examples/jpeg_folder_to_batches.py [FOLDER]

Without FOLDER, a few generated sample images are written to a temporary folder first.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import smolplug
from smolplug.jpeg.samples import sample_jpegs


def main(folder: Path) -> None:
    spec = smolplug.FrameSpec.imagenet()  # shorter side 256, crop 224, ImageNet mean/std
    request = smolplug.FrameRequest(spec, batch_size=4, on_error="skip")
    with smolplug.open_frames(folder, request) as reader:
        for batch in reader:
            ok = int(batch.ok.sum())
            print(
                f"batch {batch.indices.tolist()}: {batch.data.shape} {batch.data.dtype},"
                f" {ok}/{len(batch)} ok, mean {batch.data[batch.ok].mean():+.3f}"
            )
            for i, msg in zip(batch.indices, batch.messages, strict=True):
                if msg:
                    print(f"  frame {i}: {msg}")
        print(
            f"{reader.stats.frames_delivered} frames delivered, {reader.stats.rows_decoded} scanlines decoded"
        )


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(Path(sys.argv[1]))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            for name, data in sample_jpegs(6):
                (Path(tmp) / name).write_bytes(data)
            main(Path(tmp))
