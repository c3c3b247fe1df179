"""A Q/DQ ONNX from ranges, for strongly typed builds (TensorRT >= 11, TensorRT-RTX) and the accuracy preview.

One onnx-graphsurgeon pass: every activation input of a quantizable op gets ``QuantizeLinear -> DequantizeLinear``
with scale ``amax / 127`` and zero point 0 (symmetric INT8, shared by all consumers of the tensor); every weight
of Conv / ConvTranspose / Gemm / MatMul becomes an INT8 initializer with per-channel scales and a
``DequantizeLinear``; biases stay float (TensorRT-RTX rejects an INT32 bias DQ).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from trtforge.calib.histogram import MIN_AMAX
from trtforge.calib.ranges import Ranges

from trtforge.artifacts import write_atomic
from trtforge.errors import TrtforgeError

QMAX = 127.0
# op type -> indices of the inputs that are activations to quantize
ACTIVATION_INPUTS = {
    "Conv": (0,), "ConvTranspose": (0,), "Gemm": (0, 1), "MatMul": (0, 1), "Add": (0, 1),
    "MaxPool": (0,), "AveragePool": (0,), "GlobalAveragePool": (0,),
}
WEIGHTED = ("Conv", "ConvTranspose", "Gemm", "MatMul")


def weight_axis(node: Any) -> int:
    """The output-channel axis of a node's weight (input 1)."""
    if node.op == "ConvTranspose":
        return 1
    if node.op == "Gemm":
        return 0 if node.attrs.get("transB", 0) else 1
    if node.op == "MatMul":
        return -1
    return 0


def per_channel_scales(weight: np.ndarray, axis: int) -> np.ndarray:
    axis = axis % weight.ndim
    reduce = tuple(d for d in range(weight.ndim) if d != axis)
    amax = np.abs(weight).max(axis=reduce) if reduce else np.abs(weight)
    return (np.maximum(amax, MIN_AMAX) / QMAX).astype(np.float32)


def quantized_weight(weight: np.ndarray, scales: np.ndarray, axis: int) -> np.ndarray:
    shape = [1] * weight.ndim
    shape[axis % weight.ndim] = -1
    return np.clip(np.rint(weight / scales.reshape(shape)), -QMAX, QMAX).astype(np.int8)


def qdq_from_ranges(onnx_path: Path, ranges: Ranges, out_path: Path) -> Path:
    """Write ``out_path``: ``onnx_path`` with Q/DQ from ``ranges`` (activations) and the weights themselves."""
    model = qdq_models_from_ranges(onnx_path, {ranges.method: ranges})[ranges.method]
    return write_atomic(out_path, model.SerializeToString())


def qdq_models_from_ranges(onnx_path: Path, by_method: Mapping[str, Ranges]) -> dict[str, Any]:
    """The Q/DQ model of every method (``ModelProto``s): one graph surgery, the weights quantized once; the
    models differ only in their activation scales (what the accuracy preview compares)."""
    import onnx
    import onnx_graphsurgeon as gs

    methods = list(by_method)
    first = by_method[methods[0]]
    graph = gs.import_onnx(onnx.load(str(onnx_path)))
    dequantized: dict[str, Any] = {}
    for node in list(graph.nodes):
        for index in ACTIVATION_INPUTS.get(node.op, ()):
            if index < len(node.inputs) and isinstance(node.inputs[index], gs.Variable):
                node.inputs[index] = _activation_qdq(graph, node.inputs[index], first, dequantized)
        if node.op in WEIGHTED and len(node.inputs) > 1 and isinstance(node.inputs[1], gs.Constant):
            node.inputs[1] = _weight_dq(graph, node, node.inputs[1])
    graph.cleanup().toposort()
    base = gs.export_onnx(graph)
    onnx.checker.check_model(base)
    scales = {f"{name}_scale": name for name in dequantized}
    models = {}
    for method in methods:
        model = base if method == methods[0] else _rescaled(base, scales, by_method[method])
        _set_provenance(model, by_method[method])
        models[method] = model
    return models


def _rescaled(base: Any, scales: Mapping[str, str], ranges: Ranges) -> Any:
    """A copy of ``base`` whose activation scale initializers (``scales``: initializer -> tensor) come from
    ``ranges``."""
    import onnx
    from onnx import numpy_helper

    model = onnx.ModelProto()
    model.CopyFrom(base)
    for init in model.graph.initializer:
        tensor = scales.get(init.name)
        if tensor is None:
            continue
        if tensor not in ranges.amax:
            raise TrtforgeError.of(f"a range for tensor {tensor!r} (input of a quantized op)",
                                   found="none in ranges.json", fix="recalibrate this ONNX (`trtforge calib --force`)")
        init.CopyFrom(numpy_helper.from_array(np.array(ranges.amax[tensor] / QMAX, dtype=np.float32), init.name))
    return model


def _set_provenance(model: Any, ranges: Ranges) -> None:
    import onnx

    provenance = {"trtforge.calibration_method": ranges.method, "trtforge.calibration_data": ranges.data_sha256}
    if ranges.synthetic:
        from trtforge.calib.data import SYNTHETIC_WARNING

        provenance["trtforge.warning"] = SYNTHETIC_WARNING
    onnx.helper.set_model_props(model, provenance)


def _activation_qdq(graph: Any, tensor: Any, ranges: Ranges, done: dict[str, Any]) -> Any:
    import onnx_graphsurgeon as gs

    if tensor.name in done:
        return done[tensor.name]
    if tensor.name not in ranges.amax:
        raise TrtforgeError.of(f"a range for tensor {tensor.name!r} (input of a quantized op)",
                               found="none in ranges.json", fix="recalibrate this ONNX (`trtforge calib --force`)")
    scale = gs.Constant(f"{tensor.name}_scale", np.array(ranges.amax[tensor.name] / QMAX, dtype=np.float32))
    zero = gs.Constant(f"{tensor.name}_zero_point", np.array(0, dtype=np.int8))
    quantized = gs.Variable(f"{tensor.name}_quantized", dtype=np.int8, shape=tensor.shape)
    dequant = gs.Variable(f"{tensor.name}_dequantized", dtype=np.float32, shape=tensor.shape)
    graph.nodes.append(gs.Node("QuantizeLinear", f"{tensor.name}_QuantizeLinear", inputs=[tensor, scale, zero],
                               outputs=[quantized]))
    graph.nodes.append(gs.Node("DequantizeLinear", f"{tensor.name}_DequantizeLinear",
                               inputs=[quantized, scale, zero], outputs=[dequant]))
    done[tensor.name] = dequant
    return dequant


def _weight_dq(graph: Any, node: Any, weight: Any) -> Any:
    import onnx_graphsurgeon as gs

    values = np.asarray(weight.values, dtype=np.float32)
    axis = weight_axis(node) % values.ndim
    scales = per_channel_scales(values, axis)
    name = f"{node.name}/{weight.name}"
    quantized = gs.Constant(f"{name}_int8", quantized_weight(values, scales, axis))
    scale = gs.Constant(f"{name}_scale", scales)
    zero = gs.Constant(f"{name}_zero_point", np.zeros(scales.shape, dtype=np.int8))
    dequant = gs.Variable(f"{name}_dequantized", dtype=np.float32, shape=list(values.shape))
    graph.nodes.append(gs.Node("DequantizeLinear", f"{name}_DequantizeLinear", attrs={"axis": axis},
                               inputs=[quantized, scale, zero], outputs=[dequant]))
    return dequant
