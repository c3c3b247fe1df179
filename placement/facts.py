"""What the DLA rules look at, read once from an ONNX graph: per node its op, attributes, tensors (shape, type,
whether a build-time constant and, for small constants, the values), FLOPs and weight bytes."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from trtforge.placement.tagging import FOLDED_KEY, OWNER_KEY

Dim = int | str | None  # an int, a symbolic name, or unknown
SMALL_CONST = 64  # constants up to this many elements keep their values (scales, axes, clip bounds)


@dataclass(frozen=True)
class TensorFacts:
    name: str
    shape: tuple[Dim, ...] | None
    dtype: str
    const: bool
    value: tuple[float, ...] | None = None

    @property
    def static(self) -> bool:
        return self.shape is not None and all(isinstance(d, int) for d in self.shape)

    @property
    def elements(self) -> int:
        return math.prod(d for d in self.shape if isinstance(d, int)) if self.shape is not None else 0


@dataclass(frozen=True)
class NodeFacts:
    name: str
    op: str
    owner: str
    attrs: Mapping[str, Any]
    inputs: tuple[TensorFacts | None, ...]  # None: an optional input left empty
    outputs: tuple[TensorFacts, ...]
    flops: int
    weight_bytes: int
    folded: str | None = None  # the conv whose batch-norm was folded into this node (tagging's folded_from)

    def activations(self) -> list[TensorFacts]:
        """The non-constant tensors the node reads and writes: the ones DLA must hold."""
        ins = [t for t in self.inputs if t is not None and not t.const]
        return ins + list(self.outputs)


def facts_from_onnx(model: Any) -> list[NodeFacts]:
    """Facts of every node of ``model`` (shape inference is run first, so tiny hand-made models work too)."""
    import onnx

    inferred = onnx.shape_inference.infer_shapes(model)
    graph = inferred.graph
    tensors = _tensor_table(graph)
    nodes = []
    for node in graph.node:
        attrs = {a.name: _attr_value(a) for a in node.attribute}
        inputs = tuple(tensors.get(name, TensorFacts(name, None, "UNDEFINED", False)) if name else None
                       for name in node.input)
        outputs = tuple(tensors.get(name, TensorFacts(name, None, "UNDEFINED", False)) for name in node.output)
        meta = {p.key: p.value for p in node.metadata_props}
        owner = meta.get(OWNER_KEY, node.name.rpartition("/")[0])
        weights = sum(t.elements * 4 for t in inputs if t is not None and t.const)
        nodes.append(NodeFacts(node.name, node.op_type, owner, attrs, inputs, outputs,
                               flops_of(node.op_type, attrs, inputs, outputs), weights, meta.get(FOLDED_KEY)))
    return nodes


def _tensor_table(graph: Any) -> dict[str, TensorFacts]:
    import onnx
    from onnx import numpy_helper

    table: dict[str, TensorFacts] = {}
    for info in [*graph.input, *graph.value_info, *graph.output]:
        kind = info.type.tensor_type
        shape = tuple(_dim(d) for d in kind.shape.dim) if kind.HasField("shape") else None
        table[info.name] = TensorFacts(info.name, shape, onnx.TensorProto.DataType.Name(kind.elem_type), False)
    constants = [(init.name, init) for init in graph.initializer]
    constants += [(node.output[0], a.t) for node in graph.node if node.op_type == "Constant"
                  for a in node.attribute if a.name == "value"]
    for name, proto in constants:
        array = numpy_helper.to_array(proto)
        value = tuple(float(v) for v in array.reshape(-1)) if array.size <= SMALL_CONST else None
        table[name] = TensorFacts(name, tuple(int(d) for d in array.shape),
                                  onnx.TensorProto.DataType.Name(proto.data_type), True, value)
    return table


def _dim(dim: Any) -> Dim:
    if dim.HasField("dim_value"):
        return int(dim.dim_value)
    return dim.dim_param if dim.HasField("dim_param") else None


def _attr_value(attr: Any) -> Any:
    from onnx import helper

    value = helper.get_attribute_value(attr)
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, list):
        return [v.decode() if isinstance(v, bytes) else v for v in value]
    return value if isinstance(value, int | float | str) else None


def flops_of(op: str, attrs: Mapping[str, Any], inputs: tuple[TensorFacts | None, ...],
             outputs: tuple[TensorFacts, ...]) -> int:
    """Multiply-adds count twice; every other op costs one per output element; constants cost nothing."""
    if op == "Constant" or not outputs:
        return 0
    out = outputs[0].elements
    weight = inputs[1] if len(inputs) > 1 else None
    if op == "Conv" and weight is not None and weight.shape:
        return 2 * out * math.prod(int(d) for d in weight.shape[1:] if isinstance(d, int))
    if op == "ConvTranspose" and weight is not None and weight.shape and inputs[0] is not None:
        per_input = math.prod(int(d) for d in weight.shape[1:] if isinstance(d, int))
        return 2 * inputs[0].elements * per_input
    if op in ("Gemm", "MatMul") and inputs[0] is not None and inputs[0].shape:
        k_axis = -2 if op == "Gemm" and attrs.get("transA") else -1
        k = inputs[0].shape[k_axis]
        return 2 * out * (k if isinstance(k, int) else 1)
    return out
