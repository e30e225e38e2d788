"""Start-up cost of ``SMOLPLUG=1``: what the ``smolplug-autoload.pth`` hook adds to every Python
process in the environment, including the ones that never import a host engine.

Each case runs as a fresh interpreter, ``--runs`` times with ``SMOLPLUG`` unset and as many with
``SMOLPLUG=1``, interleaved in random order so that load on the machine hits both alike. Per
child: wall time (spawn to exit), CPU time (user + system, from ``os.wait4``: steadier than
wall time on a busy machine) and peak RSS. Printed: medians, and the differences against the
targets (<= 15 ms, <= 2 MB for a process that never imports a host).

Peak RSS comes from GNU time (``/usr/bin/time -f %M``) when it is installed: the kernel counts
the spawning process's size at ``exec`` into the child's peak, so a child spawned straight from
this (Python-sized) process would report at least this process's RSS. Without GNU time the
child's own rusage is used and the RSS columns carry that floor (the script says so).

Children run with bytecode caching on (``PYTHONDONTWRITEBYTECODE`` removed from their
environment; the uncounted first round writes the caches), as an installed package runs: pip
compiles a wheel's modules when it installs them. ``--as-is`` keeps the environment unchanged.

One reference row, with ``SMOLPLUG`` unset: the same interpreter reading the adapters' entry
points through ``importlib.metadata`` — what a start-up hook that did so would add.

    .venv/bin/python benchmarks/startup.py [--runs 40] [--python .venv/bin/python] [--as-is]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

GNU_TIME = "/usr/bin/time"
TARGET_MS = 15.0
TARGET_MB = 2.0
ENTRY_POINT_SCAN = "import importlib.metadata as m; m.entry_points(group='smolplug.adapters')"
CASES = {
    "python -c pass": "pass",
    "python -c 'import json'": "import json",
}


@dataclass
class Samples:
    seconds: list[float] = field(default_factory=list)
    cpu_seconds: list[float] = field(default_factory=list)
    max_rss_kb: list[int] = field(default_factory=list)

    @property
    def ms(self) -> float:
        return statistics.median(self.seconds) * 1e3

    @property
    def cpu_ms(self) -> float:
        return statistics.median(self.cpu_seconds) * 1e3

    @property
    def mb(self) -> float:
        return statistics.median(self.max_rss_kb) / 1024


def run_child(python: str, code: str, env: dict[str, str], samples: Samples, rss_file: Path | None) -> None:
    """One interpreter, stdout/stderr discarded. Peak RSS: GNU time's (written to ``rss_file``),
    else this child's rusage through wait4."""
    argv = [python, "-c", code]
    if rss_file is not None:
        argv = [GNU_TIME, "-f", "%M", "-o", str(rss_file), *argv]
    actions = [(os.POSIX_SPAWN_OPEN, fd, os.devnull, os.O_WRONLY, 0) for fd in (1, 2)]
    t0 = time.perf_counter()
    pid = os.posix_spawn(argv[0], argv, env, file_actions=actions)
    _, status, usage = os.wait4(pid, 0)
    elapsed = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{python} -c {code!r} failed (SMOLPLUG={env.get('SMOLPLUG', '')!r})")
    samples.seconds.append(elapsed)
    samples.cpu_seconds.append(usage.ru_utime + usage.ru_stime)  # the child and what it waited for
    # KiB on Linux, both
    samples.max_rss_kb.append(int(rss_file.read_text().split()[-1]) if rss_file else usage.ru_maxrss)


def autoload_pth(python: str) -> Path | None:
    """The environment's smolplug-autoload.pth, without importing smolplug here."""
    import subprocess

    code = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    purelib = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    path = Path(purelib) / "smolplug-autoload.pth"
    return path if path.exists() else None


def _own_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=40, help="children per case and setting (default 40)")
    ap.add_argument("--python", default=sys.executable, help="interpreter of the environment to measure")
    ap.add_argument(
        "--as-is", action="store_true", help="keep PYTHONDONTWRITEBYTECODE: every child compiles from source"
    )
    args = ap.parse_args(argv)

    pth = autoload_pth(args.python)
    if pth is None:
        raise SystemExit("smolplug-autoload.pth is not installed: run `smolplug adapters --install-autoload`")
    print(f"interpreter: {args.python}\nstart-up hook: {pth}\n  {pth.read_text().strip()}\n")

    rss_file = None
    if os.access(GNU_TIME, os.X_OK):
        rss_file = Path(tempfile.mkdtemp(prefix="smolplug-startup-")) / "maxrss"
    else:
        print(f"{GNU_TIME} not found: peak RSS under this process's ({_own_rss_mb():.1f} MB) is not seen\n")

    dropped = {"SMOLPLUG"} | (set() if args.as_is else {"PYTHONDONTWRITEBYTECODE"})
    off = {k: v for k, v in os.environ.items() if k not in dropped}
    if not args.as_is and "PYTHONDONTWRITEBYTECODE" in os.environ:
        print("PYTHONDONTWRITEBYTECODE removed: the children use bytecode caches (--as-is keeps it)\n")
    on = {**off, "SMOLPLUG": "1"}
    jobs = [(case, setting) for case in CASES for setting in ("off", "on")]
    jobs.append(("entry-point scan", "off"))
    codes = {**CASES, "entry-point scan": ENTRY_POINT_SCAN}
    samples = {job: Samples() for job in jobs}
    rng = random.Random(0)
    for round_ in range(args.runs + 1):
        rng.shuffle(jobs)
        for case, setting in jobs:
            # round 0 warms the page cache and is not counted
            target = samples[(case, setting)] if round_ else Samples()
            run_child(args.python, codes[case], on if setting == "on" else off, target, rss_file)

    print(f"{args.runs} runs each, medians: wall time from spawn to exit, CPU time, peak RSS of the child\n")
    head = (
        f"{'case':<24}{'':>6}{'unset':>10}{'SMOLPLUG=1':>12}{'extra':>10}"
        f"   {'CPU unset':>10}{'=1':>8}{'extra':>9}   {'RSS unset':>10}{'=1':>8}{'extra':>9}"
    )
    print(head)
    print("-" * len(head))
    worst_ms = worst_cpu = worst_mb = 0.0
    for case in CASES:
        a, b = samples[(case, "off")], samples[(case, "on")]
        d_ms, d_cpu, d_mb = b.ms - a.ms, b.cpu_ms - a.cpu_ms, b.mb - a.mb
        worst_ms, worst_cpu, worst_mb = max(worst_ms, d_ms), max(worst_cpu, d_cpu), max(worst_mb, d_mb)
        print(
            f"{case:<30}{a.ms:>8.1f}ms{b.ms:>10.1f}ms{d_ms:>+8.1f}ms"
            f"   {a.cpu_ms:>8.1f}ms{b.cpu_ms:>6.1f}ms{d_cpu:>+7.1f}ms"
            f"   {a.mb:>8.1f}MB{b.mb:>6.1f}MB{d_mb:>+7.2f}MB"
        )
    base, scan = samples[("python -c pass", "off")], samples[("entry-point scan", "off")]
    print(
        f"\nreference, SMOLPLUG unset: importlib.metadata entry_points(group=...) adds "
        f"{scan.ms - base.ms:+.1f} ms wall, {scan.cpu_ms - base.cpu_ms:+.1f} ms CPU, "
        f"{scan.mb - base.mb:+.2f} MB to `python -c pass`"
    )
    ok = worst_ms <= TARGET_MS and worst_mb <= TARGET_MB
    print(
        f"SMOLPLUG=1 extra, worst case: {worst_ms:+.1f} ms wall, {worst_cpu:+.1f} ms CPU, {worst_mb:+.2f} MB "
        f"(target <= {TARGET_MS:g} ms, <= {TARGET_MB:g} MB): {'met' if ok else 'NOT met'}"
    )
    if rss_file is not None:
        rss_file.unlink(missing_ok=True)
        rss_file.parent.rmdir()
    return 0


if __name__ == "__main__":
    sys.exit(main())
