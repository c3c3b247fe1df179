"""Tiny hand-made ONNX graphs for the placement tests: one op under test, named `<owner>/<Op>` as tagging does."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

Shape = Sequence[int | str]


def const(name: str, values: Any, dtype: Any = np.float32) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(values, dtype=dtype), name)


def one_op(op: str, shape: Shape, attrs: dict[str, Any] | None = None, *, extra: Sequence[Any] = (),
           inputs: int = 1, owner: str = "m", dtype: int = TensorProto.FLOAT) -> onnx.ModelProto:
    """``op`` reading ``inputs`` tensors of ``shape`` (x0, x1, ...) plus constant initializers ``extra``
    (``None`` leaves an optional input empty)."""
    names = [f"x{i}" for i in range(inputs)]
    initializers = [t for t in extra if t is not None]
    node = helper.make_node(op, [*names, *(t.name if t is not None else "" for t in extra)], ["y"],
                            name=f"{owner}/{op}", **(attrs or {}))
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info(n, dtype, list(shape)) for n in names],
                              [helper.make_empty_tensor_value_info("y")], initializer=initializers)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])


def conv(shape: Shape, out_channels: int, kernel: Sequence[int], **attrs: Any) -> onnx.ModelProto:
    weight = const("w", np.zeros((out_channels, int(shape[1]) // attrs.get("group", 1), *kernel)))
    return one_op("Conv", shape, {"kernel_shape": list(kernel), **attrs}, extra=[weight])


def chain(ops: Sequence[str], shape: Shape, owners: Sequence[str] | None = None) -> onnx.ModelProto:
    """A straight chain of unary ops (x -> op0 -> op1 -> ... -> y); each node owned by ``owners[i]``."""
    owners = owners or [f"m{i}" for i in range(len(ops))]
    nodes, seen = [], {}
    for i, (op, owner) in enumerate(zip(ops, owners, strict=True)):
        base = f"{owner}/{op}"
        name = base if base not in seen else f"{base}.{seen[base]}"
        seen[base] = seen.get(base, 0) + 1
        nodes.append(helper.make_node(op, ["x" if i == 0 else f"t{i - 1}"],
                                      ["y" if i == len(ops) - 1 else f"t{i}"], name=name))
    graph = helper.make_graph(nodes, "chain", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))],
                              [helper.make_empty_tensor_value_info("y")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
