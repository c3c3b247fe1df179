"""Export: the dynamo exporter, export.json, reuse by content hash, and readable failures."""

from __future__ import annotations

from pathlib import Path

import pytest

from trtforge.artifacts import read_json
from trtforge.config import config_from_dict
from trtforge.errors import TrtforgeError

pytestmark = pytest.mark.torch


def _tiny(tmp_path: Path, **extra: object):
    raw = {"name": "nested", "model": "tiny_models:nested", "inputs": {"x": [3, 16, 16]}, "outputs": ["y"],
           "output_dir": str(tmp_path / "nested"), **extra}
    return config_from_dict(raw)


def test_resnet18_exports_with_a_record(resnet18_tagged) -> None:
    config, _tagged = resnet18_tagged
    record = read_json(config.artifact_dir / "export.json", what="export record")
    assert record["opset"] == config.opset == 18
    assert record["io"]["inputs"] == [{"name": "input", "dtype": "float32", "shape": [1, 3, 224, 224]}]
    assert record["io"]["outputs"] == [{"name": "logits", "dtype": "float32", "shape": [1, 1000]}]
    assert record["static_shapes"] is True
    names = {m["name"] for m in record["submodules"]}
    assert {"", "layer1", "layer1.0.bn1", "fc"} <= names
    assert {"name": "layer1.0", "type": "torchvision.models.resnet.BasicBlock"} in record["submodules"]
    assert record["torch"] and record["onnx"]


@pytest.mark.slow
def test_resnet50_exports(resnet50_tagged) -> None:
    config, tagged = resnet50_tagged
    record = read_json(config.artifact_dir / "export.json", what="export record")
    assert {"name": "layer3.5.conv3", "type": "torch.nn.modules.conv.Conv2d"} in record["submodules"]
    assert len(tagged.owners) > 100


def test_the_same_inputs_skip_and_changed_inputs_re_export(tmp_path: Path) -> None:
    from trtforge.export import onnx_from_torch

    first = onnx_from_torch(_tiny(tmp_path))
    first_inputs = first.record()["inputs"]
    again = onnx_from_torch(_tiny(tmp_path))
    assert (first.reused, again.reused) == (False, True)
    changed = onnx_from_torch(_tiny(tmp_path, seed=1))  # other weights: another model
    assert not changed.reused
    assert changed.record()["inputs"] != first_inputs


def test_a_tampered_model_file_is_not_reused(tmp_path: Path) -> None:
    from trtforge.export import onnx_from_torch

    first = onnx_from_torch(_tiny(tmp_path))
    first.onnx_path.write_bytes(first.onnx_path.read_bytes()[:-10])
    assert not onnx_from_torch(_tiny(tmp_path)).reused


def test_a_model_that_cannot_export_gives_the_exporters_reason(tmp_path: Path) -> None:
    from trtforge.export import onnx_from_torch

    config = config_from_dict({"name": "broken", "model": "tiny_models:broken", "inputs": {"x": [4]},
                               "output_dir": str(tmp_path / "b")})
    with pytest.raises(TrtforgeError) as err:
        onnx_from_torch(config)
    text = str(err.value)
    assert "torch.onnx.export(dynamo=True) to export 'tiny_models:broken'" in text
    assert "found " in text and "\n" not in text
    assert not (tmp_path / "b" / "model.onnx").exists()


def test_an_unknown_model_name_suggests_torchvision_names(tmp_path: Path) -> None:
    from trtforge.export import onnx_from_torch

    config = config_from_dict({"name": "x", "model": "resnet81", "output_dir": str(tmp_path)})
    with pytest.raises(TrtforgeError, match="closest torchvision models: resnet18"):
        onnx_from_torch(config)
