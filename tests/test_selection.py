import numpy as np
import pytest

from smolplug import SpecError
from smolplug.request.selection import FrameSelection


def test_kinds():
    ts = np.arange(100) * 0.1
    assert FrameSelection.all().resolve(5)[0].tolist() == [0, 1, 2, 3, 4]
    assert FrameSelection.every(30).resolve(100)[0].tolist() == [0, 30, 60, 90]
    assert FrameSelection.every(30, offset=7).resolve(100)[0].tolist() == [7, 37, 67, 97]
    ok, bad = FrameSelection.indices([5, 3, 3, 120, -1]).resolve(100)
    assert ok.tolist() == [3, 5] and bad.tolist() == [-1, 120]
    assert FrameSelection.frames(10, 20, 3).resolve(100)[0].tolist() == [10, 13, 16, 19]
    assert FrameSelection.frames(95).resolve(100)[0].tolist() == [95, 96, 97, 98, 99]
    assert FrameSelection.seconds(1.0, 1.5).resolve(100, ts)[0].tolist() == [10, 11, 12, 13, 14]


def test_sample_is_seeded_sorted_and_unique():
    a = FrameSelection.sample(n=50, seed=7).resolve(1000)[0]
    b = FrameSelection.sample(n=50, seed=7).resolve(1000)[0]
    c = FrameSelection.sample(n=50, seed=8).resolve(1000)[0]
    assert a.tolist() == b.tolist() != c.tolist()
    assert len(set(a.tolist())) == 50 and np.all(np.diff(a) > 0)
    assert len(FrameSelection.sample(fraction=0.01, seed=0).resolve(795)[0]) == 8
    assert len(FrameSelection.sample(n=10).resolve(4)[0]) == 4


@pytest.mark.parametrize(
    "make",
    [
        lambda: FrameSelection.every(0),
        lambda: FrameSelection.every(2, offset=-1),
        lambda: FrameSelection.indices(["a"]),
        lambda: FrameSelection.sample(),
        lambda: FrameSelection.sample(n=3, fraction=0.1),
        lambda: FrameSelection.sample(fraction=1.5),
        lambda: FrameSelection.frames(5, 2),
        lambda: FrameSelection.seconds(3, 1),
    ],
)
def test_invalid(make):
    with pytest.raises(SpecError):
        make()


def test_time_range_needs_timestamps():
    with pytest.raises(SpecError):
        FrameSelection.seconds(0, 1).resolve(10)
