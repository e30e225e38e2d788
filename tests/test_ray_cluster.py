"""smolplug.ray on a real two-node Ray cluster on this machine (``ray.cluster_utils.Cluster``, one
CPU per node, started once for the module): read tasks spread over both nodes and the rows are
those of the single-process reader."""

from __future__ import annotations

import numpy as np
import pytest

from smolplug import FrameSpec
from smolplug.request.selection import FrameSelection

from .test_ray import SPEC, assert_same, by_file, single_process

ray = pytest.importorskip("ray.data", reason="Ray Data not installed (pip install 'smolplug[ray]')")
ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def two_nodes(corpus):
    from smolplug.ray import local

    if ray.is_initialized():
        ray.shutdown()
    with local.cluster(nodes=2, cpus_per_node=1) as c:
        yield c


def test_two_nodes_give_the_single_process_answer(two_nodes, corpus):
    from smolplug.ray import read_frames

    alive = [n for n in ray.nodes() if n["Alive"]]
    assert len(alive) == 2 and sum(n["Resources"].get("CPU", 0) for n in alive) == 2
    paths = [corpus[name] for name in ("h264-bframes.mp4", "mpeg4-packed.avi", "h264-bpyramid.mp4")]
    for sel in (FrameSelection.every(5, offset=1), FrameSelection.indices([30, 2, 2, 999])):
        ds = read_frames(paths, sel, SPEC, min_task_cost=0, override_num_blocks=12, batch_size=8)
        got = by_file(ds.take_all())
        for p in paths:
            assert_same(got[str(p)], single_process(p, sel), f"{p.name} {sel}")


def test_read_tasks_run_on_both_nodes(two_nodes, corpus):
    from smolplug.ray import read_frames

    def node(batch):
        batch["node"] = np.full(len(batch["position"]), ray.get_runtime_context().get_node_id())
        return batch

    paths = [corpus["h264-bframes.mp4"], corpus["h264-bpyramid.mp4"]]
    # spread (best effort in Ray: with tasks this short one node may still take them all, so a
    # few tries); the node is read in the same task as the frames (same remote arguments: fused)
    spread = {"scheduling_strategy": "SPREAD"}
    nodes: set = set()
    for _ in range(3):
        ds = read_frames(
            paths,
            None,
            FrameSpec(24, 32, dtype="uint8"),
            min_task_cost=0,
            override_num_blocks=8,
            ray_remote_args=spread,
        )
        nodes |= {r["node"] for r in ds.map_batches(node, batch_format="numpy", **spread).take_all()}
        if len(nodes) == 2:
            break
    assert len(nodes) == 2
