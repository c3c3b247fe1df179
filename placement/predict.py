"""``trtforge predict``: a config's (or a scenario's) predicted latency and FPS on a catalogued Jetson.

The plan is made in memory for the device's platform (Xavier or Orin rules) from the config's tagged ONNX
(exported and tagged first when stale); the config's own ``plan.json`` is left alone. Records carry
``"predicted": true``, the device and the catalogue version, and are stored apart from measured results
(``artifacts/predictions/<device>/``), in their own format, so that no report can take one for a measurement.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from trtforge.placement.cost import (
    BOUNDS,
    Load,
    WorkTable,
    catalogue_version,
    concurrent_rates,
    dla_cores,
    estimate_plan,
    load_catalogue,
    work_from_facts,
)
from trtforge.placement.facts import NodeFacts
from trtforge.placement.plan import Plan

from trtforge.config import Config, Scenario, TargetConfig, load_config
from trtforge.errors import TrtforgeError

PREDICTION_FORMAT = "trtforge.placement.prediction/1"
SCENARIO_FORMAT = "trtforge.placement.scenario-prediction/1"
PREDICTIONS_DIR = Path("artifacts") / "predictions"

PlanSource = Callable[[Config], tuple[Plan, WorkTable]]


def device_config(config: Config, spec: Mapping[str, Any]) -> Config:
    """``config`` targeted at the device's platform (and TensorRT line where the catalogue fixes one)."""
    tensorrt = spec.get("tensorrt") or config.target.tensorrt
    return dataclasses.replace(config, target=TargetConfig(spec["platform"], tensorrt))


@functools.lru_cache(maxsize=8)
def _facts_cached(path: str, stamp: float) -> tuple[NodeFacts, ...]:
    import onnx
    from trtforge.placement.facts import facts_from_onnx

    return tuple(facts_from_onnx(onnx.load(path)))


def facts_from_tagged(tagged_path: Path) -> tuple[NodeFacts, ...]:
    """The node facts of a tagged ONNX (cached while the file is unchanged)."""
    path = Path(tagged_path).resolve()
    return _facts_cached(str(path), path.stat().st_mtime)


@functools.lru_cache(maxsize=8)
def _work_cached(path: str, stamp: float, precision: str) -> WorkTable:
    return work_from_facts(_facts_cached(path, stamp), precision)


def work_from_tagged(tagged_path: Path, precision: str) -> WorkTable:
    """The cost model's work table of a tagged ONNX (cached while the file is unchanged)."""
    path = Path(tagged_path).resolve()
    return _work_cached(str(path), path.stat().st_mtime, precision)


_PLANS: dict[tuple[str, float, str], Plan] = {}


def plan_on_device(tagged_path: Path, config: Config, spec: Mapping[str, Any]) -> Plan:
    """The plan of ``config`` for the device's platform (in memory, cached while the tagged file is unchanged)."""
    from trtforge.placement.plan import plan_from_tagged

    from trtforge.artifacts import sha256_json

    path = Path(tagged_path).resolve()
    targeted = device_config(config, spec)
    key = (str(path), path.stat().st_mtime, sha256_json(targeted.to_dict()))
    if key not in _PLANS:
        _PLANS[key] = plan_from_tagged(path, targeted)
    return _PLANS[key]


def tagged_source(spec: Mapping[str, Any]) -> PlanSource:
    """Plans through the pipeline: export and tag into the config's artifact folder when stale."""
    def source(config: Config) -> tuple[Plan, WorkTable]:
        from trtforge.pipeline import tagged_from_config

        tagged = tagged_from_config(config).tagged_path
        return plan_on_device(tagged, config, spec), work_from_tagged(tagged, config.precision)

    return source


# ---------------------------------------------------------------------------------------------- one config


def prediction_from_plan(plan: Plan, work: WorkTable, device: str, catalogue: Mapping[str, Any],
                         batch: int) -> dict[str, Any]:
    """The JSON record of one engine's prediction: nominal figures and the range, by island."""
    from trtforge.artifacts import sha256_json

    spec = catalogue["devices"][device]
    estimates = {b: estimate_plan(plan, work, spec, catalogue, b) for b in BOUNDS}
    mid = estimates["value"]
    notes = [f"planned with the {plan.target['platform']} rules, TensorRT {plan.target['tensorrt']} line"]
    if dla_cores(spec) == 0 and any(n.predicted == "DLA" for n in plan.nodes):
        notes.insert(0, f"{device} has no DLA: TensorRT runs every node on the GPU (gpu_fallback)")
    notes += [f"plan: {w}" for w in plan.warnings]
    return {
        "format": PREDICTION_FORMAT, "predicted": True, "config": plan.config, "device": device,
        "device_title": spec.get("title", device), "catalogue_version": catalogue_version(catalogue),
        "batch": batch,
        "fps": batch / mid.latency_s, "fps_low": batch / estimates["slow"].latency_s,
        "fps_high": batch / estimates["fast"].latency_s,
        "latency_ms": mid.latency_s * 1e3, "latency_ms_low": estimates["fast"].latency_s * 1e3,
        "latency_ms_high": estimates["slow"].latency_s * 1e3,
        "gpu_ms": mid.gpu_s * 1e3, "dla_ms": mid.dla_s * 1e3, "fixed_ms": mid.fixed_s * 1e3,
        "by_island": [{"island": c.index, "owners": list(c.owners), "nodes": c.nodes, "dla_ms": c.dla_ms,
                       "launch_ms": c.launch_ms, "transition_ms": c.transition_ms} for c in mid.islands],
        "notes": notes,
        "inputs": {"catalogue": sha256_json(dict(catalogue)), "tagged": str(plan.inputs.get("tagged", ""))},
    }


def predict_config(config: Config, device: str, catalogue: Mapping[str, Any] | None = None,
                   source: PlanSource | None = None) -> dict[str, Any]:
    catalogue = catalogue or load_catalogue()
    from trtforge.placement.cost import device_spec

    spec = device_spec(catalogue, device)
    plan, work = (source or tagged_source(spec))(config)
    return prediction_from_plan(plan, work, device, catalogue, config.max_batch_size)


# ---------------------------------------------------------------------------------------------- scenarios


def predict_scenario(scenario: Scenario, device: str, catalogue: Mapping[str, Any] | None = None,
                     source: PlanSource | None = None) -> dict[str, Any]:
    """Every process of the scenario at once on ``device``: per-process and aggregate FPS (and ranges)."""
    catalogue = catalogue or load_catalogue()
    from trtforge.placement.cost import device_spec

    spec = device_spec(catalogue, device)
    plans = source or tagged_source(spec)
    configs = [load_config(p.config) for p in scenario.processes]
    cores = [process_core(c, p.dla_core, spec, device) for c, p in zip(configs, scenario.processes, strict=True)]
    placed = [plans(c) for c in configs]
    fps = {}
    for bound in BOUNDS:
        loads = [Load(estimate_plan(plan, work, spec, catalogue, bound), c.max_batch_size, core)
                 for (plan, work), c, core in zip(placed, configs, cores, strict=True)]
        fps[bound] = concurrent_rates(loads, spec, catalogue, bound)
    processes = [{"config": c.name, "dla_core": core, "fps": fps["value"][i], "fps_low": fps["slow"][i],
                  "fps_high": fps["fast"][i]} for i, (c, core) in enumerate(zip(configs, cores, strict=True))]
    return {
        "format": SCENARIO_FORMAT, "predicted": True, "scenario": scenario.name, "title": scenario.title,
        "device": device, "catalogue_version": catalogue_version(catalogue), "processes": processes,
        "aggregate_fps": sum(fps["value"]), "aggregate_fps_low": sum(fps["slow"]),
        "aggregate_fps_high": sum(fps["fast"]),
    }


def process_core(config: Config, core: int, spec: Mapping[str, Any], device: str) -> int | None:
    """The DLA core a process's DLA part runs on; ``None`` when nothing of it runs on DLA."""
    if not config.uses_dla or dla_cores(spec) == 0:
        return None
    if core >= dla_cores(spec):
        raise TrtforgeError.of(f"dla_core < {dla_cores(spec)} on {device}", found=f"dla_core = {core} for "
                               f"{config.name}", fix="use a core the device has (0 or 1)")
    return core


# ---------------------------------------------------------------------------------------------- output


def write_prediction(record: Mapping[str, Any], folder: Path = PREDICTIONS_DIR) -> Path:
    """Store a prediction record in ``<folder>/<device>/`` (never beside measured results)."""
    from trtforge.artifacts import write_json

    name = record.get("config") or f"scenario_{record['scenario']}"
    return write_json(Path(folder) / str(record["device"]) / f"{name}.json", dict(record))


def prediction_lines(record: Mapping[str, Any]) -> list[str]:
    """What ``trtforge predict`` prints for a config."""
    lines = [f"PREDICTED (not measured) for {record['device_title']} [{record['device']}], catalogue "
             f"{record['catalogue_version']}",
             f"{record['config']}: {record['fps']:.1f} FPS (range {record['fps_low']:.1f} - {record['fps_high']:.1f}), "
             f"latency {record['latency_ms']:.3f} ms at batch {record['batch']}",
             f"  GPU {record['gpu_ms']:.3f} ms, DLA {record['dla_ms']:.3f} ms, fixed {record['fixed_ms']:.3f} ms"]
    lines += [f"  island {i['island']} ({', '.join(i['owners'])}; {i['nodes']} nodes): DLA {i['dla_ms']:.3f} ms "
              f"+ launch {i['launch_ms']:.3f} ms + transitions {i['transition_ms']:.3f} ms"
              for i in record["by_island"]]
    return lines + [f"  note: {n}" for n in record["notes"]]


def scenario_lines(record: Mapping[str, Any]) -> list[str]:
    lines = [f"PREDICTED (not measured) for {record['device']}, catalogue {record['catalogue_version']}: "
             f"scenario {record['scenario']} ({record['title']})",
             "| config | dla_core | predicted FPS (range) |", "|---|---|---|"]
    lines += [f"| {p['config']} | {p['dla_core'] if p['dla_core'] is not None else '-'} | {p['fps']:.1f} "
              f"({p['fps_low']:.1f} - {p['fps_high']:.1f}) |" for p in record["processes"]]
    total = (f"aggregate {record['aggregate_fps']:.1f} FPS predicted ({record['aggregate_fps_low']:.1f} - "
             f"{record['aggregate_fps_high']:.1f})")
    return [*lines, total]
