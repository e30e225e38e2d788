"""The short version of the fuzzer (tests/fuzz, docs/fuzzing.md): a few seconds of seeded,
format-aware JPEG mutants through decode_jpeg, probe_jpeg, batches at 1/2/4 threads and a fresh
process, with the same checks as the long sanitizer runs; plus the mutator's own contract."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import pytest

from smolplug import Status

from .fuzz import Context, get_target, group_rng
from .fuzz.jpeg_format import DHT, SOS, Frame, Scan, parse, write
from .fuzz.jpeg_mutate import OPS, mutate
from .fuzz.jpeg_seeds import seeds

pytest.importorskip("smolplug._binding", reason="native extension not built")

SEEDS = seeds()


def test_seeds_decode_and_round_trip():
    import smolplug

    for name, data in SEEDS.items():
        jpeg = parse(data)
        assert jpeg is not None and write(jpeg) == data, name
        smolplug.decode_jpeg(data, smolplug.FrameSpec(8, 8))
    layouts = {name: parse(d) for name, d in SEEDS.items()}
    # what the committed seeds are for: several scans without progression, arithmetic coding
    assert len(layouts["seeds/noninterleaved"].find(SOS)) == 3
    assert layouts["seeds/noninterleaved"].sof().marker in (0xC0, 0xC1)
    assert layouts["seeds/arithmetic_progressive"].sof().marker == 0xCA
    assert not layouts["mjpeg-420"].find(DHT)


def test_mutations_are_seeded():
    donors = [parse(d) for d in SEEDS.values()]
    a = [mutate(random.Random(7), d, donors) for d in SEEDS.values()]
    b = [mutate(random.Random(7), d, donors) for d in SEEDS.values()]
    assert a == b
    assert mutate(random.Random(8), SEEDS["baseline-420"], donors) != a[0]


@pytest.mark.parametrize("name", sorted(OPS))
def test_every_operator_applies_and_changes_the_file(name):
    rng = random.Random(name)
    donors = [parse(d) for d in SEEDS.values()]
    changed = 0
    for data in SEEDS.values():
        jpeg = parse(data)
        if OPS[name](rng, jpeg, donors) and write(jpeg) != data:
            changed += 1
    assert changed >= len(SEEDS) // 3, f"{name} changed {changed} of {len(SEEDS)} seeds"


def test_field_operators_edit_the_fields():
    rng = random.Random(1)
    frames, scans = set(), set()
    for _ in range(60):
        jpeg = parse(SEEDS["progressive-420"])
        OPS["sof_dimensions"](rng, jpeg, [])
        frame = Frame.parse(jpeg.sof().payload)
        frames.add((frame.width, frame.height))
        jpeg = parse(SEEDS["progressive-420"])
        OPS["sos_fields"](rng, jpeg, [])
        for i in jpeg.find(SOS):
            scan = Scan.parse(jpeg.segments[i].payload)  # None: the count byte lies
            if scan is not None:
                scans.add((scan.ss, scan.se, scan.ah, scan.al))
    assert len(frames) > 20
    assert {0, 1, 65535} & {v for f in frames for v in f}  # edge values come up
    assert len(scans) > 15  # spectral selection and successive approximation get exercised


@pytest.mark.parametrize("seed", [0, 1])
def test_short_fuzz_run(seed):
    """480 mutants, each through 4 decode paths; one in 16 also in a fresh process."""
    ctx = Context(get_target("jpeg"), seed, fresh_every=16)
    for group in range(40):
        ctx.run_group(group)
    ctx.flush_fresh()
    t = ctx.tally
    assert t.problem_count == 0, "\n".join(t.problems)
    assert t.mutants == 480 and t.fresh_checked == 30
    assert t.decodes["single"] == 480 and t.decodes["batch-4"] == 480 + 40 * 3
    # the mutants reach past the header checks: decoded, damaged and rejected ones all occur
    outcomes = set(t.statuses)
    assert {Status.OK.name, Status.WARNING.name, Status.CORRUPT.name, Status.UNSUPPORTED.name} <= outcomes
    assert len(t.ops) >= 20


def test_checks_catch_a_batch_that_differs(monkeypatch):
    """The differential check fires: a batch decoder that perturbs one item is reported."""
    import smolplug

    real = smolplug.decode_jpeg_batch

    def perturbed(items, spec, **kw):
        b = real(items, spec, **kw)
        if kw.get("threads") == 2:
            b.data[0].flat[0] += 1
        return b

    from .fuzz import jpeg as target

    monkeypatch.setattr(target.smolplug, "decode_jpeg_batch", perturbed)
    ctx = Context(get_target("jpeg"), 0)
    ctx.run_group(0)
    assert ctx.tally.problem_count == 1 and "batch at 2 threads differs" in ctx.tally.problems[0]


def test_groups_replay_alone():
    assert group_rng("jpeg", 3, 17).random() == group_rng("jpeg", 3, 17).random()
    assert group_rng("jpeg", 3, 17).random() != group_rng("jpeg", 3, 18).random()


def test_command_line(tmp_path):
    cmd = [sys.executable, "-m", "tests.fuzz", "--target", "jpeg", "--iterations", "48", "--seed", "5"]
    cmd += ["--jobs", "2", "--fresh-every", "8"]
    root = Path(__file__).resolve().parent.parent
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "48 mutants in 4 groups" in proc.stdout and "fresh-process checks: 6" in proc.stdout
    assert "problems: 0" in proc.stdout
    replay = [sys.executable, "-m", "tests.fuzz", "--seed", "5", "--replay", "1:3", "--save", str(tmp_path)]
    proc = subprocess.run(replay, capture_output=True, text=True, timeout=300, cwd=root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert len(list(tmp_path.glob("jpeg-seed5-group[12]-input*.bin"))) == 24
    bad = subprocess.run(
        [sys.executable, "-m", "tests.fuzz", "--target", "nope"], capture_output=True, text=True, cwd=root
    )
    assert bad.returncode != 0 and "unknown fuzz target 'nope'" in bad.stderr
