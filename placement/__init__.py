"""Stage 2: tag ONNX nodes with their owning submodule; plan and report the DLA/GPU placement."""

from trtforge.placement.tagging import (
    TagResult,
    ancestors,
    layer_owners,
    node_of_layer,
    nodes_on_dla,
    owners_from_tagged,
    requested_device,
    requested_devices,
    tag_owners,
)

__all__ = [
    "TagResult",
    "ancestors",
    "layer_owners",
    "node_of_layer",
    "nodes_on_dla",
    "owners_from_tagged",
    "requested_device",
    "requested_devices",
    "tag_owners",
]
