"""Cost-model arithmetic on synthetic profiles, and plan selection."""

from __future__ import annotations

import pytest

from smolplug.plan.costmodel import (
    Plan,
    PlanError,
    Stage,
    dnn_only_throughput,
    pareto_frontier,
    pipeline_throughput,
    select_plan,
)


def linear(name: str, per_core: float, cores: int = 4) -> Stage:
    return Stage(name, {n: per_core * n for n in range(1, cores + 1)})


def test_rate_interpolates_and_never_extrapolates():
    s = Stage("decode", {1: 100.0, 4: 340.0})
    assert s.rate(1) == 100 and s.rate(4) == 340
    assert s.rate(2) == pytest.approx(180.0) and s.rate(3) == pytest.approx(260.0)
    assert s.rate(16) == 340  # capped at the largest measured count
    assert Stage("gpu", {0: 5000.0}).rate(0) == 5000


def test_cpu_stages_share_the_cores_and_the_best_split_is_found():
    # decode 100/s per core, DNN 300/s per core, 4 cores: 3+1 gives min(300, 300) = 300
    est = pipeline_throughput([linear("decode", 100), linear("dnn", 300)], cores=4)
    assert est.throughput == pytest.approx(300)
    assert est.split == {"decode": 3, "dnn": 1}


def test_a_fixed_rate_stage_caps_the_pipeline_without_taking_cores():
    stages = [linear("decode", 1000), Stage("copy", {0: 2500.0}), Stage("dnn", {0: 9000.0})]
    est = pipeline_throughput(stages, cores=4)
    assert est.throughput == pytest.approx(2500) and est.bottleneck == "copy"
    assert est.split == {"decode": 4}


def test_dnn_only_model_ignores_preprocessing():
    stages = [linear("decode", 100), linear("dnn", 300)]
    assert dnn_only_throughput(stages, 4).throughput == pytest.approx(1200)
    assert pipeline_throughput(stages, 4).throughput == pytest.approx(300)


def test_bad_profiles_are_refused():
    with pytest.raises(PlanError):
        Stage("x", {})
    with pytest.raises(PlanError):
        Stage("x", {1: -3.0})
    with pytest.raises(PlanError):
        Stage("x", {0: 10.0, 1: 20.0})
    with pytest.raises(PlanError, match="cannot each get a core"):
        pipeline_throughput([linear("a", 1), linear("b", 1), linear("c", 1)], cores=2)


def _plans() -> list[Plan]:
    # a preprocessing-bound query: the cheapest DNN does not give the fastest plan
    return [
        Plan("tiny@224-full", 0.90, (linear("decode", 100), linear("dnn", 5000))),
        Plan("small@112-dct", 0.93, (linear("decode", 400), linear("dnn", 1500))),
        Plan("small@56-rendition", 0.86, (linear("decode", 1600), linear("dnn", 6000))),
        Plan("big@224-full", 0.97, (linear("decode", 100), linear("dnn", 200))),
    ]


def test_select_plan_returns_the_fastest_plan_at_the_target():
    c = select_plan(_plans(), target=0.9, cores=4)
    assert c.plan.name == "small@112-dct"
    assert all(c.estimates[p.name].throughput <= c.estimate.throughput for p in _plans() if p.accuracy >= 0.9)


def test_dnn_only_model_picks_a_slower_plan_on_a_preprocessing_bound_query():
    pipe = select_plan(_plans(), target=0.9, cores=4)
    naive = select_plan(_plans(), target=0.9, cores=4, model="dnn-only")
    assert naive.plan.name == "tiny@224-full"
    # judged by the pipeline model, the DNN-only choice is several times slower
    assert pipe.estimates[naive.plan.name].throughput * 3 < pipe.estimate.throughput


def test_ties_on_a_shared_bottleneck_go_to_less_work_then_accuracy():
    shared = linear("decode", 100)  # both DNNs hide under the same decoding: an exact tie
    plans = [
        Plan("cheap", 0.60, (shared, linear("dnn", 900))),
        Plan("wider", 0.70, (shared, linear("dnn", 300))),
        Plan("slow", 0.75, (shared, linear("dnn", 60))),
    ]
    c = select_plan(plans, 0.55, 4)
    assert c.estimates["cheap"].throughput == c.estimates["wider"].throughput == 300  # decode on 3 cores
    assert c.estimates["cheap"].work < c.estimates["wider"].work
    assert c.plan.name == "cheap"  # the wider DNN would take more of the machine for nothing
    twin = Plan("cheap-twin", 0.65, plans[0].stages)
    assert select_plan([*plans, twin], 0.55, 4).plan.name == "cheap-twin"  # same work: accuracy
    assert select_plan(plans, 0.65, 4).plan.name == "wider"


def test_expected_reference_calls_at_their_cost_decide_between_plans():
    """A proxy that decodes slower but ranks better wins once its saved reference-model calls
    cost more than the decoding it adds (BlazeIt's limit query: 31 vs 14 calls at ~80 ms)."""
    fast = (linear("decode", 4000, 2), linear("dnn", 40000, 2))  # 795 frames: 0.13 s decoding
    slow = (linear("decode", 2500, 2), linear("dnn", 20000, 2))  # 795 frames: 0.21 s decoding
    weak = Plan("cnn8@32", 0.61, fast, items=795, reference_calls=31, reference_seconds=0.08)
    strong = Plan("cnn8@65", 0.71, slow, items=795, reference_calls=14, reference_seconds=0.08)
    c = select_plan([weak, strong], 0.55, 2)
    assert c.estimates["cnn8@32"].throughput > c.estimates["cnn8@65"].throughput
    assert c.plan.name == "cnn8@65"
    assert c.seconds["cnn8@65"] == pytest.approx(795 / c.estimates["cnn8@65"].throughput + 14 * 0.08)
    assert c.seconds["cnn8@32"] > c.seconds["cnn8@65"]
    # free reference calls: back to the fastest pipeline
    cheap_oracle = [
        Plan(p.name, p.accuracy, p.stages, items=795, reference_calls=p.reference_calls)
        for p in (weak, strong)
    ]
    assert select_plan(cheap_oracle, 0.55, 2).plan.name == "cnn8@32"


def test_plans_without_items_or_calls_rank_by_throughput_as_before():
    c = select_plan(_plans(), target=0.9, cores=4)
    assert set(c.seconds.values()) == {0.0} and c.plan.name == "small@112-dct"


@pytest.mark.parametrize(
    "bad", [{"items": -1}, {"items": 2.5}, {"reference_calls": float("nan")}, {"reference_seconds": -0.1}]
)
def test_bad_reference_costs_are_refused(bad):
    with pytest.raises(PlanError, match="plan 'p'"):
        Plan("p", 0.5, (linear("dnn", 10),), **bad)


def test_select_plan_refuses_cleanly_when_no_plan_reaches_the_target():
    with pytest.raises(PlanError, match="best is 'big@224-full' at 0.97"):
        select_plan(_plans(), target=0.99, cores=4)
    with pytest.raises(PlanError, match="no candidate"):
        select_plan([], target=0.5, cores=4)


def test_pareto_frontier_keeps_only_undominated_plans():
    c = select_plan(_plans(), target=0.5, cores=4)
    names = [p.name for p, _ in c.frontier]
    assert names == ["small@56-rendition", "small@112-dct", "big@224-full"]  # tiny@224 is dominated
    assert pareto_frontier([]) == []


def test_hooks_serve_both_models_and_defer_unknown_ones(pm):
    from smolplug.api import estimate_cost
    from smolplug.api import select_plan as select_via_hook
    from smolplug.errors import PluginError

    stages = [linear("decode", 100), linear("dnn", 300)]
    assert estimate_cost(stages, 4, pm=pm).throughput == pytest.approx(300)
    assert estimate_cost(stages, 4, "dnn-only", pm=pm).model == "dnn-only"
    assert select_via_hook(_plans(), 0.9, 4, pm=pm).plan.name == "small@112-dct"
    with pytest.raises(PluginError, match="smolplug_estimate_cost"):
        estimate_cost(stages, 4, "magic", pm=pm)
