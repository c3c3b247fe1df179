"""The pipeline runs every stage once: ``--force`` redoes each stage a single time, fresh ones are reused."""

from __future__ import annotations

from pathlib import Path

import pytest

from trtforge.config import config_from_dict

pytestmark = [pytest.mark.torch, pytest.mark.rtx]


def test_engine_runs_each_stage_once_and_force_redoes_each_once(tmp_path: Path, monkeypatch) -> None:
    from trtforge.export import onnx_export

    from trtforge.pipeline import engine_from_config

    calls: list[str] = []
    real_export = onnx_export._export

    def counting_export(config):
        calls.append(config.name)
        return real_export(config)

    monkeypatch.setattr(onnx_export, "_export", counting_export)
    config = config_from_dict({"name": "nested", "model": "tiny_models:nested", "inputs": {"x": [3, 16, 16]},
                               "outputs": ["y"], "output_dir": str(tmp_path), "precision": "fp16",
                               "device_types": {"stage1": "DLA"}})
    first = engine_from_config(config)
    assert calls == ["nested"]
    again = engine_from_config(config)
    assert calls == ["nested"]  # everything fresh: nothing exported again
    assert again["engine"] == first["engine"]
    engine = tmp_path / first["engine"]
    built_at = engine.stat().st_mtime_ns
    engine_from_config(config, force=True)
    assert calls == ["nested", "nested"]  # forced: exported once more, not once per later stage
    assert engine.stat().st_mtime_ns != built_at  # and the engine rebuilt
