"""The engine inspector's JSON as a second source of the realized placement, merged with the builder log.

``IEngineInspector.getEngineInformation(kJSON)`` (trtexec ``--exportLayerInfo``, Polygraphy, ``engine_facts``) gives
``{"Layers": [...], "Bindings": [...]}`` (11.x: ``"I/O Tensors"``). With ``ProfilingVerbosity::kDETAILED`` each
layer is an object (``Name``, ``LayerType``, ``Inputs``/``Outputs``, ``Metadata`` ``[ONNX Layer: <node>]`` from 8.6,
joined with ``\\x1f`` for fused layers); with ``kLAYER_NAMES_ONLY`` it is a name string
(reference/tensorrt_dla.md 5.4; reference/wild/inspector/).

There is no device field. What the names say (reference/tensorrt_dla.md 2.3, 5.4): a DLA subgraph is one layer
``{ForeignNode[first...last]}`` with ``... to nvm`` / ``... from nvm`` copies at its edges; a Myelin GPU subgraph
is named ``{ForeignNode[...]}`` too (``LayerType`` ``Myelin``), so a ForeignNode is DLA only when its ``LayerType``
says DLA or the engine has nvm copies, GPU when it is Myelin, and unknown otherwise. Every other layer runs on the
GPU (DLA layers always come as ForeignNodes); reformat and copy layers are not network layers and are skipped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from trtforge.build.realized import Realized, layers_named_by

from trtforge.errors import TrtforgeError

_ONNX_LAYER = re.compile(r"^\[ONNX Layer: (?P<name>.*?)(?: \| .*)?\]$", re.S)
_FOREIGN = re.compile(r"^\{ForeignNode\[(?P<inner>.*)\]\}$")
_COPY = re.compile(r"^Reformatting CopyNode for |(?: to| from) nvm$| copy finish$| finish$| copy$|^\[trainStation")
_NVM = re.compile(r" (?:to|from) nvm$")


@dataclass(frozen=True)
class InspectorLayer:
    """One engine layer: its name, ``LayerType`` (``None`` in the names-only form), the ONNX nodes its metadata
    names, and the device its name and type say (``None``: they do not say)."""

    name: str
    layer_type: str | None
    onnx_nodes: tuple[str, ...]
    device: str | None

    @property
    def is_foreign_node(self) -> bool:
        return bool(_FOREIGN.match(self.name))


def layers_from_inspector(record: Mapping[str, Any] | str) -> tuple[InspectorLayer, ...]:
    """The engine's layers from inspector JSON (a parsed object or its text), either verbosity; network layers only
    (reformat and nvm copies are left out)."""
    data = _parsed(record)
    raw = data.get("Layers")
    if not isinstance(raw, list):
        raise TrtforgeError.of("engine inspector JSON with a 'Layers' list", found=f"keys {sorted(data)[:5]}",
                               fix="export it with trtexec --exportLayerInfo=FILE --profilingVerbosity=detailed")
    items = [_item(entry, index) for index, entry in enumerate(raw)]
    dla_copies = any(_NVM.search(name) for name, _t, _m in items)
    return tuple(InspectorLayer(name, kind, meta, _device(name, kind, dla_copies))
                 for name, kind, meta in items if not _COPY.search(name))


def _parsed(record: Mapping[str, Any] | str) -> Mapping[str, Any]:
    if isinstance(record, str):
        try:
            record = json.loads(record)
        except json.JSONDecodeError as err:
            raise TrtforgeError.of("engine inspector JSON", found=f"invalid JSON ({err.msg} at line {err.lineno})",
                                   fix="export it with trtexec --exportLayerInfo=FILE") from None
    if not isinstance(record, Mapping):
        raise TrtforgeError.of("engine inspector JSON (an object with 'Layers')", found=type(record).__name__)
    return record


def _item(entry: Any, index: int) -> tuple[str, str | None, tuple[str, ...]]:
    if isinstance(entry, str):
        return entry, None, ()
    if isinstance(entry, Mapping) and isinstance(entry.get("Name"), str):
        kind = entry.get("LayerType")
        return entry["Name"], kind if isinstance(kind, str) else None, onnx_nodes_from_metadata(entry.get("Metadata"))
    raise TrtforgeError.of(f"layer {index} of the inspector JSON as a name or an object with 'Name'",
                           found=str(entry)[:60])


def onnx_nodes_from_metadata(metadata: Any) -> tuple[str, ...]:
    """``[ONNX Layer: a]\\x1f[ONNX Layer: b | Local Function: f]`` -> (a, b)."""
    if not isinstance(metadata, str):
        return ()
    found = (_ONNX_LAYER.match(piece.strip()) for piece in metadata.split("\x1f"))
    return tuple(m.group("name") for m in found if m)


def _device(name: str, kind: str | None, dla_copies: bool) -> str | None:
    if kind and "dla" in kind.lower():
        return "DLA"
    if not _FOREIGN.match(name):
        return "GPU"
    if kind and "myelin" in kind.lower():
        return "GPU"
    return "DLA" if dla_copies else None


def devices_from_inspector(layers: Sequence[InspectorLayer], layer_names: Sequence[str]) -> dict[str, str | None]:
    """Network layer -> the device its engine layer says (``None``: unknown), for the network layers the inspector
    names (through fused names, ForeignNode ranges in network order, and ONNX metadata)."""
    known = set(layer_names)
    devices: dict[str, str | None] = {}
    for layer in layers:
        named = layers_named_by(layer.name, layer_names)
        covered = [*named, *(n for n in layer.onnx_nodes if not known or n in known)]
        for name in dict.fromkeys(covered):
            devices[name] = layer.device if devices.get(name, layer.device) == layer.device else None
    return devices


@dataclass(frozen=True)
class Merged:
    """The log's realized placement with the inspector's view of it: ``devices`` is the log's where it has a
    summary, else the inspector's where it names every layer with a known device; ``disagreements`` lists each
    layer the two place differently, and ``unconfirmed`` the layers the inspector cannot place."""

    devices: dict[str, str] | None
    source: str
    disagreements: tuple[str, ...]
    unconfirmed: tuple[str, ...]


def merge_realized(log: Realized, layers: Sequence[InspectorLayer], layer_names: Sequence[str]) -> Merged:
    seen = devices_from_inspector(layers, layer_names)
    names = list(layer_names) or sorted(set(seen) | set(log.devices or {}))
    disagreements = tuple(f"{name}: the builder log says {log.devices[name]}, the engine inspector says {seen[name]}"
                          for name in names if log.devices and name in log.devices and seen.get(name)
                          and seen[name] != log.devices[name])
    unconfirmed = tuple(name for name in names if seen.get(name) is None)
    if log.devices is not None:
        return Merged(dict(log.devices), log.source + " (engine inspector compared)", disagreements, unconfirmed)
    if names and not unconfirmed:
        return Merged({name: str(seen[name]) for name in names}, "engine inspector", (), ())
    return Merged(None, f"{log.source}; the engine inspector places {len(names) - len(unconfirmed)} of "
                        f"{len(names)} layers", (), unconfirmed)
