"""Tagging also reads the scope that the TorchScript exporter (``dynamo=False``) encodes in node names."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

pytestmark = pytest.mark.torch


def test_torchscript_exported_nodes_get_the_same_owners(tmp_path: Path) -> None:
    import onnx
    import tiny_models
    import torch
    from trtforge.placement import tag_owners
    from trtforge.placement.tagging import owners_from_onnx

    model = tiny_models.nested().eval()
    path = tmp_path / "ts.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.randn(1, 3, 16, 16),), str(path), dynamo=False, opset_version=17)
    modules = [name for name, _ in model.named_modules()]
    proto = onnx.load(str(path))
    owners = dict(zip((n.name for n in proto.graph.node), owners_from_onnx(proto, modules), strict=True))
    assert owners["/stage1/first/conv/Conv"] == "stage1.first.conv"
    assert owners["/stage1/first/act_1/Relu"] == "stage1.first.act"  # second call of a reused module
    assert owners["/shared_1/Conv"] == "shared"
    assert owners["/stage2/second/Add_1"] == "stage2.second"  # residual add inside the block
    assert owners["/Relu"] == ""
    tagged = tag_owners(path, modules, tmp_path / "tagged.onnx")
    assert tagged.owners["stage1.first.act/Relu.1"] == "stage1.first.act"
    assert set(tagged.owners.values()) <= set(modules)
