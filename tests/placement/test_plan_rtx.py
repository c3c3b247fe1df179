"""The plan against the real NVIDIA ONNX parser (TensorRT-RTX, on CPU): every layer the parser maps to a node
gets the plan's device on a real IBuilderConfig, and the trtexec string covers the parser's real layer names."""

from __future__ import annotations

from pathlib import Path

import pytest
from trtforge.placement import node_of_layer, plan_from_tagged, requested_device
from trtforge.placement.plan import devices_from_spec, layer_devices, trtexec_default

from trtforge.config import load_config

CONFIGS = ["resnet18_fp16_gpu_dla12", "resnet18_fp16_dla", "resnet18_int8_gpu_dla123", "resnet18_fp16_gpu"]


@pytest.fixture(scope="module")
def parsed(rtx_resnet18):
    return rtx_resnet18


@pytest.mark.rtx
@pytest.mark.torch
@pytest.mark.parametrize("name", CONFIGS)
def test_the_plan_applies_to_every_parsed_layer_that_maps_to_a_node(name: str, parsed) -> None:
    trt, builder, network, _parser, tagged = parsed
    config = load_config(name, [f"output_dir={str(Path(tagged.tagged_path).parent)!r}"])
    plan = plan_from_tagged(tagged.tagged_path, config)
    by_node = {n.name: n for n in plan.nodes}
    layers = [network.get_layer(i) for i in range(network.num_layers)]
    mapped = {layer.name: node_of_layer(layer.name, layer.metadata, set(by_node)) for layer in layers}
    assert {n for n in mapped.values() if n} == {n.name for n in plan.nodes}  # every node reached
    builder_config = builder.create_builder_config()
    builder_config.default_device_type = getattr(trt.DeviceType, config.default_device)
    for layer in layers:
        node = mapped[layer.name]
        if node is None:
            continue  # parser helpers (ONNXTRT_Broadcast, initializer constants) take the default
        planned = by_node[node]
        assert planned.requested == requested_device(tagged.owners[node], config.device_types,
                                                     config.default_device), layer.name
        builder_config.set_device_type(layer, getattr(trt.DeviceType, planned.requested))
        assert builder_config.get_device_type(layer) == getattr(trt.DeviceType, planned.requested)
        assert builder_config.is_device_type_set(layer)
    requested = layer_devices(plan, [(layer.name, layer.metadata) for layer in layers])
    assert {name: device for name, device in requested.items() if device} == \
        {name: by_node[node].requested for name, node in mapped.items() if node}
    spec = devices_from_spec(plan.layer_device_types, [layer.name for layer in layers], trtexec_default(config))
    assert {name: spec[name] for name, node in mapped.items() if node} == \
        {name: by_node[node].predicted for name, node in mapped.items() if node}  # `_<k>` layers included
