"""The Q/DQ pass on a tiny generated ONNX model: activation scales are exactly amax/127 from the ranges, weights
are per-channel INT8, biases stay float, and the fake-quantized model runs close to the FP32 one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from trtforge.calib import Ranges, qdq_from_ranges

from trtforge.errors import TrtforgeError


def _model(path: Path) -> Path:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.normal(size=(4, 3, 3, 3)).astype(np.float32), "w"),
             numpy_helper.from_array(rng.normal(size=4).astype(np.float32), "b"),
             numpy_helper.from_array(rng.normal(size=(5, 4)).astype(np.float32), "fc_w"),
             numpy_helper.from_array(rng.normal(size=5).astype(np.float32), "fc_b")]
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["conv"], name="c/Conv", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["conv"], ["relu"], name="c/Relu"),
             helper.make_node("Add", ["relu", "conv"], ["add"], name="c/Add"),
             helper.make_node("GlobalAveragePool", ["add"], ["pool"], name="c/Pool"),
             helper.make_node("Flatten", ["pool"], ["flat"], name="c/Flatten"),
             helper.make_node("Gemm", ["flat", "fc_w", "fc_b"], ["y"], name="fc/Gemm", transB=1)]
    graph = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 5])], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def _ranges(**amax: float) -> Ranges:
    return Ranges(amax=amax, method="max", onnx_sha256="", data_sha256="", synthetic=False)


def test_qdq_uses_the_ranges_exactly(tmp_path: Path) -> None:
    import onnx
    from onnx import numpy_helper

    amax = {"x": 3.0, "conv": 6.5, "relu": 6.5, "add": 9.0, "pool": 2.0, "flat": 1.75, "y": 4.0}
    out = qdq_from_ranges(_model(tmp_path / "m.onnx"), _ranges(**amax), tmp_path / "q.onnx")
    model = onnx.load(str(out))
    consts = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    quantize = {n.input[0]: n for n in model.graph.node if n.op_type == "QuantizeLinear"}
    assert set(quantize) == {"x", "conv", "relu", "add", "flat"}  # inputs of Conv, Add, pool and Gemm
    for name, node in quantize.items():
        assert consts[node.input[1]] == np.float32(amax[name] / 127.0)
        assert consts[node.input[2]].dtype == np.int8 and consts[node.input[2]] == 0
    weights = [n for n in model.graph.node if n.op_type == "DequantizeLinear" and n.input[0] in consts]
    assert len(weights) == 2
    for node in weights:
        assert consts[node.input[0]].dtype == np.int8 and np.abs(consts[node.input[0]]).max() == 127
        assert {a.name: a.i for a in node.attribute}["axis"] == 0
    conv = next(n for n in model.graph.node if n.op_type == "Conv")
    assert conv.input[2] == "b" and consts["b"].dtype == np.float32  # bias stays float


def test_qdq_model_runs_close_to_fp32(tmp_path: Path) -> None:
    import onnxruntime as ort

    source = _model(tmp_path / "m.onnx")
    x = np.random.default_rng(1).normal(size=(2, 3, 8, 8)).astype(np.float32)
    reference = ort.InferenceSession(str(source), providers=["CPUExecutionProvider"])
    acts = dict(zip(["conv", "relu", "add", "pool", "flat"],
                    ort.InferenceSession(_exposed(source, tmp_path), providers=["CPUExecutionProvider"])
                    .run(["conv", "relu", "add", "pool", "flat"], {"x": x}), strict=True))
    amax = {"x": float(np.abs(x).max()), **{k: float(np.abs(v).max()) for k, v in acts.items()}}
    out = qdq_from_ranges(source, _ranges(**amax), tmp_path / "q.onnx")
    quantized = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(["y"], {"x": x})[0]
    expected = reference.run(["y"], {"x": x})[0]
    assert not np.array_equal(quantized, expected)  # it really is quantized
    cosine = float((quantized * expected).sum() / np.linalg.norm(quantized) / np.linalg.norm(expected))
    assert cosine > 0.99


def _exposed(source: Path, tmp_path: Path) -> str:
    import onnx

    model = onnx.load(str(source))
    for name in ["conv", "relu", "add", "pool", "flat"]:
        model.graph.output.append(onnx.ValueInfoProto(name=name))
    path = tmp_path / "exposed.onnx"
    onnx.save(model, str(path))
    return str(path)


def test_qdq_without_a_range_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(TrtforgeError, match="a range for tensor 'relu'"):
        qdq_from_ranges(_model(tmp_path / "m.onnx"), _ranges(x=1.0), tmp_path / "q.onnx")
