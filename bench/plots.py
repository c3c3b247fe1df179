"""PNG plots (matplotlib, Agg backend): FPS per config, and per-process bars of the concurrent runs."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from trtforge.artifacts import write_atomic


def _figure(width: float, height: float) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(width, height))


def _save(fig: Any, path: Path) -> Path:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return write_atomic(path, buffer.getvalue())


def _bars(values: dict[str, float]) -> list[tuple[str, float]]:
    return [(k, v) for k, v in values.items() if v > 0]


def fps_png(records: list[dict[str, Any]], path: Path, predicted: dict[Any, dict[str, Any]] | None = None
            ) -> list[Path]:
    """One bar per measured (config, runtime, machine); nothing is drawn for what was not measured. With
    ``predicted`` (stored predictions), a hatched bar labelled PREDICTED follows each measured config."""
    from trtforge.bench.report import machine_name

    values: dict[str, float] = {}
    for record in records:
        where = machine_name(record["machine"]).split(" (")[0]
        for key in ("torch", "engine", "onnxruntime"):
            entries = record.get(key) or []
            for m in entries if isinstance(entries, list) else [entries]:
                if m.get("measured"):
                    label = m["label"]
                    values[f"{record['config']} | {label['runtime']} {label['precision']} | {where}"] = m["fps"]
    bars = _bars(values)
    if not bars:
        return []
    bars = _beside(bars, _predicted_bars(records, predicted or {}))
    fig, ax = _figure(10, 0.35 * len(bars) + 1.5)
    guess = ["PREDICTED" in b[0] for b in bars]
    ax.barh([b[0] for b in bars], [b[1] for b in bars], color=["white" if g else "tab:blue" for g in guess],
            edgecolor=["tab:orange" if g else "tab:blue" for g in guess], hatch=None)
    for patch, g in zip(ax.patches, guess, strict=True):
        if g:
            patch.set_hatch("//")
    ax.invert_yaxis()
    ax.set_xscale("log")  # GPU and CPU results differ by orders of magnitude
    ax.set_xlabel("FPS (samples per second, log scale)")
    ax.set_title("Throughput per config: measured (solid)" + (" and PREDICTED by the cost model (hatched, "
                                                              "not measured)" if any(guess) else " results only"))
    return [_save(fig, path)]


def _beside(measured: list[tuple[str, float]], predicted: list[tuple[str, float]]) -> list[tuple[str, float]]:
    """Each config's predicted bar right after its last measured bar."""
    out = list(measured)
    for label, value in predicted:
        config = label.split(" | ")[0]
        mine = [i for i, (name, _) in enumerate(out) if name.split(" | ")[0] == config]
        if mine:  # only beside a measurement
            out.insert(mine[-1] + 1, (label, value))
    return out


def _predicted_bars(records: list[dict[str, Any]], predicted: dict[Any, dict[str, Any]]) -> list[tuple[str, float]]:
    """The stored prediction of every measured config, on the device its measurement maps to."""
    from trtforge.bench.predictions import device_for_machine, prediction_for

    bars: dict[str, float] = {}
    for record in records:
        device = device_for_machine(record["machine"])
        found = prediction_for(predicted, device, record["config"])
        if found is not None:
            bars[f"{record['config']} | PREDICTED {device} (catalogue {found['catalogue_version']})"] = found["fps"]
    return _bars(bars)


def concurrent_png(records: list[dict[str, Any]], path: Path) -> list[Path]:
    """Per scenario and machine: each process's FPS and the aggregate."""
    from trtforge.bench.report import machine_name

    values: dict[str, float] = {}
    for record in records:
        where = machine_name(record["machine"]).split(" (")[0]
        for index, proc in enumerate(record["processes"]):
            values[f"{record['scenario']} | p{index} {proc['config']} | {where}"] = proc["fps"]
        values[f"{record['scenario']} | aggregate ({record['runtime']}) | {where}"] = record["aggregate_fps"]
    bars = _bars(values)
    if not bars:
        return []
    fig, ax = _figure(10, 0.35 * len(bars) + 1.5)
    colors = ["tab:orange" if "aggregate" in b[0] else "tab:green" for b in bars]
    ax.barh([b[0] for b in bars], [b[1] for b in bars], color=colors)
    ax.invert_yaxis()
    ax.set_xlabel("FPS (samples per second)")
    ax.set_title("Concurrent processes over one window: per process and aggregate")
    return [_save(fig, path)]
