"""The FP16-typed ONNX (the strongly typed FP16 build's input): float16 inside, float32 I/O, names kept, and it
runs in ONNX Runtime (CPU) close to the FP32 model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from trtforge.build.fp16 import fp16_from_onnx

pytestmark = pytest.mark.torch


@pytest.fixture(scope="module")
def typed(resnet18_tagged, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    _config, tagged = resnet18_tagged
    return tagged.tagged_path, fp16_from_onnx(tagged.tagged_path, tmp_path_factory.mktemp("fp16") / "fp16.onnx")


def test_types_and_names(typed: tuple[Path, Path]) -> None:
    import onnx

    source, out = (onnx.load(str(p)) for p in typed)
    float_types = {i.data_type for i in out.graph.initializer} - {onnx.TensorProto.INT64}
    assert float_types == {onnx.TensorProto.FLOAT16}
    io = [(v.name, v.type.tensor_type.elem_type) for v in (*out.graph.input, *out.graph.output)]
    assert io == [("input", onnx.TensorProto.FLOAT), ("logits", onnx.TensorProto.FLOAT)]
    names = [n.name for n in out.graph.node]
    assert set(names) - {n.name for n in source.graph.node} == {"/Cast.input", "/Cast.logits"}
    assert len(names) == len(source.graph.node) + 2


def test_runs_in_onnxruntime_close_to_fp32(typed: tuple[Path, Path]) -> None:
    import onnxruntime as ort

    x = np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)
    fp32, fp16 = (ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
                  for p in typed)
    assert fp16.dtype == np.float32
    cosine = float((fp32 * fp16).sum() / np.linalg.norm(fp32) / np.linalg.norm(fp16))
    assert cosine > 0.999 and int(fp32.argmax()) == int(fp16.argmax())
