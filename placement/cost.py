"""The cost model: predicted latency and FPS of a placement plan on a catalogued Jetson (``devices.json``).

Pure functions of the plan (``placement/plan.py``), a work table read from the tagged ONNX (FLOPs and bytes
per node, bytes per tensor) and the catalogue:
- per node, a GPU or DLA time, roofline style: ``max(FLOPs / (peak x efficiency of its class),
  bytes / (DRAM bandwidth x efficiency)) + a per-layer floor``; a pointwise node that TensorRT folds into its
  producer's kernel (conv + bias + ReLU + residual add) costs nothing of its own;
- per DLA island, a fixed launch cost; per GPU<->DLA transition, a reformat (the tensor read and written once
  more over the DRAM) plus a fixed cost; engine I/O read or written on DLA, the same;
- for processes running at once, the GPU and each DLA core are shared (processor sharing) and every process's
  bandwidth-bound time stretches with the DRAM traffic of the others (``concurrent_rates``).

Every figure is evaluated at three bounds of the catalogue's parameters: ``slow`` (every parameter at its slow
end), ``value`` and ``fast``: a prediction is a range, never one number. Nothing here is a measurement.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trtforge.placement.facts import NodeFacts
from trtforge.placement.plan import Plan

from trtforge.artifacts import read_json
from trtforge.errors import TrtforgeError

DEVICES_FILE = Path(__file__).resolve().with_name("devices.json")
BOUNDS = ("slow", "value", "fast")  # every parameter at its slow end, nominal, every one at its fast end
BYTES = {"fp32": 4, "fp16": 2, "int8": 1}
MATH_OPS = {"Conv": "conv", "ConvTranspose": "conv", "Gemm": "gemm", "MatMul": "gemm"}
FREE_OPS = {"Constant", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Shape", "Dropout"}
POINTWISE_OPS = {"Relu", "Clip", "LeakyRelu", "Sigmoid", "Tanh", "HardSigmoid", "HardSwish", "Add", "Sub",
                 "Mul", "Div", "BatchNormalization", "PRelu", "Elu", "Softplus", "Selu", "Neg", "Abs"}
PARAM_KEYS = {"value", "slow", "fast", "source", "how"}


# ---------------------------------------------------------------------------------------------- catalogue


def load_catalogue(path: Path = DEVICES_FILE) -> dict[str, Any]:
    """The device catalogue, checked: every device has the keys the model reads, every parameter a range
    and every cited source an entry."""
    catalogue = dict(read_json(Path(path), what="device catalogue"))
    missing = [k for k in ("version", "sources", "devices", "model") if k not in catalogue]
    if missing:
        raise TrtforgeError.of(f"a device catalogue with {', '.join(missing)}", found=f"{path}",
                               fix="restore placement/devices.json")
    for name, spec in catalogue["devices"].items():
        for key in ("platform", "gpu", "dla", "dram_gbs"):
            if key not in spec:
                raise TrtforgeError.of(f"device {name!r} in {path} to have {key!r}", found="it missing")
    return catalogue


def catalogue_version(catalogue: Mapping[str, Any]) -> str:
    return str(catalogue["version"])


def device_spec(catalogue: Mapping[str, Any], name: str) -> dict[str, Any]:
    devices = catalogue["devices"]
    if name not in devices:
        close = difflib.get_close_matches(name, list(devices), n=3, cutoff=0.4)
        raise TrtforgeError.of("a device of the catalogue (placement/devices.json)", found=name,
                               fix=f"use one of {', '.join(devices)}" + (f" (closest: {', '.join(close)})"
                                                                         if close else ""))
    return dict(devices[name])


def dla_cores(spec: Mapping[str, Any]) -> int:
    return int(spec["dla"]["cores"]["value"])


def devices_with_dla(catalogue: Mapping[str, Any]) -> list[str]:
    return [name for name, spec in catalogue["devices"].items() if dla_cores(spec) > 0]


def param(catalogue: Mapping[str, Any], path: str, bound: str = "value") -> float:
    """A model parameter at one bound, e.g. ``param(cat, "gpu_efficiency.volta.conv", "slow")``."""
    node: Any = catalogue["model"]
    for part in path.split("."):
        node = node[part]
    return float(node[bound])


def gpu_peak_ops(spec: Mapping[str, Any], precision: str) -> float:
    gpu = spec["gpu"]
    return float(gpu["sms"]["value"] * gpu["clock_mhz"]["value"] * 1e6 * gpu["ops_per_clock_per_sm"][precision])


def dla_peak_ops(spec: Mapping[str, Any], precision: str) -> float:
    """Per core; DLA has no FP32, an FP32 request is costed as FP16 (the plan never puts FP32 on DLA)."""
    table = spec["dla"]["peak_tops_per_core"]
    return float(table["fp16" if precision == "fp32" else precision]) * 1e12


def dram_bytes_per_s(spec: Mapping[str, Any]) -> float:
    return float(spec["dram_gbs"]["value"]) * 1e9


# ---------------------------------------------------------------------------------------------- work


@dataclass(frozen=True)
class NodeWork:
    """What one node costs to run, at the plan's batch and precision."""

    name: str
    kind: str  # conv | depthwise | gemm | other | free
    flops: int
    act_bytes: int  # activations read and written
    weight_bytes: int
    producer: str | None = None  # the node whose kernel a pointwise node folds into, if on the same device


@dataclass(frozen=True)
class WorkTable:
    nodes: Mapping[str, NodeWork]
    tensor_bytes: Mapping[str, int] = field(default_factory=dict)

    def scaled(self, factor: float) -> WorkTable:
        """The same graph at ``factor`` times the batch: activations and FLOPs scale, weights do not."""
        nodes = {k: NodeWork(w.name, w.kind, round(w.flops * factor), round(w.act_bytes * factor), w.weight_bytes,
                             w.producer) for k, w in self.nodes.items()}
        return WorkTable(nodes, {k: round(v * factor) for k, v in self.tensor_bytes.items()})


def work_from_facts(facts: Sequence[NodeFacts], precision: str) -> WorkTable:
    """Per node its class, FLOPs and bytes; per tensor its bytes (the plan keeps only FLOPs)."""
    size = BYTES[precision]
    kinds = {f.name: node_kind(f) for f in facts}
    producer = {t.name: f.name for f in facts for t in f.outputs}
    foldable: set[str] = set()
    nodes: dict[str, NodeWork] = {}
    for fact in facts:
        acts = fact.activations()
        first = next((producer.get(t.name) for t in fact.inputs if t is not None and not t.const), None)
        into = None
        if fact.op in POINTWISE_OPS and first is not None and (kinds[first] in ("conv", "depthwise", "gemm")
                                                               or first in foldable):
            into = first
            foldable.add(fact.name)
        nodes[fact.name] = NodeWork(fact.name, kinds[fact.name], fact.flops, sum(t.elements for t in acts) * size,
                                    fact.weight_bytes * size // 4, into)
    tensors = {t.name: t.elements * size for f in facts for t in (*f.inputs, *f.outputs) if t is not None}
    return WorkTable(nodes, tensors)


def node_kind(fact: NodeFacts) -> str:
    if fact.op in FREE_OPS:
        return "free"
    kind = MATH_OPS.get(fact.op, "other")
    if kind == "conv" and int(fact.attrs.get("group", 1) or 1) > 1:
        return "depthwise"
    return kind


# ---------------------------------------------------------------------------------------------- one engine


@dataclass(frozen=True)
class NodeTime:
    seconds: float
    memory_bound: float  # the part of ``seconds`` that is DRAM time (stretched by co-runners' traffic)


@dataclass(frozen=True)
class IslandCost:
    index: int
    owners: tuple[str, ...]
    nodes: int
    dla_ms: float
    launch_ms: float
    transition_ms: float


@dataclass(frozen=True)
class Estimate:
    """One engine's cost per inference at one bound. ``gpu_s``/``dla_s`` are busy times of the shared
    resources (their bandwidth-bound parts in ``*_mem_s``); ``fixed_s`` occupies neither."""

    latency_s: float
    gpu_s: float
    gpu_mem_s: float
    dla_s: float
    dla_mem_s: float
    fixed_s: float
    dram_bytes: int
    islands: tuple[IslandCost, ...]


def node_time(work: NodeWork, device: str, spec: Mapping[str, Any], catalogue: Mapping[str, Any],
              precision: str, bound: str, folded: bool) -> NodeTime:
    """Roofline time of one node on ``device`` ("GPU" or "DLA"); a folded node costs nothing."""
    if work.kind == "free" or folded:
        return NodeTime(0.0, 0.0)
    if device == "DLA":
        peak = dla_peak_ops(spec, precision)
        eff = param(catalogue, f"dla_efficiency.{spec['dla']['generation']}.{work.kind}", bound)
        floor = param(catalogue, "dla_layer_overhead_us", bound) * 1e-6
    else:
        peak = gpu_peak_ops(spec, precision)
        eff = param(catalogue, f"gpu_efficiency.{spec['gpu']['arch']}.{work.kind}", bound)
        floor = param(catalogue, "gpu_layer_overhead_us", bound) * 1e-6
    compute = work.flops / (peak * eff)
    memory = (work.act_bytes + work.weight_bytes) / (dram_bytes_per_s(spec) * param(catalogue, "dram_efficiency",
                                                                                      bound))
    return NodeTime(max(compute, memory) + floor, memory if memory >= compute else 0.0)


def placed_devices(plan: Plan, spec: Mapping[str, Any]) -> dict[str, str]:
    """Node -> device the engine runs it on; on a device with no DLA, TensorRT falls back to GPU for all."""
    no_dla = dla_cores(spec) == 0
    return {n.name: "GPU" if no_dla else n.predicted for n in plan.nodes}


def estimate_plan(plan: Plan, work: WorkTable, spec: Mapping[str, Any], catalogue: Mapping[str, Any],
                  bound: str = "value") -> Estimate:
    """Latency and resource use of one inference of ``plan`` on ``spec`` (see the module docstring)."""
    precision = plan.target["precision"]
    devices = placed_devices(plan, spec)
    times = {}
    for node in plan.nodes:
        w = work.nodes.get(node.name, NodeWork(node.name, "other", node.flops, 0, 0))
        folded = w.producer is not None and devices.get(w.producer) == devices[node.name]
        times[node.name] = node_time(w, devices[node.name], spec, catalogue, precision, bound, folded)
    on_dla = dla_cores(spec) > 0
    islands = plan.islands if on_dla else ()
    transitions = plan.transitions if on_dla else ()
    io = plan.io if on_dla else ()
    bandwidth = dram_bytes_per_s(spec) * param(catalogue, "dram_efficiency", bound)
    reformat = param(catalogue, "transition_reformat_us", bound) * 1e-6
    moved = {t.tensor: 2 * t.bytes / bandwidth + reformat for t in transitions}
    io_s = sum(2 * work.tensor_bytes.get(str(e["tensor"]), 0) / bandwidth
               + param(catalogue, "io_reformat_us", bound) * 1e-6 for e in io)
    launch = param(catalogue, "dla_island_launch_us", bound) * 1e-6
    costs = tuple(_island_cost(i, times, moved, plan, launch) for i in islands)
    gpu = [times[n.name] for n in plan.nodes if devices[n.name] == "GPU"]
    dla = [times[n.name] for n in plan.nodes if devices[n.name] == "DLA"]
    gpu_s = sum(t.seconds for t in gpu) + sum(moved.values()) + io_s  # reformats run on the GPU
    dla_s = sum(t.seconds for t in dla)
    fixed = param(catalogue, "engine_overhead_us", bound) * 1e-6 + launch * len(islands)
    dram = sum(w.act_bytes + w.weight_bytes for name, w in work.nodes.items()
               if not (w.producer is not None and devices.get(w.producer) == devices.get(name)))
    dram += sum(2 * t.bytes for t in transitions)
    return Estimate(fixed + gpu_s + dla_s, gpu_s, sum(t.memory_bound for t in gpu) + sum(moved.values()) + io_s,
                    dla_s, sum(t.memory_bound for t in dla), fixed, dram, costs)


def _island_cost(island: Any, times: Mapping[str, NodeTime], moved: Mapping[str, float], plan: Plan,
                 launch: float) -> IslandCost:
    members = set(island.nodes)
    crossing = sum(moved.get(t.tensor, 0.0) for t in plan.transitions
                   if t.producer in members or members & set(t.consumers))
    return IslandCost(island.index, tuple(island.owners), len(island.nodes),
                      sum(times[n].seconds for n in island.nodes) * 1e3, launch * 1e3, crossing * 1e3)


# ---------------------------------------------------------------------------------------------- processes


@dataclass(frozen=True)
class Load:
    """One process's demand per inference (from an ``Estimate``), and where its DLA part runs."""

    estimate: Estimate
    batch: int
    dla_core: int | None


def concurrent_rates(loads: Sequence[Load], spec: Mapping[str, Any], catalogue: Mapping[str, Any],
                     bound: str = "value") -> list[float]:
    """Images per second of each process when all run at once (fixed point of processor sharing).

    Process i's latency is ``fixed + (compute + memory x m_i) / share`` per resource, where ``share`` is what
    the others leave of the GPU (or of i's DLA core), ``1 - sum(rate_j x busy_j)``, and ``m_i = 1 / (1 -
    alpha x rho)`` stretches its bandwidth-bound time by the others' share ``rho`` of the DRAM bandwidth."""
    alpha = param(catalogue, "contention_alpha", bound)
    floor = 1.0 / param(catalogue, "max_slowdown", bound)
    bandwidth = dram_bytes_per_s(spec)
    rates = [1.0 / max(load.estimate.latency_s, 1e-9) for load in loads]  # inferences per second
    for _ in range(400):
        new = []
        for i, load in enumerate(loads):
            others = [(rates[j], loads[j]) for j in range(len(loads)) if j != i]
            gpu_share = max(1.0 - sum(r * o.estimate.gpu_s for r, o in others), floor)
            dla_share = max(1.0 - sum(r * o.estimate.dla_s for r, o in others
                                      if o.dla_core is not None and o.dla_core == load.dla_core), floor)
            rho = sum(r * o.estimate.dram_bytes for r, o in others) / bandwidth
            stretch = 1.0 / max(1.0 - alpha * rho, floor)
            e = load.estimate
            gpu = (e.gpu_s - e.gpu_mem_s + e.gpu_mem_s * stretch) / gpu_share
            dla = (e.dla_s - e.dla_mem_s + e.dla_mem_s * stretch) / dla_share
            new.append(1.0 / (e.fixed_s + gpu + dla))
        if all(math.isclose(a, b, rel_tol=1e-7) for a, b in zip(rates, new, strict=True)):
            break
        rates = [0.5 * a + 0.5 * b for a, b in zip(rates, new, strict=True)]
    return [r * load.batch for r, load in zip(rates, loads, strict=True)]
