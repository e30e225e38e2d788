"""Seeded, format-aware mutation fuzzing of smolplug's decoders, with differential checks.

Run it with ``python -m tests.fuzz --target jpeg --iterations N --seed S --jobs J`` (see
docs/fuzzing.md; ``tests/fuzz/build_asan.sh`` runs it under AddressSanitizer + UBSan).
``tests/test_fuzz.py`` runs a few seconds of it in CI.

Writing a target
----------------
A target is a module ``tests/fuzz/<name>.py`` that calls :func:`register` when imported::

    from . import Context, register

    def run_group(rng: random.Random, ctx: Context) -> None: ...
    def fresh(payloads: list) -> list: ...

    register("video", run_group, fresh=fresh, group_size=8)

``run_group`` makes ``group_size`` mutants from ``rng`` (seeded from (target, seed, group), so a
group replays alone), decodes each through every entry point it covers and checks the results.
It reports through ``ctx``:

- ``ctx.input(data)`` for every mutant, before decoding it (saved when replaying a group);
- ``ctx.count(path, n)``: decodes done through an entry point (``"single"``, ``"batch-4"``...);
  ``decode=False`` for calls that are not decodes (header probes), tallied apart;
- ``ctx.status(name)``, ``ctx.op(name)``: histograms of outcomes and mutation operators;
- ``ctx.problem(text, data)``: a failed check (the input is saved with ``--save``);
- ``ctx.sample_fresh(payload, expected)`` for each mutant: the runner keeps one in
  ``--fresh-every``, calls ``fresh(payloads)`` in a brand-new interpreter, and reports every
  result that is not ``expected``. Payloads and results must pickle.

A crash (or a sanitizer report, which aborts) ends the job; the runner names the group it was in,
and ``--replay GROUP --save DIR`` writes that group's mutants to files.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import pickle
import random
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: set by build_asan.sh: load smolplug's extension from this file (a sanitizer build) instead
NATIVE_OVERRIDE_ENV = "SMOLPLUG_FUZZ_NATIVE"
MAX_PROBLEMS_KEPT = 50


def _load_native_override() -> None:
    path = os.environ.get(NATIVE_OVERRIDE_ENV)
    if not path:
        return
    if "smolplug._native" in sys.modules:
        loaded = getattr(sys.modules["smolplug._native"], "__file__", None)
        if loaded != path:
            raise RuntimeError(
                f"{NATIVE_OVERRIDE_ENV} is set but smolplug._native was already loaded from {loaded}"
            )
        return
    spec = importlib.util.spec_from_file_location("smolplug._native", path)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"{NATIVE_OVERRIDE_ENV}={path} is not a loadable extension")
    module = importlib.util.module_from_spec(spec)
    sys.modules["smolplug._native"] = module
    spec.loader.exec_module(module)


_load_native_override()

GroupFn = Callable[[random.Random, "Context"], None]
FreshFn = Callable[[list[Any]], list[Any]]


@dataclass(frozen=True)
class Target:
    name: str
    run_group: GroupFn
    fresh: FreshFn | None = None
    group_size: int = 12


TARGETS: dict[str, Target] = {}


def register(name: str, run_group: GroupFn, *, fresh: FreshFn | None = None, group_size: int = 12) -> Target:
    target = TARGETS[name] = Target(name, run_group, fresh, group_size)
    return target


def get_target(name: str) -> Target:
    """The target ``name``, importing ``tests.fuzz.<name>`` on first use."""
    if name not in TARGETS:
        try:
            importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
        if name not in TARGETS:
            raise SystemExit(f"unknown fuzz target {name!r}: no tests/fuzz/{name}.py registering it")
    return TARGETS[name]


@dataclass
class Tally:
    """What one job (or, merged, a whole run) did."""

    target: str
    groups: int = 0
    mutants: int = 0
    decodes: Counter[str] = field(default_factory=Counter)
    other_calls: Counter[str] = field(default_factory=Counter)  #: entry points that do not decode
    statuses: Counter[str] = field(default_factory=Counter)
    ops: Counter[str] = field(default_factory=Counter)
    fresh_checked: int = 0
    problem_count: int = 0
    problems: list[str] = field(default_factory=list)

    def merge(self, other: Tally) -> None:
        self.groups += other.groups
        self.mutants += other.mutants
        self.decodes.update(other.decodes)
        self.other_calls.update(other.other_calls)
        self.statuses.update(other.statuses)
        self.ops.update(other.ops)
        self.fresh_checked += other.fresh_checked
        self.problem_count += other.problem_count
        self.problems.extend(other.problems[: MAX_PROBLEMS_KEPT - len(self.problems)])

    @property
    def total_decodes(self) -> int:
        return sum(self.decodes.values())


def group_rng(target: str, seed: int, group: int) -> random.Random:
    """The random stream of one group: independent of the job split, so any group replays alone."""
    return random.Random(f"{target}:{seed}:{group}")


class Context:
    """What a target's ``run_group`` reports to (see the module docstring)."""

    def __init__(
        self,
        target: Target,
        seed: int,
        *,
        fresh_every: int = 0,
        fresh_batch: int = 64,
        save_dir: Path | None = None,
        save_inputs: bool = False,
    ):
        self.target, self.seed = target, seed
        self.tally = Tally(target.name)
        self.group = -1
        self.fresh_every, self.fresh_batch = fresh_every, fresh_batch
        self.save_dir, self.save_inputs = save_dir, save_inputs
        self._fresh_seen = 0
        self._fresh: list[tuple[Any, Any, str]] = []
        self._inputs = 0

    # --- called by targets -----------------------------------------------------------------

    def input(self, data: bytes) -> None:
        self.tally.mutants += 1
        if self.save_inputs and self.save_dir is not None:
            self._save(data, f"input{self._inputs}")
        self._inputs += 1

    def count(self, path: str, n: int = 1, *, decode: bool = True) -> None:
        (self.tally.decodes if decode else self.tally.other_calls)[path] += n

    def status(self, name: str) -> None:
        self.tally.statuses[name] += 1

    def op(self, name: str) -> None:
        self.tally.ops[name] += 1

    def problem(self, text: str, data: bytes | None = None) -> None:
        self.tally.problem_count += 1
        where = f"{self.target.name} seed {self.seed} group {self.group}"
        if data is not None and self.save_dir is not None:
            where += f" (input: {self._save(data, f'problem{self.tally.problem_count}')})"
        if len(self.tally.problems) < MAX_PROBLEMS_KEPT:
            self.tally.problems.append(f"{where}: {text}")

    def sample_fresh(self, payload: Any, expected: Any) -> None:
        if not self.fresh_every or self.target.fresh is None:
            return
        self._fresh_seen += 1
        if self._fresh_seen % self.fresh_every == 0:
            self._fresh.append((payload, expected, f"group {self.group}"))
            if len(self._fresh) >= self.fresh_batch:
                self.flush_fresh()

    # --- called by the runner --------------------------------------------------------------

    def run_group(self, group: int) -> None:
        self.group = group
        self._inputs = 0
        self.target.run_group(group_rng(self.target.name, self.seed, group), self)
        self.tally.groups += 1

    def flush_fresh(self) -> None:
        """Decode the sampled payloads in a new interpreter and compare."""
        if not self._fresh:
            return
        pending, self._fresh = self._fresh, []
        results = run_fresh(self.target.name, [p for p, _, _ in pending])
        self.tally.fresh_checked += len(pending)
        self.count("fresh-process", len(pending))
        for (payload, expected, where), got in zip(pending, results, strict=True):
            if got != expected:
                data = payload[0] if isinstance(payload, tuple) and isinstance(payload[0], bytes) else None
                self.problem(f"fresh process differs ({where}): expected {expected!r}, got {got!r}", data)

    def _save(self, data: bytes, what: str) -> str:
        assert self.save_dir is not None
        self.save_dir.mkdir(parents=True, exist_ok=True)
        path = self.save_dir / f"{self.target.name}-seed{self.seed}-group{self.group}-{what}.bin"
        path.write_bytes(data)
        return str(path)


#: heap fill of the fresh-process worker: a decode that reads uninitialised memory then differs
FRESH_MALLOC_FILL = 0xA5


def run_fresh(target: str, payloads: list[Any]) -> list[Any]:
    """``target.fresh(payloads)`` in a new interpreter (same environment: a sanitizer build stays
    loaded), whose fresh heap blocks are filled with ``FRESH_MALLOC_FILL`` (glibc's
    MALLOC_PERTURB_, or ASan's malloc_fill_byte), unlike the worker's."""
    env = dict(os.environ, MALLOC_PERTURB_=str(FRESH_MALLOC_FILL))
    if "libasan" in env.get("LD_PRELOAD", ""):
        fill = f"malloc_fill_byte={FRESH_MALLOC_FILL}:max_malloc_fill_size={1 << 28}"
        env["ASAN_OPTIONS"] = f"{env['ASAN_OPTIONS']}:{fill}" if env.get("ASAN_OPTIONS") else fill
    proc = subprocess.run(
        [sys.executable, "-m", __name__, "--fresh-worker", target],
        input=pickle.dumps(payloads),
        capture_output=True,
        cwd=Path(__file__).resolve().parents[2],
        env=env,
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"fresh-process worker failed (rc {proc.returncode}):\n{proc.stderr.decode()[-4000:]}"
        )
    return pickle.loads(proc.stdout)
