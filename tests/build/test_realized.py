"""Realized placement from builder-log text: every summary form, prefix and fallback wording TensorRT 5-10 prints
(reference/tensorrt_dla.md 1.6, reference/wild/logs/), the per-submodule table and drift. The real corpus is run
through the build's code path by test_realized_wild.py."""

from __future__ import annotations

import pytest
from trtforge.build.realized import (
    NO_SUMMARY,
    all_on_gpu,
    by_submodule,
    drift_from_table,
    layers_named_by,
    message_from_line,
    realized_from_log,
    realized_from_log_text,
)

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


def _dla(text: str, layers: list[str]) -> list[str]:
    devices = realized_from_log_text(text, layers).devices
    assert devices is not None
    return [name for name in layers if devices[name] == "DLA"]


def test_summary_sections_and_fallback_lines_with_the_capture_prefix() -> None:
    realized = realized_from_log(LOG, LAYERS)
    assert realized.devices == {"conv1": "DLA", "relu1": "DLA", "conv2": "DLA", "slice": "GPU", "conv3": "DLA",
                                "fc": "GPU"}
    assert realized.fallbacks == ("slice",) and realized.source == "builder log"
    assert realized.reasons == {"slice": "unsupported on DLA (SLICE)"}
    assert realized.to_json() == {"summary_found": True, "devices": realized.devices,
                                  "fallbacks": [{"layer": "slice", "reason": "unsupported on DLA (SLICE)"}],
                                  "unparsed_lines": 0}


@pytest.mark.parametrize("prefix", [
    "", "INFO: ", "[03/31/2022-15:12:48] [I] [TRT] ", "[09/23/2025-01:35:17] [TRT] [I] ", "[TensorRT] INFO: ",
    "INFO: [TRT]: ", "[I] ", "[I] [TRT] ", " [I] [TRT] ", "[TRT]    ", "#[02/19/2022-05:35:26] [I] [TRT] ",
    "[07/29/2021-19:44:10] [07/29/2021-19:44:10] [W] [TRT] ", "kINFO: ", "VERBOSE: ",
])
def test_every_logger_prefix(prefix: str) -> None:
    bare = [line.split(": ", 1)[1] for line in LOG]
    realized = realized_from_log_text("\n".join(prefix + line for line in bare), LAYERS)
    assert realized.devices == realized_from_log(LOG, LAYERS).devices
    assert realized.fallbacks == ("slice",)


def test_severity_is_kept() -> None:
    assert message_from_line("WARNING: [TRT]: x").severity == "WARNING"
    assert message_from_line("[01/29/2026-15:42:39] [TRT] [W] y").text == "y"
    assert message_from_line("[GpuLayer] CONVOLUTION: fc").text == "[GpuLayer] CONVOLUTION: fc"


def test_a_single_layer_foreign_node_and_a_fused_one() -> None:
    layers = ["Conv_0", "Reshape_2", "Relu_10", "Gemm_15", "linear.bias", "(Unnamed Layer* 19) [Shuffle]",
              "(Unnamed Layer* 20) [ElementWise]", "squeeze"]
    log = ("---------- Layers Running on DLA ----------\n"
           "[DlaLayer] {ForeignNode[Conv_0]}\n[DlaLayer] {ForeignNode[Relu_10]}\n"
           "[DlaLayer] {ForeignNode[Gemm_15 + linear.bias + (Unnamed Layer* 19) [Shuffle] + (Unnamed Layer* 19) "
           "[Shuffle]_(Unnamed Layer* 19) [Shuffle]_output + (Unnamed Layer* 20) [ElementWise]]}\n"
           "---------- Layers Running on GPU ----------\n[GpuLayer] SHUFFLE: Reshape_2\n[GpuLayer] squeeze\n")
    assert _dla(log, layers) == ["Conv_0", "Relu_10", "Gemm_15", "linear.bias", "(Unnamed Layer* 19) [Shuffle]",
                                 "(Unnamed Layer* 20) [ElementWise]"]
    realized = realized_from_log_text(log, layers)
    assert realized.unparsed == () and realized.unmatched == (
        "(Unnamed Layer* 19) [Shuffle]_(Unnamed Layer* 19) [Shuffle]_output",)


def test_a_range_whose_ends_are_fused_names_and_names_with_dots() -> None:
    layers = ["/m.0/Conv", "/m.0/Mul", "/m.1/Conv", "/m.1/Add", "/m.2/Conv", "x.", "y"]
    log = ("---------- Layers Running on DLA ----------\n"
           "[DlaLayer] {ForeignNode[/m.0/Conv + /m.0/Mul.../m.1/Add]}\n[DlaLayer] {ForeignNode[x....y]}\n")
    assert _dla(log, layers) == ["/m.0/Conv", "/m.0/Mul", "/m.1/Conv", "/m.1/Add", "x.", "y"]


def test_tensorrt_7_groups_with_trailing_commas_and_a_gpu_list() -> None:
    layers = ["conv_1", "bn_1", "conv_2", "leaky_2", "conv_3", "yolo", "fc"]
    log = ("INFO: [TRT]: --------------- Layers running on DLA: \n"
           "INFO: [TRT]: {conv_1,bn_1}, {conv_2}, {conv_3}, \n"
           "INFO: [TRT]: --------------- Layers running on GPU: \n"
           "INFO: [TRT]: leaky_2, yolo + fc, \n"
           "INFO: [TRT]: Detected 1 inputs and 2 output network tensors.\n")
    assert _dla(log, layers) == ["conv_1", "bn_1", "conv_2", "conv_3"]
    assert realized_from_log_text(log, layers).unparsed == ()


def test_a_tensorrt_5_list_continued_over_lines_and_a_cut_one() -> None:
    layers = ["a", "b", "c", "d"]
    log = "Layers running on DLA:\n{a,b},\n{c},\nLayers running on GPU:\nd,\n"
    assert _dla(log, layers) == ["a", "b", "c"]
    cut = realized_from_log_text("--------------- Layers running on DLA: \n{a,b}, {c", layers)
    assert cut.devices == {"a": "DLA", "b": "DLA", "c": "GPU", "d": "GPU"} and len(cut.unparsed) == 1
    cut = realized_from_log_text("--------------- Layers running on DLA: \n{a}, {b,c,d", layers)
    assert cut.devices == {"a": "DLA", "b": "DLA", "c": "DLA", "d": "GPU"} and len(cut.unparsed) == 1  # "d" is cut


def test_a_log_of_two_builds_gives_the_last_summary() -> None:
    first = ("---------- Layers Running on DLA ----------\n[DlaLayer] {ForeignNode[conv1...fc]}\n"
             "---------- Layers Running on GPU ----------\n")
    second = ("---------- Layers Running on DLA ----------\n[DlaLayer] {ForeignNode[conv1...relu1]}\n"
              "---------- Layers Running on GPU ----------\n[GpuLayer] conv2\n")
    assert _dla(first + "[I] Rebuilding with GPU fallback\n" + second, LAYERS) == ["conv1", "relu1"]


def test_blank_lines_inside_a_tagged_section() -> None:
    log = ("[I] [TRT] ---------- Layers Running on DLA ----------\n[I] [TRT] \n\n"
           "[I] [TRT] [DlaLayer] {ForeignNode[conv1...conv2]}\n\n[I] [TRT] [DlaLayer] {ForeignNode[conv3]}\n")
    assert _dla(log, LAYERS) == ["conv1", "relu1", "conv2", "conv3"]


def test_unknown_prefixes_of_application_loggers() -> None:
    layers = ["a", "b", "c"]
    for lines in (["--------------- Layers running on DLA:", "{a,b}, ", "--------------- Layers running on GPU:", "c,"],
                  ["---------- Layers Running on DLA ----------", "[DlaLayer] {ForeignNode[a...b]}",
                   "---------- Layers Running on GPU ----------", "[GpuLayer] c"]):
        for prefix in ("I0101 12:00:0{i}.123 4242 builder.cc:31] ", "2024-05-10 12:00:0{i},123 - WARNING - ",
                       "[2024-05-10T12:00:0{i}Z] [INFO] ", "> [I] [TRT] ", "`"):
            text = "\n".join(prefix.format(i=i) + line for i, line in enumerate(lines))
            assert _dla(text, layers) == ["a", "b"], prefix


def test_gpu_layer_types_with_digits_none_at_all_and_a_section_nobody_closes() -> None:
    layers = ["Conv_0", "InstanceNormalization_5", "Sigmoid_1", "Mul_2", "Conv_3"]
    log = ("[I] [TRT] ---------- Layers Running on DLA ----------\n[I] [TRT] [DlaLayer] {ForeignNode[Conv_0]}\n"
           "[I] [TRT] ---------- Layers Running on GPU ----------\n"
           "[I] [TRT] [GpuLayer] PLUGIN_V2: InstanceNormalization_5\n[I] [TRT] [GpuLayer] PWN(PWN(Sigmoid_1), Mul_2)\n"
           "[I] [TRT] [GpuLayer] Conv_3\n"
           "[I] [TRT] [MemUsageChange] Init cuDNN: CPU +241, GPU +21, now: CPU 1748, GPU 3547 (MiB)\n"
           "[I] [TRT] [GpuLayer] Conv_0\n")  # a tagged line after the section: not a summary entry
    realized = realized_from_log_text(log, layers)
    assert realized.devices == {"Conv_0": "DLA", "InstanceNormalization_5": "GPU", "Sigmoid_1": "GPU",
                                "Mul_2": "GPU", "Conv_3": "GPU"}
    assert realized.unparsed == ("[GpuLayer] Conv_0",)
    assert layers_named_by("PWN(PWN(Sigmoid_1), Mul_2)", layers) == ["Sigmoid_1", "Mul_2"]


WORDINGS = [
    ("Layer 'a' (SLICE): Unsupported on DLA. Switching this layer's device type to GPU.", "a",
     "unsupported on DLA (SLICE)"),
    ("Default DLA is enabled but layer a is not supported on DLA, falling back to GPU.", "a", "not supported on DLA"),
    ("Default DLA is enabled but layer a b is not running on DLA, falling back to GPU.", "a b", "not running on DLA"),
    ("Validation failed for DLA layer: /m/Reshape. Switching to GPU fallback.", "/m/Reshape", "DLA validation failed"),
    ("Splitting DLA subgraph at: /m/Concat_3 because DLA validation failed for this layer.", "/m/Concat_3",
     "DLA subgraph split: DLA validation failed for this layer"),
    ("DLA only supports FP16 and Int8 precision type. Switching (Unnamed Layer* 96) [Constant] device type to GPU.",
     "(Unnamed Layer* 96) [Constant]", "DLA only supports FP16 and Int8 precision type"),
    ("DLA supports only 16 subgraphs per DLA core. Switching to GPU for layer conv_6", "conv_6",
     "DLA supports only 16 subgraphs per DLA core"),
    ("Node: /m/Conv cannot run in INT8 mode due to missing scale and zero point. This node will not run on DLA.",
     "/m/Conv", "missing INT8 scale and zero point"),
]


@pytest.mark.parametrize(("line", "layer", "reason"), WORDINGS)
def test_every_fallback_wording_with_its_reason(line: str, layer: str, reason: str) -> None:
    for prefix in ("WARNING: ", "[W] [TRT] ", "[01/29/2026-15:42:39] [TRT] [W] "):
        realized = realized_from_log_text(prefix + line)
        assert realized.fallbacks == (layer,) and realized.reasons == {layer: reason}
        assert realized.devices is None and realized.unparsed == ()


def test_the_reason_carries_the_diagnostics_printed_before_the_fallback() -> None:
    log = ("[W] [TRT] /m/Concat_6: DLA only supports concatenation on the C dimension.\n"
           "[W] [TRT] Layer '/m/Concat_6' (CONCATENATION): Unsupported on DLA. Switching this layer's device type "
           "to GPU.\n[I] [TRT] DLA is fine here\n"
           "[W] [TRT] Layer '/m/Gather' (GATHER): Unsupported on DLA. Switching this layer's device type to GPU.\n")
    realized = realized_from_log_text(log)
    assert realized.reasons == {"/m/Concat_6": "unsupported on DLA (CONCATENATION): DLA only supports "
                                               "concatenation on the C dimension.",
                                "/m/Gather": "unsupported on DLA (GATHER)"}  # INFO lines are not reasons


def test_one_layer_named_by_several_fallback_lines_is_one_fallback_with_both_reasons() -> None:
    log = ("[12/04/2024-11:57:45] [TRT] [W] This version of DLA does not support reshape layers directly connected "
           "to Slice or Concat\n"
           "[12/04/2024-11:57:45] [TRT] [W] Validation failed for DLA layer: /m/Reshape. Switching to GPU fallback.\n"
           "[12/04/2024-11:57:45] [TRT] [W] Splitting DLA subgraph at: /m/Reshape because DLA validation failed for "
           "this layer.\n"
           "[12/04/2024-11:57:45] [TRT] [W] Validation failed for DLA layer: /m/Reshape. Switching to GPU fallback.\n")
    realized = realized_from_log_text(log)
    assert realized.fallbacks == ("/m/Reshape",)
    assert realized.reasons["/m/Reshape"] == (
        "DLA validation failed: This version of DLA does not support reshape layers directly connected to Slice or "
        "Concat; DLA subgraph split: DLA validation failed for this layer")


def test_global_fallbacks_are_kept_apart() -> None:
    log = ("[W] [TRT] All dla layers are falling back to GPU\n"
           "[W] [TRT] setDefaultDeviceType was called but no layer in the network can run on DLA.\n")
    realized = realized_from_log_text(log, LAYERS)
    assert realized.fallbacks == () and len(realized.global_fallbacks) == 2 and realized.unparsed == ()
    assert realized.devices is None  # no summary: unknown, even so


def test_fallback_looking_lines_of_an_unknown_wording_are_counted_not_guessed() -> None:
    log = ("[W] [TRT] Layer conv2 will fall back to GPU because of its kernel size.\n"
           "[I] Allow GPU fallback for DLA: Enabled\n")
    realized = realized_from_log_text(log, LAYERS)
    assert realized.fallbacks == () and realized.unparsed == (
        "Layer conv2 will fall back to GPU because of its kernel size.",)


def test_a_log_without_the_summary_says_unknown_not_gpu() -> None:
    realized = realized_from_log(["INFO: Detected 1 inputs and 1 output network tensors."], LAYERS)
    assert realized.devices is None and realized.source == NO_SUMMARY
    assert realized.to_json() == {"summary_found": False, "devices": None, "fallbacks": [], "unparsed_lines": 0}


def test_entries_without_a_dla_header_and_unresolvable_ranges_are_unparsed() -> None:
    orphan = realized_from_log_text("[TRT] [I] [GpuLayer] a copy\n[TRT] [I] [GpuLayer] b copy\n", LAYERS)
    assert orphan.devices is None and len(orphan.unparsed) == 2
    gpu_only = realized_from_log_text("---------- Layers Running on GPU ----------\n[GpuLayer] fc\n", LAYERS)
    assert gpu_only.devices is None and gpu_only.unparsed == ("fc",)
    log = ("---------- Layers Running on DLA ----------\n[DlaLayer] {ForeignNode[zz...conv2]}\n"
           "[DlaLayer] {ForeignNode[conv3...(Unnamed Layer* 159)\n")
    realized = realized_from_log_text(log, LAYERS)
    assert realized.devices == {**dict.fromkeys(LAYERS, "GPU"), "conv2": "DLA"}  # the one end it can place
    assert realized.unparsed == ("[DlaLayer] {ForeignNode[conv3...(Unnamed Layer* 159)", "{ForeignNode[zz...conv2]}")


def test_without_layer_names_the_log_gives_what_it_names() -> None:
    realized = realized_from_log(LOG)
    assert realized.devices == {"conv1": "DLA", "conv2": "DLA", "conv3": "DLA", "slice": "GPU", "fc": "GPU"}


def test_a_myelin_foreign_node_on_the_gpu_and_fallbacks_inside_a_dla_range() -> None:
    layers = ["a", "b", "c", "d", "e", "f"]
    log = ("---------- Layers Running on DLA ----------\n[DlaLayer] {ForeignNode[a...d]}\n"
           "---------- Layers Running on GPU ----------\n[GpuLayer] MYELIN: {ForeignNode[e...f]}\n"
           "[GpuLayer] CONVOLUTION: b\n")
    falls = "[W] Layer 'c' (SHUFFLE): Unsupported on DLA. Switching this layer's device type to GPU.\n"
    assert _dla(falls + log, layers) == ["a", "d"]


def test_per_submodule_table_and_drift() -> None:
    realized = realized_from_log(LOG, LAYERS)
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


def test_a_long_verbose_log_reads_in_linear_time() -> None:
    """A regex that backtracks over every position of every line made a 100k-line verbose log take a minute."""
    import time

    layers = [f"/model.{i}/conv/Conv" for i in range(400)]
    noise = [f"[03/31/2022-15:12:48] [V] [TRT] Tactic: 0x{i:016x} Time: 0.0{i % 9} DLA and GPU formats"
             for i in range(50000)]
    summary = ["[I] [TRT] ---------- Layers Running on DLA ----------",
               *(f"[I] [TRT] [DlaLayer] {{ForeignNode[{layers[i]}...{layers[i + 15]}]}}" for i in range(0, 400, 20))]
    start = time.perf_counter()
    realized = realized_from_log_text("\n".join(noise + summary), layers)
    assert time.perf_counter() - start < 20
    assert realized.devices is not None and sum(d == "DLA" for d in realized.devices.values()) == 320
