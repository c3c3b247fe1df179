"""Which device every parsed TensorRT layer gets, and applying that to a builder config.

The mapping is pure: parsed layers (name, metadata, tensors) + node owners + the plan's device per node give a
device per layer. A layer maps to its ONNX node by ``[ONNX Layer: <node>]`` metadata, else by its name with the
parser's ``_<k>`` suffixes removed (``trtforge.placement.node_of_layer``). Helper layers the parser adds
(``ONNXTRT_Broadcast``, constants for initializers: no metadata, no node) follow one explicit rule: the device
of the node layer that consumes their output (the layer they were made for), else of their producer, else the
default device. Only after every ``device_types`` entry is shown to match some layer is a builder touched.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from trtforge.placement.tagging import node_of_layer, owner_keys

from trtforge.config import Config
from trtforge.errors import TrtforgeError

if TYPE_CHECKING:
    import tensorrt as trt

HELPER_RULE = "helper layers take the device of the node layer consuming their output, else of their producer"


@dataclass(frozen=True)
class LayerRow:
    """One layer of a parsed network, as the mapping needs it."""

    name: str
    type: str
    metadata: str | None
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


@dataclass(frozen=True)
class LayerDevice:
    name: str
    node: str | None
    owner: str | None
    device: str
    rule: str  # "node", "helper:consumer", "helper:producer", "helper:default"


@dataclass(frozen=True)
class LayerPlacement:
    layers: tuple[LayerDevice, ...]
    unmatched_layers: tuple[str, ...]  # metadata names a node the tagged ONNX does not have
    unmatched_entries: tuple[str, ...]  # device_types keys no parsed layer falls under

    def devices(self) -> dict[str, str]:
        return {layer.name: layer.device for layer in self.layers}


def layer_rows_from_network(network: trt.INetworkDefinition) -> list[LayerRow]:
    rows = []
    for index in range(network.num_layers):
        layer = network.get_layer(index)
        inputs = [layer.get_input(k) for k in range(layer.num_inputs)]
        rows.append(LayerRow(
            name=layer.name, type=str(layer.type).rsplit(".", 1)[-1], metadata=layer.metadata or None,
            inputs=tuple(t.name for t in inputs if t is not None),
            outputs=tuple(layer.get_output(k).name for k in range(layer.num_outputs))))
    return rows


def placement_from_rows(rows: Sequence[LayerRow], onnx_nodes: Collection[str], owners: Mapping[str, str],
                        node_devices: Mapping[str, str], config: Config, *, default: str | None = None,
                        folded: Mapping[str, str] | None = None) -> LayerPlacement:
    """Device per layer from the plan's device per node (``node_devices``, tagged node names). Layers of ONNX
    nodes the plan does not have (the casts of an FP16-typed ONNX, Q/DQ nodes) and helper layers follow
    ``HELPER_RULE``; a layer with neither gets ``default`` (the config's default device unless given)."""
    nodes = set(onnx_nodes)
    fallback_device = default or config.default_device
    missing = sorted(set(node_devices) - nodes)
    if missing:
        raise TrtforgeError.of("the ONNX being built to hold every node of the placement plan",
                               found=f"{len(missing)} plan node(s) absent, e.g. {missing[:3]}",
                               fix="re-run the stages for this config (`trtforge engine --force`)")
    mapped = {row.name: node_of_layer(row.name, row.metadata, nodes) for row in rows}
    unmatched = tuple(row.name for row in rows if row.metadata and mapped[row.name] is None)
    placed: dict[str, str] = {name: node for name, node in mapped.items() if node is not None and node in node_devices}
    producer = {out: row for row in rows for out in row.outputs}
    consumers: dict[str, list[LayerRow]] = {}
    for row in rows:
        for tensor in row.inputs:
            consumers.setdefault(tensor, []).append(row)

    def derived(row: LayerRow, seen: frozenset[str]) -> tuple[str, str]:
        for tensor in row.outputs:
            for user in consumers.get(tensor, []):
                if user.name in placed:
                    return node_devices[placed[user.name]], "helper:consumer"
                if user.name not in seen and (found := derived(user, seen | {user.name}))[1] != "helper:default":
                    return found[0], "helper:consumer"
        for tensor in row.inputs:
            source = producer.get(tensor)
            if source is not None and source.name in placed:
                return node_devices[placed[source.name]], "helper:producer"
        return fallback_device, "helper:default"

    layers = []
    for row in rows:
        node = mapped[row.name]
        if row.name in placed:
            layers.append(LayerDevice(row.name, node, owners[placed[row.name]], node_devices[placed[row.name]],
                                      "node"))
        else:
            device, rule = derived(row, frozenset({row.name}))
            layers.append(LayerDevice(row.name, node, None, device, rule))
    folded = folded or {}  # node -> the conv folded into it (tagging's folded_from): its key covers the node too
    covered = {a for layer in layers if layer.owner is not None
               for a in owner_keys(layer.owner, folded.get(layer.node or ""))}
    entries = tuple(key for key in config.device_types if key not in covered)
    return LayerPlacement(tuple(layers), unmatched, entries)


def check_placement(placement: LayerPlacement, config: Config) -> None:
    """Refuse before any builder call when a layer or a ``device_types`` entry matches nothing."""
    if placement.unmatched_layers:
        raise TrtforgeError.of("every parsed layer with ONNX metadata to map to a tagged node",
                               found=f"unmatched layers {list(placement.unmatched_layers[:5])}",
                               fix="re-run `trtforge tag --force`; the ONNX was changed after tagging")
    if placement.unmatched_entries:
        raise TrtforgeError.of(f"every device_types entry of {config.name} to cover some TensorRT layer",
                               found=f"no layer under {list(placement.unmatched_entries)}",
                               fix="check the submodule names (`trtforge configs <name>`)")


def apply_placement(trt_module: Any, builder_config: trt.IBuilderConfig, network: trt.INetworkDefinition,
                    devices: Mapping[str, str], *, default: str, dla_core: int | None, gpu_fallback: bool
                    ) -> dict[str, Any]:
    """Set the default device, every layer's device, GPU fallback and the DLA core; return what the builder
    config reads back (``DLA_core`` reads -1 where there are no DLA cores: setDLACore then does nothing)."""
    trt_: Any = trt_module
    builder_config.default_device_type = trt_.DeviceType.DLA if default == "DLA" else trt_.DeviceType.GPU
    for index in range(network.num_layers):
        layer = network.get_layer(index)
        kind = trt_.DeviceType.DLA if devices[layer.name] == "DLA" else trt_.DeviceType.GPU
        builder_config.set_device_type(layer, kind)
    if gpu_fallback:
        builder_config.set_flag(trt_.BuilderFlag.GPU_FALLBACK)
    elif "DLA" in devices.values() and hasattr(trt_.BuilderFlag, "DIRECT_IO"):  # gone from 11.x's Python API
        builder_config.set_flag(trt_.BuilderFlag.DIRECT_IO)  # as trtexec: I/O reformats would run on the GPU
    if dla_core is not None:
        builder_config.DLA_core = dla_core
    return placement_read_back(trt_module, builder_config, network)


def placement_read_back(trt_module: Any, builder_config: trt.IBuilderConfig, network: trt.INetworkDefinition
                        ) -> dict[str, Any]:
    trt_: Any = trt_module
    layers = [network.get_layer(i) for i in range(network.num_layers)]
    return {
        "default_device_type": _device_name(builder_config.default_device_type),
        "DLA_core": int(builder_config.DLA_core),
        "GPU_FALLBACK": bool(builder_config.get_flag(trt_.BuilderFlag.GPU_FALLBACK)),
        "device_types": {layer.name: _device_name(builder_config.get_device_type(layer)) for layer in layers
                         if builder_config.is_device_type_set(layer)},
    }


def _device_name(device: object) -> str:
    return str(device).rsplit(".", 1)[-1]
