"""The ``<engine>.json`` sidecar: what a C++ (or any) consumer needs to load and trust an engine.

``SIDECAR_SCHEMA`` is a JSON Schema (the subset ``check_sidecar`` implements: type, required, properties,
additionalProperties, items, enum). Unknown keys are errors. Bump ``SIDECAR_FORMAT`` on any change.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trtforge.errors import TrtforgeError

SIDECAR_FORMAT = 2  # 2: engine.compute_capability / platform / l4t (where the engine loads)

_STR = {"type": "string"}
_INT = {"type": "integer"}
_NUM = {"type": "number"}
_BOOL = {"type": "boolean"}
_STRS = {"type": "array", "items": _STR}
_DEVICE = {"type": "string", "enum": ["GPU", "DLA"]}


def _obj(props: Mapping[str, Any], optional: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"type": "object", "properties": dict(props), "additionalProperties": False,
            "required": [k for k in props if k not in optional]}


def _map(values: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": "object", "additionalProperties": dict(values)}


_TENSOR = _obj({"name": _STR, "mode": {"type": "string", "enum": ["input", "output"]},
                "shape": {"type": "array", "items": _INT}, "dtype": _STR, "format": _STR})
_SUBMODULE = _obj({"layers": _INT, "requested_dla": _INT, "predicted_dla": _INT,
                   "realized_dla": {"type": ["integer", "null"]}})

SIDECAR_SCHEMA: dict[str, Any] = _obj({
    "format": {"type": "integer", "enum": [SIDECAR_FORMAT]},
    "config": _STR,
    # compute_capability ("8.7", null when no GPU is known), platform ("x86_64", "aarch64-jetson"), l4t
    # ("R36.4.0" on a Jetson): examples/cpp/trt_infer refuses a mismatch before deserializing
    "engine": _obj({"file": _STR, "bytes": _INT, "sha256": _STR, "gpu_only": _BOOL,
                    "compute_capability": {"type": ["string", "null"]}, "platform": _STR,
                    "l4t": {"type": ["string", "null"]}}),
    "tensorrt": _obj({"flavour": {"type": "string", "enum": ["tensorrt", "tensorrt-rtx"]}, "version": _STR,
                      "label": _STR, "strongly_typed": _BOOL}),
    "runs_on": _STR,
    "precision": {"type": "string", "enum": ["fp32", "fp16", "int8"]},
    "io": {"type": "array", "items": _TENSOR},
    "dla": _obj({"requested": _BOOL, "applied": _BOOL, "core": {"type": ["integer", "null"]},
                 "cores_available": _INT, "reason": _STR, "planned_layers": _INT}),
    "build": _obj({"flags": _STRS, "seconds": _NUM, "finished_utc": _STR, "onnx": _STR,
                   "read_back": _obj({"default_device_type": _STR, "DLA_core": _INT, "GPU_FALLBACK": _BOOL,
                                      "layers_set": _INT, "layers_on_dla": _INT})}),
    "placement": _obj({"by_submodule": _map(_SUBMODULE), "realized_source": _STR,
                       "realized_fallbacks": _STRS, "drift": _STRS, "gates": _STRS,
                       "helper_layers": _map(_obj({"device": _DEVICE, "rule": _STR})),
                       "layer_device_types": _STR, "inspector": {"type": ["string", "null"]}}),
    "commands": _obj({"trtexec": _STR, "files": _map(_STR)}),
    "inputs": _map(_STR),
    "outputs": _obj({"engine": _STR}),
    # the hash of every other key (trtforge.artifacts.seal): an edited sidecar is rebuilt, never served
    "record_sha256": _STR,
}, optional=("record_sha256",))


def check_sidecar(record: Any, schema: Mapping[str, Any] = SIDECAR_SCHEMA, where: str = "sidecar") -> None:
    """Raise ``TrtforgeError`` naming the first place ``record`` breaks ``schema``."""
    kinds = schema.get("type")
    allowed = kinds if isinstance(kinds, list) else [kinds] if kinds else []
    if allowed and not any(_is(record, kind) for kind in allowed):
        raise TrtforgeError.of(f"{where} to be {' or '.join(allowed)}", found=repr(record)[:80])
    if "enum" in schema and record not in schema["enum"]:
        raise TrtforgeError.of(f"{where} to be one of {schema['enum']}", found=repr(record))
    if isinstance(record, dict):
        for key in schema.get("required", []):
            if key not in record:
                raise TrtforgeError.of(f"{where}.{key}", found="it missing")
        props, extra = schema.get("properties", {}), schema.get("additionalProperties", True)
        for key, value in record.items():
            if key in props:
                check_sidecar(value, props[key], f"{where}.{key}")
            elif extra is False:
                raise TrtforgeError.of(f"only known keys in {where}", found=f"unknown key {key!r}")
            elif isinstance(extra, Mapping):
                check_sidecar(value, extra, f"{where}.{key}")
    if isinstance(record, list) and "items" in schema:
        for index, item in enumerate(record):
            check_sidecar(item, schema["items"], f"{where}[{index}]")


def _is(value: Any, kind: str) -> bool:
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, {"string": str, "boolean": bool, "object": dict, "array": list,
                              "null": type(None)}[kind])
