"""``python -m tests.fuzz --target jpeg --iterations N --seed S --jobs J``: run N mutants through a
target in J processes, then print what was decoded, the outcomes and every problem found. Exit
status 1 when a check failed or a job crashed."""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import pickle
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from . import Context, Tally, get_target

ROOT = Path(__file__).resolve().parents[2]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__)
    p.add_argument("--target", default="jpeg", help="fuzz target (tests/fuzz/<target>.py)")
    p.add_argument(
        "--iterations", type=int, default=1000, help="mutants to generate (each decoded many ways)"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--jobs", type=int, default=1, help="worker processes")
    p.add_argument(
        "--fresh-every", type=int, default=200, help="check one mutant in K in a fresh process (0: none)"
    )
    p.add_argument("--save", type=Path, help="write the inputs of failed checks (and replayed groups) here")
    p.add_argument(
        "--replay",
        type=_group_range,
        metavar="GROUP[:END]",
        help="run only this group (or groups GROUP..END-1), saving their inputs to --save",
    )
    p.add_argument("--progress-every", type=float, default=60.0, help="seconds between progress lines")
    p.add_argument("--worker", type=int, metavar="JOB", help=argparse.SUPPRESS)
    p.add_argument("--progress-file", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--fresh-worker", metavar="TARGET", help=argparse.SUPPRESS)
    return p


def _tally_to_json(t: Tally) -> str:
    return json.dumps({f.name: getattr(t, f.name) for f in dataclasses.fields(t)})


def _tally_from_json(text: str) -> Tally:
    d = json.loads(text)
    for key in ("decodes", "other_calls", "statuses", "ops"):
        d[key] = Counter(d[key])
    return Tally(**d)


def _groups(args: argparse.Namespace, group_size: int) -> range:
    total = math.ceil(args.iterations / group_size)
    return range(args.worker, total, args.jobs)


def _write_progress(path: Path, progress: dict[str, int]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(progress))
    os.replace(tmp, path)  # the parent never reads a half-written file


def _read_progress(path: Path) -> dict[str, int] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def run_worker(args: argparse.Namespace) -> int:
    target = get_target(args.target)
    ctx = Context(target, args.seed, fresh_every=args.fresh_every, save_dir=args.save)
    for group in _groups(args, target.group_size):
        if args.progress_file:  # before the group: a crash leaves its number behind
            progress = {"group": group, "groups": ctx.tally.groups, "decodes": ctx.tally.total_decodes}
            _write_progress(args.progress_file, progress)
        ctx.run_group(group)
    ctx.flush_fresh()
    print(_tally_to_json(ctx.tally))
    return 0


def run_fresh_worker(name: str) -> int:
    target = get_target(name)
    assert target.fresh is not None
    payloads = pickle.loads(sys.stdin.buffer.read())
    sys.stdout.buffer.write(pickle.dumps(target.fresh(payloads)))
    return 0


def _group_range(text: str) -> range:
    first, _, end = text.partition(":")
    return range(int(first), int(end) if end else int(first) + 1)


def replay(args: argparse.Namespace) -> int:
    target = get_target(args.target)
    save = args.save or Path("fuzz-replay")
    ctx = Context(target, args.seed, save_dir=save, save_inputs=True)
    for group in args.replay:
        ctx.run_group(group)
    _print_summary(ctx.tally, 0.0)
    print(f"inputs of groups {args.replay.start}..{args.replay.stop - 1} saved in {save}/")
    return 1 if ctx.tally.problem_count else 0


def _print_summary(t: Tally, seconds: float) -> None:
    rate = f", {t.total_decodes / seconds:,.0f} decodes/s" if seconds else ""
    print(
        f"target {t.target}: {t.mutants:,} mutants in {t.groups:,} groups, {t.total_decodes:,} decodes{rate}"
    )
    print("  decodes per entry point: " + ", ".join(f"{k} {v:,}" for k, v in sorted(t.decodes.items())))
    print("  other calls: " + ", ".join(f"{k} {v:,}" for k, v in sorted(t.other_calls.items())))
    print("  outcomes (single decodes): " + ", ".join(f"{k} {v:,}" for k, v in t.statuses.most_common()))
    print("  mutation operators: " + ", ".join(f"{k} {v:,}" for k, v in t.ops.most_common()))
    print(f"  fresh-process checks: {t.fresh_checked:,}")
    print(f"  problems: {t.problem_count}")
    for line in t.problems:
        print(f"    {line}")


def _wait(procs: list, start: float, every: float) -> None:
    last_report = time.monotonic()
    while any(p.poll() is None for _, p, _, _ in procs):
        time.sleep(0.5)
        if time.monotonic() - last_report >= every:
            last_report = time.monotonic()
            done = [d for d in (_read_progress(f) for *_, f in procs) if d]
            decodes, groups = sum(d["decodes"] for d in done), sum(d["groups"] for d in done)
            print(f"[{time.monotonic() - start:7.0f} s] {groups:,} groups, {decodes:,} decodes", flush=True)


def run_parent(args: argparse.Namespace) -> int:
    get_target(args.target)  # fail early on an unknown target
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="smolplug-fuzz-") as tmp:
        procs = []
        for job in range(args.jobs):
            progress = Path(tmp) / f"job{job}.json"
            cmd = [sys.executable, "-m", "tests.fuzz", "--worker", str(job), "--progress-file", str(progress)]
            cmd += ["--target", args.target, "--iterations", str(args.iterations), "--seed", str(args.seed)]
            cmd += ["--jobs", str(args.jobs), "--fresh-every", str(args.fresh_every)]
            if args.save:
                cmd += ["--save", str(args.save)]
            out = open(Path(tmp) / f"job{job}.out", "w+")  # noqa: SIM115 - closed below
            procs.append((job, subprocess.Popen(cmd, stdout=out, cwd=ROOT), out, progress))
        try:
            _wait(procs, start, args.progress_every)
        finally:
            for _, proc, _, _ in procs:
                if proc.poll() is None:  # the parent is failing: do not leave workers behind
                    proc.terminate()
                    proc.wait()
        total, crashed = Tally(args.target), []  # crashed: (job, exit status, group)
        for job, proc, out, progress in procs:
            out.seek(0)
            lines = out.read().strip().splitlines()
            out.close()
            if proc.returncode != 0 or not lines:
                group = (_read_progress(progress) or {}).get("group", "GROUP")
                crashed.append((job, proc.returncode, group))
                continue
            total.merge(_tally_from_json(lines[-1]))
    seconds = time.monotonic() - start
    _print_summary(total, seconds)
    print(f"  wall time: {seconds:,.0f} s with {args.jobs} job(s), seed {args.seed}")
    native = getattr(sys.modules.get("smolplug._native"), "__file__", None)
    print(f"  native extension: {native}")
    for job, rc, group in crashed:
        print(f"  CRASH: job {job} exited with {rc} in group {group} (its stderr is above); its inputs:")
        print(
            f"    python -m tests.fuzz --target {args.target} --seed {args.seed} --replay {group} --save DIR"
        )
    return 1 if crashed or total.problem_count else 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.fresh_worker:
        return run_fresh_worker(args.fresh_worker)
    if args.replay is not None:
        return replay(args)
    if args.worker is not None:
        return run_worker(args)
    if args.jobs < 1 or args.iterations < 1:
        raise SystemExit("--jobs and --iterations must be >= 1")
    os.environ.setdefault("SMOLPLUG_DISABLE_PLUGIN_AUTOLOAD", "1")
    return run_parent(args)


if __name__ == "__main__":
    sys.exit(main())
