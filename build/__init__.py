"""Stage 4: TensorRT engines with per-submodule DLA/GPU placement, plus sidecars for C++ consumers."""

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
from trtforge.build.realized import Realized, realized_from_log
from trtforge.build.sidecar import SIDECAR_FORMAT, SIDECAR_SCHEMA, check_sidecar
from trtforge.build.stage import BuildResult, engine_for_config, engine_name, typed_onnx_for

__all__ = [
    "HELPER_RULE",
    "SIDECAR_FORMAT",
    "SIDECAR_SCHEMA",
    "BuildResult",
    "EngineBuild",
    "LayerPlacement",
    "LayerRow",
    "Realized",
    "apply_placement",
    "check_sidecar",
    "engine_for_config",
    "engine_from_onnx",
    "engine_name",
    "fp16_from_onnx",
    "layer_rows_from_network",
    "placement_from_rows",
    "realized_from_log",
    "typed_onnx_for",
]
