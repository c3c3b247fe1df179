"""The offline DLA capability model: ``dla_rules.json`` (data, one source note per rule) applied to node facts.

``reasons_off_dla(node, target, graph=...)`` is empty when DLA can run the node, else one
``"<rule id>: <what failed>"`` per failed rule (``"pool.window: window 9x9 > 8"``). The check kinds below are
generic; which op uses which check with which limits, per TensorRT line and platform, lives in the JSON. Checks
marked ``"graph": true`` also look at the node's neighbours (``GraphFacts``); without a graph they pass.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trtforge.placement.facts import NodeFacts, TensorFacts

RULES_FILE = Path(__file__).with_name("dla_rules.json")
AXIS_NAMES = ("N", "C", "H", "W")


@dataclass(frozen=True)
class RuleTarget:
    """What the rules are evaluated for: the config's [target] plus its precision."""

    platform: str
    tensorrt: str
    precision: str


@dataclass(frozen=True)
class GraphFacts:
    """Who produces and who reads each tensor: what the rules about neighbours look at."""

    producer: Mapping[str, NodeFacts]
    consumers: Mapping[str, tuple[NodeFacts, ...]]

    @classmethod
    def of(cls, nodes: Sequence[NodeFacts]) -> GraphFacts:
        producer = {t.name: n for n in nodes for t in n.outputs}
        consumers: dict[str, list[NodeFacts]] = {}
        for node in nodes:
            for tensor in node.inputs:
                if tensor is not None and not tensor.const:
                    consumers.setdefault(tensor.name, []).append(node)
        return cls(producer, {k: tuple(v) for k, v in consumers.items()})

    def producers_of(self, node: NodeFacts) -> list[NodeFacts]:
        """The nodes writing this node's activation inputs (constants left out)."""
        return [self.producer[t.name] for t in node.inputs
                if t is not None and not t.const and t.name in self.producer]

    def consumers_of(self, node: NodeFacts) -> list[NodeFacts]:
        return [c for t in node.outputs for c in self.consumers.get(t.name, ())]


@functools.lru_cache(maxsize=4)
def load_rules(path: Path = RULES_FILE) -> dict[str, Any]:
    return dict(json.loads(path.read_text()))


def general_value(name: str, target: RuleTarget, rules: Mapping[str, Any] | None = None) -> Any:
    """A general limit; a list of entries means the first whose ``when`` matches the target."""
    entry = (rules or load_rules())["general"][name]
    if isinstance(entry, list):
        entry = next(e for e in entry if _applies(e.get("when", {}), target))
    return entry["value"]


def _applies(when: Mapping[str, Sequence[str]], target: RuleTarget) -> bool:
    return all(getattr(target, key) in allowed for key, allowed in when.items())


# ---------------------------------------------------------------------------------------------- verdict


def reasons_off_dla(node: NodeFacts, target: RuleTarget, rules: Mapping[str, Any] | None = None,
                    graph: GraphFacts | None = None) -> list[str]:
    """Why DLA cannot run ``node`` for ``target`` (empty: it can). General limits first, then the op's rules;
    the rules about neighbours only when ``graph`` is given."""
    rules = rules or load_rules()
    if node.op in rules["layerless"]["ops"]:
        return []
    spec_or_none = rules["ops"].get(node.op, {})
    reasons = _general_reasons(node, target, rules, spec_or_none.get("output_dtypes", []),
                               allowed_ranks(node, spec_or_none, graph, general_value("rank", target, rules)))
    if node.op in rules["not_on_dla"]:
        return [*reasons, f"op.unsupported: {node.op} has no DLA implementation"]
    spec = rules["ops"].get(node.op)
    if spec is None:
        return [*reasons, f"op.unknown: no DLA rule for {node.op} (not in the DLA op lists)"]
    for key, label in (("lines", "TensorRT"), ("platforms", "platform"), ("precisions", "precision")):
        allowed = spec.get(key)
        value = getattr(target, {"lines": "tensorrt", "platforms": "platform", "precisions": "precision"}[key])
        if allowed is not None and value not in allowed:
            reasons.append(f"op.{key[:-1]}: {node.op} is not on DLA with {label} {value} "
                           f"(only {', '.join(allowed)})")
    for check in spec["checks"]:
        if not _applies(check.get("when", {}), target):
            continue
        if check.get("graph"):
            message = GRAPH_CHECKS[check["check"]](node, check, graph) if graph is not None else None
        else:
            message = CHECKS[check["check"]](node, check, target)
        if message:
            reasons.append(f"{check['id']}: {message}")
    return reasons


def allowed_ranks(node: NodeFacts, spec: Mapping[str, Any], graph: GraphFacts | None, rank: int) -> tuple[int, ...]:
    """The tensor ranks DLA takes for this node: the general 4, an op's ``ranks`` (Gemm/MatMul, which the parser
    wraps in 4-D shuffles), or ``ranks_when`` its every consumer is one of the listed ops with a constant B."""
    if "ranks" in spec:
        return tuple(spec["ranks"])
    when = spec.get("ranks_when")
    if when and graph is not None:
        users = graph.consumers_of(node)
        if users and all(u.op in when["consumers"] and _is_const(u, 1) for u in users):
            return tuple(when["ranks"])
    return (rank,)


def _is_const(node: NodeFacts, index: int) -> bool:
    tensor = node.inputs[index] if index < len(node.inputs) else None
    return tensor is not None and tensor.const


def fp16_under_int8(op: str, rules: Mapping[str, Any] | None = None) -> str | None:
    """The source saying DLA runs ``op`` in FP16 even in an INT8 build (None: it runs in INT8)."""
    return (rules or load_rules())["ops"].get(op, {}).get("fp16_under_int8")


def _general_reasons(node: NodeFacts, target: RuleTarget, rules: Mapping[str, Any],
                     output_dtypes: Sequence[str], ranks: Sequence[int]) -> list[str]:
    reasons = []
    if target.precision not in general_value("precisions", target, rules):
        reasons.append(f"general.precision: precision {target.precision.upper()} (DLA runs FP16/INT8 only)")
    max_batch, max_dim = general_value("max_batch", target, rules), general_value("max_dim", target, rules)
    dtypes = general_value("dtypes", target, rules)
    outputs = {t.name for t in node.outputs}
    for tensor in node.activations():
        if tensor.dtype not in dtypes and not (tensor.name in outputs and tensor.dtype in output_dtypes):
            reasons.append(f"general.dtype: tensor {tensor.name} is {tensor.dtype}")
        elif tensor.shape is None or not tensor.static:
            reasons.append(f"general.static: tensor {tensor.name} has dynamic shape {_fmt_shape(tensor.shape)}")
        elif len(tensor.shape) not in ranks:
            reasons.append(f"general.rank: tensor {tensor.name} is {len(tensor.shape)}-D "
                           f"{_fmt_shape(tensor.shape)}, not {' or '.join(f'{r}-D' for r in ranks)}")
        else:
            dims = [d for d in tensor.shape if isinstance(d, int)]
            split = len(dims) - 3 if len(dims) >= 4 else 1  # 2-D [N, K] runs as [N, K, 1, 1]
            batch, rest = math.prod(dims[:split]), dims[split:] or [1]
            if batch > max_batch:
                reasons.append(f"general.batch: tensor {tensor.name} batch {batch} > {max_batch}")
            if max(rest) > max_dim:
                reasons.append(f"general.dims: tensor {tensor.name} dim {max(rest)} > {max_dim}")
    return list(dict.fromkeys(reasons))


def _fmt_shape(shape: Sequence[Any] | None) -> str:
    return "unknown" if shape is None else "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


def _fmt(values: Sequence[Any]) -> str:
    return "x".join(str(v) for v in values)


# ---------------------------------------------------------------------------------------------- check kinds

Check = Callable[[NodeFacts, Mapping[str, Any], RuleTarget], str | None]


def _attr(node: NodeFacts, check: Mapping[str, Any]) -> Any:
    value = node.attrs.get(check["attr"], check.get("default"))
    if value is None and check["attr"] in ("strides", "dilations", "pads") and "kernel_shape" in node.attrs:
        size = len(node.attrs["kernel_shape"]) * (2 if check["attr"] == "pads" else 1)
        value = [0 if check["attr"] == "pads" else 1] * size
    return value


def attr_range(node: NodeFacts, check: Mapping[str, Any], _target: RuleTarget) -> str | None:
    value = _attr(node, check)
    if value is None:
        return f"{check['label']} not given"
    values = value if isinstance(value, list) else [value]
    if any(v < check["min"] for v in values):
        return f"{check['label']} {_fmt(values)} < {check['min']}"
    if any(v > check["max"] for v in values):
        return f"{check['label']} {_fmt(values)} > {check['max']}"
    return None


def attr_len(node: NodeFacts, check: Mapping[str, Any], _target: RuleTarget) -> str | None:
    value = _attr(node, check) or []
    return None if len(value) == check["value"] else f"{check['label']} {len(value)}, not {check['value']} (2D only)"


def attr_in(node: NodeFacts, check: Mapping[str, Any], _target: RuleTarget) -> str | None:
    value = _attr(node, check)
    allowed = check["values"]
    return None if value in allowed else f"{check['label']} {value} not in {{{', '.join(map(str, allowed))}}}"


def _input(node: NodeFacts, index: int) -> TensorFacts | None:
    return node.inputs[index] if index < len(node.inputs) else None


def const_input(node: NodeFacts, check: Mapping[str, Any], _target: RuleTarget) -> str | None:
    tensor = _input(node, check["index"])
    return None if tensor is not None and tensor.const else f"{check['label']} is not a build-time constant"


def const_inputs_from(node: NodeFacts, check: Mapping[str, Any], _target: RuleTarget) -> str | None:
    loose = [t.name for t in node.inputs[check["index"]:] if t is not None and not t.const]
    return f"{check['label']} not build-time constants ({', '.join(loose)})" if loose else None


def pads_below_kernel(node: NodeFacts, check: Mapping[str, Any], _target: RuleTarget) -> str | None:
    kernel = node.attrs.get("kernel_shape", [])
    pads = node.attrs.get("pads", [0] * 2 * len(kernel))
    rank = len(kernel)
    for axis, size in enumerate(kernel):
        worst = max(pads[axis], pads[axis + rank]) if len(pads) == 2 * rank else 0
        if worst >= size:
            return f"padding {worst} >= kernel {size} (dim {axis})"
    return None


def weight_dim_range(node: NodeFacts, check: Mapping[str, Any], _target: RuleTarget) -> str | None:
    weight = _input(node, check["index"])
    if weight is None or not weight.shape:
        return f"{check['label']} unknown"
    value = weight.shape[check["dim"]]
    if node.op == "ConvTranspose" and isinstance(value, int):
        value *= int(node.attrs.get("group", 1))
    if not isinstance(value, int) or not check["min"] <= value <= check["max"]:
        return f"{check['label']} {value} not in [{check['min']}, {check['max']}]"
    return None


def cbuf(node: NodeFacts, check: Mapping[str, Any], target: RuleTarget) -> str | None:
    """The convolution buffer rule of the DLA guide: weight banks of one kernel + data banks <= 16."""
    data, weight = _input(node, 0), _input(node, 1)
    if data is None or weight is None or not data.static or not weight.static or len(data.shape or ()) != 4:
        return None  # the general rules already report unknown or non-4-D shapes
    c_in, w_in = int(data.shape[1]), int(data.shape[3])  # type: ignore[index,arg-type]
    k_h, k_w = int(weight.shape[2]), int(weight.shape[3])  # type: ignore[index,arg-type]
    size = 1 if target.precision == "int8" else 2
    dil_h = int(node.attrs.get("dilations", [1, 1])[0])
    weight_banks = math.ceil(_round_up(c_in * k_h * k_w * size, 128) / 32768)
    entries = math.ceil(math.ceil(c_in * size / 32) * w_in / 4)
    data_banks = math.ceil(entries * ((k_h - 1) * dil_h + 1) / 256)
    if weight_banks + data_banks > check["banks"]:
        return f"CBUF banks {weight_banks}+{data_banks} > {check['banks']}"
    return None


def _round_up(value: int, to: int) -> int:
    return -(-value // to) * to


def deconv_window(node: NodeFacts, check: Mapping[str, Any], _target: RuleTarget) -> str | None:
    values = list(_attr(node, check) or [])
    if len(values) != 2:
        return f"{check['label']} {_fmt(values)} is not 2-D"
    wide = {64, 96, 128}
    if sorted(values)[0] == 1 and max(values) in wide:
        return None
    if any(not 1 <= v <= 32 for v in values):
        return f"{check['label']} {_fmt(values)} outside [1,32] (or 1x64/96/128)"
    if values[0] == values[1] and 23 <= values[0] <= 32:
        return f"{check['label']} {_fmt(values)} square in [23,32] (disabled on DLA)"
    return None


def _rank(node: NodeFacts) -> int | None:
    first = _input(node, 0)
    return len(first.shape) if first is not None and first.shape is not None else None


def _axis_name(axis: int, rank: int) -> str:
    return AXIS_NAMES[axis] if rank == 4 else str(axis)


def channel_axis(node: NodeFacts, check: Mapping[str, Any], _target: RuleTarget) -> str | None:
    rank = _rank(node)
    if rank is None:
        return "input rank unknown"
    axis = int(node.attrs.get(check["attr"], 1)) % rank
    if axis != rank - 3:
        return f"{check['label']} {axis} ({_axis_name(axis, rank)}), not the channel axis"
    return None


def min_inputs(node: NodeFacts, check: Mapping[str, Any], _target: RuleTarget) -> str | None:
    count = sum(t is not None for t in node.inputs)
    return None if count >= check["value"] else f"{count} {check['label']}, needs >= {check['value']}"


def nonzero_axis(node: NodeFacts, check: Mapping[str, Any], _target: RuleTarget) -> str | None:
    rank = _rank(node)
    axis = int(node.attrs.get(check["attr"], check.get("default", 0)))
    if rank is not None and axis % rank == 0:
        return f"{check['label']} is the first dim"
    return None


def _values(tensor: TensorFacts | None) -> list[float] | None:
    return list(tensor.value) if tensor is not None and tensor.const and tensor.value is not None else None


def resize(node: NodeFacts, _check: Mapping[str, Any], _target: RuleTarget) -> str | None:
    if _input(node, 3) is not None:
        return "output sizes given (setOutputDimensions is not supported on DLA)"
    scales = _values(_input(node, 2))
    if scales is None or len(scales) != 4:
        return "scales not 4 build-time constants"
    mode = node.attrs.get("mode", "nearest")
    limit = {"nearest": 32, "linear": 4}.get(mode)
    if limit is None:
        return f"mode {mode} (nearest or linear only)"
    if scales[:2] != [1.0, 1.0] or any(s != int(s) or not 1 <= s <= limit for s in scales[2:]):
        return f"scales {_fmt(scales)} (need 1x1xAxB, A and B integers in [1,{limit}] for {mode})"
    coords = node.attrs.get("coordinate_transformation_mode", "half_pixel")
    rounding = node.attrs.get("nearest_mode", "round_prefer_floor")
    allowed = {("nearest", "asymmetric", "floor"), ("nearest", "half_pixel", "round_prefer_floor"),
               ("nearest", "half_pixel", "round_prefer_ceil")}
    if mode == "nearest" and (mode, coords, rounding) not in allowed:
        return f"nearest with {coords}/{rounding} (not a DLA combination)"
    if mode == "linear" and coords != "half_pixel":
        return f"linear with {coords} (half_pixel only)"
    return None


def slice_rule(node: NodeFacts, _check: Mapping[str, Any], _target: RuleTarget) -> str | None:
    starts, ends = _values(_input(node, 1)), _values(_input(node, 2))
    rank = _rank(node)
    if starts is None or ends is None or rank is None:
        return None  # reported by slice.constants / the general rules
    axes = _values(_input(node, 3)) or [float(i) for i in range(len(starts))]
    steps = _values(_input(node, 4)) or [1.0] * len(starts)
    if any(s != 1 for s in steps):
        return f"steps {_fmt([int(s) for s in steps])} (all must be 1)"
    first = _input(node, 0)
    batch = first.shape[0] if first is not None and first.shape else None
    for axis, start, end in zip(axes, starts, ends, strict=False):
        if int(axis) % rank == 0 and not (start == 0 and isinstance(batch, int) and end >= batch):
            return "slices the first dim"
    return None


def softmax_axis(node: NodeFacts, check: Mapping[str, Any], _target: RuleTarget) -> str | None:
    first = _input(node, 0)
    if first is None or not first.static or first.shape is None:
        return None
    dims = [int(d) for d in first.shape]  # type: ignore[arg-type]
    axis = int(node.attrs.get("axis", -1)) % len(dims)
    if axis == 0:
        return "softmax axis is the batch dim"
    others = [d for i, d in enumerate(dims) if i not in (0, axis)]
    limit = check["accurate"] if all(d == 1 for d in others) else check["approximate"]
    if dims[axis] > limit:
        return f"softmax axis size {dims[axis]} > {limit}"
    return None


def keeps_batch(node: NodeFacts, _check: Mapping[str, Any], _target: RuleTarget) -> str | None:
    first = _input(node, 0)
    before = first.shape[0] if first is not None and first.shape else None
    after = node.outputs[0].shape[0] if node.outputs and node.outputs[0].shape else None
    return None if before == after else f"batch dim changes {before} -> {after}"


def perm_keeps_batch(node: NodeFacts, _check: Mapping[str, Any], _target: RuleTarget) -> str | None:
    perm = node.attrs.get("perm")
    return None if perm and perm[0] == 0 else f"perm {perm} moves the batch dim"


def reduce_axes(node: NodeFacts, _check: Mapping[str, Any], _target: RuleTarget) -> str | None:
    rank = _rank(node)
    axes = node.attrs.get("axes") or _values(_input(node, 1))
    if axes is None:
        return "reduces over every dim, the batch included"
    if rank is not None and any(int(a) % rank == 0 for a in axes):
        return "reduces over the batch dim"
    return None


def clip_relu(node: NodeFacts, _check: Mapping[str, Any], _target: RuleTarget) -> str | None:
    low, high = _values(_input(node, 1)), _values(_input(node, 2))
    if low is None or high is None:
        return "min and max not both build-time constants"
    if low != [0.0] or not 1 <= high[0] <= 127:
        return f"clip [{low[0]:g}, {high[0]:g}] (DLA: min 0, max in [1,127])"
    return None


def padded_inclusive(node: NodeFacts, check: Mapping[str, Any], _target: RuleTarget) -> str | None:
    """Xavier average pooling: padding, if any, must be counted (``count_include_pad = 1``)."""
    pads = node.attrs.get("pads") or []
    if not any(int(p) for p in pads) and node.attrs.get("auto_pad", "NOTSET") in ("NOTSET", "VALID"):
        return None
    if int(node.attrs.get("count_include_pad", 0)) == 1:
        return None
    return f"padded ({_fmt(pads) or node.attrs.get('auto_pad')}) with {check['label']} 0 (Xavier: inclusive only)"


def slope_rank(node: NodeFacts, check: Mapping[str, Any], _target: RuleTarget) -> str | None:
    data, slope = _input(node, 0), _input(node, 1)
    if data is None or slope is None or data.shape is None or slope.shape is None:
        return None  # a non-constant slope is reported by prelu.slope, an unknown input by the general rules
    if len(slope.shape) > len(data.shape):
        return f"{check['label']} rank {len(slope.shape)} > input rank {len(data.shape)}"
    for s, d in zip(reversed(slope.shape), reversed(data.shape), strict=False):
        if s != 1 and s != d:
            return f"{check['label']} {_fmt(list(slope.shape))} does not broadcast to {_fmt(list(data.shape))}"
    return None


CHECKS: dict[str, Check] = {
    "attr_range": attr_range, "attr_len": attr_len, "attr_in": attr_in, "const_input": const_input,
    "const_inputs_from": const_inputs_from, "pads_below_kernel": pads_below_kernel,
    "weight_dim_range": weight_dim_range, "cbuf": cbuf, "deconv_window": deconv_window,
    "channel_axis": channel_axis, "min_inputs": min_inputs, "nonzero_axis": nonzero_axis, "resize": resize,
    "slice": slice_rule, "softmax_axis": softmax_axis, "keeps_batch": keeps_batch,
    "perm_keeps_batch": perm_keeps_batch, "reduce_axes": reduce_axes, "clip_relu": clip_relu,
    "padded_inclusive": padded_inclusive, "slope_rank": slope_rank,
}


# ---------------------------------------------------------------------------------------------- graph checks

GraphCheck = Callable[[NodeFacts, Mapping[str, Any], GraphFacts], str | None]
NORMS = ("InstanceNormalization", "GroupNormalization")


def next_to(node: NodeFacts, check: Mapping[str, Any], graph: GraphFacts) -> str | None:
    """The node reads from or feeds one of ``ops`` directly."""
    ops = set(check["ops"])
    found = [n for n in graph.producers_of(node) + graph.consumers_of(node) if n.op in ops]
    if not found:
        return None
    return f"{check['label']} directly connected to {found[0].op} {found[0].name} (not on this DLA version)"


def consumers_are(node: NodeFacts, check: Mapping[str, Any], graph: GraphFacts) -> str | None:
    users = graph.consumers_of(node)
    odd = [u for u in users if u.op not in check["ops"]]
    if users and not odd:
        return None
    what = f"read by {odd[0].op} {odd[0].name}" if odd else "not read by any node"
    return f"{check['label']} {what}, not only by {'/'.join(check['ops'])}"


def norm_affine(node: NodeFacts, check: Mapping[str, Any], graph: GraphFacts) -> str | None:
    """A Mul/Add of a decomposed GroupNorm: its data comes from Reshape(InstanceNormalization), possibly through
    the other affine op (Add after Mul)."""
    current, hops = node, 0
    while hops < 3:
        sources = graph.producers_of(current)
        if len(sources) != 1:
            return None
        source = sources[0]
        if source.op == "Reshape" and any(p.op in NORMS for p in graph.producers_of(source)):
            return f"{check['label']} after {source.name} (ran on GPU in a TensorRT 8.4 log; cause undocumented)"
        if source.op not in ("Mul", "Add"):
            return None
        current, hops = source, hops + 1
    return None


GRAPH_CHECKS: dict[str, GraphCheck] = {"next_to": next_to, "consumers_are": consumers_are, "norm_affine": norm_affine}
