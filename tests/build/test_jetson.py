"""Real TensorRT with DLA cores (a Jetson): resnet18_int8_gpu_dla12 built for real, realized placement checked.
Skipped elsewhere with the reason (tests/conftest.py markers)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = [pytest.mark.tensorrt, pytest.mark.dla, pytest.mark.torch, pytest.mark.slow]


def test_resnet18_int8_gpu_dla12_realized_placement(resnet18_tagged, tmp_path: Path) -> None:
    from build_fixtures import config_beside
    from trtforge.build import engine_for_config

    exported, _tags = resnet18_tagged
    config = config_beside(exported, "resnet18_int8_gpu_dla12", tmp_path)
    result = engine_for_config(config, require_dla=True)
    record = json.loads(Path(result.sidecar_path).read_text())
    assert record["tensorrt"]["flavour"] == "tensorrt" and record["dla"]["applied"] is True
    assert Path(result.engine_path).name == "resnet18_int8_gpu_dla12.engine"
    assert record["build"]["flags"][:2] == ["INT8", "FP16"] and "GPU_FALLBACK" in record["build"]["flags"]
    assert record["build"]["read_back"]["DLA_core"] == 0
    assert record["placement"]["realized_source"] == "builder log"
    table = record["placement"]["by_submodule"]
    assert table["layer1"]["realized_dla"] > 0 and table["layer2"]["realized_dla"] > 0
    assert table["layer3"]["realized_dla"] == table["layer4"]["realized_dla"] == 0
    assert record["placement"]["gates"] == []
    inspector = config.artifact_dir / str(record["placement"]["inspector"])  # deserialized on DLA core 0
    assert inspector.is_file() and "Layers" in json.loads(inspector.read_text())
