"""Realized placement: what the builder really put on DLA and GPU, and how it differs from the plan.

Sources, best first: the builder log's summary (``Layers running on DLA:`` with ``{ForeignNode[first...last]}``
or ``{a,b,c}`` groups per DLA subgraph, ``Layers running on GPU:`` with one layer per line) and its per-layer
fallback lines (``Layer '<name>' (<TYPE>): Unsupported on DLA. Switching this layer's device type to GPU.``;
older ``Default DLA is enabled but layer <name> is not supported on DLA, falling back to GPU.``). The wording is
observed, not contractual (reference/tensorrt_dla.md 1.6), so an unparsable log gives ``None``, never a guess.
An engine built with no DLA placement applied runs every layer on the GPU by construction.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

_SECTION = re.compile(r"-+\s*Layers\s+running\s+on\s+(DLA|GPU)\s*:?\s*-*", re.I)
_FOREIGN = re.compile(r"\{ForeignNode\[(?P<first>.+?)\.\.\.(?P<last>.+?)\]\}")
_GROUP = re.compile(r"^\{(?P<names>[^{}]*)\}$")
_FALLBACK = (re.compile(r"Layer '(?P<name>.+?)' \([A-Z_]+\): Unsupported on DLA\. Switching this layer's device "
                        r"type to GPU\."),
             re.compile(r"Default DLA is enabled but layer (?P<name>.+?) is not supported on DLA, falling back "
                        r"to GPU\."))
_PREFIX = re.compile(r"^\[(?:DlaLayer|GpuLayer)\]\s*(?:[A-Z_]+:\s*)?")


@dataclass(frozen=True)
class Realized:
    devices: dict[str, str] | None  # layer -> "GPU"/"DLA"; None: the log did not say
    fallbacks: tuple[str, ...]  # layers the builder moved from DLA to GPU
    source: str


def realized_from_log(lines: Sequence[str], layer_names: Sequence[str]) -> Realized:
    """Layer -> device from the builder log (layers in network order, for ``ForeignNode[first...last]``)."""
    fallbacks = tuple(m.group("name") for line in lines for p in _FALLBACK if (m := p.search(line)))
    sections: dict[str, list[str]] = {}
    current = None
    for line in lines:
        text = line.strip()
        header = _SECTION.search(text)
        if header:
            current = header.group(1).upper()
            sections.setdefault(current, [])
        elif current and text and not text.startswith("---"):
            sections[current].append(_PREFIX.sub("", text))
        elif text.startswith("---"):
            current = None
    if not sections:
        return Realized(None, fallbacks, "builder log has no 'Layers running on DLA/GPU' summary")
    devices = dict.fromkeys(layer_names, "GPU")
    order = {name: i for i, name in enumerate(layer_names)}
    for entry in sections.get("DLA", []):
        for name in _dla_members(entry, order, list(layer_names)):
            devices[name] = "DLA"
    for entry in sections.get("GPU", []):
        if entry in devices:
            devices[entry] = "GPU"
    for name in fallbacks:
        if name in devices:
            devices[name] = "GPU"
    return Realized(devices, fallbacks, "builder log")


def _dla_members(entry: str, order: Mapping[str, int], names: list[str]) -> list[str]:
    foreign = _FOREIGN.search(entry)
    if foreign and foreign.group("first") in order and foreign.group("last") in order:
        return names[order[foreign.group("first")]:order[foreign.group("last")] + 1]
    group = _GROUP.match(entry)
    if group:
        return [n.strip() for n in group.group("names").split(",") if n.strip() in order]
    return [entry] if entry in order else []


def all_on_gpu(layer_names: Sequence[str], why: str) -> Realized:
    return Realized(dict.fromkeys(layer_names, "GPU"), (), why)


def by_submodule(layers: Sequence[Any], realized: Realized) -> dict[str, dict[str, Any]]:
    """Per top-level submodule (``(root)`` for the model itself): layers requested, predicted and realized on DLA.
    ``layers`` are ``(name, owner, requested, predicted)`` rows; helper layers (owner ``None``) count under
    ``(helpers)``."""
    table: dict[str, dict[str, Any]] = {}
    for name, owner, requested, predicted in layers:
        key = "(helpers)" if owner is None else (owner.split(".")[0] or "(root)")
        row = table.setdefault(key, {"layers": 0, "requested_dla": 0, "predicted_dla": 0, "realized_dla": 0})
        row["layers"] += 1
        row["requested_dla"] += requested == "DLA"
        row["predicted_dla"] += predicted == "DLA"
        if realized.devices is None:
            row["realized_dla"] = None
        elif row["realized_dla"] is not None:
            row["realized_dla"] += realized.devices.get(name) == "DLA"
    return table


def drift_from_table(table: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """One line per submodule whose realized DLA layer count differs from the predicted one."""
    return [f"{key}: predicted {row['predicted_dla']} of {row['layers']} layers on DLA, realized {row['realized_dla']}"
            for key, row in table.items() if row["realized_dla"] is not None
            and row["realized_dla"] != row["predicted_dla"]]
