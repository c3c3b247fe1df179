"""Realized placement end to end through engine_for_config with the TensorRT 10 double: the builder log says
one layer of layer2 fell back to the GPU; the sidecar reports the drift and the [gates] fail the build."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import trt10_double as double
from build_fixtures import config_beside
from trtforge.build import engine as engine_module
from trtforge.build import stage

from trtforge.compat import BuildTarget, TrtInfo
from trtforge.errors import TrtforgeError

pytestmark = [pytest.mark.rtx, pytest.mark.torch]

FALLBACK = "layer2.1.bn2/Conv"
LOG = [
    f"Layer '{FALLBACK}' (CONVOLUTION): Unsupported on DLA. Switching this layer's device type to GPU.",
    "---------- Layers Running on DLA ----------",
    "[DlaLayer] {ForeignNode[layer1.0.bn1/Conv...layer2.1.relu/Relu.1]}",
    "---------- Layers Running on GPU ----------",
    "[GpuLayer] CONVOLUTION: bn1/Conv",
    f"[GpuLayer] CONVOLUTION: {FALLBACK}",
]


@pytest.fixture
def on_double(resnet18_tagged, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A config in its own folder whose build runs on the double (2 DLA cores, DLA applied)."""
    from trtforge.build.devices import layer_rows_from_network
    from trtforge.build.engine import capturing_logger, network_from_onnx

    from trtforge import compat

    rtx = compat.detect("tensorrt-rtx")
    assert rtx is not None
    trt = double.trt10_module()
    monkeypatch.setattr(stage, "build_target", lambda *a, **k: BuildTarget(
        TrtInfo("tensorrt", "10.3.0", trt), cores=2, dla_requested=True, dla_applied=True, gpu_only=False,
        reason="TensorRT 10.3.0 (test double), DLA core 1 of 2"))
    monkeypatch.setattr(double.Builder, "LOG", LOG)
    monkeypatch.setattr(compat, "can_run_engines", lambda info: True)  # the double "loads" its engines
    # Polygraphy's EngineFromBytes needs the real tensorrt module (plugins): stand in with its essence
    monkeypatch.setattr(engine_module, "polygraphy_trt", lambda info: SimpleNamespace(
        EngineFromBytes=lambda plan, runtime: lambda: runtime.deserialize_cuda_engine(plan)))

    def make(*overrides: str):
        exported, _tags = resnet18_tagged
        config = config_beside(exported, "resnet18_fp16_gpu_dla12", tmp_path, "dla_core=1", *overrides,
                               as_name="resnet18_fp16_gpu_dla12")
        tagged = config.artifact_dir / "tagged.onnx"
        _b, network, _p = network_from_onnx(rtx.module, capturing_logger(rtx.module), tagged, 0)
        io = [(network.get_input(0).name, tuple(network.get_input(0).shape))]
        out = [(network.get_output(0).name, tuple(network.get_output(0).shape))]
        double.OnnxParser.PARSED[str(tagged)] = (layer_rows_from_network(network), io, out)
        return config
    return make


def test_drift_is_reported(on_double) -> None:
    config = on_double()
    result = stage.engine_for_config(config)
    record = json.loads(Path(result.sidecar_path).read_text())
    assert Path(result.engine_path).name == "resnet18_fp16_gpu_dla12.engine"
    assert Path(result.engine_path).read_bytes() == b"serialized plan"
    assert record["dla"]["applied"] is True and record["dla"]["core"] == 1
    assert record["build"]["read_back"]["DLA_core"] == 1 and record["build"]["flags"] == ["FP16", "GPU_FALLBACK"]
    placement = record["placement"]
    assert placement["realized_source"] == "builder log" and placement["realized_fallbacks"] == [FALLBACK]
    assert placement["drift"] == ["layer2: predicted 11 of 11 layers on DLA, realized 10"]
    assert placement["by_submodule"]["layer1"] == {"layers": 10, "requested_dla": 10, "predicted_dla": 10,
                                                   "realized_dla": 10}
    assert placement["gates"] == []
    # loaded (EngineFromBytes with our runtime) on the runtime DLA core 1: inspector file and I/O formats
    assert placement["inspector"] == "resnet18_fp16_gpu_dla12.engine.inspector.json"
    assert "Layers" in json.loads((config.artifact_dir / placement["inspector"]).read_text())
    assert {t["format"] for t in record["io"]} == {"Row major linear FP32 format (kLINEAR), deserialized on DLA "
                                                   "core 1"}
    assert result.summary["dla_share_realized"] == "20/53 layers" and "1 in the build log" in result.summary[
        "fallbacks"]
    assert "--useDLACore=1 --allowGPUFallback" in record["commands"]["trtexec"]
    snippet = (config.artifact_dir / record["commands"]["files"]["deepstream"]).read_text()
    assert "enable-dla=1\nuse-dla-core=1\n" in snippet
    triton = (config.artifact_dir / record["commands"]["files"]["triton"]).read_text()
    assert "secondary_devices [ { kind: KIND_NVDLA device_id: 1 } ]" in triton


def test_unexpected_fallback_fails_the_build_and_the_reuse(on_double) -> None:
    config = on_double("gates.fail_on_unexpected_fallback=true")
    message = (r"fail_on_unexpected_fallback: 1 node\(s\) predicted on DLA, realized on GPU: layer2.1.bn2/Conv")
    with pytest.raises(TrtforgeError, match=message):
        stage.engine_for_config(config)
    with pytest.raises(TrtforgeError, match=message):  # the fresh sidecar recorded the failure: still refused
        stage.engine_for_config(config)


def test_the_engine_inspector_is_compared_with_the_log(on_double, monkeypatch: pytest.MonkeyPatch,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    """Where the engine loads, its inspector JSON is the second source: here it calls the DLA range a Myelin
    (GPU) node, and every layer of the range is a warning; the log's summary stays the realized placement."""
    myelin = {"Layers": [{"Name": "{ForeignNode[layer1.0.bn1/Conv...layer2.1.relu/Relu.1]}", "LayerType": "Myelin"}],
              "Bindings": ["input"]}
    monkeypatch.setattr(double.EngineInspector, "get_engine_information", lambda self, format: json.dumps(myelin))
    config = on_double()
    with caplog.at_level("WARNING", logger="trtforge"):
        result = stage.engine_for_config(config)
    warnings = [r.getMessage() for r in caplog.records if "placement disagreement" in r.getMessage()]
    assert len(warnings) == 20  # the layers the log puts on DLA in that range
    assert ("build: placement disagreement: layer1.0.bn1/Conv: the builder log says DLA, the engine inspector says "
            "GPU") in warnings
    assert result.summary["dla_share_realized"] == "20/53 layers"
