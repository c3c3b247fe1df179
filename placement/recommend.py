"""``trtforge recommend``: search ``device_types`` over a model's submodule tree for the best predicted placement.

Cut points are submodule boundaries: the units are the submodules that own nodes, at the top level and one
level below (``layer3``, then ``layer3.0``, ``layer3.1``). Candidates are every subset of the top-level units
when there are few, and every contiguous run of the finer units, plus the all-GPU and all-DLA
(``default_device = "DLA"``) configs. A candidate is placed with the DLA rules (a node that cannot run on
DLA falls back to GPU, or makes the candidate invalid when ``gpu_fallback = false``), then its islands are
checked against the loadable budget and the per-subgraph limits, then costed with ``placement/cost.py``.

``search`` (the enumeration) is pure over an ``evaluate`` callback, which is how the tests check it on
synthetic cost tables whose optimum is known exactly.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trtforge.placement.cost import BOUNDS, Load, WorkTable, concurrent_rates, estimate_plan
from trtforge.placement.plan import NodePlan, Plan

from trtforge.config import Config
from trtforge.errors import TrtforgeError

EXHAUSTIVE_MAX = 10  # subsets of up to this many top-level units are all tried (2**10 candidates)
OBJECTIVES = ("fps", "aggregate")
BUDGET_REASON = "general.loadables"  # the plan's reason for an island past the loadable budget
Evaluate = Callable[[tuple[str, ...]], float | None]


# ---------------------------------------------------------------------------------------------- search


def search(units: Sequence[str], evaluate: Evaluate, *, fine_units: Sequence[str] = (),
           exhaustive_max: int = EXHAUSTIVE_MAX, keep: int = 5) -> list[tuple[float, tuple[str, ...]]]:
    """The ``keep`` best candidates as ``(objective, units on DLA)``, best first (higher objective is better;
    ties keep the candidate found first). Tried: every subset of ``units`` when there are at most
    ``exhaustive_max`` of them, else every contiguous run; and every contiguous run of ``fine_units``.
    ``evaluate`` returns ``None`` for a candidate that is not allowed."""
    seen: set[frozenset[str]] = set()
    scored: list[tuple[float, int, tuple[str, ...]]] = []
    for order, candidate in enumerate(candidates(units, fine_units, exhaustive_max)):
        key = frozenset(candidate)
        if key in seen:
            continue
        seen.add(key)
        value = evaluate(candidate)
        if value is not None:
            scored.append((value, order, candidate))
    scored.sort(key=lambda s: (-s[0], s[1]))
    return [(value, candidate) for value, _, candidate in scored[:keep]]


def candidates(units: Sequence[str], fine_units: Sequence[str], exhaustive_max: int) -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = [()]
    if len(units) <= exhaustive_max:
        found += [tuple(c) for r in range(1, len(units) + 1) for c in itertools.combinations(units, r)]
    else:
        found += contiguous_runs(units)
    return found + contiguous_runs(fine_units)


def contiguous_runs(units: Sequence[str]) -> list[tuple[str, ...]]:
    return [tuple(units[i:j]) for i in range(len(units)) for j in range(i + 1, len(units) + 1)]


# ---------------------------------------------------------------------------------------------- units


def units_of(nodes: Sequence[NodePlan], depth: int) -> list[str]:
    """Submodules (at most ``depth`` levels deep) that own nodes, in the graph order of their first node."""
    found: dict[str, None] = {}
    for node in nodes:
        if node.owner and not node.layerless:
            found.setdefault(".".join(node.owner.split(".")[:depth]), None)
    return list(found)


def device_types_for(chosen: Sequence[str], units: Sequence[str]) -> dict[str, str]:
    """``device_types`` for the chosen units; a parent whose every unit is chosen is named instead of them."""
    chosen_set = set(chosen)
    entries: dict[str, str] = {}
    for unit in chosen:
        parent = unit.rpartition(".")[0]
        siblings = [u for u in units if u.rpartition(".")[0] == parent] if parent else []
        if parent and siblings and all(s in chosen_set for s in siblings):
            entries[parent] = "DLA"
        else:
            entries[unit] = "DLA"
    return entries


def placed(base: Plan, capable: Mapping[str, bool], chosen: Sequence[str], facts: Sequence[Any],
           tensors: Mapping[str, Any], config: Config) -> Plan | None:
    """``base`` re-placed with ``chosen`` on DLA (the DLA rules decide per node through ``capable``); ``None``
    when a node requested on DLA cannot run there and ``config.gpu_fallback`` is off."""
    from trtforge.placement.plan import io_on_dla, islands_from_nodes, transitions_from_nodes

    types = {unit: "DLA" for unit in chosen}
    nodes = []
    for node, fact in zip(base.nodes, facts, strict=True):
        requested = requested_on(fact, types)
        predicted = "DLA" if requested == "DLA" and capable[node.name] else "GPU"
        if requested == "DLA" and predicted == "GPU" and not config.gpu_fallback and not node.layerless:
            return None
        nodes.append(dataclasses.replace(node, requested=requested, predicted=predicted))
    return dataclasses.replace(base, nodes=tuple(nodes), islands=tuple(islands_from_nodes(nodes, facts, config)),
                               transitions=tuple(transitions_from_nodes(nodes, tensors, config)),
                               io=tuple(io_on_dla(nodes, facts)))


def requested_on(fact: Any, device_types: Mapping[str, str]) -> str:
    """The plan's own rule (innermost ``device_types`` entry wins, a folded conv counts with its batch-norm)."""
    from trtforge.placement.tagging import requested_device

    folded = getattr(fact, "folded", None)
    if folded is None:
        return str(requested_device(fact.owner, device_types, "GPU"))  # type: ignore[arg-type]
    return str(requested_device(fact.owner, device_types, "GPU", folded))  # type: ignore[arg-type,call-arg]


def only_budget(reasons: Sequence[str]) -> bool:
    """A node moved off DLA only by the loadable budget (not by a DLA rule) can run there."""
    return bool(reasons) and all(r.startswith(BUDGET_REASON) for r in reasons)


def within_budget(plan: Plan) -> bool:
    """The islands fit one DLA core: at most ``loadable_budget`` loadables, each under the subgraph limits."""
    from trtforge.placement.rules import RuleTarget, general_value

    target = RuleTarget(str(plan.target["platform"]), str(plan.target["tensorrt"]), str(plan.target["precision"]))
    weights = general_value("max_subgraph_weight_bytes", target)
    activations = general_value("max_subgraph_activation_bytes", target)
    return len(plan.islands) <= plan.loadable_budget and all(
        i.weight_bytes < weights and i.activation_bytes < activations for i in plan.islands)


# ---------------------------------------------------------------------------------------------- objective


@dataclass(frozen=True)
class Scored:
    objective: float
    chosen: tuple[str, ...]
    device_types: dict[str, str]
    default_device: str
    fps: dict[str, float]  # bound -> single-process FPS
    aggregate: dict[str, float]  # bound -> aggregate FPS of the objective's processes
    islands: int


def objective_of(plan: Plan, work: WorkTable, baseline: Plan, spec: Mapping[str, Any],
                 catalogue: Mapping[str, Any], batch: int, objective: str,
                 bound: str = "value") -> tuple[float, float]:
    """(single-process FPS, aggregate FPS). ``aggregate`` runs a GPU-only process of the model beside one
    process of the candidate per DLA core (the candidate twice on the GPU when it uses no DLA)."""
    own = estimate_plan(plan, work, spec, catalogue, bound)
    fps = batch / own.latency_s
    if objective == "fps":
        return fps, fps
    from trtforge.placement.cost import dla_cores

    cores = dla_cores(spec)
    if any(n.predicted == "DLA" for n in plan.nodes) and cores:
        gpu = estimate_plan(baseline, work, spec, catalogue, bound)
        loads = [Load(gpu, batch, None)] + [Load(own, batch, core) for core in range(cores)]
    else:
        loads = [Load(own, batch, None), Load(own, batch, None)]
    return fps, sum(concurrent_rates(loads, spec, catalogue, bound))


def recommend(base: Plan, capable: Mapping[str, bool], facts: Sequence[Any], work: WorkTable, config: Config,
              spec: Mapping[str, Any], catalogue: Mapping[str, Any], *, objective: str = "fps",
              keep: int = 5) -> list[Scored]:
    """The best placements of ``config``'s model on the device, best first."""
    if objective not in OBJECTIVES:
        raise TrtforgeError.of(f"--objective to be one of {', '.join(OBJECTIVES)}", found=objective)
    tensors = {t.name: t for f in facts for t in (*f.inputs, *f.outputs) if t is not None}
    gpu_config = dataclasses.replace(config, default_device="GPU", device_types={})
    baseline = placed(base, capable, (), facts, tensors, gpu_config)
    assert baseline is not None  # nothing requested on DLA
    top, fine = units_of(base.nodes, 1), units_of(base.nodes, 2)
    plans: dict[tuple[str, ...], Plan] = {}
    realized: set[frozenset[str]] = set()  # candidates that place the same nodes on DLA are one candidate

    def evaluate(chosen: tuple[str, ...]) -> float | None:
        plan = placed(base, capable, chosen, facts, tensors, gpu_config)
        if plan is None or not within_budget(plan):
            return None
        on_dla = frozenset(n.name for n in plan.nodes if n.predicted == "DLA")
        if on_dla in realized:
            return None
        realized.add(on_dla)
        plans[chosen] = plan
        return objective_of(plan, work, baseline, spec, catalogue, config.max_batch_size, objective)[1]

    best = search(top, evaluate, fine_units=fine if fine != top else (), keep=keep)
    return [_scored(value, chosen, plans[chosen], top + fine, work, baseline, spec, catalogue, config, objective)
            for value, chosen in best]


def _scored(value: float, chosen: tuple[str, ...], plan: Plan, units: Sequence[str], work: WorkTable,
            baseline: Plan, spec: Mapping[str, Any], catalogue: Mapping[str, Any], config: Config,
            objective: str) -> Scored:
    pairs = {b: objective_of(plan, work, baseline, spec, catalogue, config.max_batch_size, objective, b)
             for b in BOUNDS}
    entries = device_types_for(chosen, units)
    return Scored(value, chosen, entries, "GPU", {b: p[0] for b, p in pairs.items()},
                  {b: p[1] for b, p in pairs.items()}, len(plan.islands))


# ---------------------------------------------------------------------------------------------- config file


def config_toml(config: Config, device_types: Mapping[str, str], *, platform: str, tensorrt: str,
                description: str) -> str:
    """``config`` as a TOML file with the recommended ``device_types`` (keys at their defaults left out)."""
    fields = config.to_dict()
    defaults = Config(name=config.name, model=config.model).to_dict()
    fields.update(description=description, default_device="GPU", device_types=dict(device_types),
                  target={"platform": platform, "tensorrt": tensorrt})
    keep = {"model", "inputs", "outputs", "precision", "default_device", "max_batch_size"}
    lines, tables = [], []
    for key, value in fields.items():
        if key in ("name", "output_dir"):
            continue
        if isinstance(value, dict):
            entries = {k: v for k, v in value.items() if key in ("inputs", "device_types", "target")
                       or v != defaults[key].get(k)}
            if entries:
                tables.append(f"\n[{key}]\n" + "".join(f"{_key(k)} = {_toml(v)}\n" for k, v in entries.items()
                                                      if v is not None))
        elif value is not None and (key in keep or value != defaults[key]):
            lines.append(f"{key} = {_toml(value)}\n")
    return "".join(lines) + "".join(tables)


def _key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() else _toml(key)


def _toml(value: Any) -> str:
    import json

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(str(value))  # a TOML basic string


def write_recommended(text: str, path: Path) -> Path:
    from trtforge.artifacts import write_atomic

    return write_atomic(path, text)


# ---------------------------------------------------------------------------------------------- pipeline


def recommend_for_config(config: Config, device: str, catalogue: Mapping[str, Any] | None = None, *,
                         objective: str = "fps", keep: int = 5,
                         tagged_path: Path | None = None) -> list[Scored]:
    """Export and tag ``config``'s model when stale, learn which nodes DLA can run (the plan with every node
    requested on DLA), then search; nothing is written."""
    from trtforge.placement.cost import device_spec, dla_cores, load_catalogue
    from trtforge.placement.predict import device_config, facts_from_tagged, plan_on_device, work_from_tagged

    catalogue = catalogue or load_catalogue()
    spec = device_spec(catalogue, device)
    if dla_cores(spec) == 0:
        raise TrtforgeError.of(f"a device with DLA cores to recommend a GPU/DLA split for {config.name}",
                               found=f"{device} has none", fix="every placement runs on its GPU: use the GPU config")
    if tagged_path is None:
        from trtforge.pipeline import tagged_from_config

        tagged_path = tagged_from_config(config).tagged_path
    targeted = device_config(config, spec)
    everything = dataclasses.replace(targeted, default_device="DLA", device_types={}, gpu_fallback=True)
    base = plan_on_device(tagged_path, everything, spec)
    capable = {n.name: n.predicted == "DLA" or only_budget(n.reasons) for n in base.nodes}
    facts = facts_from_tagged(tagged_path)
    work = work_from_tagged(tagged_path, config.precision)
    return recommend(base, capable, facts, work, targeted, spec, catalogue, objective=objective, keep=keep)


def recommendation_record(scored: Sequence[Scored], config: Config, device: str, objective: str,
                          catalogue: Mapping[str, Any], written: Path | None) -> dict[str, Any]:
    from trtforge.placement.cost import catalogue_version

    return {
        "predicted": True, "config": config.name, "device": device, "objective": objective,
        "catalogue_version": catalogue_version(catalogue), "written": str(written) if written else None,
        "candidates": [{"rank": k + 1, "device_types": s.device_types, "dla_units": list(s.chosen),
                        "islands": s.islands, "fps": s.fps["value"], "fps_low": s.fps["slow"],
                        "fps_high": s.fps["fast"], "aggregate_fps": s.aggregate["value"],
                        "aggregate_fps_low": s.aggregate["slow"], "aggregate_fps_high": s.aggregate["fast"]}
                       for k, s in enumerate(scored)],
    }
