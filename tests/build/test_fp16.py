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


# ---------------------------------------------------------------------------------------------- the converter's gaps


def _typed_tiny(tmp_path: Path, model: str, outputs: list[str], shape: tuple[int, ...] = (3, 8, 8)
                ) -> tuple[Path, Path]:
    from trtforge.config import config_from_dict
    from trtforge.pipeline import tagged_from_config

    config = config_from_dict({"name": "t", "model": model, "inputs": {"input": list(shape)}, "outputs": outputs,
                               "output_dir": str(tmp_path / "t")})
    tagged = tagged_from_config(config).tagged_path
    return tagged, fp16_from_onnx(tagged, tmp_path / "fp16.onnx")


def _check_valid_and_close(typed: tuple[Path, Path], shape: tuple[int, ...]) -> list[np.ndarray]:
    import onnx
    import onnxruntime as ort

    model = onnx.load(str(typed[1]))
    onnx.checker.check_model(model, full_check=True)
    assert {v.type.tensor_type.elem_type for v in (*model.graph.input, *model.graph.output)} == {onnx.TensorProto.FLOAT}
    x = np.random.default_rng(1).standard_normal((1, *shape)).astype(np.float32)
    ref, got = (ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]).run(None, {"input": x})
                for p in typed)
    for r, g in zip(ref, got, strict=True):
        assert g.dtype == np.float32 and g.shape == r.shape
        np.testing.assert_allclose(g, r, atol=2e-2, rtol=2e-2)
    return got


def test_an_output_also_consumed_inside_the_graph(tmp_path: Path) -> None:
    """``(y, y * 2)``: the converter alone left the Mul reading float32 ``y`` next to a float16 constant."""
    y, y2 = _check_valid_and_close(_typed_tiny(tmp_path, "output_models:tuple_out", ["y", "y2"]), (3, 8, 8))
    np.testing.assert_allclose(y2, 2 * y, rtol=1e-2, atol=1e-2)


def test_a_dict_of_outputs(tmp_path: Path) -> None:
    _check_valid_and_close(_typed_tiny(tmp_path, "output_models:dict_out", ["out", "pooled"]), (3, 8, 8))


def test_a_blocked_resize_producing_the_output_keeps_it_float32(tmp_path: Path) -> None:
    """The converter alone made this output float16 despite ``keep_io_types`` (DeepLabV3's last op)."""
    _check_valid_and_close(_typed_tiny(tmp_path, "output_models:resize_out", ["y"]), (3, 8, 8))


def test_constant_of_shape_without_a_value_becomes_float16(tmp_path: Path) -> None:
    """``ConstantOfShape`` without ``value`` is float32 zeros by the spec (Swin's attention mask)."""
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Shape", ["input"], ["shape"], name="root/Shape"),
         helper.make_node("ConstantOfShape", ["shape"], ["zeros"], name="root/ConstantOfShape"),
         helper.make_node("Add", ["input", "zeros"], ["y"], name="root/Add")],
        "g", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])])
    source = tmp_path / "cos.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), str(source))
    _check_valid_and_close((source, fp16_from_onnx(source, tmp_path / "fp16.onnx")), (3,))


def test_added_casts_carry_the_owner_of_the_node_they_feed(tmp_path: Path) -> None:
    import onnx
    from trtforge.placement.tagging import OWNER_KEY

    _tagged, typed = _typed_tiny(tmp_path, "output_models:resize_out", ["y"])
    added = [n for n in onnx.load(str(typed)).graph.node if "/Cast." in n.name]
    owners = {n.name: {p.key: p.value for p in n.metadata_props}.get(OWNER_KEY) for n in added}
    assert owners.pop("/Cast.input") == "" and owners.pop("/Cast.y") == ""
    assert owners and all(name.startswith(f"{owner}/Cast.fp16.") for name, owner in owners.items())


def test_an_invalid_result_is_refused_with_a_clear_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from trtforge.build import fp16

    from trtforge.errors import TrtforgeError

    def break_it(model):  # what the converter alone did to (y, y * 2): a float32 tensor times a float16 one
        from onnx import helper, numpy_helper

        model.graph.initializer.append(numpy_helper.from_array(np.ones(1, np.float16), "half"))
        model.graph.node.append(helper.make_node("Mul", ["input", "half"], ["extra"], name="bad/Mul"))
        return model

    source, _typed = _typed_tiny(tmp_path, "output_models:tuple_out", ["y", "y2"])
    real = fp16._convert
    monkeypatch.setattr(fp16, "_convert", lambda m: break_it(real(m)))
    with pytest.raises(TrtforgeError, match=r"a valid FP16-typed ONNX from .*tagged.onnx; found .*fix: report it"):
        fp16_from_onnx(source, tmp_path / "broken.onnx")
    assert not (tmp_path / "broken.onnx").exists()


@pytest.mark.rtx
def test_tuple_outputs_build_a_strongly_typed_fp16_engine(tmp_path: Path) -> None:
    """reliability defect 8: ``(y, y * 2)`` failed TensorRT's parser (``/Mul ... INVALID_NODE``)."""
    from trtforge.build import engine_for_config

    from trtforge.config import config_from_dict

    config = config_from_dict({"name": "tuple_out", "model": "output_models:tuple_out", "inputs": {"input": [3, 8, 8]},
                               "outputs": ["y", "y2"], "precision": "fp16", "output_dir": str(tmp_path / "t")})
    result = engine_for_config(config)
    assert result.engine_path.stat().st_size > 0
    import json

    io = json.loads(result.sidecar_path.read_text())["io"]
    assert [(t["name"], t["dtype"]) for t in io] == [("input", "FLOAT"), ("y", "FLOAT"), ("y2", "FLOAT")]
