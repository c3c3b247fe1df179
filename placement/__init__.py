"""Stage 2: tag ONNX nodes with their owning submodule; plan and report the DLA/GPU placement."""

from trtforge.placement.gates import check_gates, enforce_gates
from trtforge.placement.plan import (
    Plan,
    layer_devices,
    load_plan,
    plan_for_config,
    plan_from_json,
    plan_from_tagged,
    write_plan,
)
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
    "Plan",
    "TagResult",
    "ancestors",
    "check_gates",
    "enforce_gates",
    "layer_devices",
    "layer_owners",
    "load_plan",
    "node_of_layer",
    "nodes_on_dla",
    "owners_from_tagged",
    "plan_for_config",
    "plan_from_json",
    "plan_from_tagged",
    "requested_device",
    "requested_devices",
    "tag_owners",
    "write_plan",
]
