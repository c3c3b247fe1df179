"""Placement gates: config options that fail the run when the placement drifts ([gates] in the config).

The same function judges the plan's prediction and, given ``realized`` (TensorRT layer or node name ->
"GPU"/"DLA" from a build), the placement the builder really made.
"""

from __future__ import annotations

from collections.abc import Mapping

from trtforge.placement.plan import NodePlan, Plan, islands_count
from trtforge.placement.tagging import node_of_layer

from trtforge.config import Config
from trtforge.errors import TrtforgeError


def devices_of_nodes(plan: Plan, realized: Mapping[str, str] | None) -> dict[str, str]:
    """Node name -> device: the prediction, overridden by the realized device of the node's own layer (the
    layer named exactly after the node wins over its ``_<k>`` siblings)."""
    devices = {n.name: n.predicted for n in plan.nodes if not n.layerless}
    if realized is None:
        return devices
    names = set(devices)
    seen: set[str] = set()
    for layer, device in sorted(realized.items(), key=lambda item: item[0] not in names):
        node = node_of_layer(layer, None, names)
        if node is not None and node not in seen:
            devices[node] = device
            seen.add(node)
    return devices


def check_gates(plan: Plan, config: Config, realized: Mapping[str, str] | None = None) -> list[str]:
    """The violated gates, one line each (empty: all pass)."""
    gates = config.gates
    devices = devices_of_nodes(plan, realized)
    nodes = [n for n in plan.nodes if not n.layerless]
    on_dla = [n for n in nodes if devices[n.name] == "DLA"]
    what = "realized" if realized is not None else "predicted"
    failed = []
    share = len(on_dla) / max(len(nodes), 1)
    if gates.min_dla_node_share is not None and share < gates.min_dla_node_share:
        failed.append(f"{what} DLA node share {share:.3f} < min_dla_node_share {gates.min_dla_node_share}")
    flops = sum(n.flops for n in on_dla) / max(sum(n.flops for n in nodes), 1)
    if gates.min_dla_flops_share is not None and flops < gates.min_dla_flops_share:
        failed.append(f"{what} DLA FLOPs share {flops:.3f} < min_dla_flops_share {gates.min_dla_flops_share}")
    islands = islands_count(plan, devices)
    if gates.max_islands is not None and islands > gates.max_islands:
        failed.append(f"{what} DLA islands {islands} > max_islands {gates.max_islands}")
    if gates.fail_on_unexpected_fallback:
        failed += _unexpected(nodes, devices, realized is not None)
    return failed


def _unexpected(nodes: list[NodePlan], devices: Mapping[str, str], realized: bool) -> list[str]:
    """Planned: every node requested on DLA and predicted on GPU. Realized: every node predicted on DLA that
    the builder put on GPU."""
    if realized:
        moved = [n.name for n in nodes if n.predicted == "DLA" and devices[n.name] != "DLA"]
        why = "predicted on DLA, realized on GPU"
    else:
        moved = [n.name for n in nodes if n.requested == "DLA" and n.predicted != "DLA"]
        why = "requested on DLA, predicted on GPU"
    if not moved:
        return []
    return [f"fail_on_unexpected_fallback: {len(moved)} node(s) {why}: {', '.join(moved[:10])}"
            + (" ..." if len(moved) > 10 else "")]


def enforce_gates(plan: Plan, config: Config, realized: Mapping[str, str] | None = None) -> None:
    failed = check_gates(plan, config, realized)
    if failed:
        raise TrtforgeError.of(f"the placement of {config.name} to pass its [gates]", found="; ".join(failed),
                               fix="change device_types, or relax [gates] in the config")
