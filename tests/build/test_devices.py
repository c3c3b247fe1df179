"""Layer -> device mapping (pure) and its application to a real TensorRT-RTX IBuilderConfig, read back."""

from __future__ import annotations

import pytest
from trtforge.build.devices import (
    LayerRow,
    apply_placement,
    check_placement,
    layer_rows_from_network,
    placement_from_rows,
)

from trtforge.config import config_from_dict
from trtforge.errors import TrtforgeError

CONFIG = config_from_dict({"name": "t", "model": "m", "precision": "fp16", "device_types": {"a": "DLA"}})
OWNERS = {"a/Conv": "a", "a/Relu": "a", "b/Gemm": "b"}
DEVICES = {"a/Conv": "DLA", "a/Relu": "DLA", "b/Gemm": "GPU"}


def _rows() -> list[LayerRow]:
    return [
        LayerRow("a/Conv", "CONVOLUTION", "[ONNX Layer: a/Conv]", ("x",), ("t1",)),
        LayerRow("a/Relu", "ACTIVATION", "[ONNX Layer: a/Relu]", ("t1",), ("t2",)),
        LayerRow("b.weight", "CONSTANT", None, (), ("w",)),  # a parser constant: follows its consumer
        LayerRow("ONNXTRT_Broadcast", "SHUFFLE", None, ("w",), ("wb",)),  # helper feeding a helper
        LayerRow("b/Gemm", "MATRIX_MULTIPLY", "[ONNX Layer: b/Gemm]", ("t2", "wb"), ("t3",)),
        LayerRow("b/Gemm_1", "ELEMENTWISE", "[ONNX Layer: b/Gemm]", ("t3",), ("t4",)),  # second layer of a node
        LayerRow("ONNXTRT_tail", "SHUFFLE", None, ("t4",), ("y",)),  # consumed by nothing: its producer's
    ]


def test_nodes_suffixes_and_helper_rule() -> None:
    placement = placement_from_rows(_rows(), OWNERS, OWNERS, DEVICES, CONFIG)
    got = {layer.name: (layer.node, layer.owner, layer.device, layer.rule) for layer in placement.layers}
    assert got == {
        "a/Conv": ("a/Conv", "a", "DLA", "node"),
        "a/Relu": ("a/Relu", "a", "DLA", "node"),
        "b.weight": (None, None, "GPU", "helper:consumer"),
        "ONNXTRT_Broadcast": (None, None, "GPU", "helper:consumer"),
        "b/Gemm": ("b/Gemm", "b", "GPU", "node"),
        "b/Gemm_1": ("b/Gemm", "b", "GPU", "node"),
        "ONNXTRT_tail": (None, None, "GPU", "helper:producer"),
    }
    assert placement.unmatched_layers == () and placement.unmatched_entries == ()


def test_a_lone_helper_takes_the_given_default() -> None:
    rows = [*_rows(), LayerRow("ONNXTRT_createZeroTensor", "CONSTANT", None, (), ("z",))]
    placement = placement_from_rows(rows, OWNERS, OWNERS, DEVICES, CONFIG, default="DLA")
    assert placement.layers[-1].device == "DLA" and placement.layers[-1].rule == "helper:default"


def test_unmatched_metadata_and_entries_are_refused_before_any_builder_call() -> None:
    rows = [*_rows(), LayerRow("c/Conv", "CONVOLUTION", "[ONNX Layer: c/Conv]", ("t4",), ("t5",))]
    placement = placement_from_rows(rows, OWNERS, OWNERS, DEVICES, CONFIG)
    assert placement.unmatched_layers == ("c/Conv",)
    with pytest.raises(TrtforgeError, match=r"unmatched layers \['c/Conv'\]"):
        check_placement(placement, CONFIG)
    config = config_from_dict({"name": "t", "model": "m", "device_types": {"a": "DLA", "c": "DLA"}})
    placement = placement_from_rows(_rows(), OWNERS, OWNERS, DEVICES, config)
    assert placement.unmatched_entries == ("c",)
    with pytest.raises(TrtforgeError, match=r"every device_types entry of t to cover some TensorRT layer; "
                                            r"found no layer under \['c'\]"):
        check_placement(placement, config)


def test_a_plan_node_missing_from_the_onnx_is_refused() -> None:
    with pytest.raises(TrtforgeError, match="plan node"):
        placement_from_rows(_rows(), {"a/Conv": "a"}, {"a/Conv": "a"}, DEVICES, CONFIG)


@pytest.mark.rtx
@pytest.mark.torch
def test_applied_to_a_real_builder_config_and_read_back(resnet18_tagged) -> None:
    """set_device_type per layer, default_device_type, GPU_FALLBACK and DLA_core on TensorRT-RTX's IBuilderConfig
    for resnet18_fp16_gpu_dla12 with dla_core = 1."""
    import onnx
    from trtforge.build.engine import capturing_logger, network_from_onnx
    from trtforge.placement import owners_from_tagged, plan_from_tagged

    from trtforge import compat

    config, tagged = resnet18_tagged
    info = compat.detect("tensorrt-rtx")
    assert info is not None
    trt = info.module
    builder, network, _parser = network_from_onnx(trt, capturing_logger(trt), tagged.tagged_path, 0)
    owners = owners_from_tagged(onnx.load(str(tagged.tagged_path)))
    plan = plan_from_tagged(tagged.tagged_path, config)
    requested = {n.name: n.requested for n in plan.nodes}
    placement = placement_from_rows(layer_rows_from_network(network), owners, owners, requested, config)
    check_placement(placement, config)
    builder_config = builder.create_builder_config()
    read_back = apply_placement(trt, builder_config, network, placement.devices(), default="GPU", dla_core=1,
                                gpu_fallback=True)
    assert read_back["default_device_type"] == "GPU" and read_back["GPU_FALLBACK"] is True
    # setDLACore does nothing where getNbDLACores() is 0 (TensorRT-RTX): DLA_core reads back -1
    assert read_back["DLA_core"] == (1 if builder.num_DLA_cores > 1 else -1)
    assert read_back["device_types"] == placement.devices()  # every layer, exactly as planned
    on_dla = {name for name, device in read_back["device_types"].items() if device == "DLA"}
    owners_on_dla = {layer.owner.split(".")[0] for layer in placement.layers if layer.name in on_dla}
    assert owners_on_dla == {"layer1", "layer2"} and len(on_dla) == 21
    assert network.num_layers == len(read_back["device_types"]) == 53
