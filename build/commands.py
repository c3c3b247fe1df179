"""Commands and snippets that reproduce or consume an engine: trtexec, DeepStream ``nvinfer``, Triton.

Conventions (reference/peers.md 2.12): nvinfer ``network-mode`` 0 FP32, 1 INT8, 2 FP16, ``enable-dla`` /
``use-dla-core``, ``int8-calib-file``; Triton's TensorRT backend puts a DLA core in the instance group as
``secondary_devices [{ kind: KIND_NVDLA device_id: N }]``. The trtexec line reproduces the planned engine on the
target TensorRT: ``--layerDeviceTypes`` from the plan, ``--useDLACore`` (which also makes DLA trtexec's default
device) and ``--allowGPUFallback``.

Nothing from a config, a plan or an ONNX graph reaches these files unescaped: a shell word is ``shlex.quote``d
(``shell_command``; a comment is one line, ``shell_comment``), a Triton string is a protobuf text-format string
literal (``pbtxt_string``), a DeepStream value is a GKeyFile value (``keyfile_value``: backslash escapes, one
line). Reuse these helpers for any other generated script or config file.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from trtforge.config import Config

NETWORK_MODE = {"fp32": 0, "int8": 1, "fp16": 2}
TRITON_TYPES = {"FLOAT": "TYPE_FP32", "HALF": "TYPE_FP16", "INT8": "TYPE_INT8", "INT32": "TYPE_INT32",
                "INT64": "TYPE_INT64", "BOOL": "TYPE_BOOL"}


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def shell_command(args: Sequence[str | os.PathLike[str]]) -> str:
    """One POSIX shell command line: every argument ``shlex.quote``d (plain words stay as they are)."""
    return " ".join(shlex.quote(os.fspath(a)) for a in args)


def shell_comment(text: str) -> str:
    """A ``# ...`` line that stays one comment line whatever ``text`` holds (control characters become ``?``)."""
    return "# " + _CONTROL.sub("?", text)


def shell_script(commands: Sequence[Sequence[str | os.PathLike[str]]], comments: Sequence[str] = ()) -> str:
    """A ``#!/bin/sh`` script: comment lines, then one quoted command per line, stopping at the first failure."""
    lines = ["#!/bin/sh", *map(shell_comment, comments), "set -e", *map(shell_command, commands)]
    return "\n".join(lines) + "\n"


def pbtxt_string(text: str) -> str:
    """A protobuf text-format string literal (Triton ``config.pbtxt``): quotes, backslashes and control
    characters escaped (C-style octal), so an embedded value cannot end the string or start a field."""
    out = []
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif _CONTROL.match(char):
            out.append(f"\\{ord(char):03o}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def keyfile_value(text: str) -> str:
    """A GKeyFile value (DeepStream nvinfer config): backslash, newline, CR and tab escaped, a leading space as
    ``\\s``, other control characters dropped, so a value stays on its key's line."""
    escaped = (text.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
               .replace("\t", "\\t"))
    escaped = _CONTROL.sub("", escaped)
    return "\\s" + escaped[1:] if escaped.startswith(" ") else escaped


def trtexec_command(config: Config, onnx: Path, engine: Path, *, layer_device_types: str, strongly_typed: bool,
                    calib_cache: Path | None) -> str:
    """The trtexec line, every argument shell-quoted (``shell_command``; the list is ``trtexec_args``)."""
    args = trtexec_args(config, onnx, engine, layer_device_types=layer_device_types,
                        strongly_typed=strongly_typed, calib_cache=calib_cache)
    return shell_command(["trtexec", *args])


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
    lines = [shell_comment(f"DeepStream Gst-nvinfer [property] for {config.name}: {note}"), "[property]",
             f"onnx-file={keyfile_value(str(onnx))}", f"model-engine-file={keyfile_value(str(engine))}",
             f"network-mode={NETWORK_MODE[config.precision]}",
             f"batch-size={config.max_batch_size}", f"enable-dla={int(dla_applied)}"]
    if dla_applied:
        lines.append(f"use-dla-core={config.dla_core}")
    if calib_cache is not None:
        lines.append(f"int8-calib-file={keyfile_value(str(calib_cache))}")
    return "\n".join(lines) + "\n"


def triton_snippet(config: Config, engine: Path, io: Sequence[Mapping[str, Any]], *, dla_applied: bool) -> str:
    """A ``config.pbtxt`` fragment; dimensions include the batch (explicit-batch engine: max_batch_size 0)."""
    lines = [f"name: {pbtxt_string(config.name)}", 'platform: "tensorrt_plan"',
             f"default_model_filename: {pbtxt_string(engine.name)}", "max_batch_size: 0"]
    for mode in ("input", "output"):
        entries = [f'  {{ name: {pbtxt_string(str(t["name"]))} data_type: {_triton_type(t["dtype"])} '
                   f'dims: [ {", ".join(str(int(d)) for d in t["shape"])} ] }}' for t in io if t["mode"] == mode]
        lines += [f"{mode} [", ",\n".join(entries), "]"]
    dla = (f" secondary_devices [ {{ kind: KIND_NVDLA device_id: {config.dla_core} }} ]" if dla_applied else "")
    lines.append(f"instance_group [ {{ kind: KIND_GPU count: 1{dla} }} ]")
    return "\n".join(lines) + "\n"


def _triton_type(dtype: object) -> str:
    """Triton's enum name for a TensorRT dtype; an unknown name is kept only if it is a plain identifier."""
    name = TRITON_TYPES.get(str(dtype), str(dtype))
    return name if re.fullmatch(r"[A-Z][A-Z0-9_]*", name) else "TYPE_INVALID"
