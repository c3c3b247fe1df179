"""``trtforge adopt``: an engine built on the device from a bundle becomes a project engine with a sidecar.

Inputs: the bundle folder (its ``MANIFEST.json`` and files, every sha256 checked), the engine trtexec wrote, its
log (``--verbose``) and, when given, the inspector JSON (``--exportLayerInfo``). The sidecar has the schema of a
trtforge build (``SIDECAR_SCHEMA``): I/O from the inspector (else from the bundle's ONNX), the realized placement
read from the log (``trtforge.build.realized``), requested / predicted / realized per submodule, the config's
gates applied, and the hashes of the engine and of the bundle's files.
"""

from __future__ import annotations

import datetime
import re
from pathlib import Path
from typing import Any

from trtforge.build.bundle import read_manifest
from trtforge.build.realized import by_submodule, drift_from_table, realized_from_log
from trtforge.build.sidecar import SIDECAR_FORMAT, check_sidecar

from trtforge.artifacts import read_json, sha256_file, write_sealed_json
from trtforge.config import config_from_dict
from trtforge.errors import TrtforgeError

_VERSION = (re.compile(r"TensorRT version:\s*(\d+\.\d+\.\d+)"),
            re.compile(r"\[TensorRT v(\d+)\]"))


def sidecar_from_device(bundle: Path, engine: Path, log: Path, layer_info: Path | None = None,
                        out: Path | None = None) -> tuple[Path, dict[str, Any]]:
    """Write ``<engine>.json`` beside the engine (or at ``out``); returns its path and the record."""
    manifest = read_manifest(bundle)
    if not engine.is_file():
        raise TrtforgeError.of("the engine trtexec wrote on the device", found=f"no file at {engine}",
                               fix=f"bring back {manifest['engine']} from the bundle folder on the Jetson")
    config = config_from_dict(manifest["config_dict"], source=f"{bundle}/MANIFEST.json")
    from trtforge.placement.plan import load_plan, plan_from_json

    plan = plan_from_json(load_plan(Path(bundle) / "plan.json"))
    lines = _read_text(log, "the trtexec log").splitlines()
    layers = manifest["plan"]["layers"]
    realized = realized_from_log(lines, [layer["name"] for layer in layers])
    rows = [(layer["name"], layer["owner"], layer["requested"], layer["predicted"]) for layer in layers]
    table = by_submodule(rows, realized)
    inspector = _read_inspector(layer_info) if layer_info is not None else None
    if inspector is not None:
        realized = _compared_with_inspector(realized, inspector, [layer["name"] for layer in layers])
    record = _record(manifest, config, plan, engine, lines, realized, table, inspector, bundle, layer_info)
    check_sidecar(record)
    path = out or engine.with_name(engine.name + ".json")
    write_sealed_json(path, record)
    return path, record


def _read_text(path: Path, what: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError as err:
        raise TrtforgeError.of(what, found=f"{path}: {err.strerror or err}", fix="check the path") from None


def _read_inspector(path: Path) -> dict[str, Any]:
    record = read_json(path, what="the inspector JSON (trtexec --exportLayerInfo)")
    if not isinstance(record, dict) or not isinstance(record.get("Layers"), list):
        raise TrtforgeError.of("trtexec --exportLayerInfo JSON with a 'Layers' list", found=f"{path}",
                               fix="pass the layers.json build.sh wrote (--profilingVerbosity=detailed)")
    return record


def _compared_with_inspector(realized: Any, inspector: dict[str, Any], names: list[str]) -> Any:
    """The inspector as the second source: each layer it places otherwise than the log is a warning; where the
    log has no summary and the inspector places every layer, its placement is used (``trtforge.build.inspector``)."""
    import dataclasses

    from trtforge.build.inspector import layers_from_inspector, merge_realized

    from trtforge.log import logger

    merged = merge_realized(realized, layers_from_inspector(inspector), names)
    for line in merged.disagreements:
        logger.warning("adopt: %s", line)
    return dataclasses.replace(realized, devices=merged.devices, source=merged.source)


def tensorrt_version_from_log(lines: list[str]) -> str:
    """``TensorRT version: 8.6.2`` (trtexec 8.x+), else the ``[TensorRT v8502]`` banner (8502 = 8.5.2,
    100300 = 10.3.0), else ``unknown``."""
    for line in lines:
        if match := _VERSION[0].search(line):
            return match.group(1)
    for line in lines:
        if match := _VERSION[1].search(line):
            number = int(match.group(1))
            major = number // 10000 if number >= 100000 else number // 1000
            rest = number % 10000 if number >= 100000 else number % 1000
            return f"{major}.{rest // 100}.{rest % 100}"
    return "unknown"


def io_from_inspector(inspector: dict[str, Any]) -> list[dict[str, Any]]:
    """Engine I/O from the inspector: 11.x ``I/O Tensors`` objects, else the ``Bindings`` names with their
    dimensions and formats taken from the layers that read or write them (input: first reader; output: writer)."""
    if isinstance(inspector.get("I/O Tensors"), list):
        return [{"name": t["Name"], "mode": "input" if str(t.get("IOMode", "")).lower().endswith("input")
                 else "output", "shape": list(t.get("Dimensions", [])), "dtype": str(t.get("DataType", "")),
                 "format": str(t.get("Format", "LINEAR"))} for t in inspector["I/O Tensors"]]
    seen_in: dict[str, dict[str, Any]] = {}
    seen_out: dict[str, dict[str, Any]] = {}
    for layer in inspector["Layers"]:
        if not isinstance(layer, dict):
            continue
        for tensor in layer.get("Inputs", []):
            seen_in.setdefault(tensor.get("Name"), tensor)
        for tensor in layer.get("Outputs", []):
            seen_out[tensor.get("Name")] = tensor
    io = []
    for name in inspector.get("Bindings", []):
        mode = "output" if name in seen_out else "input"
        tensor = seen_out.get(name) or seen_in.get(name) or {}
        io.append({"name": name, "mode": mode, "shape": list(tensor.get("Dimensions", [])),
                   "dtype": _dtype(str(tensor.get("Format/Datatype", ""))),
                   "format": str(tensor.get("Format/Datatype", "unknown"))})
    return io


def _dtype(format_text: str) -> str:
    for word, dtype in (("FP32", "FLOAT"), ("FP16", "HALF"), ("Int8", "INT8"), ("INT8", "INT8"),
                        ("Int32", "INT32"), ("INT32", "INT32")):
        if word in format_text:
            return dtype
    return "unknown"


def _io_from_onnx(onnx_path: Path) -> list[dict[str, Any]]:
    import onnx

    model = onnx.load(str(onnx_path), load_external_data=False)
    names = {1: "FLOAT", 10: "HALF", 3: "INT8", 6: "INT32", 7: "INT64", 9: "BOOL"}
    io = []
    for mode, values in (("input", model.graph.input), ("output", model.graph.output)):
        for value in values:
            tensor = value.type.tensor_type
            io.append({"name": value.name, "mode": mode, "shape": [d.dim_value for d in tensor.shape.dim],
                       "dtype": names.get(tensor.elem_type, str(tensor.elem_type)), "format": "LINEAR"})
    return io


def _record(manifest: dict[str, Any], config: Any, plan: Any, engine: Path, lines: list[str], realized: Any,
            table: dict[str, Any], inspector: dict[str, Any] | None, bundle: Path,
            layer_info: Path | None) -> dict[str, Any]:
    from trtforge.placement import check_gates

    version = tensorrt_version_from_log(lines)
    layers = manifest["plan"]["layers"]
    io = io_from_inspector(inspector) if inspector is not None else _io_from_onnx(Path(bundle) / manifest["onnx"])
    gates = check_gates(plan, config, realized.devices) if realized.devices is not None and config.uses_dla else []
    args = manifest["trtexec"]
    dla = config.uses_dla
    return {
        "format": SIDECAR_FORMAT, "config": config.name,
        "engine": {"file": engine.name, "bytes": engine.stat().st_size, "sha256": sha256_file(engine),
                   "gpu_only": not dla, "platform": "aarch64-jetson", "l4t": None,  # built on the device
                   "compute_capability": {"orin": "8.7", "xavier": "7.2"}.get(config.target.platform)},
        "tensorrt": {"flavour": "tensorrt", "version": version, "label": f"TensorRT {version} (trtexec on device)",
                     "strongly_typed": manifest["target"]["tensorrt"] == "11.4+"},
        "runs_on": (f"GPU + DLA core {config.dla_core}{' with GPU fallback' if config.gpu_fallback else ''}"
                    " (built on the device by trtexec)") if dla else "GPU (built on the device by trtexec)",
        "precision": config.precision, "io": io,
        "dla": {"requested": dla, "applied": dla, "core": config.dla_core if dla else None,
                "cores_available": 2 if dla else 0,
                "reason": "built on the device from a trtforge bundle (trtforge adopt)",
                "planned_layers": sum(layer["requested"] == "DLA" for layer in layers)},
        "build": {"flags": [a for a in args if a in ("--fp16", "--int8", "--allowGPUFallback")],
                  "seconds": 0.0,
                  "finished_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                  "onnx": manifest["onnx"],
                  "read_back": {"default_device_type": "DLA" if dla else "GPU",
                                "DLA_core": config.dla_core if dla else -1,
                                "GPU_FALLBACK": "--allowGPUFallback" in args,
                                "layers_set": len(layers),
                                "layers_on_dla": sum(layer["requested"] == "DLA" for layer in layers)}},
        "placement": {"by_submodule": table, "realized_source": realized.source,
                      "realized_fallbacks": [str(f) for f in realized.fallbacks],
                      "drift": drift_from_table(table) if dla else [], "gates": gates,
                      "helper_layers": {layer["name"]: {"device": layer["requested"], "rule": "helper"}
                                        for layer in layers if layer["owner"] is None},
                      "layer_device_types": manifest["plan"]["layer_device_types"],
                      "inspector": layer_info.name if layer_info is not None else None},
        "commands": {"trtexec": " ".join(["trtexec", *args]), "files": {"bundle": str(bundle)}},
        "inputs": {"bundle_manifest": sha256_file(Path(bundle) / "MANIFEST.json"), **manifest["files"]},
        "outputs": {"engine": sha256_file(engine)},
    }
