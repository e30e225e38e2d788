"""The short version of the video fuzz target (tests/fuzz/video.py, docs/fuzzing.md): seeded
mutants of small clips of many containers and codecs, read forward, by seeking and with a second
spec, one in eight again in a fresh process; plus a check that the differential check fires."""

from __future__ import annotations

import pytest

pytest.importorskip("av", reason="PyAV not installed")

from .fuzz import Context, get_target  # noqa: E402


def test_short_video_fuzz_run():
    ctx = Context(get_target("video"), 11, fresh_every=8)
    for group in range(12):
        ctx.run_group(group)
    ctx.flush_fresh()
    t = ctx.tally
    assert t.problem_count == 0, "\n".join(t.problems)
    assert t.mutants == 48 and t.fresh_checked >= 4  # refused mutants are not re-read
    assert t.decodes["video-frames"] > 1000
    assert {"OK", "MISSING"} <= set(t.statuses) and len(t.ops) >= 8


def test_a_seek_that_returns_another_picture_is_reported(monkeypatch):
    """Swap two frames in the seeking read only: the forward/seek comparison must catch it."""
    from .fuzz import video as target

    real = target._read

    def swapped(path, frames, spec, **opts):
        items, reader = real(path, frames, spec, **opts)
        if isinstance(frames, list):
            ok = [k for k, it in enumerate(items) if it[1] == 0]
            firsts = {}
            for k in ok:
                firsts.setdefault(items[k][0], k)
            ks = sorted(firsts.values())
            if len(ks) >= 2:
                a, b = ks[0], ks[1]
                items[a], items[b] = (items[a][0], *items[b][1:]), (items[b][0], *items[a][1:])
        return items, reader

    monkeypatch.setattr(target, "_read", swapped)
    ctx = Context(get_target("video"), 11)
    for group in range(4):
        ctx.run_group(group)
    assert any("read by seeking give different pictures" in p for p in ctx.tally.problems)
