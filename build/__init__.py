"""Stage 4: TensorRT engines with per-submodule DLA/GPU placement, plus sidecars for C++ consumers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from trtforge.lazy import lazy_getattr

if TYPE_CHECKING:  # the names below load on first use (PEP 562): `import trtforge.build.cli` stays cheap
    from trtforge.build.devices import (
        HELPER_RULE,
        LayerPlacement,
        LayerRow,
        apply_placement,
        layer_rows_from_network,
        placement_from_rows,
    )
    from trtforge.build.engine import EngineBuild, engine_from_onnx
    from trtforge.build.fp16 import fp16_from_onnx
    from trtforge.build.inspector import InspectorLayer, Merged, layers_from_inspector, merge_realized
    from trtforge.build.realized import Realized, realized_from_log, realized_from_log_text
    from trtforge.build.sidecar import SIDECAR_FORMAT, SIDECAR_SCHEMA, check_sidecar
    from trtforge.build.stage import BuildResult, engine_for_config, engine_name, typed_onnx_for

_LAZY = {
    "HELPER_RULE": "devices",
    "LayerPlacement": "devices",
    "LayerRow": "devices",
    "apply_placement": "devices",
    "layer_rows_from_network": "devices",
    "placement_from_rows": "devices",
    "EngineBuild": "engine",
    "engine_from_onnx": "engine",
    "fp16_from_onnx": "fp16",
    "Realized": "realized",
    "realized_from_log": "realized",
    "realized_from_log_text": "realized",
    "InspectorLayer": "inspector",
    "Merged": "inspector",
    "layers_from_inspector": "inspector",
    "merge_realized": "inspector",
    "SIDECAR_FORMAT": "sidecar",
    "SIDECAR_SCHEMA": "sidecar",
    "check_sidecar": "sidecar",
    "BuildResult": "stage",
    "engine_for_config": "stage",
    "engine_name": "stage",
    "typed_onnx_for": "stage",
}

__all__ = [
    "HELPER_RULE",
    "SIDECAR_FORMAT",
    "SIDECAR_SCHEMA",
    "BuildResult",
    "EngineBuild",
    "InspectorLayer",
    "LayerPlacement",
    "LayerRow",
    "Merged",
    "Realized",
    "apply_placement",
    "check_sidecar",
    "engine_for_config",
    "engine_from_onnx",
    "engine_name",
    "fp16_from_onnx",
    "layer_rows_from_network",
    "layers_from_inspector",
    "merge_realized",
    "placement_from_rows",
    "realized_from_log",
    "realized_from_log_text",
    "typed_onnx_for",
]


__getattr__ = lazy_getattr(__name__, _LAZY, globals())
