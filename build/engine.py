"""ONNX -> serialized TensorRT plan, with the plan's device per layer, GPU fallback, DLA core and precision.

One code path for the three flavours (``trtforge.compat`` says which one runs): TensorRT 8.6/10.x is weakly
typed (FP16/INT8 builder flags; INT8 ranges from the calibration cache, served by an ``IInt8EntropyCalibrator2``
that refuses to recalibrate); TensorRT >= 11 and TensorRT-RTX are strongly typed (the ONNX types decide:
``typed_onnx_for``). The builder is driven directly rather than through Polygraphy's ``CreateConfig``, which
hard-codes ``DLA_core = 0``, has no per-layer device types and logs through its own logger, while the realized
placement needs the builder's own log lines; Polygraphy's ``EngineFromBytes`` loads the built engine (where it
can be loaded) on a runtime whose DLA core is set first.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trtforge.build.devices import (
    LayerPlacement,
    apply_placement,
    check_placement,
    layer_rows_from_network,
    placement_from_rows,
)
from trtforge.build.realized import Realized, all_on_gpu, realized_from_log

from trtforge.compat import BuildTarget, TrtInfo, has_timing_cache, network_flags, polygraphy_trt
from trtforge.config import Config
from trtforge.errors import TrtforgeError

if TYPE_CHECKING:
    import tensorrt as trt

# VERBOSE lines kept for the realized placement (build/realized.py): the summary's entries ("[DlaLayer] ...",
# "[GpuLayer] ...", TensorRT 5-7's "{a,b}, {c}," lists) and every fallback wording
_KEEP_VERBOSE = ("DLA", "GPU", "Layers running", "Switching", "falling back", "ForeignNode", "DlaLayer", "GpuLayer",
                 "fallback", "dla")


@dataclass(frozen=True)
class EngineBuild:
    """A serialized plan and everything the sidecar says about how it was made."""

    plan: bytes
    log: tuple[str, ...]
    placement: LayerPlacement
    read_back: dict[str, Any]
    flags: tuple[str, ...]
    io: tuple[dict[str, Any], ...]
    seconds: float
    realized: Realized


def capturing_logger(trt_module: Any) -> Any:
    """A TensorRT ``ILogger`` that keeps INFO and worse, and the VERBOSE lines about DLA/GPU placement."""
    base: Any = trt_module.ILogger

    class CapturingLogger(base):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            base.__init__(self)
            self.lines: list[str] = []

        def log(self, severity: Any, msg: str) -> None:
            level = str(severity).rsplit(".", 1)[-1]
            if level != "VERBOSE" or msg.lstrip().startswith("{") or any(word in msg for word in _KEEP_VERBOSE):
                self.lines.append(f"{level}: {msg}")

    return CapturingLogger()


def network_from_onnx(trt_module: Any, logger: Any, onnx_path: Path, flags: int
                      ) -> tuple[trt.Builder, trt.INetworkDefinition, trt.OnnxParser]:
    """Parse ``onnx_path`` with TensorRT's ONNX parser (external data is found beside the file)."""
    builder = trt_module.Builder(logger)
    network = builder.create_network(flags)
    parser = trt_module.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = [parser.get_error(i) for i in range(parser.num_errors)]
        raise TrtforgeError.of(f"TensorRT's ONNX parser to accept {onnx_path}", found=parse_error_summary(errors),
                               fix=_parse_fix(onnx_path))
    return builder, network, parser


# Lines TensorRT-RTX (and TensorRT on a machine without a usable GPU) adds to every error; they say nothing about
# the model: "[checkMacros.cpp::catchCudaError::250] Error Code 1: Cuda Runtime (... cudaError 35: CUDA driver
# version is insufficient for CUDA runtime version)".
_UNRELATED = ("CUDA driver version is insufficient", "catchCudaError")


def parse_error_summary(errors: list[Any]) -> str:
    """``node 3 'node_mul' (Mul): ElementWiseOperation PROD must have same input types ... [INVALID_NODE]`` per
    parser error (the first 3), without the unrelated CUDA lines and TensorRT's source locations."""
    import re

    parts = []
    for error in errors[:3]:
        if not hasattr(error, "desc"):  # an older parser's plain string
            parts.append(clean_trt_message(str(error)))
            continue
        name, op = error.node_name(), error.node_operator()
        lines = [line for line in str(error.desc()).splitlines()
                 if line.strip() and line.strip() != f"Invalid Node - {name}"]
        message = clean_trt_message("\n".join(lines))
        message = re.sub(r"^ITensor::getDimensions: Error Code \d+: [\w ]+ Error \(|\)$", "", message)
        where = f"node {error.node()} {name!r} ({op})" if error.node() >= 0 else "the model"
        code = str(error.code()).rsplit(".", 1)[-1]
        parts.append(f"{where}: {message or code} [{code}]")
    return "; ".join(parts) or "no parser error reported"


def clean_trt_message(text: str) -> str:
    """One line: unrelated CUDA lines dropped, TensorRT's ``In <func> at /_src/...:<line>`` locations removed."""
    import re

    kept = [line for line in text.splitlines() if line.strip() and not any(u in line for u in _UNRELATED)]
    flat = " ".join(" ".join(kept).split())
    return re.sub(r"\.? ?In \w+ at /?[\w/.-]+:\d+", "", flat)


def _parse_fix(onnx_path: Path) -> str:
    typed = {"fp16.onnx": "FP16-typed", "qdq.onnx": "Q/DQ"}.get(onnx_path.name)
    if typed:
        return (f"this {typed} ONNX is written by trtforge from the tagged ONNX: report it with the failing node "
                "(precision = 'fp32' builds from the tagged ONNX as exported)")
    return "check the opset and the failing op against this TensorRT's ONNX operator support (`trtforge doctor`)"


def io_from_network(network: trt.INetworkDefinition) -> list[dict[str, Any]]:
    """Name, mode, shape and dtype of every network input and output. Formats stay TensorRT's default for
    network I/O (linear) because the build restricts none."""
    tensors = [("input", network.get_input(i)) for i in range(network.num_inputs)]
    tensors += [("output", network.get_output(i)) for i in range(network.num_outputs)]
    return [{"name": t.name, "mode": mode, "shape": _dims(t.shape),
             "dtype": str(t.dtype).rsplit(".", 1)[-1], "format": "LINEAR"} for mode, t in tensors]


def precision_flags(trt_module: Any, builder_config: trt.IBuilderConfig, precision: str, strongly_typed: bool,
                    calibrator: trt.IInt8Calibrator | None) -> list[str]:
    """Weakly typed: FP16 for fp16; INT8 (+ FP16 for layers without ranges) and the calibrator for int8.
    Strongly typed: nothing to set, the ONNX types decide."""
    if strongly_typed or precision == "fp32":
        return []
    flags = ["FP16"] if precision == "fp16" else ["INT8", "FP16"]
    for name in flags:
        builder_config.set_flag(getattr(trt_module.BuilderFlag, name))
    if precision == "int8":
        if calibrator is None:
            raise TrtforgeError.of("a calibration cache for a weakly typed INT8 build", found="none given",
                                   fix="run `trtforge calib` first (never calibrated on random data here)")
        builder_config.int8_calibrator = calibrator
    return flags


def _dims(dims: trt.Dims) -> list[int]:
    return [int(dims[i]) for i in range(len(dims))]


def optimization_profile(trt_module: Any, builder: trt.Builder, network: trt.INetworkDefinition,
                         builder_config: trt.IBuilderConfig, config: Config) -> bool:
    """One profile from the config's (min, opt, max) shapes when the network has dynamic inputs; static
    networks (everything placed on DLA must be) need none. Returns whether one was added."""
    inputs = [network.get_input(i) for i in range(network.num_inputs)]
    if not any(d < 0 for t in inputs for d in _dims(t.shape)):
        return False
    profile = builder.create_optimization_profile()
    shapes = config.input_shapes()
    for tensor in inputs:
        low, opt, high = shapes[tensor.name]
        profile.set_shape(tensor.name, trt_module.Dims(low), trt_module.Dims(opt), trt_module.Dims(high))
    builder_config.add_optimization_profile(profile)
    return True


def engine_from_onnx(onnx_path: Path, config: Config, target: BuildTarget, owners: Mapping[str, str],
                     node_devices: Mapping[str, str], *, calibrator: Any = None,
                     timing_cache: Path | None = None, folded: Mapping[str, str] | None = None) -> EngineBuild:
    """Build ``onnx_path`` with the device of every plan node (``node_devices``); ``owners`` are the owners of
    that ONNX's nodes. A GPU-only target sets every layer to GPU (the plan keeps the DLA placement)."""
    trt_module = target.info.module
    logger = capturing_logger(trt_module)
    builder, network, _parser = network_from_onnx(trt_module, logger, onnx_path, network_flags(target.info))
    rows = layer_rows_from_network(network)
    devices = {n: (d if target.dla_applied else "GPU") for n, d in node_devices.items()}
    default = config.default_device if target.dla_applied else "GPU"
    placement = placement_from_rows(rows, owners, owners, devices, config, default=default, folded=folded)
    check_placement(placement, config)
    builder_config = builder.create_builder_config()
    builder_config.profiling_verbosity = trt_module.ProfilingVerbosity.DETAILED
    read_back = apply_placement(trt_module, builder_config, network, placement.devices(),
                                default=default,
                                dla_core=config.dla_core if target.dla_applied else None,
                                gpu_fallback=config.gpu_fallback and target.dla_applied)
    flags = precision_flags(trt_module, builder_config, config.precision, target.info.strongly_typed, calibrator)
    flags += ["GPU_FALLBACK"] if read_back["GPU_FALLBACK"] else []
    if optimization_profile(trt_module, builder, network, builder_config, config):
        flags.append("optimization_profile")
    cache = _timing_cache(builder_config, target, timing_cache)
    start = time.perf_counter()
    serialized = builder.build_serialized_network(network, builder_config)
    seconds = time.perf_counter() - start
    if serialized is None:
        errors = [clean_trt_message(line) for line in logger.lines if line.startswith(("ERROR", "INTERNAL_ERROR"))
                  and not any(u in line for u in _UNRELATED)]
        raise TrtforgeError.of(f"TensorRT to build {onnx_path.name}", found="; ".join(errors[-3:]) or "no plan",
                               fix="see the build log; for DLA layers that cannot run there set gpu_fallback")
    if calibrator is not None and hasattr(calibrator, "raise_if_recalibrated"):
        calibrator.raise_if_recalibrated()
    _save_timing_cache(cache, timing_cache)
    names = [row.name for row in rows]
    realized = (realized_from_log(logger.lines, names) if target.dla_applied else
                all_on_gpu(names, "no DLA placement applied: every layer runs on the GPU"))
    return EngineBuild(bytes(serialized), tuple(logger.lines), placement, read_back, tuple(flags),
                       tuple(io_from_network(network)), seconds, realized)


def _timing_cache(builder_config: trt.IBuilderConfig, target: BuildTarget, path: Path | None) -> Any:
    if path is None or not has_timing_cache(target.info):
        return None
    cache = builder_config.create_timing_cache(path.read_bytes() if path.is_file() else b"")
    builder_config.set_timing_cache(cache, False)
    return cache


def _save_timing_cache(cache: Any, path: Path | None) -> None:
    if cache is not None and path is not None:
        from trtforge.artifacts import write_atomic

        write_atomic(path, bytes(cache.serialize()))


def engine_facts(info: TrtInfo, plan: bytes, dla_core: int | None) -> dict[str, Any] | None:
    """Where the engine can be deserialized (a GPU or a Jetson): the engine inspector's JSON (layer names, types,
    formats; ``ProfilingVerbosity.DETAILED``) and each I/O tensor's format. Loaded with Polygraphy's
    ``EngineFromBytes`` on our runtime, whose ``DLA_core`` is set first (the core is chosen at load time)."""
    import json

    trt_module = info.module
    runtime: trt.Runtime = trt_module.Runtime(capturing_logger(trt_module))
    if dla_core is not None:
        runtime.DLA_core = dla_core
    engine: trt.ICudaEngine | None = polygraphy_trt(info).EngineFromBytes(plan, runtime=runtime)()
    if engine is None:
        return None
    inspector = engine.create_engine_inspector()
    layers = json.loads(inspector.get_engine_information(trt_module.LayerInformationFormat.JSON))
    names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
    return {"inspector": layers, "formats": {name: engine.get_tensor_format_desc(name) for name in names}}
