"""compare on the outputs real models return: a tuple, a dict (names from its keys), several outputs; a
degenerate reference gives INCONCLUSIVE rows; a candidate ONNX that cannot run is a FAIL row, not a traceback."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
from trtforge.bench.accuracy import degenerate_reason, rows_from_outputs

from trtforge.config import config_from_dict
from trtforge.errors import TrtforgeError

pytestmark = pytest.mark.torch
LOOSE = {"atol": 0.1, "rtol": 0.1, "min_cosine": 0.99, "min_top1": 0.5}


def _config(tmp_path: Path, model: str, outputs: list[str], precision: str = "fp16"):
    return config_from_dict({"name": "c", "model": model, "inputs": {"input": [3, 8, 8]}, "outputs": outputs,
                             "precision": precision, "output_dir": str(tmp_path / "c"), "compare": {"samples": 2}})


def _rows(config):
    from trtforge.bench.compare import rows_from_configs

    rows, _notes = rows_from_configs([config], data="generated")
    return rows


def test_named_outputs_by_dict_key_by_position_and_count() -> None:
    import torch
    from trtforge.bench.compare import named_outputs

    a, b = torch.ones(1, 2), torch.zeros(1, 3)
    by_key = named_outputs(OrderedDict([("pooled", b), ("out", a)]), ["out", "pooled"])
    assert list(by_key) == ["out", "pooled"] and by_key["out"].shape == (1, 2)  # matched by key, not position
    assert named_outputs((a, [b]), ["first", "second"])["second"].shape == (1, 3)  # nested tuple/list: in order
    assert named_outputs(a, ["y"])["y"].dtype == np.float32
    with pytest.raises(TrtforgeError, match=r"outputs = \['y'\]; found 2 outputs returned: \['output_0', "
                                            r"'output_1'\]"):
        named_outputs((a, b), ["y"])


@pytest.mark.parametrize(("model", "outputs"), [("output_models:tuple_out", ["y", "y2"]),
                                                ("output_models:dict_out", ["out", "pooled"])])
def test_compare_runs_tuple_and_dict_outputs(tmp_path: Path, model: str, outputs: list[str]) -> None:
    rows = _rows(_config(tmp_path, model, outputs))
    measured = [r for r in rows if r.status != "NOT MEASURED"]
    assert {r.output for r in measured} == set(outputs)
    assert {r.candidate for r in measured} == {"onnxruntime fp32 (tagged ONNX)", "onnxruntime fp16 (FP16-typed ONNX)"}
    assert all(r.status == "PASS" for r in measured), [(r.output, r.status, r.metrics) for r in measured]


def test_a_constant_or_input_independent_reference_is_inconclusive() -> None:
    same = np.array([[0.5, -1.0, 2.0]], np.float32)
    independent = [{"y": same}, {"y": same.copy()}]
    zeros = [{"y": np.zeros((1, 3), np.float32)}, {"y": np.zeros((1, 3), np.float32)}]
    varied = [{"y": same}, {"y": same + 1.0}]
    assert "does not depend on the input" in degenerate_reason(independent, "y")
    assert "constant (every value 0)" in degenerate_reason(zeros, "y")
    assert degenerate_reason(varied, "y") == ""
    (row,) = rows_from_outputs("c", "fp16", "cand", "ref", zeros, zeros, LOOSE)
    assert row.status == "INCONCLUSIVE" and row.reason.startswith("INCONCLUSIVE: the reference output is constant")
    (row,) = rows_from_outputs("c", "fp16", "cand", "ref", independent, [{"y": -same}, {"y": -same}], LOOSE)
    assert row.status == "INCONCLUSIVE"  # neither PASS nor FAIL: the reference cannot judge
    (row,) = rows_from_outputs("c", "fp16", "cand", "ref", varied, varied, LOOSE)
    assert row.status == "PASS"


def test_a_model_whose_logits_ignore_the_input_gives_inconclusive_rows(tmp_path: Path) -> None:
    config = config_from_dict({"name": "k", "model": "output_models:constant_logits", "inputs": {"input": [3, 8, 8]},
                               "outputs": ["logits"], "output_dir": str(tmp_path / "k"), "compare": {"samples": 2}})
    rows = [r for r in _rows(config) if r.status != "NOT MEASURED"]
    assert rows and all(r.status == "INCONCLUSIVE" for r in rows)
    assert all("does not depend on the input" in r.reason for r in rows)
    from trtforge.bench.compare import table_from_rows

    assert "INCONCLUSIVE: the reference output does not depend" in table_from_rows([r.__dict__ for r in rows])


def test_top1_only_for_2d_classifier_logits() -> None:
    from trtforge.bench.accuracy import metrics_from_outputs

    logits = [{"y": np.array([[1.0, 2.0, 0.5]], np.float32)}, {"y": np.array([[3.0, 0.0, 0.5]], np.float32)}]
    maps = [{"y": np.arange(16, dtype=np.float32).reshape(1, 2, 2, 4) + i} for i in range(2)]
    assert "top1" in metrics_from_outputs(logits, logits, "y")
    assert "top1" not in metrics_from_outputs(maps, maps, "y")


def test_an_fp16_candidate_onnx_runtime_refuses_is_a_fail_row(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    from trtforge.bench import sources

    bad = tmp_path / "bad_fp16.onnx"  # what the old pass wrote for (y, y * 2): Mul of float32 and float16
    graph = helper.make_graph(
        [helper.make_node("Mul", ["input", "half"], ["y"], name="bad/Mul")], "g",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 8, 8])],
        [numpy_helper.from_array(np.ones(1, np.float16), "half")])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), str(bad))
    monkeypatch.setattr(sources, "candidate_onnx",
                        lambda config, **_: sources.Candidate(bad, "fp16", "FP16-typed ONNX"))
    rows = _rows(_config(tmp_path, "output_models:conv_only", ["y"]))
    (failed,) = [r for r in rows if r.candidate.startswith("onnxruntime fp16")]
    assert failed.status == "FAIL" and f"ONNX Runtime cannot run {bad}" in failed.reason


def test_a_negligible_reference_is_inconclusive_and_tiny_cosines_are_exact() -> None:
    from trtforge.bench.accuracy import metrics_from_outputs

    rng = np.random.default_rng(0)
    tiny = [{"y": (rng.standard_normal((1, 8)) * 1e-26).astype(np.float32)} for _ in range(2)]
    assert metrics_from_outputs(tiny, tiny, "y")["cosine"] == pytest.approx(1.0)  # no 1e-30 floor
    assert "negligible (max |value|" in degenerate_reason(tiny, "y", atol=1e-4)
    (row,) = rows_from_outputs("c", "fp32", "cand", "ref", tiny, tiny, {**LOOSE, "atol": 1e-4})
    assert row.status == "INCONCLUSIVE"
    normal = [{"y": rng.standard_normal((1, 8)).astype(np.float32)} for _ in range(2)]
    assert degenerate_reason(normal, "y", atol=0.05) == ""


def test_a_candidate_with_nan_fails_and_says_float16_overflowed() -> None:
    ref = [{"y": np.array([[1e12, -3e11, 5.0]], np.float32)}, {"y": np.array([[2e12, 1e11, -5.0]], np.float32)}]
    got = [{"y": np.full((1, 3), np.nan, np.float32)} for _ in range(2)]
    (row,) = rows_from_outputs("c", "fp16", "cand", "ref", ref, got, LOOSE)
    assert row.status == "FAIL"
    assert row.reason == "FAIL: the candidate has 6 NaN/Inf values (float16 overflow: max |reference| 2e+12 > 65504)"


def test_a_typed_onnx_that_cannot_be_made_is_a_fail_row(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from trtforge.bench import sources

    def refuse(config, **_):
        raise TrtforgeError.of("a valid FP16-typed ONNX from tagged.onnx", found="ValidationError: ...")

    monkeypatch.setattr(sources, "candidate_onnx", refuse)
    rows = _rows(_config(tmp_path, "output_models:conv_only", ["y"]))
    (failed,) = [r for r in rows if r.candidate == "onnxruntime fp16"]
    assert failed.status == "FAIL" and failed.reason.startswith("FAIL: a valid FP16-typed ONNX")
