"""The model matrix: every model in three configs through export -> tag -> plan -> calib -> build -> compare
with no error or traceback, and the FP16-typed ONNX of each valid by the spec and runnable in ONNX Runtime.

CI runs the slice marked ``matrix_ci`` (a classifier and a segmentation model); the rest runs with
``TRTFORGE_MATRIX=1`` (or ``make matrix``), see the README."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import numpy as np
import pytest
from trtforge.bench.matrix import MODELS, ModelSpec, raw_configs, run_matrix, skip_reason, toml_text

from trtforge.config import load_config

FULL = os.environ.get("TRTFORGE_MATRIX") == "1"


def _param(spec: ModelSpec) -> object:
    marks = [pytest.mark.slow, pytest.mark.torch, pytest.mark.rtx]
    if spec.ci:
        marks.append(pytest.mark.matrix_ci)
    elif not FULL:
        marks.append(pytest.mark.skip(reason="outside CI's matrix slice: run with TRTFORGE_MATRIX=1 or `make matrix`"))
    return pytest.param(spec, id=spec.key, marks=marks)


def test_the_matrix_covers_the_models_and_three_configs_each(tmp_path: Path) -> None:
    assert len(MODELS) == 12
    for spec in MODELS:
        configs = [load_config(str(_write(tmp_path, raw))) for raw in raw_configs(spec, tmp_path / "a")]
        fp16_dla, fp16_gpu, int8_dla = configs
        assert (fp16_dla.precision, fp16_dla.default_device, fp16_dla.device_types) == ("fp16", "DLA", {})
        assert (fp16_gpu.precision, fp16_gpu.default_device) == ("fp16", "GPU")
        assert fp16_gpu.device_types == {spec.dla_module: "DLA"}
        assert (int8_dla.precision, int8_dla.default_device, int8_dla.calibration.batches) == ("int8", "DLA", 2)
        assert {c.outputs for c in configs} == {spec.outputs}
        assert {c.export_module for c in configs} == {spec.export_module}
    assert [s.key for s in MODELS if s.ci] == ["mobilenet_v2", "deeplabv3_mobilenet_v3_large"]


def _write(folder: Path, raw: dict) -> Path:
    path = folder / f"{raw['name']}.toml"
    path.write_text(toml_text(raw))
    return path


@pytest.fixture
def sockets_blocked(monkeypatch: pytest.MonkeyPatch) -> None:
    def blocked(*args: object, **kwargs: object) -> None:
        raise OSError("network access attempted during the matrix")

    for name in ("create_connection", "getaddrinfo"):
        monkeypatch.setattr(socket, name, blocked)
    monkeypatch.setattr(socket.socket, "connect", blocked)


@pytest.mark.parametrize("spec", [_param(s) for s in MODELS])
def test_matrix_model(spec: ModelSpec, tmp_path: Path, sockets_blocked: None) -> None:
    reason = skip_reason(spec)
    if reason:
        pytest.skip(reason)
    outcomes, _skipped = run_matrix([spec], tmp_path / "configs", tmp_path)
    assert [o.config for o in outcomes] == [raw["name"] for raw in raw_configs(spec, tmp_path)]
    for outcome in outcomes:
        assert outcome.ok, f"{outcome.config}: {outcome.failed_stage}: {outcome.error}"
        assert all(outcome.seconds[s] is not None for s in ("export", "tag", "plan", "build", "compare"))
        assert sum(outcome.rows.values()) >= 1 + len(spec.outputs)
    for name in (f"{spec.key}_fp16_dla", f"{spec.key}_fp16_gpu_dla"):
        _check_fp16_onnx(tmp_path / name / "fp16.onnx", spec)


def _check_fp16_onnx(path: Path, spec: ModelSpec) -> None:
    """Valid by the spec (full check) and runnable in ONNX Runtime with float32 I/O; finite wherever the FP32
    model's outputs fit float16 (random-weight inception_v3's logits reach 1e12, beyond float16's 65504)."""
    import onnx
    import onnxruntime as ort

    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    typed, fp32 = (ort.InferenceSession(str(p), providers=["CPUExecutionProvider"])
                   for p in (path, path.with_name("tagged.onnx")))
    feeds = {i.name: np.random.default_rng(0).standard_normal([1, *spec.inputs[i.name]]).astype(np.float32)
             for i in typed.get_inputs()}
    assert [o.name for o in typed.get_outputs()] == list(spec.outputs)
    for got, ref in zip(typed.run(None, feeds), fp32.run(None, feeds), strict=True):
        assert got.dtype == np.float32 and got.shape == ref.shape
        assert np.all(np.isfinite(got)) or float(np.max(np.abs(ref))) > 65504
