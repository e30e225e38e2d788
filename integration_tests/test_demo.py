"""`smolplug demo` (the README's main job): its default run covers vtest.avi as it is and its
1080p H.264 transcode, each table titled with its codec and why they differ, with reference-model
calls fetched and charged at their measured cost. One query keeps CI short."""

from __future__ import annotations

import re

from smolplug.cli import main


def _rows(out: str, query: str) -> dict[str, list[str]]:
    """The cells of ``query``'s off and on rows, table by table in print order."""
    rows: dict[str, list[str]] = {"off": [], "on": []}
    for line in out.splitlines():
        cells = [c.strip() for c in line.split("│")[1:-1]]
        if len(cells) > 2 and cells[0] == query and cells[1] in rows:
            rows[cells[1]].append(cells)
    return rows


def test_demo_runs_both_codecs_and_charges_reference_calls(video, labels, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "320")  # a page wide enough for the table's header on one line
    assert main(["demo", "--queries", "noscope"]) == 0
    out = capsys.readouterr().out
    text = " ".join(out.split())  # the console wraps long lines
    assert "MPEG-4 part 2 (msmpeg4), 768x576" in text and "H.264, 1440x1080" in text
    assert "no B-frames: every frame is a reference frame" in text and "B-frames (non-reference" in text
    assert text.count("why:") == 2
    per_call = float(re.search(r"HOG people detector at 768x576, (\d+\.\d) ms per call", text).group(1))
    assert 1 < per_call < 2000
    assert "of which reference: fetch + detector" in text and "speedup without reference" in text
    rows = _rows(out, "noscope")
    assert len(rows["off"]) == len(rows["on"]) == 2  # one table per input
    for off, on in zip(rows["off"], rows["on"], strict=True):
        for r in (off, on):  # the detector is charged at the printed cost per call
            fetch, detector = (float(x) for x in r[3].split("+"))
            assert detector == pass_rounding(int(r[6]) * per_call / 1e3)
            assert fetch > 0 and float(r[2]) >= fetch + detector - 0.02
        assert "✓" in off[7] and "✓" in on[7]  # accuracy target met with the plugin off and on
        assert float(on[8].rstrip("x")) == pass_rounding(float(off[2]) / float(on[2]), 0.03)


def pass_rounding(value: float, tol: float = 0.02):
    """``value`` as compared with a number printed to two decimals."""
    import pytest

    return pytest.approx(value, abs=tol)
