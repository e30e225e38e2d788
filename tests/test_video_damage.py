"""Damaged and unreadable videos: typed errors, every frame accounted for, and no damaged frame
ever delivered as OK."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

av = pytest.importorskip("av", reason="PyAV not installed")

import smolplug  # noqa: E402
from smolplug import FrameRequest, FrameSpec, Status  # noqa: E402
from smolplug.errors import DecodeError, DecodeWarning, MissingFrameError, SmolplugError  # noqa: E402
from smolplug.request.selection import FrameSelection  # noqa: E402
from smolplug.video import load_index  # noqa: E402

from .clips import make_clip  # noqa: E402

W, H, N = 320, 192, 96
# HEVC is not here: FFmpeg's HEVC decoder turns some damaged data into wrong pixels without any
# error, flag or log message (measured in docs/video.md), which no reader can report.
CLIPS = {
    "h264.mp4": dict(codec="libx264", gop=24, bframes=3),
    "h264.ts": dict(codec="libx264", gop=24, bframes=2),
    "h264.mkv": dict(codec="libx264", gop=24, bframes=2),
    "mpeg4.avi": dict(codec="mpeg4", gop=24, bframes=2),
    "mpeg2.ts": dict(codec="mpeg2video", gop=12, bframes=2),
}


def _payload_range(path: Path) -> tuple[int, int]:
    """Where the coded pictures are: an MP4's mdat box, else past the first KiB (headers)."""
    data = path.read_bytes()
    if path.suffix == ".mp4":
        at = 0
        while at + 8 <= len(data):
            size, kind = int.from_bytes(data[at : at + 4], "big"), data[at + 4 : at + 8]
            if kind == b"mdat":
                return at + 16, at + size
            at += size
    return 1024, len(data) - 1024


def overwrite(src: Path, dst: Path, kib: int, seed: int) -> Path:
    data = bytearray(src.read_bytes())
    lo, hi = _payload_range(src)
    start = (lo + hi) // 2 - kib * 512
    data[start : start + kib * 1024] = (
        np.random.default_rng(seed).integers(0, 256, kib * 1024, np.uint8).tobytes()
    )
    dst.write_bytes(bytes(data))
    return dst


def scatter(src: Path, dst: Path, n: int, seed: int) -> Path:
    data = bytearray(src.read_bytes())
    lo, hi = _payload_range(src)
    rng = np.random.default_rng(seed)
    for pos in rng.integers(lo, hi, n):
        data[int(pos)] = int(rng.integers(0, 256))
    dst.write_bytes(bytes(data))
    return dst


DAMAGES = {
    "4KiB-overwritten": lambda s, d: overwrite(s, d, 4, 0),
    "200-bytes-scattered-0": lambda s, d: scatter(s, d, 200, 0),
    "200-bytes-scattered-1": lambda s, d: scatter(s, d, 200, 1),
}
SELECTIONS = [FrameSelection.all(), FrameSelection.every(7, offset=3), FrameSelection.sample(n=20, seed=1)]


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> dict[str, tuple[Path, set[bytes]]]:
    """Each clip and the set of its sequentially decoded RGB frames (as bytes)."""
    d = tmp_path_factory.mktemp("clean")
    out = {}
    for name, kw in CLIPS.items():
        path = make_clip(d / name, n=N, w=W, h=H, **kw)
        with av.open(str(path)) as c:
            frames = {
                f.to_ndarray(
                    format="rgb24", src_colorspace=f.colorspace, src_color_range=f.color_range
                ).tobytes()
                for f in c.decode(video=0)
            }
        out[name] = (path, frames)
    return out


def _read(path: Path, sel: FrameSelection, strict: bool) -> list[tuple[int, int, str, np.ndarray]]:
    spec = FrameSpec(H, W, layout="NHWC", dtype="uint8")
    req = FrameRequest(spec, frames=sel, on_error="skip", strict=strict, scale_headroom=float("inf"))
    with smolplug.open_frames(path, req) as reader:
        return [
            (int(i), int(st), msg, data.copy())
            for b in reader
            for i, st, msg, data in zip(b.indices, b.status, b.messages, b.data, strict=True)
        ]


@pytest.mark.parametrize("damage", sorted(DAMAGES))
@pytest.mark.parametrize("clip", sorted(CLIPS))
def test_no_damaged_frame_is_ok(clean, tmp_path, clip, damage):
    """Decoded with errors, concealed, or predicted from a frame that was: never Status.OK. An
    OK frame is bit-identical to a frame of the undamaged file (frame numbers may shift where the
    damage destroyed whole pictures: AVI renumbers them)."""
    src, reference = clean[clip]
    path = DAMAGES[damage](src, tmp_path / f"damaged{src.suffix}")
    try:
        load_index(path, False)
    except SmolplugError as exc:  # the container itself is unreadable: refused, typed
        assert isinstance(exc, (ValueError, OSError)), type(exc).__mro__
        return
    flagged = 0
    for sel in SELECTIONS:
        lenient = _read(path, sel, strict=False)
        for i, st, msg, data in lenient:
            assert st in (Status.OK, Status.WARNING, Status.MISSING), (i, st, msg)
            assert st == Status.OK or msg
            if st == Status.OK:
                assert data.tobytes() in reference, f"frame {i} differs from every undamaged frame but is OK"
            flagged += st != Status.OK
        strict = _read(path, sel, strict=True)
        assert [(i, st) for i, st, *_ in strict] == [
            (i, Status.CORRUPT if st == Status.WARNING else st) for i, st, *_ in lenient
        ]
    assert flagged, "damage that changes no frame: the test damaged nothing"


def test_damaged_frames_raise_a_typed_error_by_default(clean, tmp_path):
    src, _ = clean["h264.ts"]
    path = overwrite(src, tmp_path / "d.ts", 4, 0)
    with pytest.raises(DecodeError) as info, smolplug.open_frames(path, FrameRequest(FrameSpec(16, 16))) as r:
        list(r)
    assert info.value.status in (Status.CORRUPT, Status.MISSING)


def test_truncated_files_raise_smolplugs_errors_not_pyavs(clean, tmp_path):
    src, _ = clean["h264.mkv"]
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(src.read_bytes()[: src.stat().st_size // 2])
    everything = FrameSelection.indices(range(N))  # the frames the whole file had
    with (
        pytest.raises(MissingFrameError),
        smolplug.open_frames(cut, FrameRequest(FrameSpec(16, 16), frames=everything)) as r,
    ):
        list(r)
    with smolplug.open_frames(cut, FrameRequest(FrameSpec(16, 16), frames=everything, on_error="skip")) as r:
        status = np.concatenate([b.status for b in r])
    assert len(status) == N and (status == Status.OK).sum() >= N // 4  # the readable half is delivered
    src, _ = clean["h264.mp4"]  # its index (moov) is at the end: cut, the file cannot be opened
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(src.read_bytes()[: src.stat().st_size // 2])
    with pytest.raises(DecodeError) as info:
        smolplug.open_frames(cut, FrameRequest(FrameSpec(16, 16)))
    assert not isinstance(info.value, av.error.FFmpegError) and str(cut) in str(info.value)


@pytest.mark.parametrize(
    "make, error",
    [
        (lambda p: p.write_bytes(b""), smolplug.EmptyInputError),
        (lambda p: p.write_bytes(np.random.default_rng(0).bytes(50_000)), DecodeError),
        (lambda p: p.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(100)), DecodeError),
    ],
    ids=["empty", "garbage", "header-only"],
)
def test_unreadable_files_raise_typed_errors_naming_the_path(tmp_path, make, error):
    path = tmp_path / "v.mp4"
    make(path)
    with pytest.raises(error) as info:
        smolplug.open_frames(path, FrameRequest(FrameSpec(16, 16)))
    assert isinstance(info.value, ValueError) and str(path) in str(info.value)


def test_missing_path_is_file_not_found(tmp_path):
    for name in ("gone.mp4", "gone_dir", "gone.jpg"):
        with pytest.raises(FileNotFoundError, match=name):
            smolplug.open_frames(tmp_path / name, FrameRequest(FrameSpec(16, 16)))


def test_chunk_folder_with_bad_chunks_delivers_the_rest(tmp_path):
    from smolplug.video.chunks import ChunkedVideoReader

    d = tmp_path / "chunks"
    d.mkdir()
    for k in range(3):
        make_clip(d / f"part_{k}.mkv", n=20, gop=10, bframes=2)
    good = d / "part_1.mkv"
    good.write_bytes(good.read_bytes()[: good.stat().st_size * 2 // 3])  # a truncated chunk
    (d / "part_3.mkv").write_bytes(np.random.default_rng(1).bytes(20_000))  # an unreadable one
    req = FrameRequest(FrameSpec(8, 8), on_error="skip", scale_headroom=float("inf"))
    with pytest.warns(DecodeWarning, match="part_3"), ChunkedVideoReader(d, req) as reader:
        batches = list(reader)
    assert [p.name for p, _ in reader.problems] == ["part_3.mkv"]
    idx = np.concatenate([b.indices for b in batches])
    status = np.concatenate([b.status for b in batches])
    n = int(reader.offsets[-1])
    assert idx.tolist() == list(range(n))  # every frame of the readable chunks, in order
    lo, hi = int(reader.offsets[1]), int(reader.offsets[2])
    assert (status[:lo] == Status.OK).all() and (status[hi:] == Status.OK).all()
    assert (status[lo:hi] == Status.OK).sum() >= 5  # the truncated chunk's readable frames
    assert all(m for b in batches for m, st in zip(b.messages, b.status, strict=True) if st != Status.OK)
