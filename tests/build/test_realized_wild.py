"""Every builder log of reference/wild/logs/ (TensorRT 5 to 8.6 on Xavier, Orin, Nano) through the code path a build
uses: each line handed to ``engine_from_onnx``'s capturing logger by a stubbed builder (the TensorRT 10 double), so
the reader sees the capture's ``INFO: `` prefix in front of the published one, against ``expected.json`` (and the
entries below where the corpus has none); the same logs through ``trtforge realized``; and properties: any text gives
a result, never an exception."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import trt10_double as double
from hypothesis import given, settings
from hypothesis import strategies as st
from trtforge.build.devices import LayerRow
from trtforge.build.engine import engine_from_onnx
from trtforge.build.realized import Realized, realized_from_log, realized_from_log_text

from trtforge.cli import main
from trtforge.compat import BuildTarget, TrtInfo
from trtforge.config import load_config
from trtforge.errors import TrtforgeError

WILD = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "wild" / "logs"
pytestmark = pytest.mark.skipif(not WILD.is_dir(), reason=f"the wild corpus is not at {WILD}")
LOGS = sorted(WILD.glob("*.log"))

# Where expected.json has no entry: the tail of a GPU-only summary whose header was cut off is not a summary
# (the DLA part is missing, so nothing can be said), and its two entries are counted as unparsed.
OWN = {"trt82_yolo11n_gpu_only_summary_tail.log": {"layers": ["onnx::Concat_630", "Conv_0"], "dla": None,
                                                   "fallbacks": []}}
# unparsed lines, per log (0 where not listed): the cut TensorRT 7 list ends in "{con".
UNPARSED = {"trt71_deepstream_yolo_27_yolov4_dla_xavier.log": 1, "trt82_yolo11n_gpu_only_summary_tail.log": 2}
REASONS = {  # the reasons of a few fallbacks, as the logs give them
    ("trt852_ultralytics_23488_fallback_lines_jetpack5.log", "/model.23/Concat_6"):
        "unsupported on DLA (CONCATENATION): DLA only supports concatenation on the C dimension.",
    ("trt852_ultralytics_23488_fallback_lines_jetpack5.log", "/model.10/m/m.0/attn/Reshape"):
        "DLA validation failed: This version of DLA does not support reshape layers directly connected to Slice or "
        "Concat",
    ("trt71_deepstream_yolo_27_leaky_fallback_xavier.log", "leaky_1"):
        "not supported on DLA: ActivationLayer (with ActivationType = LEAKY_RELU) not supported for DLA.",
    ("trt71_deepstream_yolo_27_yolov4_dla_xavier.log", "conv_37"): "DLA supports only 8 subgraphs per DLA core",
    ("trt7x_tf2onnx_1632_shufflenet_part1.log", "(Unnamed Layer* 97) [Concatenation]"):
        "DLA only supports FP16 and Int8 precision type: DLA only supports concatenation on the C dimension.",
    ("trt80or84_tensorrt_2318_samplenmt_no_dla_layers.log", "LSTM encoder"): "not supported on DLA",
    ("trt5or6_tensorrt_yolov3_86_part1_xavier.log", "layer6-act"): "not running on DLA",
    ("trt862_ultralytics_pr16449_yolov8m_dla_jetpack60.log", "/model.22/Div"):
        "unsupported on DLA (ELEMENTWISE): DLA cores do not support DIV ElementWise operation.",
}


def _expected() -> dict[str, dict]:
    entries = {e["file"]: e for e in json.loads((WILD / "expected.json").read_text())}
    return {**OWN, **entries}


def _on_dla(realized: Realized) -> list[str] | None:
    return None if realized.devices is None else sorted(n for n, d in realized.devices.items() if d == "DLA")


def test_every_log_has_an_expectation() -> None:
    expected = _expected()
    assert len(LOGS) >= 20 and [p.name for p in LOGS if p.name not in expected] == []
    assert [name for name in expected if not (WILD / name).is_file()] == []


@pytest.fixture
def build_with_log(tmp_path: Path):
    """``engine_from_onnx`` on the TensorRT 10 double (DLA applied) whose builder logs ``lines`` at INFO: the build's
    realized placement from its capturing logger, for a network of ``layers``."""
    config = load_config("resnet18_fp16_dla", [f"output_dir={str(tmp_path)!r}"])
    target = BuildTarget(TrtInfo("tensorrt", "10.3.0", double.trt10_module()), cores=2, dla_requested=True,
                         dla_applied=True, gpu_only=False, reason="TensorRT 10.3.0 (test double)")

    def build(layers: list[str], lines: list[str]):
        onnx_path = tmp_path / "model.onnx"
        rows = [LayerRow(name, "CONVOLUTION", f"[ONNX Layer: {name}]", (), ()) for name in layers]
        double.OnnxParser.PARSED[str(onnx_path)] = (rows, [("input", (1, 3, 8, 8))], [("out", (1, 4))])
        double.Builder.LOG = lines
        owners = dict.fromkeys(layers, "body")
        return engine_from_onnx(onnx_path, config, target, owners, dict.fromkeys(layers, "DLA"))
    yield build
    double.Builder.LOG = []


@pytest.mark.parametrize("path", LOGS, ids=lambda p: p.name)
def test_every_wild_log_through_the_build(path: Path, build_with_log) -> None:
    expected = _expected()[path.name]
    built = build_with_log(expected["layers"], path.read_text(errors="replace").splitlines())
    assert all(line.startswith("INFO: ") for line in built.log)  # the capture's prefix is in front
    realized = built.realized
    assert _on_dla(realized) == expected["dla"]
    assert list(realized.fallbacks) == expected["fallbacks"]
    assert len(realized.unparsed) == UNPARSED.get(path.name, 0), realized.unparsed
    assert set(realized.fallbacks) <= set(realized.reasons) and all(realized.reasons.values())
    for (name, layer), reason in REASONS.items():
        if name == path.name:
            assert realized.reasons[layer] == reason
    if realized.devices is not None:
        assert list(realized.devices) == expected["layers"]  # every layer placed, none invented


@pytest.mark.parametrize("path", LOGS, ids=lambda p: p.name)
def test_every_wild_log_as_published_and_through_the_command(path: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    expected = _expected()[path.name]
    text = path.read_text(errors="replace")
    as_published = realized_from_log_text(text, expected["layers"])
    captured = realized_from_log([f"INFO: {line}" for line in text.splitlines()], expected["layers"])
    assert as_published == captured
    layers = tmp_path / "layers.txt"
    layers.write_text("\n".join(expected["layers"]) + "\n")
    assert main(["realized", "--log", str(path), "--layers", str(layers), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert list(shown) == ["summary_found", "devices", "fallbacks", "unparsed_lines"]
    assert shown == as_published.to_json() and shown["summary_found"] is (expected["dla"] is not None)
    assert [f["layer"] for f in shown["fallbacks"]] == expected["fallbacks"]
    assert main(["realized", "--log", str(path)]) == 0
    assert capsys.readouterr().out.startswith("summary: ")


def test_the_command_with_a_plan_gives_the_table_per_submodule(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    from trtforge.placement.plan import PLAN_FORMAT, PLAN_KEYS

    log = WILD / "trt84_jetson_dla_tutorial_model_gn_orin.log"
    layers = _expected()[log.name]["layers"]
    nodes = [{"name": name, "owner": f"block{i // 5}", "op": "Conv", "requested": "DLA", "predicted": "DLA",
              "reasons": [], "flops": 1, "layerless": False, "inputs": [], "outputs": []}
             for i, name in enumerate(layers)]
    plan = {key: [] for key in PLAN_KEYS} | {"format": PLAN_FORMAT, "config": "gn", "target": {}, "inputs": {},
                                             "nodes": nodes, "summary": {}, "outputs": {}, "layer_device_types": "",
                                             "trtexec": ""}
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    assert main(["realized", "--log", str(log), "--plan", str(tmp_path / "plan.json")]) == 0
    out = capsys.readouterr().out
    assert "| submodule | layers | requested DLA | predicted DLA | realized DLA |" in out
    assert "| block0    | 5      | 5             | 5             | 1            |" in out
    assert "drift: block0: predicted 5 of 5 layers on DLA, realized 1" in out


def test_the_command_refuses_a_missing_log(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["realized", "--log", str(WILD / "no_such.log")]) == 2
    assert capsys.readouterr().err.startswith("trtforge: error: a builder log at")


def test_the_capture_keeps_the_summary_and_fallbacks_printed_at_verbose() -> None:
    from trtforge.build.engine import capturing_logger

    logger = capturing_logger(double.trt10_module())
    kept = ["---------- Layers Running on DLA ----------", "[DlaLayer] {ForeignNode[a...b]}", "{conv_1,bn_1}, {c}, ",
            "[GpuLayer] CONVOLUTION: fc", "Validation failed for DLA layer: x. Switching to GPU fallback."]
    for message in [*kept, "Tactic: 0x0000000000000001 Time: 0.1"]:
        logger.log(double.EnumValue("Severity", "VERBOSE"), message)
    assert logger.lines == [f"VERBOSE: {message}" for message in kept]


# ---------------------------------------------------------------------------------------------- properties

_FRAGMENTS = sorted({line for path in LOGS for line in path.read_text(errors="replace").splitlines()[:12]})
_PREFIXES = ["", "INFO: ", "[I] [TRT] ", "WARNING: [TRT]: ", "[TRT] [W] ", "#"]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400), st.lists(st.text(max_size=12), max_size=6))
def test_any_text_gives_a_result_or_one_trtforge_error(text: str, layers: list[str]) -> None:
    try:
        realized = realized_from_log_text(text, layers)
    except TrtforgeError:
        return
    json.dumps(realized.to_json())
    if realized.devices is not None and layers:
        assert set(realized.devices) == set(layers)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(_PREFIXES), st.sampled_from(_FRAGMENTS)), max_size=25),
       st.lists(st.sampled_from(["Conv_0", "Relu_7", "conv_1", "batch_norm_1", "Gemm_15", "/model.0/conv/Conv"]),
                max_size=6))
def test_any_mix_of_real_log_lines_gives_a_result(lines: list[tuple[str, str]], layers: list[str]) -> None:
    realized = realized_from_log([prefix + line for prefix, line in lines], layers)
    shown = realized.to_json()
    assert set(shown) == {"summary_found", "devices", "fallbacks", "unparsed_lines"}
    assert all(f["layer"] and f["reason"] for f in shown["fallbacks"])
