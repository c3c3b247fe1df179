"""Predicted figures beside measured ones in the report, read from the records ``trtforge predict`` stores in
``artifacts/predictions/<device>/`` (the report exports and plans nothing). Every text and bar says
"predicted", the device and the catalogue version; a prediction never fills a measured cell."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from trtforge.errors import TrtforgeError

DEFAULT_DEVICE = "xavier-nx"  # the device of the page the report re-creates
JETSON_NAMES = (("xavier nx", "xavier-nx"), ("agx xavier", "agx-xavier"), ("orin nx", "orin-nx"),
                ("agx orin", "agx-orin"), ("orin nano", "orin-nano"))


def device_for_machine(machine: Mapping[str, Any]) -> str:
    """The catalogue device a result was measured on (a Jetson's model string), else the page's device."""
    jetson = str(machine.get("jetson") or "").lower()
    return next((device for words, device in JETSON_NAMES if words in jetson), DEFAULT_DEVICE)


def stored_predictions(folder: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """(device, config name or ``scenario_<name>``) -> the stored prediction record."""
    from trtforge.artifacts import read_json

    found: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted(Path(folder).glob("*/*.json")):
        try:
            record = dict(read_json(path, what="a stored prediction"))
        except TrtforgeError:
            continue
        if record.get("predicted") is True and "device" in record:
            found[(str(record["device"]), path.stem)] = record
    return found


def prediction_for(stored: Mapping[tuple[str, str], dict[str, Any]], device: str, name: str) -> dict[str, Any] | None:
    """The stored prediction of a config (or ``scenario_<name>``) on ``device``, if any."""
    record = stored.get((device, name))
    return dict(record) if record is not None else None


def predicted_text(record: Mapping[str, Any] | None, name: str, device: str) -> str:
    if record is None:
        return f"predicted: none stored (`trtforge predict -c {name} --device {device}`)"
    return (f"PREDICTED for {record['device']} (catalogue {record['catalogue_version']}, not measured): "
            f"{record['fps']:.1f} FPS ({record['fps_low']:.1f} - {record['fps_high']:.1f})")


def scenario_text(record: Mapping[str, Any] | None, name: str, device: str) -> str:
    if record is None:
        return f"predicted: none stored (`trtforge predict --scenario {name} --device {device}`)"
    each = ", ".join(f"{p['config']}{_core(p['dla_core'])} {p['fps']:.1f}" for p in record["processes"])
    return (f"PREDICTED for {record['device']} (catalogue {record['catalogue_version']}, not measured): {each}; "
            f"aggregate {record['aggregate_fps']:.1f} FPS ({record['aggregate_fps_low']:.1f} - "
            f"{record['aggregate_fps_high']:.1f})")


def _core(core: int | None) -> str:
    return "" if core is None else f" (DLA {core})"
