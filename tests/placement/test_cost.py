"""The cost model's parts: the catalogue's sources and derived numbers, the roofline per node, folding,
islands, transitions and engine I/O, the no-DLA device, processor sharing and DRAM contention, and the
calibration points (public measurements the parameters were fitted to)."""

from __future__ import annotations

import copy
import math
from typing import Any

import pytest
from trtforge.placement.cost import (
    BOUNDS,
    Load,
    NodeWork,
    WorkTable,
    catalogue_version,
    concurrent_rates,
    device_spec,
    devices_with_dla,
    estimate_plan,
    load_catalogue,
    node_time,
    work_from_facts,
)
from trtforge.placement.facts import NodeFacts, TensorFacts
from trtforge.placement.plan import Island, NodePlan, Plan, Transition

from trtforge.errors import TrtforgeError

CATALOGUE = load_catalogue()
DEVICES = ("xavier-nx", "agx-xavier", "orin-nx", "agx-orin", "orin-nano")


def _numbers(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    """Every number object ({value, source, how}) of the catalogue, with its path."""
    found = []
    if isinstance(node, dict):
        if "source" in node and "how" in node:
            found.append((path, node))
        for key, value in node.items():
            found += _numbers(value, f"{path}.{key}")
    return found


# ---------------------------------------------------------------------------------------------- catalogue


def test_the_catalogue_has_the_five_devices_and_a_version() -> None:
    assert set(CATALOGUE["devices"]) == set(DEVICES)
    assert catalogue_version(CATALOGUE)
    assert devices_with_dla(CATALOGUE) == ["xavier-nx", "agx-xavier", "orin-nx", "agx-orin"]
    assert device_spec(CATALOGUE, "orin-nano")["dla"]["cores"]["value"] == 0


def test_every_number_says_where_it_comes_from() -> None:
    numbers = _numbers(CATALOGUE["devices"]) + _numbers(CATALOGUE["model"])
    assert len(numbers) > 60
    for path, entry in numbers:
        assert entry["how"].split(":")[0] in ("stated", "derived", "fitted", "assumed") or \
            entry["how"].startswith(("stated", "derived", "fitted", "assumed")), path
        assert all(s in CATALOGUE["sources"] for s in entry["source"]), (path, entry["source"])
        if entry["how"].startswith(("stated", "derived", "fitted")):
            assert entry["source"], f"{path} is {entry['how'].split(':')[0]} but cites no source"
    for name, source in CATALOGUE["sources"].items():
        assert source["url"] and source["says"], name


def test_the_held_out_page_is_not_a_source() -> None:
    """torch2trt's Xavier NX DLA benchmark page is the held-out check: nothing is calibrated on it."""
    for source in CATALOGUE["sources"].values():
        assert "dla_benchmarks" not in source["url"] and "torch2trt" not in source["url"]


def test_model_parameters_have_their_value_inside_their_range() -> None:
    for path, entry in _numbers(CATALOGUE["model"]):
        low, high = sorted((entry["slow"], entry["fast"]))
        assert low <= entry["value"] <= high, path


@pytest.mark.parametrize("device", DEVICES)
def test_peak_throughput_is_sms_times_clock_times_ops_per_clock(device: str) -> None:
    gpu = CATALOGUE["devices"][device]["gpu"]
    for precision in ("fp32", "fp16", "int8"):
        derived = gpu["sms"]["value"] * gpu["clock_mhz"]["value"] * gpu["ops_per_clock_per_sm"][precision] / 1e6
        assert math.isclose(derived, gpu["peak_tops"][precision], rel_tol=0.01), (device, precision, derived)


def test_an_unknown_device_names_the_known_ones() -> None:
    with pytest.raises(TrtforgeError, match="xavier-nx"):
        device_spec(CATALOGUE, "xavier")


# ---------------------------------------------------------------------------------------------- a toy device


def toy_catalogue() -> dict[str, Any]:
    """A catalogue whose numbers make every cost a round figure: GPU 1 TOPS at efficiency 0.5, DLA 0.5 TOPS
    at 0.5, DRAM 100 GB/s at 0.5, 10 us per GPU kernel, 5 us per DLA layer."""
    cat = copy.deepcopy(CATALOGUE)
    spec = cat["devices"]["agx-orin"]
    spec["gpu"].update(sms={"value": 1}, clock_mhz={"value": 1000},
                       ops_per_clock_per_sm={"fp32": 250, "fp16": 1000, "int8": 2000})
    spec["dla"]["peak_tops_per_core"] = {"fp16": 0.5, "int8": 1.0}
    spec["dram_gbs"] = {"value": 100}

    def fixed(value: float) -> dict[str, float]:
        return {"value": value, "slow": value, "fast": value}

    model = cat["model"]
    for table in ("gpu_efficiency", "dla_efficiency"):
        for arch in model[table].values():
            if isinstance(arch, dict):
                for kind in arch:
                    arch[kind] = fixed(0.5)
    model.update(dram_efficiency=fixed(0.5), gpu_layer_overhead_us=fixed(10), dla_layer_overhead_us=fixed(5),
                 engine_overhead_us=fixed(100), dla_island_launch_us=fixed(200), transition_reformat_us=fixed(20),
                 io_reformat_us=fixed(15), contention_alpha=fixed(1.0), max_slowdown=fixed(10))
    return cat


TOY = toy_catalogue()
SPEC = TOY["devices"]["agx-orin"]


def test_a_compute_bound_node_costs_flops_over_peak_times_efficiency_plus_its_floor() -> None:
    work = NodeWork("c", "conv", flops=10**9, act_bytes=1000, weight_bytes=0)
    on_gpu = node_time(work, "GPU", SPEC, TOY, "fp16", "value", folded=False)
    on_dla = node_time(work, "DLA", SPEC, TOY, "fp16", "value", folded=False)
    assert on_gpu.seconds == pytest.approx(1e9 / (1e12 * 0.5) + 10e-6)
    assert on_dla.seconds == pytest.approx(1e9 / (0.5e12 * 0.5) + 5e-6)
    assert on_gpu.memory_bound == 0.0


def test_a_bandwidth_bound_node_costs_bytes_over_bandwidth() -> None:
    work = NodeWork("r", "other", flops=1000, act_bytes=4_000_000, weight_bytes=1_000_000)
    time = node_time(work, "GPU", SPEC, TOY, "fp16", "value", folded=False)
    assert time.seconds == pytest.approx(5e6 / (100e9 * 0.5) + 10e-6)
    assert time.memory_bound == pytest.approx(5e6 / 50e9)


def test_a_folded_or_shape_only_node_costs_nothing() -> None:
    work = NodeWork("r", "other", flops=10**6, act_bytes=10**6, weight_bytes=0)
    assert node_time(work, "GPU", SPEC, TOY, "fp16", "value", folded=True).seconds == 0.0
    free = NodeWork("s", "free", flops=0, act_bytes=10**6, weight_bytes=0)
    assert node_time(free, "GPU", SPEC, TOY, "fp16", "value", folded=False).seconds == 0.0


# ---------------------------------------------------------------------------------------------- work table


def _tensor(name: str, elements: int, const: bool = False) -> TensorFacts:
    return TensorFacts(name, (1, elements, 1, 1), "FLOAT", const)


def _facts() -> list[NodeFacts]:
    """conv -> relu -> add(relu, x) -> depthwise conv -> reshape"""
    w = _tensor("w", 64, const=True)
    return [
        NodeFacts("a/Conv", "Conv", "a", {"group": 1}, (_tensor("x", 8), w), (_tensor("t0", 8),), 1000, 256),
        NodeFacts("a/Relu", "Relu", "a", {}, (_tensor("t0", 8),), (_tensor("t1", 8),), 8, 0),
        NodeFacts("a/Add", "Add", "a", {}, (_tensor("t1", 8), _tensor("x", 8)), (_tensor("t2", 8),), 8, 0),
        NodeFacts("b/Conv", "Conv", "b", {"group": 8}, (_tensor("t2", 8), w), (_tensor("t3", 8),), 100, 256),
        NodeFacts("b/Reshape", "Reshape", "b", {}, (_tensor("t3", 8),), (_tensor("y", 8),), 8, 0),
    ]


def test_work_folds_pointwise_chains_into_their_producing_kernel() -> None:
    work = work_from_facts(_facts(), "fp16")
    assert work.nodes["a/Relu"].producer == "a/Conv"
    assert work.nodes["a/Add"].producer == "a/Relu"  # conv + ReLU + residual add: one kernel
    assert work.nodes["a/Conv"].producer is None
    assert [work.nodes[n].kind for n in ("a/Conv", "b/Conv", "b/Reshape")] == ["conv", "depthwise", "free"]


def test_work_counts_bytes_at_the_plan_precision() -> None:
    fp16, int8 = work_from_facts(_facts(), "fp16"), work_from_facts(_facts(), "int8")
    assert fp16.nodes["a/Add"].act_bytes == 3 * 8 * 2  # two inputs and one output of 8 elements
    assert int8.nodes["a/Add"].act_bytes == 3 * 8
    assert fp16.nodes["a/Conv"].weight_bytes == 256 // 2  # facts count FP32 weights
    assert fp16.tensor_bytes["t3"] == 16


def test_a_scaled_work_table_scales_activations_and_flops_but_not_weights() -> None:
    work = work_from_facts(_facts(), "fp16").scaled(2)
    base = work_from_facts(_facts(), "fp16")
    assert work.nodes["a/Conv"].flops == 2 * base.nodes["a/Conv"].flops
    assert work.nodes["a/Conv"].act_bytes == 2 * base.nodes["a/Conv"].act_bytes
    assert work.nodes["a/Conv"].weight_bytes == base.nodes["a/Conv"].weight_bytes


# ---------------------------------------------------------------------------------------------- one engine


def toy_plan(devices: tuple[str, str, str]) -> tuple[Plan, WorkTable]:
    """Three compute-bound convs in a chain x -> c0 -> c1 -> c2 -> y, 1 GFLOP each, on the given devices."""
    nodes = [NodePlan(f"c{i}", f"m{i}", "Conv", d, d, (), 10**9, False, (f"t{i - 1}" if i else "x",),
                      (f"t{i}" if i < 2 else "y",)) for i, d in enumerate(devices)]
    islands, transitions, io = [], [], []
    dla = [i for i, d in enumerate(devices) if d == "DLA"]
    if dla:
        members = tuple(f"c{i}" for i in dla)
        islands.append(Island(0, members, tuple(f"m{i}" for i in dla), 10**9 * len(dla), 0, 0, 0))
    for i in range(2):
        if devices[i] != devices[i + 1]:
            transitions.append(Transition(f"t{i}", (1, 1000), 2000, f"c{i}", (f"c{i + 1}",),
                                          f"{devices[i]}->{devices[i + 1]}"))
    if devices[0] == "DLA":
        io.append({"tensor": "x", "node": "c0", "kind": "input"})
    plan = Plan("toy", {"platform": "orin", "tensorrt": "10.x", "precision": "fp16", "dla_core": "0"}, {},
                tuple(nodes), tuple(islands), tuple(transitions), tuple(io), 16, "", "", ())
    work = WorkTable({n.name: NodeWork(n.name, "conv", 10**9, 1000, 0) for n in nodes},
                     {"x": 3000, "t0": 2000, "t1": 2000, "y": 2000})
    return plan, work


def test_a_gpu_only_engine_costs_its_kernels_plus_the_engine_overhead() -> None:
    plan, work = toy_plan(("GPU", "GPU", "GPU"))
    estimate = estimate_plan(plan, work, SPEC, TOY)
    assert estimate.latency_s == pytest.approx(100e-6 + 3 * (2e-3 + 10e-6))
    assert estimate.dla_s == 0.0 and estimate.islands == ()


def test_an_island_costs_its_layers_a_launch_and_its_transitions() -> None:
    plan, work = toy_plan(("GPU", "DLA", "GPU"))
    estimate = estimate_plan(plan, work, SPEC, TOY)
    transition = 2 * 2000 / 50e9 + 20e-6  # the tensor read and written once more, plus the fixed reformat
    dla = 1e9 / 0.25e12 + 5e-6
    assert estimate.latency_s == pytest.approx(100e-6 + 2 * (2e-3 + 10e-6) + dla + 200e-6 + 2 * transition)
    (island,) = estimate.islands
    assert island.dla_ms == pytest.approx(dla * 1e3)
    assert island.launch_ms == pytest.approx(0.2)
    assert island.transition_ms == pytest.approx(2 * transition * 1e3)


def test_engine_io_read_on_dla_costs_a_reformat() -> None:
    plan, work = toy_plan(("DLA", "DLA", "DLA"))
    estimate = estimate_plan(plan, work, SPEC, TOY)
    io = 2 * 3000 / 50e9 + 15e-6
    assert estimate.latency_s == pytest.approx(100e-6 + 3 * (4e-3 + 5e-6) + 200e-6 + io)
    assert estimate.gpu_s == pytest.approx(io)  # the reformat is GPU work


def test_on_a_device_without_dla_everything_runs_on_the_gpu() -> None:
    cat = copy.deepcopy(TOY)
    cat["devices"]["agx-orin"]["dla"]["cores"] = {"value": 0}
    mixed, work = toy_plan(("GPU", "DLA", "GPU"))
    gpu, _ = toy_plan(("GPU", "GPU", "GPU"))
    spec = cat["devices"]["agx-orin"]
    assert estimate_plan(mixed, work, spec, cat).latency_s == pytest.approx(estimate_plan(gpu, work, spec, cat)
                                                                             .latency_s)


def test_the_slow_bound_is_never_faster_than_the_fast_one() -> None:
    plan, work = toy_plan(("GPU", "DLA", "GPU"))
    spec = CATALOGUE["devices"]["xavier-nx"]
    slow, mid, fast = (estimate_plan(plan, work, spec, CATALOGUE, b).latency_s for b in BOUNDS)
    assert slow > mid > fast


# ---------------------------------------------------------------------------------------------- processes


def _load(gpu: float = 0.0, dla: float = 0.0, fixed: float = 0.0, dram: int = 0, core: int | None = None,
          mem: float = 0.0) -> Load:
    from trtforge.placement.cost import Estimate

    return Load(Estimate(fixed + gpu + dla, gpu, mem if gpu else 0.0, dla, mem if dla else 0.0, fixed, dram, ()),
                1, core)


def test_two_gpu_processes_share_the_gpu() -> None:
    """Each alone would run 1000/s; together the GPU is shared: 500/s each, 1000/s in all."""
    rates = concurrent_rates([_load(gpu=1e-3), _load(gpu=1e-3)], SPEC, TOY)
    assert rates == pytest.approx([500, 500], rel=1e-4)


def test_host_time_overlaps_with_the_other_process_gpu_time() -> None:
    """fixed 1 ms + GPU 1 ms: alone 500/s; two processes reach more than 500/s in all, and the GPU stays
    under full use (latency L solves L^2 - 3L + 1 = 0 in ms)."""
    rates = concurrent_rates([_load(gpu=1e-3, fixed=1e-3), _load(gpu=1e-3, fixed=1e-3)], SPEC, TOY)
    latency_ms = (3 + math.sqrt(5)) / 2
    assert rates == pytest.approx([1e3 / latency_ms] * 2, rel=1e-4)
    assert 500 < sum(rates) < 1000


def test_dla_processes_on_separate_cores_do_not_wait_for_each_other() -> None:
    apart = concurrent_rates([_load(dla=2e-3, core=0), _load(dla=2e-3, core=1)], SPEC, TOY)
    together = concurrent_rates([_load(dla=2e-3, core=0), _load(dla=2e-3, core=0)], SPEC, TOY)
    assert apart == pytest.approx([500, 500], rel=1e-4)
    assert together == pytest.approx([250, 250], rel=1e-4)  # one core runs them one after another


def test_dram_traffic_of_co_runners_stretches_bandwidth_bound_time() -> None:
    """A DLA process moving 25 GB/s (a quarter of the 100 GB/s) slows a bandwidth-bound GPU process by
    1/(1 - 0.25) on its memory time, and not at all when it is compute-bound."""
    dla = _load(dla=1e-3, core=0, dram=25_000_000)  # 1000/s x 25 MB
    bound = concurrent_rates([_load(gpu=1e-3, mem=1e-3), dla], SPEC, TOY)
    free = concurrent_rates([_load(gpu=1e-3), dla], SPEC, TOY)
    assert free == pytest.approx([1000, 1000], rel=1e-4)
    assert bound == pytest.approx([750, 1000], rel=1e-4)  # rho = 1000/s x 25 MB / 100 GB/s = 0.25


def test_more_contention_means_lower_rates() -> None:
    cat = copy.deepcopy(TOY)
    loads = [_load(gpu=1e-3, mem=1e-3, dram=30_000_000), _load(dla=1e-3, core=0, mem=1e-3, dram=30_000_000)]
    low = concurrent_rates(loads, SPEC, cat)
    cat["model"]["contention_alpha"] = {"value": 2.0, "slow": 2.0, "fast": 2.0}
    high = concurrent_rates(loads, cat["devices"]["agx-orin"], cat)
    assert all(h < lo for h, lo in zip(high, low, strict=True))


# ---------------------------------------------------------------------------------------------- calibration


def _calibration_prediction(entry: dict[str, Any], tagged: Any, bound: str) -> float:
    from trtforge.placement.predict import plan_on_device, work_from_tagged

    from trtforge.config import load_config

    spec = device_spec(CATALOGUE, entry["device"])
    folder = str(tagged.tagged_path.parent)

    def engine(name: str, batch: int) -> Any:
        config = load_config(name, [f"output_dir={folder!r}"])
        plan = plan_on_device(tagged.tagged_path, config, spec)
        return estimate_plan(plan, work_from_tagged(tagged.tagged_path, "int8").scaled(batch), spec, CATALOGUE,
                             bound)

    if entry["placement"] == "gpu":
        return engine("resnet50_int8_gpu", 1).latency_s * 1e3
    if entry["placement"] == "2dla":
        dla = engine("resnet50_int8_dla", entry["batch"])
        return sum(concurrent_rates([Load(dla, entry["batch"], 0), Load(dla, entry["batch"], 1)], spec, CATALOGUE,
                                    bound))
    batches = entry["batch"]
    gpu, dla = engine("resnet50_int8_gpu", batches["gpu"]), engine("resnet50_int8_dla", batches["dla"])
    loads = [Load(gpu, batches["gpu"], None), Load(dla, batches["dla"], 0), Load(dla, batches["dla"], 1)]
    return sum(concurrent_rates(loads, spec, CATALOGUE, bound))


@pytest.mark.slow
@pytest.mark.torch
@pytest.mark.parametrize("entry", CATALOGUE["calibration"], ids=[c["id"] for c in CATALOGUE["calibration"]])
def test_the_model_reproduces_the_public_measurements_it_was_fitted_to(entry: dict[str, Any],
                                                                       resnet50_tagged: Any) -> None:
    _config, tagged = resnet50_tagged
    predicted = _calibration_prediction(entry, tagged, "value")
    assert abs(predicted - entry["value"]) <= entry["tolerance"] * entry["value"], (entry["id"], predicted)
    slow, fast = (_calibration_prediction(entry, tagged, b) for b in ("slow", "fast"))
    low, high = sorted((slow, fast))
    assert low <= entry["value"] <= high, (entry["id"], low, high)
