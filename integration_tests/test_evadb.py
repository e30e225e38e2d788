"""EvaDB (a real engine from PyPI): the same SELECTs return the same frames through smolplug."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from smolplug.adapters import get
from smolplug.video import load_index
from tests.clips import make_clip

evadb = pytest.importorskip("evadb")

QUERIES = {
    "first 50": "SELECT id, seconds, data FROM v WHERE id < 50",
    "range": "SELECT id, seconds, data FROM v WHERE id > 30 AND id < 45",
    "sample 10": "SELECT id, seconds, data FROM v SAMPLE 10",
    "iframes": "SELECT id, seconds, data FROM v SAMPLE IFRAMES",
    "all": "SELECT id, seconds, data FROM v",
}


def _column(df, name):
    return df[[c for c in df.columns if c.split(".")[-1] == name][0]]


def _run(db: Path, video: Path, plugin: bool) -> dict[str, dict]:
    cur = evadb.connect(str(db)).cursor()
    adapter = get("evadb")
    if plugin:
        adapter.enable()
    try:
        cur.query("DROP TABLE IF EXISTS v").df()
        cur.query(f"LOAD VIDEO '{video}' INTO v").df()
        out = {}
        for name, sql in QUERIES.items():
            import evadb.storage.video_storage_engine as vse

            reader = vse.DecordReader
            if plugin:
                reader.frames_decoded = 0
            df = cur.query(sql).df()
            out[name] = {
                "ids": _column(df, "id").to_numpy(),
                "seconds": _column(df, "seconds").to_numpy(),
                "data": np.stack(_column(df, "data").to_list()),
                "decoded": reader.frames_decoded if plugin else None,
            }
        return out
    finally:
        adapter.disable()


@pytest.fixture(scope="module")
def h264_clip(tmp_path_factory) -> Path:
    """H.264 with B-frames (non-reference frames the plugin can skip), 3 GOPs."""
    return make_clip(tmp_path_factory.mktemp("evadb") / "clip.mp4", n=72, w=320, h=192, gop=24, bframes=2)


@pytest.mark.parametrize("which", ["vtest", "h264"])
def test_evadb_same_frames_through_smolplug(which, video, h264_clip, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # EvaDB writes its media copies into the working directory
    src = video if which == "vtest" else h264_clip
    off = _run(tmp_path / "off", src, plugin=False)
    on = _run(tmp_path / "on", src, plugin=True)
    index = load_index(src)
    for name in QUERIES:
        a, b = off[name], on[name]
        assert len(a["ids"]) > 0, name
        np.testing.assert_array_equal(a["ids"], b["ids"], err_msg=name)
        np.testing.assert_array_equal(a["seconds"], b["seconds"], err_msg=name)
        assert a["seconds"].dtype == b["seconds"].dtype
        assert a["data"].shape == b["data"].shape == (len(a["ids"]), index.height, index.width, 3)
        diff = np.abs(a["data"].astype(np.int16) - b["data"])
        assert diff.mean() < 0.5 and diff.max() <= 8, (name, diff.mean(), diff.max())
        assert b["decoded"] <= _span(index, b["ids"]), name
    # and strictly fewer where the query skips frames
    assert on["iframes"]["decoded"] == len(on["iframes"]["ids"])
    assert on["sample 10"]["decoded"] < _span(index, on["sample 10"]["ids"])


def _span(index, ids: np.ndarray) -> int:
    """Frames a forward-reading decoder (decord, for sequential and sampled access) decodes at
    least: from the keyframe before the first id through the last id."""
    key = index.keyframes[index.keyframes <= ids.min()].max()
    return int(ids.max() - key + 1)


def test_evadb_adapter_is_reversible():
    import evadb.storage.video_storage_engine as vse

    original = vse.DecordReader
    with get("evadb"):
        assert vse.DecordReader is not original and issubclass(vse.DecordReader, original)
    assert vse.DecordReader is original
