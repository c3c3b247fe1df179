"""Export as a new user meets it: readable one-line failures with their cause and a log, no downloads, the
config's opset honoured or refused, `outputs` checked against the model, and `export_module`."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from trtforge.artifacts import read_json
from trtforge.config import config_from_dict
from trtforge.errors import TrtforgeError

pytestmark = pytest.mark.torch


def _config(tmp_path: Path, model: str = "tiny_models:nested", **extra: object):
    raw = {"name": "t", "model": model, "inputs": {"x": [3, 16, 16]}, "outputs": ["y"],
           "output_dir": str(tmp_path / "t"), **extra}
    return config_from_dict(raw)


def _export(config):
    from trtforge.export import onnx_from_torch

    return onnx_from_torch(config)


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every way out is blocked: sockets, name lookups, and torch.hub's downloads. Returns the attempts."""
    attempts: list[str] = []

    def refuse(what: str):
        def blocked(*args: object, **kwargs: object) -> None:
            attempts.append(f"{what} {args[:2]}")
            raise OSError(f"network access attempted in a test: {what}")
        return blocked

    monkeypatch.setattr(socket.socket, "connect", refuse("socket.connect"))
    monkeypatch.setattr(socket.socket, "connect_ex", refuse("socket.connect_ex"))
    monkeypatch.setattr(socket, "create_connection", refuse("socket.create_connection"))
    monkeypatch.setattr(socket, "getaddrinfo", refuse("socket.getaddrinfo"))
    import torch.hub

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", refuse("torch.hub.load_state_dict_from_url"))
    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse("torch.hub.download_url_to_file"))
    return attempts


def test_the_socket_block_itself_works(no_network: list[str]) -> None:
    with pytest.raises(OSError, match="network access attempted"):
        socket.create_connection(("127.0.0.1", 9))
    assert no_network


def test_every_torchvision_model_by_name_switches_off_every_weights_argument() -> None:
    import inspect

    import torchvision
    from trtforge.export.models import torchvision_kwargs

    names = torchvision.models.list_models()
    assert len(names) > 100
    for name in names:
        builder = torchvision.models.get_model_builder(name)
        params = inspect.signature(builder).parameters
        kwargs = torchvision_kwargs(builder)
        weights = [p for p in params if p.startswith("weights") or "pretrained" in p]
        assert weights and all(kwargs[p] is None for p in weights), name
        assert "aux_loss" not in params or kwargs["aux_loss"] is False


@pytest.mark.parametrize("name", ["deeplabv3_mobilenet_v3_large", "ssdlite320_mobilenet_v3_large",
                                  "lraspp_mobilenet_v3_large", "fasterrcnn_mobilenet_v3_large_320_fpn",
                                  "mobilenet_v2"])
def test_segmentation_and_detection_models_build_offline(name: str, no_network: list[str], tmp_path: Path) -> None:
    from trtforge.export.models import model_from_config

    model = model_from_config(_config(tmp_path, name))
    assert sum(p.numel() for p in model.parameters()) > 0
    assert no_network == []  # not one attempt, not even a failed one


def test_a_wrong_input_shape_names_the_cause_the_module_and_the_log(tmp_path: Path) -> None:
    config = _config(tmp_path, inputs={"x": [4, 16, 16]})
    with pytest.raises(TrtforgeError) as err:
        _export(config)
    text = str(err.value)
    assert "\n" not in text and "\x1b" not in text  # one line, no ANSI codes
    assert "expected input[1, 4, 16, 16] to have 3 channels, but got 4 channels" in text
    assert "in submodule 'stem'" in text
    assert "fix: check [inputs]" in text
    log = tmp_path / "t" / "export.log"
    assert f"full exporter output: {log}" in text
    full = log.read_text()
    assert "Exception summary" in full and "Traceback" in full and "\x1b" not in full


def test_a_wrong_number_of_inputs_says_what_forward_takes(tmp_path: Path) -> None:
    config = _config(tmp_path, inputs={"x": [3, 16, 16], "extra": [3, 16, 16]})
    with pytest.raises(TrtforgeError, match=r"1 input\(s\) in \[inputs\], one per argument of Nested.forward\(x\); "
                                            r"found 2: x, extra"):
        _export(config)


def test_untraceable_code_names_where_it_is_and_suggests_export_module(tmp_path: Path) -> None:
    config = _config(tmp_path, "tiny_models:broken", inputs={"x": [4]})
    with pytest.raises(TrtforgeError) as err:
        _export(config)
    text = str(err.value)
    assert "\n" not in text and "\x1b" not in text
    assert "Broken.forward" in text and "the root module" in text
    assert "data-dependent" in text or "GuardOnDataDependent" in text  # the exporter's own cause
    assert "export.log" in text


def test_outputs_must_name_every_returned_output(tmp_path: Path) -> None:
    config = _config(tmp_path, "output_models:dict_out", outputs=["out"])
    with pytest.raises(TrtforgeError) as err:
        _export(config)
    text = str(err.value)
    assert "outputs = ['out']" in text  # the config's list
    assert "found 2 outputs returned: ['out', 'pooled']" in text  # the model's list, named by its dict keys
    assert not (tmp_path / "t" / "model.onnx").exists()
    assert _export(_config(tmp_path, "output_models:dict_out", outputs=["out", "pooled"])).record()["io"]


def test_too_many_outputs_are_refused_too(tmp_path: Path) -> None:
    with pytest.raises(TrtforgeError, match=r"outputs = \['a', 'b'\]; found 1 outputs returned: \['output'\]"):
        _export(_config(tmp_path, outputs=["a", "b"]))


def test_an_opset_the_converter_can_reach_is_honoured(tmp_path: Path) -> None:
    import onnx

    result = _export(_config(tmp_path, "output_models:conv_only", opset=17))
    assert result.record()["opset"] == 17
    model = onnx.load(str(result.onnx_path))
    assert [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")] == [17]
    onnx.checker.check_model(model, full_check=True)


def test_an_opset_that_cannot_be_reached_is_refused_not_ignored(tmp_path: Path) -> None:
    config = _config(tmp_path, opset=17)  # nested: ReduceMean, which onnx's converter cannot take to 17
    with pytest.raises(TrtforgeError, match=r"an ONNX model at the config's opset 17; found the dynamo exporter "
                                            r"wrote opset 18 and onnx's version converter failed"):
        _export(config)
    assert not (tmp_path / "t" / "model.onnx").exists()


@pytest.mark.parametrize(("extra", "message"), [
    ({"opset": 99999}, r"opset <= 20 \(onnx .* knows up to \d+; the ONNX parser of TensorRT 10.x reads up to 20\)"),
    ({"opset": 18, "target": {"tensorrt": "8.6"}}, r"opset <= 17 .* TensorRT 8.6 reads up to 17\); found opset = 18"),
])
def test_an_opset_above_the_targets_parser_is_refused_before_export(tmp_path: Path, extra: dict[str, object],
                                                                    message: str) -> None:
    with pytest.raises(TrtforgeError, match=message):
        _export(_config(tmp_path, **extra))
    assert not (tmp_path / "t").exists()  # refused before anything ran


def test_export_module_exports_one_submodule(tmp_path: Path) -> None:
    result = _export(_config(tmp_path, export_module="stage1", inputs={"x": [8, 16, 16]},
                             device_types={"first": "DLA"}))
    record = result.record()
    assert record["export_module"] == "stage1"
    assert {m["name"] for m in record["submodules"]} == {"", "first", "first.conv", "first.bn", "first.act",
                                                         "second", "second.conv", "second.bn", "second.act"}
    assert record["io"]["outputs"][0]["shape"] == [1, 8, 16, 16]


def test_an_unknown_export_module_names_the_closest(tmp_path: Path) -> None:
    with pytest.raises(TrtforgeError, match=r"export_module 'stage3' to name a submodule .* closest: stage2, stage1"):
        _export(_config(tmp_path, export_module="stage3"))


@pytest.mark.slow
def test_ssdlite_postprocess_is_named_and_its_backbone_exports(tmp_path: Path, no_network: list[str],
                                                               capfd: pytest.CaptureFixture[str]) -> None:
    model = "ssdlite320_mobilenet_v3_large"
    with pytest.raises(TrtforgeError) as err:
        _export(_config(tmp_path, model, inputs={"input": [3, 320, 320]}, outputs=["boxes"]))
    text = str(err.value)
    assert "SSD.postprocess_detections" in text and "GuardOnDataDependentSymNode" in text
    assert 'export_module = "backbone"' in text and "\n" not in text and len(text) < 1200
    noise = capfd.readouterr()
    assert len((noise.out + noise.err).splitlines()) < 20  # torch's ~4,000 lines went to export.log
    assert len((tmp_path / "t" / "export.log").read_text().splitlines()) > 1000
    backbone = _export(_config(tmp_path, model, inputs={"input": [3, 320, 320]}, outputs=list("012345"),
                               export_module="backbone"))
    assert [o["name"] for o in read_json(backbone.record_path, what="export")["io"]["outputs"]] == list("012345")
    assert no_network == []
