"""Commands and snippets that reproduce or consume an engine: trtexec, DeepStream ``nvinfer``, Triton.

Conventions (reference/peers.md 2.12): nvinfer ``network-mode`` 0 FP32, 1 INT8, 2 FP16, ``enable-dla`` /
``use-dla-core``, ``int8-calib-file``; Triton's TensorRT backend puts a DLA core in the instance group as
``secondary_devices [{ kind: KIND_NVDLA device_id: N }]``. The trtexec line reproduces the planned engine on the
target TensorRT: ``--layerDeviceTypes`` from the plan, ``--useDLACore`` (which also makes DLA trtexec's default
device) and ``--allowGPUFallback``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from trtforge.config import Config

NETWORK_MODE = {"fp32": 0, "int8": 1, "fp16": 2}
TRITON_TYPES = {"FLOAT": "TYPE_FP32", "HALF": "TYPE_FP16", "INT8": "TYPE_INT8", "INT32": "TYPE_INT32",
                "INT64": "TYPE_INT64", "BOOL": "TYPE_BOOL"}


def trtexec_command(config: Config, onnx: Path, engine: Path, *, layer_device_types: str, strongly_typed: bool,
                    calib_cache: Path | None) -> str:
    args = trtexec_args(config, onnx, engine, layer_device_types=layer_device_types,
                        strongly_typed=strongly_typed, calib_cache=calib_cache)
    return " ".join(["trtexec", *args])


def trtexec_args(config: Config, onnx: Path, engine: Path, *, layer_device_types: str, strongly_typed: bool,
                 calib_cache: Path | None) -> list[str]:
    """trtexec's arguments (without the program) that rebuild the planned engine on the config's target."""
    args = [f"--onnx={onnx}", f"--saveEngine={engine}"]
    if not strongly_typed and config.precision != "fp32":
        args += ["--int8", "--fp16"] if config.precision == "int8" else ["--fp16"]
    if calib_cache is not None and not strongly_typed:
        args.append(f"--calib={calib_cache}")
    if config.uses_dla:
        args.append(f"--useDLACore={config.dla_core}")
        args.append("--allowGPUFallback" if config.gpu_fallback else "")
    if layer_device_types:
        args.append(f"--layerDeviceTypes={layer_device_types}")
    if config.dynamic_batch:
        shapes = config.input_shapes()
        for flag, pick in (("--minShapes", 0), ("--optShapes", 1), ("--maxShapes", 2)):
            args.append(flag + "=" + ",".join(f"{n}:{'x'.join(map(str, s[pick]))}" for n, s in shapes.items()))
    return [a for a in args if a]


def nvinfer_snippet(config: Config, onnx: Path, engine: Path, *, dla_applied: bool, calib_cache: Path | None,
                    note: str) -> str:
    lines = [f"# DeepStream Gst-nvinfer [property] for {config.name}: {note}", "[property]",
             f"onnx-file={onnx}", f"model-engine-file={engine}", f"network-mode={NETWORK_MODE[config.precision]}",
             f"batch-size={config.max_batch_size}", f"enable-dla={int(dla_applied)}"]
    if dla_applied:
        lines.append(f"use-dla-core={config.dla_core}")
    if calib_cache is not None:
        lines.append(f"int8-calib-file={calib_cache}")
    return "\n".join(lines) + "\n"


def triton_snippet(config: Config, engine: Path, io: Sequence[Mapping[str, Any]], *, dla_applied: bool) -> str:
    """A ``config.pbtxt`` fragment; dimensions include the batch (explicit-batch engine: max_batch_size 0)."""
    lines = [f'name: "{config.name}"', 'platform: "tensorrt_plan"', f'default_model_filename: "{engine.name}"',
             "max_batch_size: 0"]
    for mode in ("input", "output"):
        entries = [f'  {{ name: "{t["name"]}" data_type: {TRITON_TYPES.get(t["dtype"], t["dtype"])} '
                   f'dims: [ {", ".join(map(str, t["shape"]))} ] }}' for t in io if t["mode"] == mode]
        lines += [f"{mode} [", ",\n".join(entries), "]"]
    dla = (f" secondary_devices [ {{ kind: KIND_NVDLA device_id: {config.dla_core} }} ]" if dla_applied else "")
    lines.append(f"instance_group [ {{ kind: KIND_GPU count: 1{dla} }} ]")
    return "\n".join(lines) + "\n"
