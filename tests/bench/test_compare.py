"""Accuracy comparison through polygraphy's Comparator, its metrics, and `trtforge compare` / `bench` on a tiny
model (real export, real ONNX Runtime, real PyTorch)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from trtforge.bench.accuracy import metrics_from_outputs, rows_from_outputs

from trtforge.cli import main

pytestmark = pytest.mark.torch


def _tiny(tmp_path: Path, precision: str = "fp32") -> Path:
    path = tmp_path / f"tiny_{precision}.toml"
    path.write_text(f'model = "tiny_models:nested"\noutputs = ["y"]\nprecision = "{precision}"\n'
                    f'output_dir = "{tmp_path / precision}"\n[inputs]\nx = [3, 16, 16]\n'
                    "[bench]\nwarmup = 1\niterations = 5\n")
    return path


def test_metrics_are_exact_on_known_outputs() -> None:
    ref = [{"y": np.array([[1.0, 2.0, 4.0]], dtype=np.float32)}, {"y": np.array([[3.0, 1.0, 1.0]], np.float32)}]
    got = [{"y": np.array([[1.0, 2.5, 4.0]], dtype=np.float32)}, {"y": np.array([[1.0, 3.0, 1.0]], np.float32)}]
    m = metrics_from_outputs(ref, got, "y")
    assert m["max_abs"] == pytest.approx(2.0)
    assert m["mean_abs"] == pytest.approx((0.5 + 2 + 2) / 6)
    assert m["max_rel"] == pytest.approx(2.0)  # |1 - 3| / 1
    assert m["top1"] == 0.5  # sample 0 agrees (class 2), sample 1 does not (0 vs 1)
    assert m["cosine"] == pytest.approx(min(np.dot([1, 2, 4], [1, 2.5, 4]) / np.linalg.norm([1, 2, 4])
                                            / np.linalg.norm([1, 2.5, 4]), 7 / (np.sqrt(11) * np.sqrt(11))))


def test_a_row_fails_on_any_one_tolerance() -> None:
    ref = [{"y": np.array([[1.0, 2.0, 4.0]], dtype=np.float32)}]
    got = [{"y": np.array([[1.0, 2.01, 4.0]], dtype=np.float32)}]
    loose = {"atol": 0.1, "rtol": 0.0, "min_cosine": 0.99, "min_top1": 1.0}
    assert rows_from_outputs("c", "fp16", "cand", "ref", ref, got, loose)[0].status == "PASS"
    for key, value in (("atol", 0.001), ("min_cosine", 1.01)):
        assert rows_from_outputs("c", "fp16", "cand", "ref", ref, got, {**loose, key: value})[0].status == "FAIL"
    swapped = [{"y": np.array([[1.0, 4.5, 4.0]], dtype=np.float32)}]  # top-1 changes from class 2 to 1
    assert rows_from_outputs("c", "fp16", "cand", "ref", ref, swapped,
                             {**loose, "atol": 10.0, "min_cosine": 0.0})[0].status == "FAIL"


def test_compare_prints_one_table_and_a_failing_tolerance_exits_non_zero(tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    config = str(_tiny(tmp_path))
    args = ["compare", "--config", config, "--samples", "2", "--results", str(tmp_path / "res")]
    assert main(args) == 0
    table = capsys.readouterr().out
    assert "| tiny_models:nested (export) | fp32 | onnxruntime fp32 (tagged ONNX) | torch fp32 | y |" in table
    assert "| PASS |" in table
    record = json.loads((tmp_path / "res" / "compare" / "tiny_fp32.json").read_text())
    assert record["failed"] == 0 and record["machine"]["python"]
    assert main([*args, "--set", "compare.atol=0", "--set", "compare.rtol=0"]) == 1
    failed = capsys.readouterr().out
    assert "| FAIL |" in failed and "FAIL of" in failed


def test_bench_records_torch_and_the_onnxruntime_stand_in_with_the_machine(tmp_path: Path) -> None:
    config = str(_tiny(tmp_path))
    assert main(["bench", "--config", config, "--threads", "1", "--results", str(tmp_path / "res")]) == 0
    record = json.loads((tmp_path / "res" / "throughput" / "tiny_fp32.json").read_text())
    (torch_fp32,) = record["torch"]
    assert torch_fp32["measured"] and torch_fp32["timing"]["iterations"] == 5
    assert set(torch_fp32["timing"]["latency_ms"]) >= {"p50", "p90", "p99"}
    if not record["engine"]["measured"]:
        assert record["engine"]["reason"].startswith("not measured here: ")
        assert record["onnxruntime"]["measured"] and record["onnxruntime"]["label"]["threads"] == 1
    assert {"host", "python", "torch", "onnxruntime", "tensorrt", "gpus"} <= set(record["machine"])
