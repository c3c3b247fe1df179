"""Reports from stored result JSON: the benchmark page's tables in its exact shapes, the accuracy table, and
PNG plots. Every FPS cell says where it was measured; a row with no measurement says so instead of a number."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from trtforge.artifacts import read_json, write_atomic
from trtforge.errors import TrtforgeError

SCENARIO_ORDER = ("2gpu", "1gpu_1dla", "2dla")
HETEROGENEOUS_ROWS = ("resnet18_fp16_gpu", "resnet18_fp16_dla", "resnet18_int8_gpu", "resnet18_int8_dla",
                      "resnet18_fp16_gpu_dla1", "resnet18_fp16_gpu_dla12", "resnet18_fp16_gpu_dla123",
                      "resnet18_int8_gpu_dla1", "resnet18_int8_gpu_dla12", "resnet18_int8_gpu_dla123")


def machine_name(machine: dict[str, Any]) -> str:
    """Where a result was measured, in words: the GPU, else the CPU host."""
    if machine.get("jetson"):
        return f"Jetson ({machine['jetson']})"
    if machine.get("gpus"):
        return f"{machine['gpus'][0]} (host {machine.get('machine')}, {machine.get('cpu_count')} CPU cores)"
    return f"CPU-only host ({machine.get('machine')}, {machine.get('cpu_count')} CPU cores, no GPU)"


def where_from_label(label: dict[str, Any]) -> str:
    """``torch 2.11.0 fp16, cuda (NVIDIA H200, CUDA 13.0)``, ``onnxruntime 1.32.0 int8 (Q/DQ ONNX), cpu, 1 thread``."""
    text = f"{label.get('runtime')} {label.get('version', '')} {label.get('precision', '')}".replace("  ", " ")
    if label.get("onnx_kind"):
        text += f" ({label['onnx_kind']})"
    text += f", {label.get('device', '?')}"
    if label.get("device") == "cpu" and label.get("threads") not in (None, "default"):
        text += f", {label['threads']} thread{'s' if label['threads'] != 1 else ''}"
    return text


def fps_cell(measurement: dict[str, Any] | None) -> str:
    if not measurement:
        return "not measured here: no stored result"
    if not measurement.get("measured"):
        return measurement["reason"]
    return f"{measurement['fps']:.1f} ({where_from_label(measurement['label'])})"


def torch_cell(record: dict[str, Any]) -> str:
    measured = record.get("torch")
    if not measured:
        return "not measured here: torch not requested"
    return "; ".join(fps_cell(m) for m in measured)


def engine_cell(record: dict[str, Any]) -> str:
    cell = fps_cell(record.get("engine"))
    check = (record.get("engine") or {}).get("cross_check")
    if check:  # timed by polygraphy's TrtRunner; the raw execute_async_v3 loop of the same run beside it
        cell += f"; raw execute_async_v3 loop: {check['raw_fps']:.1f} (x{check['raw_over_polygraphy']:.2f})"
    stand_in = record.get("onnxruntime")
    if stand_in and not (record.get("engine") or {}).get("measured"):
        cell += f"; ONNX Runtime CPU stand-in: {fps_cell(stand_in)}"
    return cell


def bench_lines(record: dict[str, Any]) -> list[str]:
    """What ``trtforge bench`` prints: the page's row plus latencies."""
    lines = ["| config | torch2trt kwargs | torch FPS | tensorrt FPS |", "|---|---|---|---|",
             f"| {record['config']} | {record['kwargs']} | {torch_cell(record)} | {engine_cell(record)} |",
             f"measured on {machine_name(record['machine'])}"]
    for key in ("torch", "engine", "onnxruntime"):
        entries = record.get(key) or []
        for m in entries if isinstance(entries, list) else [entries]:
            if m.get("measured"):
                lat = m["timing"]["latency_ms"]
                lines.append(f"  {where_from_label(m['label'])}: {m['fps']:.1f} FPS over {m['timing']['iterations']} "
                             f"iterations, latency p50 {lat['p50']:.2f} / p90 {lat['p90']:.2f} / p99 "
                             f"{lat['p99']:.2f} ms")
    return lines


def concurrent_lines(record: dict[str, Any]) -> list[str]:
    """What ``trtforge bench-concurrent`` prints: the page's table plus aggregate and overlap."""
    lines = ["| config | torch2trt_kwargs | tensorrt FPS |", "|--------|------------------|--------------|"]
    lines += [f"| {p['config']} | {p['kwargs']} | {fps_cell({'measured': True, **p})} |" for p in record["processes"]]
    overlap = record["overlap"]
    lines.append("")
    lines.append(f"aggregate {record['aggregate_fps']:.1f} FPS from {len(record['processes'])} processes over a "
                 f"{record['window_s']:g} s window; all processes measured together for {overlap['seconds']:.3f} s "
                 f"({overlap['share_of_longest']:.1%} of the longest window); measured on "
                 f"{machine_name(record['machine'])}")
    return lines


def records_from_folders(folders: Sequence[Path]) -> dict[str, list[dict[str, Any]]]:
    """Every stored result, by kind (throughput, concurrent, compare), oldest first."""
    found: dict[str, list[dict[str, Any]]] = {"throughput": [], "concurrent": [], "compare": []}
    for folder in folders:
        for path in sorted(Path(folder).rglob("*.json")):
            record = read_json(path, what="a stored benchmark result")
            if not isinstance(record, dict):
                raise TrtforgeError.of(f"a stored benchmark result at {path} to be a JSON object",
                                       found=type(record).__name__, fix=RECORD_FIX)
            kind = str(record.get("format", "")).removeprefix("trtforge.bench.").split("/")[0]
            if kind in found:
                check_record(kind, record, path)
                found[kind].append({**record, "_path": str(path)})
    for records in found.values():
        records.sort(key=lambda r: r.get("created", ""))
    return found


RECORD_FIX = "delete it, or re-run the benchmark that wrote it"
NUMBER = (int, float)


class _Malformed(Exception):
    """A stored result lacks a field the report reads (turned into one TrtforgeError naming the file)."""


def check_record(kind: str, record: dict[str, Any], path: Path) -> None:
    """Every field the report and plots read is there with its type, or one error names the file and field."""
    try:
        _field(record, "machine", dict)
        if "created" in record:
            _field(record, "created", str)
        {"throughput": _check_throughput, "concurrent": _check_concurrent, "compare": _check_compare}[kind](record)
    except _Malformed as err:
        raise TrtforgeError.of(f"a stored benchmark result at {path} with the fields of its format "
                               f"({record.get('format')})", found=str(err), fix=RECORD_FIX) from None


def _field(obj: object, key: str, kinds: type | tuple[type, ...], where: str = "") -> Any:
    if not isinstance(obj, dict):
        raise _Malformed(f"{where.rstrip('.') or 'the record'} is a {type(obj).__name__}, not an object")
    if key not in obj:
        raise _Malformed(f"no {where}{key}")
    value = obj[key]
    if not isinstance(value, kinds) or (isinstance(value, bool) and kinds is NUMBER):
        names = " or ".join(k.__name__ for k in (kinds if isinstance(kinds, tuple) else (kinds,)))
        raise _Malformed(f"{where}{key} = {str(value)[:60]!r} ({type(value).__name__}), not {names}")
    return value


def _check_throughput(record: dict[str, Any]) -> None:
    _field(record, "config", str)
    _field(record, "kwargs", str)
    for key in ("torch", "engine", "onnxruntime"):
        value = record.get(key)
        for index, m in enumerate(value if isinstance(value, list) else [value] if value else []):
            where = f"{key}[{index}]."
            if _field({"m": m}, "m", dict, where).get("measured"):
                _field(m, "fps", NUMBER, where)
                _field(m, "label", dict, where)
                timing = _field(m, "timing", dict, where)
                _field(timing, "iterations", NUMBER, f"{where}timing.")
                latency = _field(timing, "latency_ms", dict, f"{where}timing.")
                for q in ("p50", "p90", "p99"):
                    _field(latency, q, NUMBER, f"{where}timing.latency_ms.")
            else:
                _field(m, "reason", str, where)


def _check_concurrent(record: dict[str, Any]) -> None:
    for key in ("scenario", "runtime"):
        _field(record, key, str)
    for key in ("window_s", "aggregate_fps"):
        _field(record, key, NUMBER)
    overlap = _field(record, "overlap", dict)
    for key in ("seconds", "share_of_longest"):
        _field(overlap, key, NUMBER, "overlap.")
    for index, proc in enumerate(_field(record, "processes", list)):
        where = f"processes[{index}]."
        for key, kinds in (("config", str), ("kwargs", str), ("fps", NUMBER), ("label", dict)):
            _field(proc, key, kinds, where)


def _check_compare(record: dict[str, Any]) -> None:
    for index, text in enumerate(_field(record, "inputs", list)):
        _field({"inputs": text}, "inputs", str, f"[{index}] of ")
    for index, row in enumerate(_field(record, "rows", list)):
        where = f"rows[{index}]."
        for key in ("config", "precision", "candidate", "reference", "output", "status"):
            _field(row, key, str, where)
        _field(row, "reason", (str, type(None)), where)
        for key, value in _field(row, "metrics", dict, where).items():
            _field({key: value}, key, NUMBER, f"{where}metrics.")
        tolerance = _field(row, "tolerance", (dict, type(None)), where)
        for key in ("atol", "rtol", "min_cosine", "min_top1") if tolerance else ():
            _field(tolerance, key, NUMBER, f"{where}tolerance.")


def heterogeneous_section(records: list[dict[str, Any]], predicted: dict[Any, dict[str, Any]] | None = None
                          ) -> list[str]:
    """The page's Heterogeneous Model table, one per machine, rows in the page's order; with ``predicted``
    (stored prediction records), the predicted FPS follows each measured tensorrt FPS, labelled as such."""
    from trtforge.bench.predictions import device_for_machine, predicted_text, prediction_for
    from trtforge.bench.sources import torch2trt_kwargs

    from trtforge.config import load_config

    lines = ["## Heterogeneous Model", "",
             "Here we vary the precision as well as which submodules of resnet18 run on DLA vs. GPU.", ""]
    by_machine: dict[str, dict[str, dict[str, Any]]] = {}
    for record in records:
        by_machine.setdefault(machine_name(record["machine"]), {})[record["config"]] = record
    if not by_machine:
        by_machine["this machine"] = {}
    for machine, latest in by_machine.items():
        names = list(HETEROGENEOUS_ROWS) + [n for n in latest if n not in HETEROGENEOUS_ROWS]
        lines += [f"Measured on {machine}.", "", "| config | torch2trt kwargs | torch FPS | tensorrt FPS |",
                  "|---|---|---|---|"]
        for name in names:
            found = latest.get(name)
            if found is None:
                missing = "not measured on this machine: no stored result"
                lines.append(f"| {name} | {torch2trt_kwargs(load_config(name))} | {missing} | {missing} |")
            else:
                cell = engine_cell(found)
                if predicted is not None:
                    device = device_for_machine(found["machine"])
                    cell += f"; {predicted_text(prediction_for(predicted, device, name), name, device)}"
                lines.append(f"| {name} | {found['kwargs']} | {torch_cell(found)} | {cell} |")
        lines.append("")
    return lines


def concurrent_section(records: list[dict[str, Any]], predicted: dict[Any, dict[str, Any]] | None = None
                       ) -> list[str]:
    """The page's Concurrent Model Execution tables: INT8 and FP16, 2GPU / 1GPU - 1DLA / 2DLA; with
    ``predicted``, a PREDICTED line follows each measured run."""
    from trtforge.bench.predictions import device_for_machine, prediction_for, scenario_text

    from trtforge.config import load_scenario

    lines = ["## Concurrent Model Execution", "",
             "Here we profile the throughput of resnet18 running concurrently in separate processes.  Each section "
             "contains the FPS measured from each separate process running concurrently.", ""]
    for precision in ("int8", "fp16"):
        lines += [f"### {precision.upper()}", ""]
        for suffix in SCENARIO_ORDER:
            scenario = load_scenario(f"{precision}_{suffix}")
            lines += [f"#### {scenario.title}", ""]
            runs = {machine_name(r["machine"]): r for r in records if r["scenario"] == scenario.name}
            if not runs:
                lines += _unmeasured_scenario(scenario)
            for run in runs.values():
                lines += [*concurrent_lines(run), ""]
                if predicted is not None:
                    device = device_for_machine(run["machine"])
                    record = prediction_for(predicted, device, f"scenario_{scenario.name}")
                    lines += [scenario_text(record, scenario.name, device), ""]
    return lines


def _unmeasured_scenario(scenario: Any) -> list[str]:
    from trtforge.bench.sources import torch2trt_kwargs

    from trtforge.config import load_config

    lines = ["| config | torch2trt_kwargs | tensorrt FPS |", "|--------|------------------|--------------|"]
    for proc in scenario.processes:
        kwargs = torch2trt_kwargs(load_config(proc.config), dla_core=proc.dla_core)
        lines.append(f"| {proc.config} | {kwargs} | not measured here: no stored result "
                     f"(`make bench-concurrent SCENARIO={scenario.name}`) |")
    return [*lines, ""]


def accuracy_section(records: list[dict[str, Any]]) -> list[str]:
    from trtforge.bench.compare import table_from_rows

    lines = ["## Accuracy", ""]
    if not records:
        return [*lines, "not measured here: no stored result (`make compare MODEL=resnet18`)", ""]
    for record in records:
        lines += [f"Measured on {machine_name(record['machine'])}; inputs: {'; '.join(record['inputs'])}.", "",
                  table_from_rows(record["rows"])]
    return lines


def report_from_results(folders: Sequence[Path], out: Path, predictions: Path | None = None) -> list[Path]:
    """BENCHMARKS.md and the PNG plots in ``out``; returns the files written. Stored predictions (``trtforge
    predict``, in ``predictions``, default artifacts/predictions) are shown beside measurements, labelled."""
    from trtforge.bench.plots import concurrent_png, fps_png
    from trtforge.bench.predictions import stored_predictions
    from trtforge.placement.predict import PREDICTIONS_DIR

    found = records_from_folders(folders)
    predicted = stored_predictions(predictions or PREDICTIONS_DIR)
    lines = ["# DLA Benchmarks", "",
             "Re-created by `trtforge report` from stored results (" + ", ".join(map(str, folders)) + "). "
             "Each FPS cell names the runtime, precision and device that measured it. Figures marked PREDICTED "
             "come from the cost model (`trtforge predict`), with their device and catalogue version: they are "
             "not measurements.", ""]
    lines += concurrent_section(found["concurrent"], predicted)
    lines += heterogeneous_section(found["throughput"], predicted)
    lines += accuracy_section(found["compare"])
    written = [write_atomic(out / "BENCHMARKS.md", "\n".join(lines).rstrip() + "\n")]
    written += fps_png(found["throughput"], out / "fps_per_config.png", predicted=predicted)
    written += concurrent_png(found["concurrent"], out / "concurrent.png")
    return written
