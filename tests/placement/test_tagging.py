"""Tagging: every node gets its owning submodule; placement queries follow torch2trt's rule."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from trtforge.placement import ancestors, node_of_layer, nodes_on_dla, requested_device
from trtforge.placement.tagging import owner_from_scoped_name, owner_from_scopes, tagged_names

from trtforge.config import config_from_dict, load_config


def test_ancestors_and_the_innermost_listed_ancestor_wins() -> None:
    assert ancestors("layer2.0.bn1") == ["layer2.0.bn1", "layer2.0", "layer2", ""]
    rules = {"layer1": "DLA", "layer2": "DLA", "layer2.0": "GPU"}
    assert requested_device("layer2.0.bn1", rules, "GPU") == "GPU"
    assert requested_device("layer2.1.bn1", rules, "GPU") == "DLA"
    assert requested_device("layer10.0", rules, "GPU") == "GPU"  # not a child of layer1
    assert requested_device("fc", {}, "DLA") == "DLA"


def test_owner_from_dynamo_scopes_skips_the_op_name() -> None:
    modules = {"", "relu", "layer1", "layer1.0", "layer1.0.bn1"}
    assert owner_from_scopes(["", "layer1", "layer1.0", "layer1.0.bn1", "_native_bn"], modules) == "layer1.0.bn1"
    assert owner_from_scopes(["", "relu"], modules) == ""  # a functional relu at the root, not module `relu`
    assert owner_from_scopes(["", "layer1", "layer1.0", "add_3"], modules) == "layer1.0"


def test_owner_from_torchscript_names() -> None:
    modules = {"", "layer1", "layer1.0", "layer1.0.conv2", "layer4", "layer4.1", "layer4.1.relu"}
    assert owner_from_scoped_name("/layer1/layer1.0/conv2/Conv", modules) == "layer1.0.conv2"
    assert owner_from_scoped_name("/layer4/layer4.1/relu_1/Relu", modules) == "layer4.1.relu"
    assert owner_from_scoped_name("/Flatten", modules) == ""


def test_tagged_names_are_unique_per_owner() -> None:
    assert tagged_names(["Relu", "Conv", "Relu", "Relu"], ["a", "a", "a", ""]) == \
        ["a/Relu", "a/Conv", "a/Relu.1", "/Relu"]


def test_layers_map_back_to_nodes() -> None:
    nodes = {"layer1.0/Add", "layer1.0.relu/Relu.1", "x/Relu", "x/Relu_1"}
    assert node_of_layer("layer1.0/Add", None, nodes) == "layer1.0/Add"
    assert node_of_layer("layer1.0/Add_17", None, nodes) == "layer1.0/Add"
    assert node_of_layer("layer1.0/Add_17_42", None, nodes) == "layer1.0/Add"
    assert node_of_layer("layer1.0.relu/Relu.1_3", None, nodes) == "layer1.0.relu/Relu.1"
    assert node_of_layer("x/Relu_1", "[ONNX Layer: x/Relu]", nodes) == "x/Relu"  # metadata wins
    assert node_of_layer("ONNXTRT_Broadcast", None, nodes) is None


@pytest.mark.torch
def test_every_resnet18_owner_is_a_real_submodule(resnet18_tagged) -> None:
    from trtforge.artifacts import read_json

    config, tagged = resnet18_tagged
    modules = {m["name"] for m in read_json(config.artifact_dir / "export.json", what="x")["submodules"]}
    assert set(tagged.owners.values()) <= modules
    assert len(tagged.owners) == 49
    for name, owner in tagged.owners.items():
        assert name.rpartition("/")[0] == owner
    assert tagged.owners["layer1.0/Add"] == "layer1.0"
    assert tagged.owners["/Reshape"] == ""  # torch.flatten in ResNet.forward is the root's


@pytest.mark.torch
def test_dla12_requests_exactly_the_nodes_of_layer1_and_layer2(resnet18_tagged) -> None:
    config, tagged = resnet18_tagged
    inside = [n for n, o in tagged.owners.items() if o.split(".")[0] in ("layer1", "layer2")]
    assert nodes_on_dla(tagged.tagged_path, config) == inside
    assert len(inside) == 21  # 10 in layer1, 11 in layer2 (with its downsample conv)
    everything = load_config("resnet18_fp16_dla")
    assert nodes_on_dla(tagged.tagged_path, everything) == list(tagged.owners)


@pytest.mark.torch
def test_tagged_and_untagged_models_give_identical_outputs(resnet18_tagged) -> None:
    import onnxruntime as ort

    config, tagged = resnet18_tagged
    feed = {"input": np.random.default_rng(0).standard_normal((1, 3, 224, 224), dtype=np.float32)}
    outputs = [ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]).run(None, feed)
               for p in (config.artifact_dir / "model.onnx", tagged.tagged_path)]
    np.testing.assert_array_equal(outputs[0][0], outputs[1][0])


@pytest.mark.torch
def test_a_nested_model_with_shared_helpers_and_a_reused_module(tmp_path: Path) -> None:
    from trtforge.pipeline import tagged_from_config

    config = config_from_dict({"name": "nested", "model": "tiny_models:nested", "inputs": {"x": [3, 16, 16]},
                               "outputs": ["y"], "output_dir": str(tmp_path), "precision": "fp16",
                               "device_types": {"stage1": "DLA", "stage1.second": "GPU", "shared": "DLA"}})
    owners = tagged_from_config(config).owners
    by_owner: dict[str, list[str]] = {}
    for name, owner in owners.items():
        by_owner.setdefault(owner, []).append(name.rpartition("/")[2])
    assert by_owner["shared"] == ["Conv", "Conv.1"]  # one module, called twice
    assert by_owner["stage1.first"] == ["Mul", "Add", "Add.1"]  # helper function + residual add
    assert by_owner["stage1.first.act"] == ["Relu", "Relu.1"]  # `act` used twice in one block
    assert by_owner[""] == ["Relu", "Mul", "Add", "ReduceMean", "Reshape"]  # functional ops at the root
    assert by_owner["head"] == ["Gemm"]
    dla = nodes_on_dla(tmp_path / "tagged.onnx", config)
    assert dla == [n for n, o in owners.items() if o.startswith("stage1.first") or o == "shared"]


@pytest.mark.rtx
@pytest.mark.torch
def test_tensorrt_rtx_layers_of_tagged_resnet18_lead_back_to_submodules(rtx_resnet18) -> None:
    from trtforge.placement import layer_owners

    _trt, _builder, network, _parser, tagged = rtx_resnet18
    layers = [(network.get_layer(i).name, network.get_layer(i).metadata) for i in range(network.num_layers)]
    mapped = layer_owners(layers, tagged.owners)
    unowned = sorted(name for name, owner in mapped.items() if owner is None)
    assert unowned == ["ONNXTRT_Broadcast", "fc.bias", "fc.weight"]  # parser helpers and initializer constants
    owned = {name: owner for name, owner in mapped.items() if owner is not None}
    assert set(owned.values()) == set(tagged.owners.values())  # every owner reached
    assert owned["fc/Gemm_1"] == "fc"  # a second layer of one node, through its suffix and metadata
    assert owned["layer1.0.relu/Relu.1"] == "layer1.0.relu"
