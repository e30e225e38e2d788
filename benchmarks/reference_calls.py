"""Reference-model calls, plugin off vs on, over training seeds.

For each seed and mode the reference engines are trained from scratch (plugin off: on OpenCV-
loaded frames, the engines' own proxy/cascade choice; on: on smolplug-loaded frames, the adapters'
choice with reference calls priced in the plan) and the three queries run once with the reference
model charged (frames fetched, HOG's measured cost charged, answers from the cached labels). Per
query and mode: reference calls mean ± sd, and what drives them — the BlazeIt-style proxy's held-out
correlation, the NoScope-style cascade's pass rate (share of the query's frames sent to the
reference model) — then whether plugin-on calls are within one standard deviation of plugin off
(or fewer), and every accuracy check.

    .venv/bin/python benchmarks/reference_calls.py [--seeds 5] [--hd] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from integration_tests.engines import noscope  # noqa: E402
from integration_tests.workload import (  # noqa: E402
    DEFAULT_VIDEO,
    labels_for,
    prepare_video,
    reference_seconds,
    run_blazeit,
    run_noscope,
    set_plugin,
)
from smolplug.cli import make_console  # noqa: E402
from smolplug.video import load_index  # noqa: E402


def one_seed(video: Path, labels, seed: int, plugin: bool, hog: float) -> dict[str, dict]:
    """The three queries trained with ``seed`` in one mode: calls, the driver, accuracy."""
    engine = {"reference": "charge", "reference_seconds": hog}
    q = noscope.NoScopeQuery(str(video), seed=seed)
    ns = run_noscope(video, labels, plugin, query=q, engine=engine, reference_seconds=hog)
    sampled = len(range(0, load_index(video).n_frames, q.k))
    out = {
        "noscope": {
            "calls": ns.oracle_calls,
            "driver": ns.oracle_calls / max(sampled, 1),
            "ok": ns.meets_target,
            "accuracy": ns.accuracy,
            "note": f"margin {ns.details.get('roi_margin')}",
        }
    }
    for which in ("aggregate", "limit"):
        (r,) = run_blazeit(
            video, labels, plugin, (which,), engine={**engine, "seed": seed}, reference_seconds=hog
        )
        out[which] = {
            "calls": r.oracle_calls,
            "driver": r.details["corr"],
            "ok": r.meets_target,
            "accuracy": r.accuracy,
            "note": f"{r.details['proxy']}{' rewrite' if r.details.get('method') == 'rewrite' else ''}",
        }
    set_plugin(False)
    return out


def mean_sd(xs: list[float]) -> tuple[float, float]:
    return statistics.fmean(xs), (statistics.stdev(xs) if len(xs) > 1 else 0.0)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--video", type=Path, default=DEFAULT_VIDEO)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--hd", action="store_true", help="the 1440x1080 H.264 transcode instead")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    console = make_console()
    from rich.table import Table

    labels = labels_for(args.video)
    video = prepare_video(args.video, hd=args.hd)
    hog = reference_seconds(args.video)
    console.print(f"{video.name}: HOG {hog * 1e3:.1f} ms per call; {args.seeds} seeds per mode")
    runs: dict[bool, list[dict]] = {False: [], True: []}
    for seed in range(args.seeds):
        for plugin in (False, True):
            r = one_seed(video, labels, seed, plugin, hog)
            runs[plugin].append(r)
            console.print(
                f"  seed {seed} plugin {'on' if plugin else 'off'}: "
                + "; ".join(f"{k} {v['calls']} calls ({v['note']}, ok {v['ok']})" for k, v in r.items())
            )
    t = Table(title=f"reference calls over {args.seeds} training seeds ({video.name})")
    for col in (
        "query",
        "calls off",
        "calls on",
        "within 1 sd or fewer",
        "driver off",
        "driver on",
        "accuracy met off/on",
        "per seed off | on",
    ):
        t.add_column(col)
    summary = []
    for q, driver in (("noscope", "pass rate"), ("aggregate", "proxy r"), ("limit", "proxy r")):
        off = [r[q]["calls"] for r in runs[False]]
        on = [r[q]["calls"] for r in runs[True]]
        (mo, so), (mn, sn) = mean_sd(off), mean_sd(on)
        do, dn = mean_sd([r[q]["driver"] for r in runs[False]]), mean_sd([r[q]["driver"] for r in runs[True]])
        within = mn <= mo + so
        oks = (sum(r[q]["ok"] for r in runs[False]), sum(r[q]["ok"] for r in runs[True]))
        fmt = "{:.2f} ± {:.2f}" if q != "noscope" else "{:.1%} ± {:.1%}"
        t.add_row(
            q,
            f"{mo:.1f} ± {so:.1f}",
            f"{mn:.1f} ± {sn:.1f}",
            "yes" if within else "NO",
            f"{driver} " + fmt.format(*do),
            f"{driver} " + fmt.format(*dn),
            f"{oks[0]}/{args.seeds} | {oks[1]}/{args.seeds}",
            f"{off} | {on}",
        )
        summary.append(
            {
                "query": q,
                "off": off,
                "on": on,
                "within_one_sd": within,
                "driver_off": do,
                "driver_on": dn,
                "ok_off": oks[0],
                "ok_on": oks[1],
            }
        )
    console.print(t)
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "video": str(video),
                    "hog": hog,
                    "summary": summary,
                    "runs": {str(k): v for k, v in runs.items()},
                },
                indent=1,
                default=str,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
