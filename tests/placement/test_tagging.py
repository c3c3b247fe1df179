"""Tagging: every node gets its owning submodule; placement queries follow torch2trt's rule."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import onnx
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


# ---------------------------------------------------------------------------------------------- tagging v2


def test_an_unscoped_node_belongs_to_the_innermost_common_owner_of_its_neighbours() -> None:
    from onnx import TensorProto, helper
    from trtforge.placement.tagging import common_owner, owners_from_onnx

    assert common_owner(["model.2.cv1.act", "model.2.m.0.cv1.conv", "model.2"]) == "model.2"
    assert common_owner(["layer1.0", "layer2.0"]) == "" and common_owner(["a.b"]) == "a.b"

    def scoped(op: str, ins: list[str], outs: list[str], scopes: list[str] | None) -> onnx.NodeProto:
        node = helper.make_node(op, ins, outs, name=f"n_{outs[0]}")
        if scopes is not None:
            node.metadata_props.add(key="pkg.torch.onnx.name_scopes", value=repr(scopes))
        return node

    nodes = [scoped("Relu", ["x"], ["a"], ["", "blk", "blk.cv1", "relu"]),
             scoped("Split", ["a"], ["s0", "s1"], None),  # x.chunk(): no scope
             scoped("Identity", ["s1"], ["i"], None),  # an unscoped chain resolves too
             scoped("Relu", ["i"], ["m"], ["", "blk", "blk.m", "relu_1"]),
             scoped("Concat", ["s0", "m"], ["y"], ["", "blk", "cat"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 2, 2])],
                              [helper.make_empty_tensor_value_info("y")])
    owners = owners_from_onnx(helper.make_model(graph), ["", "blk", "blk.cv1", "blk.m"])
    assert owners == ["blk.cv1", "blk", "blk.m", "blk.m", "blk"]


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory):
    pytest.importorskip("torch")
    from trtforge.pipeline import tagged_from_config

    base = {"name": "deployed", "model": "dla_models:deployed", "inputs": {"x": [3, 16, 16]}, "outputs": ["y"],
            "output_dir": str(tmp_path_factory.mktemp("deployed")),
            "device_types": {"blk": "DLA", "head.act": "DLA", "stem.conv": "DLA"}}
    config = config_from_dict(base)
    return config, tagged_from_config(config)


@pytest.mark.torch
def test_a_chunk_inside_a_block_keeps_the_block_one_island(deployed) -> None:
    from trtforge.placement import plan_from_tagged

    config, tagged = deployed
    (split,) = [name for name in tagged.owners if name.endswith("/Split")]
    assert tagged.owners[split] == "blk"  # not the root: the Split of x.chunk() had no scope
    plan = plan_from_tagged(tagged.tagged_path, dataclasses.replace(config, device_types={"blk": "DLA"}))
    assert [i.owners for i in plan.islands] == [("blk",)]
    assert len(plan.transitions) == 2  # into blk.cv1, out of blk.cv2


@pytest.mark.torch
def test_a_shared_module_is_a_valid_key_at_every_path_and_places_that_path_only(deployed) -> None:
    from trtforge.placement import plan_from_tagged

    config, tagged = deployed  # `head.act` is the same SiLU instance as `stem.act`: accepted, no error
    plan = plan_from_tagged(tagged.tagged_path, dataclasses.replace(config, device_types={"head.act": "DLA"}))
    on_dla = [n.name for n in plan.nodes if n.requested == "DLA"]
    assert on_dla == ["head.act/Sigmoid", "head.act/Mul"]
    assert not any("owns no ONNX node" in w for w in plan.warnings)


@pytest.mark.torch
def test_a_key_naming_a_conv_whose_batch_norm_was_folded_places_the_fused_node(deployed) -> None:
    from trtforge.build.devices import LayerRow, placement_from_rows
    from trtforge.placement import plan_from_tagged
    from trtforge.placement.tagging import folded_from_tagged

    config, tagged = deployed
    model = onnx.load(str(tagged.tagged_path))
    folded = folded_from_tagged(model)
    assert folded == {"stem.bn/Conv": "stem.conv", "head.bn/Conv": "head.conv"}  # the BN's scope, the conv's weight
    keyed = dataclasses.replace(config, device_types={"stem.conv": "DLA"})
    plan = plan_from_tagged(tagged.tagged_path, keyed)
    assert [n.name for n in plan.nodes if n.requested == "DLA"] == ["stem.bn/Conv"]
    assert not any("owns no ONNX node" in w for w in plan.warnings)
    assert nodes_on_dla(tagged.tagged_path, keyed) == ["stem.bn/Conv"]
    # the build's device mapping accepts the key too (it failed with "check the submodule names")
    rows = [LayerRow(n.name, "X", f"[ONNX Layer: {n.name}]", (), ()) for n in plan.nodes]
    devices = {n.name: n.requested for n in plan.nodes}
    placed = placement_from_rows(rows, tagged.owners, tagged.owners, devices, keyed, folded=folded)
    assert placed.unmatched_entries == ()
    unfolded = placement_from_rows(rows, tagged.owners, tagged.owners, devices, keyed)
    assert unfolded.unmatched_entries == ("stem.conv",)


def test_a_shared_module_scoped_at_its_first_path_is_rebased_under_its_caller() -> None:
    modules = {"", "stem", "stem.act", "head", "head.act", "model", "model.0", "model.0.act", "model.5",
               "model.5.act", "model.5.m", "model.5.m.act"}
    assert owner_from_scopes(["", "head", "stem.act", "silu_1"], modules) == "head.act"
    assert owner_from_scopes(["", "model", "model.5", "model.0.act", "silu"], modules) == "model.5.act"
    assert owner_from_scopes(["", "model", "model.5", "model.5.m", "model.0.act", "silu"], modules) == "model.5.m.act"
    assert owner_from_scopes(["", "head", "other.thing", "op"], modules) == "head"  # no such path: the caller
    assert owner_from_scopes(["", "stem", "stem.act", "silu"], modules) == "stem.act"
