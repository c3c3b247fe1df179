"""TensorRT parse errors summarised: the failing node, its op and the parser's message, without the unrelated
"CUDA driver version is insufficient" lines TensorRT-RTX adds on a machine without a GPU."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from trtforge.errors import TrtforgeError


def _mixed_types_onnx(path: Path) -> Path:
    """What the old FP16 pass wrote for ``(y, y * 2)``: a Mul of a float32 and a float16 tensor."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        [helper.make_node("Relu", ["input"], ["r"], name="head/Relu"),
         helper.make_node("Mul", ["r", "half"], ["y"], name="head/Mul")], "g",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 8, 8])],
        [numpy_helper.from_array(np.ones(1, np.float16), "half")])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), str(path))
    return path


def test_clean_trt_message_drops_cuda_lines_and_source_locations() -> None:
    from trtforge.build.engine import clean_trt_message

    text = ("ITensor::getDimensions: Error Code 4: API Usage Error (head/Mul: ElementWiseOperation PROD must have "
            "same input types. But they are of types Float and Half. In validateTypes at "
            "/_src/optimizer/common/nodes/elementWiseNode.cpp:40)\n[checkMacros.cpp::catchCudaError::250] Error "
            "Code 1: Cuda Runtime (In catchCudaError at /_src/common/dispatch/checkMacros.cpp:250 (cudaError 35: "
            "CUDA driver version is insufficient for CUDA runtime version))")
    cleaned = clean_trt_message(text)
    assert "CUDA driver" not in cleaned and "/_src/" not in cleaned and "\n" not in cleaned
    assert "must have same input types. But they are of types Float and Half" in cleaned


@pytest.mark.rtx
@pytest.mark.parametrize(("name", "fix"), [("fp16.onnx", "this FP16-typed ONNX is written by trtforge"),
                                           ("model.onnx", "check the opset and the failing op")])
def test_a_parse_error_names_node_op_and_message(tmp_path: Path, name: str, fix: str) -> None:
    import tensorrt_rtx as trt
    from trtforge.build.engine import capturing_logger, network_from_onnx

    path = _mixed_types_onnx(tmp_path / name)
    with pytest.raises(TrtforgeError) as err:
        network_from_onnx(trt, capturing_logger(trt), path, 0)
    text = str(err.value)
    assert "found node 1 'head/Mul' (Mul): " in text
    assert "must have same input types. But they are of types Float and Half" in text and "[INVALID_NODE]" in text
    assert "CUDA driver" not in text and "/_src/" not in text and "\n" not in text
    assert f"fix: {fix}" in text
