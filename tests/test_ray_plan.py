"""Costing a plan on a Ray cluster (smolplug.plan.cluster, ``smolplug plan --ray-nodes``): read
tasks vs inference actors, and where the bottleneck moves. No Ray needed."""

from __future__ import annotations

import pytest

from smolplug.cli import main
from smolplug.plan.cluster import ray_pipeline, scale_out
from smolplug.plan.costmodel import PlanError, Stage

from .test_planning import labelled  # noqa: F401 - the fixture

DECODE = Stage("decode", {1: 100.0, 2: 150.0})  # a task is one core: 100 frames/s
DNN = Stage("dnn", {1: 250.0, 2: 450.0, 4: 800.0})


def test_cores_are_split_between_decode_tasks_and_actors():
    e = ray_pipeline(DECODE, DNN, nodes=1, cores_per_node=4)
    # 3 tasks (300/s) + one 1-thread actor (250/s) beats 2 + 2 (200/s) and 2 + one 2-thread actor
    assert (e.decode_tasks, e.actors, e.actor_threads) == (3, 1, 1)
    assert e.throughput == 250 and e.bottleneck == "dnn" and e.cores == 4
    e = ray_pipeline(DECODE, DNN, nodes=10, cores_per_node=16)  # 160 cores
    assert e.decode_tasks + e.actors * e.actor_threads <= 160
    assert e.throughput == pytest.approx(min(e.decode_tasks * 100, e.actors * DNN.rate(e.actor_threads)))
    assert e.throughput > 0.95 * 160 / (1 / 100 + 1 / 200)  # near the best fractional split
    assert e.estimate().model == "ray" and e.estimate().split["decode"] == e.decode_tasks


def test_actors_fit_on_a_node_and_accelerators_take_no_cores():
    e = ray_pipeline(DECODE, Stage("dnn", {4: 5000.0}), nodes=3, cores_per_node=4)
    assert e.actor_threads == 4 and e.actors <= 2  # whole actors per node, a core left to decode
    gpu = ray_pipeline(DECODE, Stage("dnn", {0: 3000.0}), nodes=2, cores_per_node=8)
    assert (gpu.decode_tasks, gpu.actor_threads) == (16, 0) and gpu.throughput == 1600
    with pytest.raises(PlanError):
        ray_pipeline(DECODE, Stage("dnn", {8: 1.0}), nodes=2, cores_per_node=4)


def test_the_bottleneck_moves_to_storage_and_the_object_store():
    base = ray_pipeline(DECODE, DNN, 100, 16)
    storage = ray_pipeline(DECODE, DNN, 100, 16, read_bytes_per_frame=250e3, storage_bytes_s=200e6)
    assert storage.bottleneck == "storage" and storage.throughput == pytest.approx(100 * 800)
    store = ray_pipeline(DECODE, DNN, 100, 16, frame_bytes=602112, object_store_bytes_s=0.5e9)
    assert store.bottleneck == "object store" and store.throughput < base.throughput
    slow = ray_pipeline(DECODE, DNN, 1, 4, task_overhead_s=0.5, frames_per_task=50)  # 20 ms a frame
    assert slow.stage_rates["decode"] == pytest.approx(slow.decode_tasks * 50)
    hours = scale_out(DECODE, DNN, [10, 100], 16, frames=3.6e6)
    assert hours[0][2] > 9 * hours[1][2]


def test_plan_command_costs_each_plan_on_ray(labelled, tmp_path, monkeypatch, capsys):  # noqa: F811
    monkeypatch.setenv("SMOLPLUG_CACHE_DIR", str(tmp_path / "cache"))
    args = ["plan", str(labelled), "--model", "tests.test_planning:brightness_model", "--sizes", "16"]
    args += ["--seconds", "0.02", "--target", "0.5", "--cores", "2", "--ray-nodes", "10"]
    assert main([*args, "--ray-cores-per-node", "16", "--ray-storage-mb-s", "0.001"]) == 0
    out = capsys.readouterr().out
    assert "on Ray: 10 node(s) x 16 cores" in out and "brightness_model@16-reduced" in out
    assert "storage" in out  # 1 kB/s per node: the storage is the bottleneck
