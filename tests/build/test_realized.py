"""Realized placement from builder-log text in the documented wording (reference/tensorrt_dla.md 1.6: observed,
not contractual); the real log is checked by tests/build/test_jetson.py on a Jetson."""

from __future__ import annotations

from trtforge.build.realized import all_on_gpu, by_submodule, drift_from_table, realized_from_log

LAYERS = ["conv1", "relu1", "conv2", "slice", "conv3", "fc"]
LOG = [
    "INFO: [MemUsageChange] Init CUDA: CPU +0, GPU +0, now: CPU 20, GPU 0 (MiB)",
    "WARNING: Layer 'slice' (SLICE): Unsupported on DLA. Switching this layer's device type to GPU.",
    "INFO: ---------- Layers Running on DLA ----------",
    "INFO: [DlaLayer] {ForeignNode[conv1...conv2]}",
    "INFO: [DlaLayer] {ForeignNode[conv3...conv3]}",
    "INFO: ---------- Layers Running on GPU ----------",
    "INFO: [GpuLayer] SLICE: slice",
    "INFO: [GpuLayer] CONVOLUTION: fc",
    "INFO: ---------------------------------------------",
]


def _strip(lines: list[str]) -> list[str]:
    return [line.split(": ", 1)[1] for line in lines]


def test_summary_sections_and_fallback_lines() -> None:
    realized = realized_from_log(_strip(LOG), LAYERS)
    assert realized.devices == {"conv1": "DLA", "relu1": "DLA", "conv2": "DLA", "slice": "GPU", "conv3": "DLA",
                                "fc": "GPU"}
    assert realized.fallbacks == ("slice",) and realized.source == "builder log"


def test_older_wording_and_brace_groups() -> None:
    lines = ["Default DLA is enabled but layer conv2 is not supported on DLA, falling back to GPU.",
             "--------------- Layers running on DLA:", "{conv1,relu1}", "--------------- Layers running on GPU:",
             "conv2", "slice", "conv3", "fc"]
    realized = realized_from_log(lines, LAYERS)
    assert realized.devices == {"conv1": "DLA", "relu1": "DLA", "conv2": "GPU", "slice": "GPU", "conv3": "GPU",
                                "fc": "GPU"}
    assert realized.fallbacks == ("conv2",)


def test_a_log_without_the_summary_says_unknown_not_gpu() -> None:
    realized = realized_from_log(["INFO: Detected 1 inputs and 1 output network tensors."], LAYERS)
    assert realized.devices is None and "no 'Layers running on DLA/GPU' summary" in realized.source


def test_per_submodule_table_and_drift() -> None:
    realized = realized_from_log(_strip(LOG), LAYERS)
    rows = [("conv1", "layer1.0", "DLA", "DLA"), ("relu1", "layer1.0", "DLA", "DLA"),
            ("conv2", "layer1.1", "DLA", "DLA"), ("slice", "layer2", "DLA", "DLA"), ("conv3", "layer2", "DLA", "DLA"),
            ("fc", "", "GPU", "GPU")]
    table = by_submodule(rows, realized)
    assert table == {"layer1": {"layers": 3, "requested_dla": 3, "predicted_dla": 3, "realized_dla": 3},
                     "layer2": {"layers": 2, "requested_dla": 2, "predicted_dla": 2, "realized_dla": 1},
                     "(root)": {"layers": 1, "requested_dla": 0, "predicted_dla": 0, "realized_dla": 0}}
    assert drift_from_table(table) == ["layer2: predicted 2 of 2 layers on DLA, realized 1"]
    unknown = by_submodule(rows, realized_from_log([], LAYERS))
    assert unknown["layer1"]["realized_dla"] is None and drift_from_table(unknown) == []


def test_all_on_gpu() -> None:
    assert all_on_gpu(["a", "b"], "why").devices == {"a": "GPU", "b": "GPU"}
