"""`smolplug demo` (the README's main job), on one query to keep CI short."""

from __future__ import annotations

from smolplug.cli import main


def test_demo_prints_the_off_on_table(video, labels, capsys):
    assert main(["demo", "--queries", "noscope"]) == 0
    out = capsys.readouterr().out
    assert "noscope" in out and "speedup" in out and "frames decoded" in out
    assert out.count("✓") >= 2  # accuracy target met with the plugin off and on
