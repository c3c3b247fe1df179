"""Real builds with TensorRT-RTX (the NVIDIA ONNX parser and builder; no DLA, so DLA configs become GPU-only
engines): resnet18 and resnet50 at FP32, FP16-typed and Q/DQ INT8, through engine_for_config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from trtforge.build import check_sidecar, engine_for_config

from trtforge.artifacts import sha256_file

pytestmark = [pytest.mark.rtx, pytest.mark.torch, pytest.mark.slow]

CASES = [(m, p) for m in ("resnet18", "resnet50") for p in ("fp32", "fp16", "int8")]
SOURCE_ONNX = {"fp32": "tagged.onnx", "fp16": "fp16.onnx", "int8": "calib/qdq.onnx"}


def _sidecar(result) -> dict:
    return json.loads(Path(result.sidecar_path).read_text())


@pytest.mark.parametrize(("model", "precision"), CASES)
def test_engine_and_sidecar(rtx_builds, model: str, precision: str) -> None:
    config, result = rtx_builds[model, precision]
    record = _sidecar(result)
    check_sidecar(record)
    engine = Path(result.engine_path)
    assert engine.parent == config.artifact_dir
    # the raw serialized plan, nothing prepended: the file is exactly the bytes the builder returned
    assert record["engine"]["bytes"] == engine.stat().st_size > 1_000_000
    assert record["engine"]["sha256"] == record["outputs"]["engine"] == sha256_file(engine)
    assert record["tensorrt"] == {"flavour": "tensorrt-rtx", "version": record["tensorrt"]["version"],
                                  "label": f"TensorRT-RTX {record['tensorrt']['version']}", "strongly_typed": True}
    assert record["precision"] == precision
    assert record["build"]["onnx"] == SOURCE_ONNX[precision]
    assert record["build"]["flags"] == []  # strongly typed: the ONNX types set the precision
    assert [(t["name"], t["mode"], t["shape"], t["dtype"]) for t in record["io"]] == [
        ("input", "input", [1, 3, 224, 224], "FLOAT"), ("logits", "output", [1, 1000], "FLOAT")]
    assert record["inputs"]["onnx"] == sha256_file(config.artifact_dir / SOURCE_ONNX[precision])
    assert record["inputs"]["plan"] == sha256_file(config.artifact_dir / "plan.json")
    assert bool(record["inputs"]["calibration"]) == (precision == "int8")


@pytest.mark.parametrize(("model", "precision"), CASES)
def test_every_layer_is_mapped_and_every_entry_matches(rtx_builds, model: str, precision: str) -> None:
    config, result = rtx_builds[model, precision]
    record = _sidecar(result)
    table = record["placement"]["by_submodule"]
    layers = sum(row["layers"] for row in table.values())
    assert record["build"]["read_back"]["layers_set"] == layers  # every parsed layer got an explicit device
    helpers = record["placement"]["helper_layers"]
    assert set(rule["rule"] for rule in helpers.values()) <= {"helper:consumer", "helper:producer"}
    assert table.get("(helpers)", {"layers": 0})["layers"] == len(helpers)
    for key in config.device_types:  # every device_types entry covers layers (build refuses otherwise)
        assert table[key]["layers"] > 0 and table[key]["requested_dla"] == table[key]["layers"]


@pytest.mark.parametrize("model", ["resnet18", "resnet50"])
def test_dla_config_without_dla_cores_is_a_plain_gpu_only_engine(rtx_builds, model: str) -> None:
    config, result = rtx_builds[model, "fp16"]
    record = _sidecar(result)
    assert Path(result.engine_path).name == f"{config.name}.gpu-only.engine"
    assert record["engine"]["gpu_only"] is True
    assert record["dla"] == {"requested": True, "applied": False, "core": None, "cores_available": 0,
                             "reason": "TensorRT-RTX has no DLA: builds a GPU-only engine (DLA placement planned, "
                                       "not applied)", "planned_layers": record["dla"]["planned_layers"]}
    assert record["dla"]["planned_layers"] == sum(r["requested_dla"] for r in
                                                  record["placement"]["by_submodule"].values()) > 0
    assert record["runs_on"].startswith("GPU only: ")
    assert record["build"]["read_back"]["layers_on_dla"] == 0
    plan = json.loads((config.artifact_dir / "plan.json").read_text())
    assert plan["summary"]["predicted_dla"] > 0  # the DLA placement stays in the plan
    assert "enable-dla=0" in (config.artifact_dir / record["commands"]["files"]["deepstream"]).read_text()


def test_gpu_config_is_a_plain_engine(rtx_builds) -> None:
    config, result = rtx_builds["resnet18", "fp32"]
    record = _sidecar(result)
    assert Path(result.engine_path).name == f"{config.name}.engine"
    assert record["dla"]["requested"] is False and record["runs_on"] == "GPU"


def test_rebuild_is_skipped_only_when_every_input_matches(rtx_builds) -> None:
    config, first = rtx_builds["resnet18", "fp32"]
    again = engine_for_config(config)
    assert again.reused and again.summary == first.summary
    Path(first.engine_path).write_bytes(Path(first.engine_path).read_bytes() + b"x")  # a damaged engine
    rebuilt = engine_for_config(config)
    assert not rebuilt.reused and sha256_file(rebuilt.engine_path) == _sidecar(rebuilt)["outputs"]["engine"]
