"""The exactness matrix: every clip of the generated corpus (tests/media.py) x every kind of
frame selection. Frame *i* is the i-th frame a plain sequential decode outputs; every requested
position comes back, in request order, as that frame or reported missing.

The rule for explicit index lists (``FrameRequest.frames=[...]``): each requested position is
delivered in request order, duplicates included ([5, 5, 5, 7] gives four frames); a position
past the end is reported ``Status.MISSING`` at its place in the list. ``FrameSelection`` objects
deliver ascending positions, as ``FrameSelection.resolve`` lists them.

Rotated clips are delivered in display orientation (as OpenCV shows them); ``autorotate=False``
gives the stored orientation, and a ROI is in display coordinates.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

av = pytest.importorskip("av", reason="PyAV not installed")

import smolplug  # noqa: E402
from smolplug import FrameRequest, FrameSpec, Status  # noqa: E402
from smolplug.errors import SmolplugError  # noqa: E402
from smolplug.request.selection import FrameSelection  # noqa: E402
from smolplug.video import VideoReader, load_index  # noqa: E402

from . import media  # noqa: E402
from .conftest import Corpus  # noqa: E402
from .media import CORPUS, ROTATED, sequential_frames, sequential_rgb  # noqa: E402

FULL_RES = float("inf")  # scale_headroom: decode the source itself (no lowres, no renditions)


#: selection name -> selection, given the clip's sequential frame count n
SELECTIONS: dict[str, Callable[[int], Sequence[int] | FrameSelection]] = {
    "all": lambda n: FrameSelection.all(),
    "every7": lambda n: FrameSelection.every(7),
    "every5+3": lambda n: FrameSelection.every(5, offset=3),
    "sample9": lambda n: FrameSelection.sample(n=9, seed=3),
    "range4-30-3": lambda n: FrameSelection.frames(4, 30, 3),
    "range-half-to-end-2": lambda n: FrameSelection.frames(n // 2, None, 2),
    "list-sorted": lambda n: [0, 1, 2, 13, 14, 15, 26],
    "list-last-three-desc": lambda n: [n - 1, n - 2, n - 3],
    "list-5557": lambda n: [5, 5, 5, 7],
    "list-30-2-17-2": lambda n: [30, 2, 17, 2],
    "list-out-of-range": lambda n: [3, n, 1, n + 7, 0],
}


def expected_positions(selection: Sequence[int] | FrameSelection, n: int) -> list[int]:
    """The positions a reader must return, in order (see the module docstring)."""
    if isinstance(selection, FrameSelection):
        wanted, invalid = selection.resolve(n)
        assert not len(invalid)
        return wanted.tolist()
    return [int(i) for i in selection]


# -- the two ways in ---------------------------------------------------------------------------------
def delivered_raw(path: Path, frames: Sequence[int] | FrameSelection) -> list[tuple[int, Any]]:
    """(position, raw planes or the reason it is missing) per requested position, in delivery
    order. The only place that reaches into the reader's internals: ``VideoReader._items()``
    yields ``(index, av.VideoFrame | reason)``."""
    request = FrameRequest(FrameSpec(8, 8), frames=frames, scale_headroom=FULL_RES)
    with VideoReader(path, request) as reader:
        return [
            (int(i), item if isinstance(item, str) else media.frame_planes(item))
            for i, item in reader._items()
        ]


def delivered_rgb(
    path: Path, frames: Sequence[int] | FrameSelection, spec: FrameSpec, **request: Any
) -> tuple[list[int], list[int], list[np.ndarray], list[str]]:
    """Through the public API: (indices, statuses, frames, messages) over all batches."""
    req = FrameRequest(spec, frames=frames, scale_headroom=FULL_RES, on_error="skip", **request)
    indices, status, data, messages = [], [], [], []
    with smolplug.open_frames(path, req) as reader:
        for batch in reader:
            indices += batch.indices.tolist()
            status += batch.status.tolist()
            data += [np.array(x) for x in batch.data]  # the ring's buffers are reused
            messages += batch.messages
    return indices, status, data, messages


def rgb_spec(height: int, width: int, **kw: Any) -> FrameSpec:
    return FrameSpec(height, width, layout="NHWC", dtype="uint8", **kw)


def _which(positions: list[int]) -> str:
    return f"it is sequential frame {positions[0]}" if positions else "it matches no sequential frame"


def _order_problem(got: list[int], want: list[int]) -> list[str]:
    if got == want:
        return []
    return [f"positions delivered {got}, requested {want}"]


# -- the matrix --------------------------------------------------------------------------------------
@pytest.mark.parametrize("selection", SELECTIONS)
@pytest.mark.parametrize("clip", CORPUS)
def test_raw_frames_are_the_sequential_frames(corpus: Corpus, clip: str, selection: str) -> None:
    path = corpus[clip]
    ref = sequential_frames(path)
    sel = SELECTIONS[selection](len(ref))
    want = expected_positions(sel, len(ref))
    got = delivered_raw(path, sel)
    problems = _order_problem([i for i, _ in got], want)
    for i, item in got:
        if not 0 <= i < len(ref):
            if not isinstance(item, str):
                problems.append(f"{i}: past the end ({len(ref)} frames) but a frame was delivered")
        elif isinstance(item, str):
            problems.append(f"{i}: reported missing: {item[:100]}")
        elif not all(np.array_equal(a, b) for a, b in zip(item, ref.planes[i], strict=True)):
            problems.append(f"{i}: wrong frame ({_which(media.identify(item, ref))})")
    assert not problems, f"{clip} {selection}:\n" + "\n".join(problems)


@pytest.mark.parametrize("selection", SELECTIONS)
@pytest.mark.parametrize("clip", CORPUS)
def test_rgb_frames_are_the_sequential_frames(corpus: Corpus, clip: str, selection: str) -> None:
    path = corpus[clip]
    ref = sequential_rgb(path)
    sel = SELECTIONS[selection](len(ref))
    want = expected_positions(sel, len(ref))
    height, width = ref[0].shape[:2]  # display orientation
    indices, status, data, messages = delivered_rgb(path, sel, rgb_spec(height, width))
    problems = _order_problem(indices, want)
    for i, st, frame, msg in zip(indices, status, data, messages, strict=True):
        if not 0 <= i < len(ref):
            if st != Status.MISSING:
                problems.append(f"{i}: past the end ({len(ref)} frames) but status {Status(st).name}")
        elif st != Status.OK:
            problems.append(f"{i}: status {Status(st).name}: {msg[:100]}")
        elif not np.array_equal(frame, ref[i]):
            same = [j for j, r in enumerate(ref) if np.array_equal(frame, r)]
            problems.append(f"{i}: wrong frame ({_which(same)})")
    assert not problems, f"{clip} {selection}:\n" + "\n".join(problems)


@pytest.mark.parametrize("clip", CORPUS)
def test_frame_count_is_the_sequential_count(corpus: Corpus, clip: str) -> None:
    path = corpus[clip]
    n = len(sequential_frames(path))
    counts = {
        "load_index().n_frames": load_index(path, cache=False).n_frames,
        "len(VideoReader(all))": len(
            VideoReader(
                path, FrameRequest(FrameSpec(8, 8), frames=FrameSelection.all(), scale_headroom=FULL_RES)
            )
        ),
    }
    assert counts == dict.fromkeys(counts, n), f"sequential decode: {n} frames"


# -- display rotation --------------------------------------------------------------------------------
def test_rotated_clips_cover_every_quarter_turn() -> None:
    assert {CORPUS[name].rotation % 360 for name in ROTATED} == {0, 90, 180, 270}


@pytest.mark.parametrize("clip", ROTATED)
def test_reference_display_orientation_is_opencvs(corpus: Corpus, clip: str) -> None:
    """sequential_rgb(display=True) turns frames the way OpenCV does (it applies the display
    matrix by default): the reference's rotation convention is not a guess."""
    cv2 = pytest.importorskip("cv2")
    path = corpus[clip]
    ref = sequential_rgb(path)
    cap = cv2.VideoCapture(str(path))
    assert cap.get(cv2.CAP_PROP_ORIENTATION_AUTO)
    shown = []
    while True:
        ok, img = cap.read()
        if not ok:
            break
        shown.append(img[..., ::-1])
    cap.release()
    assert len(shown) == len(ref)
    for i, (a, b) in enumerate(zip(shown, ref, strict=True)):
        assert a.shape == b.shape, (i, a.shape, b.shape)
        assert np.abs(a.astype(np.int16) - b).mean() < 2, i
    stored = sequential_rgb(path, display=False)[0]
    if CORPUS[clip].rotation % 360:
        assert stored.shape != ref[0].shape or np.abs(stored.astype(np.int16) - ref[0]).mean() > 30


@pytest.mark.parametrize("clip", ROTATED)
def test_autorotate_off_gives_the_stored_orientation(corpus: Corpus, clip: str) -> None:
    path = corpus[clip]
    stored = sequential_rgb(path, display=False)
    height, width = stored[0].shape[:2]
    frames = [0, 7, 3]
    indices, status, data, _ = delivered_rgb(path, frames, rgb_spec(height, width), autorotate=False)
    assert indices == frames and status == [Status.OK] * 3
    for i, frame in zip(frames, data, strict=True):
        assert np.array_equal(frame, stored[i]), i


@pytest.mark.parametrize("clip", ROTATED)
def test_roi_is_in_display_coordinates(corpus: Corpus, clip: str) -> None:
    path = corpus[clip]
    ref = sequential_rgb(path)
    x, y, w, h = 16, 24, 48, 40  # inside both 160x96 and 96x160; even, to keep chroma aligned
    frames = [0, 5, 9]
    spec = rgb_spec(h, w, roi=(x, y, w, h))
    indices, status, data, _ = delivered_rgb(path, frames, spec)
    assert indices == frames and status == [Status.OK] * 3
    for i, frame in zip(frames, data, strict=True):
        # the ROI goes through the native resampler, not FFmpeg's converter: close, not equal;
        # the same region of a wrongly oriented frame is ~60 off
        err = float(np.abs(frame.astype(np.int16) - ref[i][y : y + h, x : x + w]).mean())
        assert err < 6, (i, err)


# -- the corpus itself -------------------------------------------------------------------------------
@pytest.mark.parametrize("clip", [name for name, c in CORPUS.items() if c.check is not None])
def test_clip_has_the_property_it_is_for(corpus: Corpus, clip: str) -> None:
    CORPUS[clip].check(corpus[clip])  # type: ignore[misc]


@pytest.mark.parametrize("clip", CORPUS)
def test_neighbouring_frames_differ_visibly(corpus: Corpus, clip: str) -> None:
    """An off-by-one delivery must fail: every frame differs from the next in many pixels."""
    ref = sequential_rgb(corpus[clip])
    assert len(ref) >= 30
    for i, (a, b) in enumerate(zip(ref, ref[1:], strict=False)):
        changed = int((np.abs(a.astype(np.int16) - b).max(-1) > 40).sum())
        assert changed >= 30, (i, changed)


def test_packed_mpeg4_decodes_to_the_unpacked_pictures(tmp_path: Path) -> None:
    """Packing moves VOPs between chunks without changing them: same pictures, same order."""
    packed = media.make_packed_mpeg4_avi(tmp_path / "packed.avi", n=30, gop=10, bframes=2)
    plain = media.make_clip(tmp_path / "plain.avi", codec="mpeg4", n=30, gop=10, bframes=2)
    a, b = sequential_frames(packed), sequential_frames(plain)
    assert len(a) == len(b) == 30
    assert all(
        all(np.array_equal(x, y) for x, y in zip(pa, pb, strict=True))
        for pa, pb in zip(a.planes, b.planes, strict=True)
    )
    assert b.pts == sorted(b.pts) and a.pts != sorted(a.pts)


# -- damaged files -----------------------------------------------------------------------------------
DAMAGED_CLIPS = ["h264-bframes.mp4", "mpeg4-packed.avi", "h264.ts", "vp9.webm"]


@pytest.mark.parametrize("corruption", media.CORRUPTIONS)
@pytest.mark.parametrize("clip", DAMAGED_CLIPS)
def test_damaged_file_reports_every_requested_frame(
    corpus: Corpus, tmp_path: Path, clip: str, corruption: str
) -> None:
    """Every requested position comes back (delivered or with a failure status), or the file is
    refused with a typed error; never an untyped crash or a silently dropped frame."""
    src = corpus[clip]
    n = len(sequential_frames(src))
    path = media.CORRUPTIONS[corruption](src, tmp_path / f"damaged{src.suffix}")
    frames = list(range(n))
    spec = rgb_spec(*sequential_rgb(src)[0].shape[:2])
    try:
        indices, status, _, messages = delivered_rgb(path, frames, spec)
    except SmolplugError as exc:
        assert isinstance(exc, ValueError), type(exc).__mro__
        return
    assert indices == frames
    for i, st, msg in zip(indices, status, messages, strict=True):
        assert st in set(Status), (i, st)
        assert st == Status.OK or msg, (i, "a failed frame needs a reason")


@pytest.mark.parametrize("kind", ["empty", "garbage"])
def test_unreadable_file_raises_a_typed_error(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "clip.mp4"
    media.empty_file(path) if kind == "empty" else media.garbage_file(path)
    with pytest.raises(SmolplugError) as info:
        delivered_rgb(path, FrameSelection.all(), rgb_spec(96, 160))
    assert isinstance(info.value, ValueError)
