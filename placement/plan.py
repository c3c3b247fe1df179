"""The placement plan: requested and predicted device per node, DLA islands, GPU<->DLA transitions, warnings.

``plan_from_tagged`` is pure given its inputs (tagged ONNX + config + rule data): the same inputs give a
byte-identical ``plan.json``. Island prediction: DLA nodes are grouped in graph order into convex DLA
subgraphs (a node does not join an island that reaches it through a GPU node), which is how TensorRT must cut
loadables around fallbacks. The loadable budget is enforced: islands past ``loadables_per_core``, in graph
order of their first node (``loadable_order`` in the rules, with its source), are predicted on GPU with the
reason ``general.loadables``, and the summary, table and gates count what remains.

plan.json (format 2; canonical JSON, unknown keys rejected by ``load_plan``; 2 = the budget is enforced in
``predicted``, same keys as 1):
  format, config, target {platform, tensorrt, precision, dla_core},
  inputs {tagged, config, rules, planner} (hashes), outputs {report} (hash of report.md),
  nodes [{name (= TensorRT layer name), owner, op, requested, predicted, reasons [str], flops, layerless,
          inputs, outputs}] in graph order,
  islands [{index, nodes, owners, flops, weight_bytes, activation_bytes, boundary_bytes}],
  transitions [{tensor, shape, bytes, producer, consumers, direction}], io [{tensor, node, kind}],
  layer_device_types (trtexec --layerDeviceTypes value), trtexec (its DLA arguments), warnings [str],
  summary {nodes, requested_dla, predicted_dla, predicted_gpu, fallbacks, dla_node_share, dla_flops_share,
           islands, loadable_budget, transitions}.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trtforge.placement.facts import NodeFacts, TensorFacts, facts_from_onnx
from trtforge.placement.rules import (
    RULES_FILE,
    GraphFacts,
    RuleTarget,
    fp16_under_int8,
    general_value,
    load_rules,
    reasons_off_dla,
)
from trtforge.placement.tagging import owner_keys, requested_device

from trtforge.artifacts import SELF_HASH, read_json, sha256_file, sha256_json
from trtforge.config import Config
from trtforge.errors import TrtforgeError

PLAN_FILE = "plan.json"
REPORT_FILE = "report.md"
PLAN_FORMAT = 2  # bump when the plan changes for the same inputs
PLAN_CONFIG_FIELDS = ("name", "precision", "default_device", "device_types", "gpu_fallback", "dla_core", "target")
PLAN_KEYS = {"format", "config", "target", "inputs", "nodes", "islands", "transitions", "io", "layer_device_types",
             "trtexec", "warnings", "summary", "outputs"}
BYTES = {"fp32": 4, "fp16": 2, "int8": 1}  # bytes per element of a tensor crossing GPU<->DLA


@dataclass(frozen=True)
class NodePlan:
    name: str
    owner: str
    op: str
    requested: str
    predicted: str
    reasons: tuple[str, ...]
    flops: int
    layerless: bool
    inputs: tuple[str, ...]  # activation tensors (constants left out)
    outputs: tuple[str, ...]


@dataclass(frozen=True)
class Island:
    index: int
    nodes: tuple[str, ...]
    owners: tuple[str, ...]  # top-level submodules it spans
    flops: int
    weight_bytes: int
    activation_bytes: int
    boundary_bytes: int


@dataclass(frozen=True)
class Transition:
    tensor: str
    shape: tuple[int, ...]
    bytes: int
    producer: str
    consumers: tuple[str, ...]
    direction: str  # "GPU->DLA" or "DLA->GPU"


@dataclass(frozen=True)
class Plan:
    config: str
    target: Mapping[str, str]
    inputs: Mapping[str, str]
    nodes: tuple[NodePlan, ...]
    islands: tuple[Island, ...]
    transitions: tuple[Transition, ...]
    io: tuple[Mapping[str, Any], ...]  # engine inputs/outputs read or written on DLA (reformat at the edge)
    loadable_budget: int
    layer_device_types: str
    trtexec: str
    warnings: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        from dataclasses import asdict

        layered = [n for n in self.nodes if not n.layerless]
        on_dla = [n for n in layered if n.predicted == "DLA"]
        total = sum(n.flops for n in layered) or 1
        return {
            "format": PLAN_FORMAT, "config": self.config, "target": dict(self.target),
            "inputs": dict(self.inputs), "nodes": [asdict(n) for n in self.nodes],
            "islands": [asdict(i) for i in self.islands], "transitions": [asdict(t) for t in self.transitions],
            "io": [dict(e) for e in self.io], "layer_device_types": self.layer_device_types,
            "trtexec": self.trtexec, "warnings": list(self.warnings),
            "summary": {
                "nodes": len(layered), "requested_dla": sum(n.requested == "DLA" for n in layered),
                "predicted_dla": len(on_dla), "predicted_gpu": len(layered) - len(on_dla),
                "fallbacks": sum(n.requested == "DLA" and n.predicted == "GPU" for n in layered),
                "dla_node_share": round(len(on_dla) / max(len(layered), 1), 6),
                "dla_flops_share": round(sum(n.flops for n in on_dla) / total, 6),
                "islands": len(self.islands), "loadable_budget": self.loadable_budget,
                "transitions": len(self.transitions),
            },
        }


def rule_target(config: Config) -> RuleTarget:
    return RuleTarget(config.target.platform, config.target.tensorrt, config.precision)


def config_hash(config: Config) -> str:
    """The config fields the plan depends on (the shapes come in through the tagged ONNX)."""
    fields = config.to_dict()
    return sha256_json({k: fields[k] for k in PLAN_CONFIG_FIELDS})


def plan_inputs(tagged_path: Path, config: Config) -> dict[str, str]:
    return {"tagged": sha256_file(tagged_path), "config": config_hash(config),
            "rules": sha256_file(RULES_FILE), "planner": str(PLAN_FORMAT)}


# ---------------------------------------------------------------------------------------------- planning


def plan_from_tagged(tagged_path: Path, config: Config) -> Plan:
    """Plan ``config``'s placement on the tagged ONNX; raises before any build when fallback is off and a
    node requested on DLA cannot run there, or when a ``device_types`` key names no submodule."""
    import onnx

    if not Path(tagged_path).is_file():
        raise TrtforgeError.of(f"a tagged ONNX model at {tagged_path}", found="no such file",
                               fix="run `trtforge tag` first")
    facts = facts_from_onnx(onnx.load(str(tagged_path)))
    _check_keys_known(config, Path(tagged_path).parent)
    target = rule_target(config)
    budget = int(general_value("loadables_per_core", target))
    nodes, over = nodes_within_budget(nodes_from_facts(facts, config, target), budget, target)
    _refuse_without_fallback(nodes, config)
    tensors = {t.name: t for f in facts for t in (*f.inputs, *f.outputs) if t is not None}
    islands = islands_from_nodes(nodes, facts, config)
    transitions = transitions_from_nodes(nodes, tensors, config)
    spec = layer_device_types(nodes, config)
    io = io_on_dla(nodes, facts)
    return Plan(config.name, {"platform": target.platform, "tensorrt": target.tensorrt,
                              "precision": target.precision, "dla_core": str(config.dla_core)},
                plan_inputs(Path(tagged_path), config), tuple(nodes), tuple(islands), tuple(transitions),
                tuple(io), budget, spec, trtexec_args(spec, config),
                tuple(_key_warnings(facts, config) + plan_warnings(nodes, islands, transitions, config, budget, over)
                      + _fp16_warning(nodes, config) + _io_warning(io, config)))


def nodes_from_facts(facts: Sequence[NodeFacts], config: Config, target: RuleTarget) -> list[NodePlan]:
    rules = load_rules()
    layerless = set(rules["layerless"]["ops"])
    graph = GraphFacts.of(facts)
    plans = []
    for node in facts:
        requested = requested_device(node.owner, config.device_types, config.default_device, node.folded)
        reasons = tuple(reasons_off_dla(node, target, rules, graph)) if requested == "DLA" else ()
        predicted = "GPU" if reasons else requested
        plans.append(NodePlan(node.name, node.owner, node.op, requested, predicted, reasons, node.flops,
                              node.op in layerless,
                              tuple(t.name for t in node.inputs if t is not None and not t.const),
                              tuple(t.name for t in node.outputs)))
    return plans


def nodes_within_budget(nodes: Sequence[NodePlan], budget: int, target: RuleTarget) -> tuple[list[NodePlan], int]:
    """The nodes with every island past ``budget`` (graph order of first nodes, the ``loadable_order`` rule)
    predicted on GPU; and how many islands moved. Moving whole islands leaves the others as they were."""
    from dataclasses import replace

    groups = island_groups(nodes)
    if len(groups) <= budget:
        return list(nodes), 0
    moved = list(nodes)
    for k, members in enumerate(groups[budget:], start=budget):
        why = (f"general.loadables: island {k} (graph order) is past the {budget} loadables per DLA core "
               f"({target.platform}, TensorRT {target.tensorrt}): TensorRT puts it on GPU")
        for i in members:
            moved[i] = replace(moved[i], predicted="GPU", reasons=(*moved[i].reasons, why))
    return moved, len(groups) - budget


def _check_keys_known(config: Config, folder: Path) -> None:
    """Unmatched ``device_types`` keys are an error (checked against export.json when it lies beside)."""
    record = folder / "export.json"
    if config.device_types and record.is_file():
        from trtforge.config import check_device_types

        check_device_types(config, [m["name"] for m in read_json(record, what="export record")["submodules"]])


def _refuse_without_fallback(nodes: Sequence[NodePlan], config: Config) -> None:
    stuck = [n for n in nodes if n.requested == "DLA" and n.predicted == "GPU"]
    if stuck and not config.gpu_fallback:
        listed = "; ".join(f"{n.name}: {n.reasons[0]}" for n in stuck[:12])
        more = f" (+{len(stuck) - 12} more)" if len(stuck) > 12 else ""
        raise TrtforgeError.of(
            f"every node requested on DLA to run there when gpu_fallback = false ({config.name})",
            found=f"{len(stuck)} node(s) DLA cannot run: {listed}{more}",
            fix="set gpu_fallback = true, or place these submodules on GPU in device_types")


# ---------------------------------------------------------------------------------------------- islands


def islands_from_nodes(nodes: Sequence[NodePlan], facts: Sequence[NodeFacts], config: Config) -> list[Island]:
    return [_island(k, [nodes[i] for i in m], [facts[i] for i in m], config)
            for k, m in enumerate(island_groups(nodes))]


def island_groups(nodes: Sequence[NodePlan]) -> list[list[int]]:
    """Convex DLA subgraphs in graph (topological) order, as lists of node indices."""
    producer = {out: i for i, n in enumerate(nodes) for out in n.outputs}
    parent: dict[int, int] = {}

    def find(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    reach: list[set[int]] = []  # node index -> island roots that reach it (any path)
    via_gpu: list[set[int]] = []  # node index -> island roots that reach it through a GPU node
    island_of: dict[int, int] = {}
    island_via: dict[int, set[int]] = {}  # island root -> island roots that reach one of its members via GPU
    for i, node in enumerate(nodes):
        preds = sorted({producer[t] for t in node.inputs if t in producer})
        anc = {find(r) for p in preds for r in reach[p]}
        gpu = {find(r) for p in preds for r in (reach[p] if _on_gpu(nodes[p]) else via_gpu[p])}
        if node.predicted == "DLA" and not node.layerless:
            joined = _joinable(sorted({find(island_of[p]) for p in preds if p in island_of} - gpu),
                               {r: {find(x) for x in v} for r, v in island_via.items()})
            root = min(joined) if joined else i
            parent[i] = root
            island_via[root] = set(gpu).union(*(island_via.pop(r, set()) for r in joined))
            for other in joined:
                parent[other] = root
            island_of[i] = root
            anc.add(root)
        reach.append({find(r) for r in anc})
        via_gpu.append({find(r) for r in gpu})
    groups: dict[int, list[int]] = {}
    for i in sorted(island_of):
        groups.setdefault(find(i), []).append(i)
    return sorted(groups.values(), key=lambda members: members[0])


def _joinable(candidates: list[int], island_via: Mapping[int, set[int]]) -> list[int]:
    """The candidate islands that can merge into one convex island: none reaches another through GPU."""
    joined: list[int] = []
    for root in candidates:
        if all(root not in island_via.get(j, set()) and j not in island_via.get(root, set()) for j in joined):
            joined.append(root)
    return joined


def islands_count(plan: Plan, devices: Mapping[str, str]) -> int:
    """Islands of the plan's graph with the given node devices (e.g. the realized ones)."""
    from dataclasses import replace

    nodes = [replace(n, predicted=devices.get(n.name, n.predicted)) for n in plan.nodes]
    return len(island_groups(nodes))


def _on_gpu(node: NodePlan) -> bool:
    return node.predicted == "GPU" and not node.layerless


def _island(index: int, members: list[NodePlan], facts: list[NodeFacts], config: Config) -> Island:
    size = BYTES[config.precision]
    produced = {t.name: t for f in facts for t in f.outputs}
    read = {t.name: t for f in facts for t in f.inputs if t is not None and not t.const}
    inner = [t for name, t in produced.items() if name in read]
    boundary = [t for name, t in read.items() if name not in produced]
    boundary += [t for name, t in produced.items() if name not in read]
    tops = sorted({_top(n.owner) for n in members})
    return Island(index, tuple(n.name for n in members), tuple(tops), sum(n.flops for n in members),
                  sum(f.weight_bytes * size // 4 for f in facts), sum(t.elements * size for t in inner),
                  sum(t.elements * size for t in boundary))


def _top(owner: str) -> str:
    return owner.split(".")[0] if owner else "(root)"


# ---------------------------------------------------------------------------------------------- transitions


def transitions_from_nodes(nodes: Sequence[NodePlan], tensors: Mapping[str, TensorFacts],
                           config: Config) -> list[Transition]:
    """One transition per tensor produced on one device and read on the other."""
    layered = [n for n in nodes if not n.layerless]
    consumers: dict[str, list[NodePlan]] = {}
    for node in layered:
        for name in node.inputs:
            consumers.setdefault(name, []).append(node)
    found = []
    for node in layered:
        for name in node.outputs:
            across = tuple(c.name for c in consumers.get(name, []) if c.predicted != node.predicted)
            if across:
                shape = tuple(int(d) for d in tensors[name].shape or () if isinstance(d, int))
                found.append(Transition(name, shape, tensors[name].elements * BYTES[config.precision],
                                        node.name, across, f"{node.predicted}->{_other(node.predicted)}"))
    return found


def _other(device: str) -> str:
    return "DLA" if device == "GPU" else "GPU"


def io_on_dla(nodes: Sequence[NodePlan], facts: Sequence[NodeFacts]) -> list[dict[str, Any]]:
    """Engine inputs read and outputs written by DLA nodes: TensorRT reformats them on the GPU unless the
    I/O formats are DLA-native ([I3]: why a build without GPU fallback can fail on an all-DLA network)."""
    produced = {out for n in nodes for out in n.outputs}
    consumed = {i for n in nodes for i in n.inputs}
    edges = []
    for node, fact in zip(nodes, facts, strict=True):
        if node.predicted != "DLA" or node.layerless:
            continue
        edges += [{"tensor": t, "node": node.name, "kind": "input"} for t in node.inputs if t not in produced]
        edges += [{"tensor": t.name, "node": node.name, "kind": "output"} for t in fact.outputs
                  if t.name not in consumed]
    return edges


# ---------------------------------------------------------------------------------------------- warnings


def _key_warnings(facts: Sequence[NodeFacts], config: Config) -> list[str]:
    reached = {key for f in facts for key in owner_keys(f.owner, f.folded)}
    return [f"device_types key {key!r} owns no ONNX node (a submodule that exports no op of its own); it "
            "places nothing" for key in sorted(config.device_types) if key not in reached]


def plan_warnings(nodes: Sequence[NodePlan], islands: Sequence[Island], transitions: Sequence[Transition],
                  config: Config, budget: int, over: int = 0) -> list[str]:
    target = rule_target(config)
    warnings = []
    if over:
        first = next(n.name for n in nodes if any(r.startswith("general.loadables") for r in n.reasons))
        warnings.append(f"{len(islands) + over} DLA islands > {budget} loadables per DLA core "
                        f"({target.platform}, TensorRT {target.tensorrt}): the last {over} (from {first}) are "
                        "predicted on GPU, as TensorRT does")
    ratio = general_value("min_island_flops_per_boundary_byte", target)
    for island in islands:
        if island.flops < ratio * island.boundary_bytes:
            warnings.append(f"island {island.index} ({len(island.nodes)} node(s), first {island.nodes[0]}) does "
                            f"{island.flops} FLOPs for {island.boundary_bytes} bytes in and out (< {ratio} FLOPs "
                            "per byte): the GPU<->DLA transitions likely cost more than it saves")
        if island.weight_bytes >= general_value("max_subgraph_weight_bytes", target):
            warnings.append(f"island {island.index} holds {island.weight_bytes} bytes of weights (>= 512 MB "
                            "per DLA subgraph): TensorRT splits it")
        if island.activation_bytes >= general_value("max_subgraph_activation_bytes", target):
            warnings.append(f"island {island.index} holds {island.activation_bytes} bytes of intermediate "
                            "tensors (>= 1 GB per DLA subgraph): TensorRT splits it")
    if target.platform == "xavier" and target.tensorrt != "8.6":
        warnings.append(f"TensorRT {target.tensorrt} is not shipped for Xavier (JetPack 5 / TensorRT 8.5 is "
                        "its last line): the plan uses the Orin-era rules with Xavier's limits")
    return warnings


def _fp16_warning(nodes: Sequence[NodePlan], config: Config) -> list[str]:
    """INT8 plans: the DLA nodes whose op DLA runs in FP16 only (Slice, SoftMax, ...)."""
    if config.precision != "int8":
        return []
    ops = Counter(n.op for n in nodes if n.predicted == "DLA" and not n.layerless and fp16_under_int8(n.op))
    if not ops:
        return []
    listed = ", ".join(f"{op} x{count}" for op, count in sorted(ops.items()))
    return [f"INT8 plan: {sum(ops.values())} DLA node(s) run in FP16 on DLA, not INT8 ({listed}): DLA has no INT8 "
            "kernel for them (rules 'fp16_under_int8'); the weakly typed INT8 build enables FP16 beside INT8"]


def _io_warning(io: Sequence[Mapping[str, Any]], config: Config) -> list[str]:
    if not io or config.gpu_fallback:
        return []
    tensors = ", ".join(sorted({str(e["tensor"]) for e in io}))
    return [f"engine I/O {tensors} is read or written on DLA with gpu_fallback = false: the build needs "
            "DLA-native I/O formats (e.g. --inputIOFormats=fp16:chw16), since the reformats run on GPU"]


# ---------------------------------------------------------------------------------------------- trtexec


def layer_device_types(nodes: Sequence[NodePlan], config: Config) -> str:
    """trtexec ``--layerDeviceTypes`` for the predicted placement: every node not on trtexec's default device
    (DLA once ``--useDLACore`` is given), exact layer names on 8.6, ``<module>/*`` and ``<module>.*`` (one ``*``
    each) on TensorRT >= 10.3."""
    layered = [n for n in nodes if not n.layerless]
    wildcards = config.target.tensorrt != "8.6"
    entries = _entries(layered, "", trtexec_default(config), wildcards)
    return ",".join(f"{name}:{device}" for name, device in entries)


def trtexec_default(config: Config) -> str:
    """``--useDLACore`` makes DLA trtexec's default device; there is no flag for the core alone."""
    return "DLA" if config.uses_dla else "GPU"


def _entries(nodes: Sequence[NodePlan], module: str, default: str, wildcards: bool) -> list[tuple[str, str]]:
    own = [n for n in nodes if n.owner == module]
    below = [n for n in nodes if (module == "" and n.owner != "") or (module and n.owner.startswith(module + "."))]
    devices = {n.predicted for n in own + below}
    if module and wildcards and len(devices) == 1:
        device = devices.pop()
        if device == default:
            return []
        return [(f"{module}/*", device)] * bool(own) + [(f"{module}.*", device)] * bool(below)
    entries = [(n.name, n.predicted) for n in own if n.predicted != default]
    children = sorted({_child(n.owner, module) for n in below}, key=lambda c: _first(nodes, c))
    for child in children:
        entries += _entries([n for n in below if n.owner == child or n.owner.startswith(child + ".")],
                            child, default, wildcards)
    return entries


def _child(owner: str, module: str) -> str:
    rest = owner[len(module) + 1:] if module else owner
    head = rest.split(".")[0]
    return f"{module}.{head}" if module else head


def _first(nodes: Sequence[NodePlan], module: str) -> int:
    return next(i for i, n in enumerate(nodes) if n.owner == module or n.owner.startswith(module + "."))


def trtexec_args(spec: str, config: Config) -> str:
    weakly_typed = config.target.tensorrt != "11.4+" and config.precision != "fp32"
    args = [f"--{config.precision}"] if weakly_typed else []  # 11.x takes precision from the ONNX types
    args += [f"--useDLACore={config.dla_core}"] if config.uses_dla else []
    if config.uses_dla and config.gpu_fallback:
        args.append("--allowGPUFallback")
    if spec:
        args.append(f"--layerDeviceTypes={spec}")
    return " ".join(args)


def layer_devices(plan: Plan, layers: Iterable[tuple[str, str | None]], *,
                  which: str = "requested") -> dict[str, str | None]:
    """TensorRT layer name -> the plan's ``requested`` (or ``predicted``) device of the node it came from, for
    ``(name, metadata)`` pairs of a parsed network; ``None`` for helper layers, which keep the default."""
    from trtforge.placement.tagging import node_of_layer

    by_node = {n.name: n for n in plan.nodes}
    names = set(by_node)
    devices: dict[str, str | None] = {}
    for name, metadata in layers:
        node = node_of_layer(name, metadata, names)
        devices[name] = getattr(by_node[node], which) if node is not None else None
    return devices


def devices_from_spec(spec: str, layer_names: Sequence[str], default: str) -> dict[str, str]:
    """What trtexec does with ``--layerDeviceTypes`` (left to right, later wins; exact name, or one ``*``)."""
    import fnmatch

    devices = dict.fromkeys(layer_names, default)
    for item in filter(None, spec.split(",")):
        pattern, _, device = item.rpartition(":")
        for name in layer_names:
            if name == pattern or ("*" in pattern and fnmatch.fnmatchcase(name, pattern)):
                devices[name] = device
    return devices


# ---------------------------------------------------------------------------------------------- artifacts


def write_plan(plan: Plan, out_dir: Path) -> Path:
    """Write ``report.md`` then ``plan.json`` (which records the report's hash) atomically; returns plan.json."""
    from trtforge.placement.report import report_from_plan

    from trtforge.artifacts import write_atomic, write_sealed_json

    report = write_atomic(Path(out_dir) / REPORT_FILE, report_from_plan(plan))
    record = plan.to_json()
    record["outputs"] = {"report": sha256_file(report)}
    return write_sealed_json(Path(out_dir) / PLAN_FILE, record)  # sealed: an edited plan.json is redone


def load_plan(path: Path) -> dict[str, Any]:
    """A plan.json read back (a plan folder or the file itself)."""
    source = Path(path)
    record = read_json(source / PLAN_FILE if source.is_dir() else source, what="placement plan", kind=dict)
    record = {k: v for k, v in record.items() if k != SELF_HASH}
    if record.get("format") != PLAN_FORMAT:
        raise TrtforgeError.of(f"a plan of format {PLAN_FORMAT} at {source}", found=record.get("format"),
                               fix="run `trtforge plan --force` again")
    if set(record) != PLAN_KEYS:
        odd = sorted(set(record) ^ PLAN_KEYS)
        raise TrtforgeError.of(f"the keys of a plan at {source}", found=f"unknown or missing {', '.join(odd)}",
                               fix="run `trtforge plan --force` again")
    return dict(record)


def plan_from_json(record: Mapping[str, Any]) -> Plan:
    """The Plan a plan.json holds (the inverse of ``Plan.to_json``)."""
    def tuples(item: Mapping[str, Any]) -> dict[str, Any]:
        return {k: tuple(v) if isinstance(v, list) else v for k, v in item.items()}

    try:
        plan = Plan(record["config"], dict(record["target"]), dict(record["inputs"]),
                    tuple(NodePlan(**tuples(n)) for n in record["nodes"]),
                    tuple(Island(**tuples(i)) for i in record["islands"]),
                    tuple(Transition(**tuples(t)) for t in record["transitions"]),
                    tuple(dict(e) for e in record["io"]), int(record["summary"]["loadable_budget"]),
                    record["layer_device_types"], record["trtexec"], tuple(record["warnings"]))
    except (KeyError, TypeError, ValueError, AttributeError) as err:  # structural damage: one line, not a traceback
        raise TrtforgeError.of(f"a placement plan with the fields of format {PLAN_FORMAT}",
                               found=f"{type(err).__name__}: {err}",
                               fix="run `trtforge plan --force` again") from None
    odd = [n.name for n in plan.nodes if n.requested not in ("GPU", "DLA") or n.predicted not in ("GPU", "DLA")]
    if odd or not isinstance(plan.layer_device_types, str):
        raise TrtforgeError.of("plan nodes with devices 'GPU' or 'DLA'", found=f"other values at {odd[:3]}",
                               fix="run `trtforge plan --force` again")
    return plan


def check_plan_record(record: Mapping[str, Any]) -> None:
    """The schema check of a plan.json before it is reused (``is_fresh(check=...)``): keys, format, fields."""
    body = {k: v for k, v in record.items() if k != SELF_HASH}
    if body.get("format") != PLAN_FORMAT or set(body) != PLAN_KEYS:
        raise TrtforgeError.of(f"a plan of format {PLAN_FORMAT} with keys {sorted(PLAN_KEYS)}",
                               found=sorted(body), fix="run `trtforge plan --force` again")
    plan_from_json(body)


def plan_for_config(config: Config, force: bool = False) -> Plan:
    """Export and tag (if stale), then plan (``trtforge.pipeline`` runs each stage once; ``force`` redoes
    only the plan)."""
    from trtforge.pipeline import run_stages

    return run_stages(config, "plan", force={"plan"} if force else set()).plan


def plan_from_artifacts(config: Config, tagged_path: Path, *, force: bool = False) -> Plan:
    """The plan stage: ``plan.json`` + ``report.md`` from the tagged ONNX into the config's artifact folder
    (skipped when plan.json is fresh), then the config's [gates] applied."""
    from trtforge.placement.gates import enforce_gates

    from trtforge.artifacts import is_fresh
    from trtforge.log import stage

    out = config.artifact_dir
    with stage("plan", config=config.name, target=f"{config.target.platform}/{config.target.tensorrt}") as done:
        done["artifact"] = out / PLAN_FILE
        if not force and is_fresh(out / PLAN_FILE, plan_inputs(tagged_path, config),
                                  {"report": out / REPORT_FILE}, sealed=True, check=check_plan_record):
            done["skipped"] = True
            plan = plan_from_json(load_plan(out / PLAN_FILE))
        else:
            plan = plan_from_tagged(tagged_path, config)
            write_plan(plan, out)
    enforce_gates(plan, config)
    return plan
