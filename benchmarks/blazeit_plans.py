"""Does the BlazeIt-style adapter's proxy choice hold up? Every candidate proxy's pipelined pass
over the whole video, predicted (smolplug_select_plan's estimate) vs measured.

The engine (integration_tests/engines/blazeit.py) trains its candidate proxies (CNN width x input
size) with the plugin on; the adapter measures the stages and chooses. Then each candidate is run
through the adapter's pipelined pass (decode -> proxy at that candidate's core split)
``--repeats`` times, interleaved; the median is reported. Targets (as for benchmarks/cost_model.py):
predictions within 15% of measured, the chosen plan within 5% of the fastest measured plan that
meets the correlation target.

    .venv/bin/python benchmarks/blazeit_plans.py [--native] [--repeats 7]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from integration_tests.engines import blazeit  # noqa: E402
from integration_tests.workload import (  # noqa: E402
    BLAZEIT_MIN_CORR,
    BLAZEIT_PROXIES,
    labels_for,
    prepare_video,
    set_plugin,
)
from smolplug.cli import make_console  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--native", action="store_true", help="vtest.avi itself instead of its 1080p transcode")
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args(argv)
    console = make_console()
    from rich.table import Table

    labels = labels_for()
    video = prepare_video(hd=not args.native)
    set_plugin(True)
    try:
        eng = blazeit.BlazeIt(str(video), labels, proxies=BLAZEIT_PROXIES, min_corr=BLAZEIT_MIN_CORR)
        console.print(f"{video.name}: training {len(BLAZEIT_PROXIES)} candidate proxies ...")
        eng.train()
        choice = eng._smolplug_choice
        chosen = eng.proxy
        measured: dict[str, list[float]] = {c.name: [] for c in eng.candidates}
        executor: dict[str, str] = {}
        for _ in range(args.repeats):
            for c in eng.candidates:
                eng.proxy, eng.model = c, c.model
                _, data, _ = eng.score_all()
                measured[c.name].append(data.details["measured_fps"])
                executor[c.name] = data.details["executor"]
    finally:
        set_plugin(False)
    med = {k: statistics.median(v) for k, v in measured.items()}
    ok = [c for c in eng.candidates if c.corr >= BLAZEIT_MIN_CORR]
    fastest = max(med[c.name] for c in ok)
    t = Table(title=f"{video.name}: pipelined proxy pass per candidate (median of {args.repeats})")
    for col in (
        "proxy",
        "held-out r",
        "executor",
        "predicted fps",
        "bottleneck (split)",
        "measured fps",
        "error",
        "",
    ):
        t.add_column(col)
    worst = 0.0
    for c in eng.candidates:
        e = choice.estimates[c.name]
        err = e.throughput / med[c.name] - 1
        worst = max(worst, abs(err))
        split = ", ".join(f"{k} {v}" for k, v in e.split.items())
        t.add_row(
            c.name,
            f"{c.corr:.3f}",
            executor[c.name],
            f"{e.throughput:,.0f}",
            f"{e.bottleneck} ({split})",
            f"{med[c.name]:,.0f}",
            f"{err:+.0%}",
            "[green]chosen[/green]" if c.name == chosen.name else "",
        )
    console.print(t)
    console.print(
        f"worst prediction error {worst:.0%}; chosen {chosen.name} at {med[chosen.name]:,.0f} fps = "
        f"{med[chosen.name] / fastest:.0%} of the fastest measured plan meeting r >= {BLAZEIT_MIN_CORR}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
