"""The placement plan: golden plans for every resnet18 config, islands, transitions, fallbacks and their
reasons, the fallback-off error, the loadable budget, determinism, gates and the CLI."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import pytest
from onnx_builders import chain
from trtforge.placement import check_gates, load_plan, plan_from_json, plan_from_tagged, write_plan
from trtforge.placement.plan import devices_from_spec, trtexec_default

from trtforge.artifacts import json_text
from trtforge.config import Config, available_configs, config_from_dict, load_config
from trtforge.errors import TrtforgeError

GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE = os.environ.get("TRTFORGE_UPDATE_GOLDEN") == "1"
RESNET18 = [name for name in available_configs() if name.startswith("resnet18_")]
LINES = [("orin", "8.6"), ("orin", "10.x"), ("orin", "11.4+"), ("xavier", "8.6"), ("xavier", "10.x")]


def pinned(plan: Any) -> dict[str, Any]:
    """What the golden files pin: everything but the input hashes (they follow torch's exporter)."""
    record = plan.to_json()
    record.pop("inputs")
    record["nodes"] = [f"{n['name']} {n['op']} {n['requested']}->{n['predicted']}"
                       + "".join(f" | {r}" for r in n["reasons"]) for n in record["nodes"]]
    return record


def check_golden(name: str, record: dict[str, Any]) -> None:
    path = GOLDEN / f"{name}.json"
    if UPDATE:
        path.write_text(json_text(record))
    assert path.is_file(), f"no golden file {path}: run with TRTFORGE_UPDATE_GOLDEN=1 and review the diff"
    assert json_text(record) == path.read_text(), f"{name}: plan differs from {path}"


def _config(name: str, folder: Path, *overrides: str) -> Config:
    return load_config(name, [f"output_dir={str(folder)!r}", *overrides])


def test_the_golden_set_covers_all_ten_resnet18_configs() -> None:
    assert len(RESNET18) == 10


@pytest.mark.torch
@pytest.mark.parametrize("name", RESNET18)
def test_resnet18_plans_match_their_golden_files(name: str, resnet18_tagged) -> None:
    from trtforge.export.onnx_export import export_inputs

    base, tagged = resnet18_tagged
    config = _config(name, tagged.tagged_path.parent)
    assert export_inputs(config) == export_inputs(base)  # one export serves all ten configs
    check_golden(name, pinned(plan_from_tagged(tagged.tagged_path, config)))


@pytest.mark.torch
@pytest.mark.parametrize("name", ["resnet18_fp16_dla", "resnet18_int8_dla"])
@pytest.mark.parametrize(("platform", "line"), LINES)
def test_resnet18_dla_fallbacks_per_version_line(name: str, platform: str, line: str, resnet18_tagged) -> None:
    _base, tagged = resnet18_tagged
    config = _config(name, tagged.tagged_path.parent, f"target.platform={platform!r}", f"target.tensorrt={line!r}")
    plan = plan_from_tagged(tagged.tagged_path, config)
    check_golden(f"{name}@{platform}-{line}", pinned(plan))
    fallbacks = {n.name: n.reasons for n in plan.nodes if n.predicted != n.requested}
    assert fallbacks == {  # the head's global average pool; the flatten + 2-D Gemm run on DLA (TRT 8.4 log)
        "avgpool/ReduceMean": ("op.unsupported: ReduceMean has no DLA implementation",)}
    assert [len(i.nodes) for i in plan.islands] == [46, 2]
    assert plan.islands[1].nodes == ("/Reshape", "fc/Gemm")
    assert plan.loadable_budget == 16


@pytest.mark.torch
@pytest.mark.parametrize(("name", "size"), [("resnet18_fp16_gpu_dla12", 2), ("resnet18_int8_gpu_dla12", 1)])
def test_dla12_is_one_island_over_layer1_and_layer2_with_two_transitions(name: str, size: int,
                                                                         resnet18_tagged) -> None:
    _base, tagged = resnet18_tagged
    config = _config(name, tagged.tagged_path.parent)
    plan = plan_from_tagged(tagged.tagged_path, config)
    (island,) = plan.islands
    assert island.owners == ("layer1", "layer2")
    assert island.nodes == tuple(n for n, o in tagged.owners.items() if o.split(".")[0] in ("layer1", "layer2"))
    assert [(t.direction, t.tensor, t.producer, t.consumers, t.bytes) for t in plan.transitions] == [
        ("GPU->DLA", "max_pool2d", "maxpool/MaxPool", ("layer1.0.bn1/Conv", "layer1.0/Add"), 64 * 56 * 56 * size),
        ("DLA->GPU", "relu_8", "layer2.1.relu/Relu.1", ("layer3.0.bn1/Conv", "layer3.0.downsample.1/Conv"),
         128 * 28 * 28 * size)]
    assert plan.layer_device_types == ("/Reshape:GPU,bn1/*:GPU,relu/*:GPU,maxpool/*:GPU,layer3.*:GPU,"
                                       "layer4.*:GPU,avgpool/*:GPU,fc/*:GPU")
    exact = plan_from_tagged(tagged.tagged_path, _config(name, config.artifact_dir, 'target.tensorrt="8.6"'))
    assert "*" not in exact.layer_device_types and "layer3.0.bn1/Conv:GPU" in exact.layer_device_types


@pytest.mark.torch
def test_the_trtexec_string_reproduces_the_predicted_device_of_every_node(resnet18_tagged) -> None:
    _base, tagged = resnet18_tagged
    for name in RESNET18:
        config = _config(name, tagged.tagged_path.parent)
        plan = plan_from_tagged(tagged.tagged_path, config)
        names = [n.name for n in plan.nodes]
        devices = devices_from_spec(plan.layer_device_types, names, trtexec_default(config))
        assert devices == {n.name: n.predicted for n in plan.nodes}, name


@pytest.mark.torch
def test_the_plan_is_deterministic_and_records_its_inputs(resnet18_tagged, tmp_path: Path) -> None:
    config, tagged = resnet18_tagged
    first = write_plan(plan_from_tagged(tagged.tagged_path, config), tmp_path / "a")
    second = write_plan(plan_from_tagged(tagged.tagged_path, config), tmp_path / "b")
    assert first.read_bytes() == second.read_bytes()
    assert (tmp_path / "a" / "report.md").read_bytes() == (tmp_path / "b" / "report.md").read_bytes()
    record = load_plan(first)
    assert set(record["inputs"]) == {"tagged", "config", "rules", "planner"}
    assert record["target"] == {"platform": "orin", "tensorrt": "10.x", "precision": "fp16", "dla_core": "0"}
    assert plan_from_json(record) == plan_from_tagged(tagged.tagged_path, config)
    first.write_text(json_text({**record, "extra": 1}))
    with pytest.raises(TrtforgeError, match="unknown or missing extra"):
        load_plan(tmp_path / "a")
    other = plan_from_tagged(tagged.tagged_path, dataclasses.replace(config, device_types={"layer1": "DLA"}))
    assert other.inputs["config"] != record["inputs"]["config"]


@pytest.mark.torch
def test_device_types_keys_unmatched_are_errors_and_empty_ones_warn(resnet18_tagged) -> None:
    config, tagged = resnet18_tagged
    with pytest.raises(TrtforgeError, match="device_types key 'layer5' matches no submodule"):
        plan_from_tagged(tagged.tagged_path, dataclasses.replace(config, device_types={"layer5": "DLA"}))
    folded = dataclasses.replace(config, device_types={"layer1.0.conv1": "DLA"})  # its BN took the Conv
    plan = plan_from_tagged(tagged.tagged_path, folded)  # the fused Conv is the BN's and the conv key's
    assert not any("owns no ONNX node" in w for w in plan.warnings)
    assert [i.nodes for i in plan.islands] == [("layer1.0.bn1/Conv",)]
    empty = dataclasses.replace(config, device_types={"layer1.0.bn1": "GPU", "layer1.0.relu": "DLA"})
    assert not any("owns no ONNX node" in w for w in plan_from_tagged(tagged.tagged_path, empty).warnings)


# ---------------------------------------------------------------------------------------------- unfriendly ops


@pytest.fixture(scope="module")
def unfriendly(tmp_path_factory: pytest.TempPathFactory) -> tuple[Config, Path]:
    pytest.importorskip("torch")
    from trtforge.pipeline import tagged_from_config

    config = config_from_dict({"name": "unfriendly", "model": "dla_models:unfriendly", "inputs": {"x": [3, 16, 16]},
                               "outputs": ["y"], "default_device": "DLA",
                               "output_dir": str(tmp_path_factory.mktemp("unfriendly"))})
    return config, tagged_from_config(config).tagged_path


@pytest.mark.torch
def test_ops_dla_cannot_run_fall_back_with_their_reasons_and_split_islands(unfriendly) -> None:
    config, tagged = unfriendly
    plan = plan_from_tagged(tagged, config)
    fallbacks = {n.name: n.reasons for n in plan.nodes if n.predicted == "GPU"}
    assert fallbacks == {
        "pool/MaxPool": ("pool.window: window 9x9 > 8",),
        "norm/LayerNormalization": ("op.unsupported: LayerNormalization has no DLA implementation",),
        "act/Div": ("op.line: Div is not on DLA with TensorRT 10.x (only 11.4+)",),  # GELU's x / sqrt(2)
        "act/Erf": ("op.unsupported: Erf has no DLA implementation",),
        "/Gather": ("op.unsupported: Gather has no DLA implementation",)}  # index_select in forward()
    assert [i.owners for i in plan.islands] == [("stem",), ("body",), ("act",), ("head",)]
    assert [len(i.nodes) for i in plan.islands] == [2, 2, 3, 1]
    assert len(plan.transitions) == 7
    assert sum("transitions likely cost more" in w for w in plan.warnings) == 4  # tiny islands, 16x16 maps
    from trtforge.placement.report import report_from_plan

    report = report_from_plan(plan)
    assert "- `pool/MaxPool` (MaxPool): pool.window: window 9x9 > 8" in report
    assert "- pool.window: stack smaller pools: a stride-1 9x9 max-pool equals two stride-1 5x5" in report


@pytest.mark.torch
def test_fallback_off_fails_before_any_build_naming_the_nodes(unfriendly) -> None:
    config, tagged = unfriendly
    with pytest.raises(TrtforgeError) as caught:
        plan_from_tagged(tagged, dataclasses.replace(config, gpu_fallback=False))
    message = str(caught.value)
    assert "gpu_fallback = false" in message and "5 node(s)" in message
    for part in ("pool/MaxPool: pool.window: window 9x9 > 8", "norm/LayerNormalization", "act/Erf", "/Gather"):
        assert part in message
    on_gpu = dataclasses.replace(config, gpu_fallback=False, device_types={"pool": "GPU", "norm": "GPU",
                                                                           "act": "GPU", "": "DLA"})
    with pytest.raises(TrtforgeError, match="/Gather"):  # the root's own Gather still asks for DLA
        plan_from_tagged(tagged, on_gpu)
    runs = dataclasses.replace(on_gpu, device_types={**on_gpu.device_types, "": "GPU", "stem": "DLA"})
    plan = plan_from_tagged(tagged, runs)  # only the stem on DLA, and it reads the engine input x
    assert [(e["kind"], e["tensor"]) for e in plan.io] == [("input", "x")]
    assert plan.warnings[-1].startswith("engine I/O x is read or written on DLA with gpu_fallback = false")


def test_islands_past_the_loadable_budget_are_predicted_on_gpu_in_graph_order(tmp_path: Path) -> None:
    import onnx

    ops = ["Relu", "Erf"] * 16 + ["Relu"]  # 17 DLA-capable relus cut apart by 16 erfs
    path = tmp_path / "tagged.onnx"
    onnx.save(chain(ops, [1, 4, 8, 8]), str(path))
    config = config_from_dict({"name": "islands", "model": "x", "inputs": {"x": [4, 8, 8]}, "default_device": "DLA"})
    for platform, line in LINES:  # 16 per core on every line and platform
        plan = plan_from_tagged(path, dataclasses.replace(config, target=dataclasses.replace(
            config.target, platform=platform, tensorrt=line)))
        assert len(plan.islands) == 16 and len(plan.transitions) == 31  # the last relu joined the erfs on GPU
        (last,) = [n for n in plan.nodes if n.predicted == "GPU" and n.op == "Relu"]
        assert last.name == "m32/Relu" and last.reasons == (
            f"general.loadables: island 16 (graph order) is past the 16 loadables per DLA core ({platform}, "
            f"TensorRT {line}): TensorRT puts it on GPU",)
        assert plan.warnings[0] == (f"17 DLA islands > 16 loadables per DLA core ({platform}, TensorRT {line}): "
                                    "the last 1 (from m32/Relu) are predicted on GPU, as TensorRT does")
        summary = plan.to_json()["summary"]
        assert (summary["islands"], summary["predicted_dla"], summary["fallbacks"]) == (16, 16, 17)
    exact = tmp_path / "exact.onnx"
    onnx.save(chain(["Relu", "Erf"] * 15 + ["Relu"], [1, 4, 8, 8]), str(exact))  # 16 islands: all stay
    plan = plan_from_tagged(exact, config)
    assert len(plan.islands) == 16 and not any("loadables" in w for w in plan.warnings)
    with pytest.raises(TrtforgeError, match=r"17 node\(s\) DLA cannot run"):  # no fallback: the build would fail
        plan_from_tagged(path, dataclasses.replace(config, gpu_fallback=False))
    gated = _gated(config, max_islands=16, min_dla_node_share=0.48)
    assert check_gates(plan_from_tagged(path, config), gated) == []  # 16 of 33 nodes: counted after the move


def test_an_island_is_split_where_a_path_leaves_dla_and_comes_back(tmp_path: Path) -> None:
    """x -> relu -> erf -> relu2 -> add(relu, relu2): relu and the add are connected directly, but the add
    also depends on relu through the GPU erf, so they cannot share one loadable."""
    from onnx import helper

    nodes = [helper.make_node("Relu", ["x"], ["a"], name="m/Relu"),
             helper.make_node("Erf", ["a"], ["b"], name="m/Erf"),
             helper.make_node("Relu", ["b"], ["c"], name="m/Relu.1"),
             helper.make_node("Add", ["a", "c"], ["y"], name="m/Add")]
    plan = _dla_plan_of(nodes, tmp_path)
    assert [i.nodes for i in plan.islands] == [("m/Relu",), ("m/Relu.1", "m/Add")]


# ---------------------------------------------------------------------------------------------- gates


def _gated(config: Config, **gates: Any) -> Config:
    return dataclasses.replace(config, gates=dataclasses.replace(config.gates, **gates))


@pytest.mark.torch
def test_gates_on_the_predicted_and_on_a_realized_placement(resnet18_tagged) -> None:
    config, tagged = resnet18_tagged
    plan = plan_from_tagged(tagged.tagged_path, config)
    assert check_gates(plan, config) == []
    assert check_gates(plan, _gated(config, min_dla_node_share=0.5)) == [
        "predicted DLA node share 0.429 < min_dla_node_share 0.5"]
    assert check_gates(plan, _gated(config, min_dla_node_share=0.4, min_dla_flops_share=0.4, max_islands=1)) == []
    assert check_gates(plan, _gated(config, min_dla_flops_share=0.6)) == [
        "predicted DLA FLOPs share 0.482 < min_dla_flops_share 0.6"]  # 1.75 of 3.63 GFLOPs
    # the builder kept layer2.0's add on GPU: two islands, and a fallback the plan did not predict
    realized = {n.name: n.predicted for n in plan.nodes} | {"layer2.0/Add": "GPU", "layer2.0/Add_7": "DLA"}
    strict = _gated(config, max_islands=1, fail_on_unexpected_fallback=True)
    assert check_gates(plan, strict, realized) == [
        "realized DLA islands 2 > max_islands 1",
        "fail_on_unexpected_fallback: 1 node(s) predicted on DLA, realized on GPU: layer2.0/Add"]
    everything = _config("resnet18_fp16_dla", config.artifact_dir)
    dla_plan = plan_from_tagged(tagged.tagged_path, everything)
    assert check_gates(dla_plan, _gated(everything, fail_on_unexpected_fallback=True)) == [
        "fail_on_unexpected_fallback: 1 node(s) requested on DLA, predicted on GPU: avgpool/ReduceMean"]


# ---------------------------------------------------------------------------------------------- CLI


@pytest.mark.torch
def test_trtforge_plan_prints_the_table_writes_the_files_and_then_skips(resnet18_tagged, capsys) -> None:
    from trtforge.cli import main

    config, _tagged = resnet18_tagged
    argv = ["plan", "-c", config.name, "--out", str(config.artifact_dir)]
    assert main([*argv, "--force"]) == 0
    out = capsys.readouterr().out
    assert "| layer1    | 10    | 10 DLA    | 10  | 0   |" in out
    assert "1 DLA island(s) (budget 16 per core), 2 GPU<->DLA transition(s)" in out
    assert "trtexec: --fp16 --useDLACore=0 --allowGPUFallback --layerDeviceTypes=" in out
    record = json.loads((config.artifact_dir / "plan.json").read_text())
    assert record["summary"]["islands"] == 1
    assert "## GPU<->DLA transitions" in (config.artifact_dir / "report.md").read_text()
    written = (config.artifact_dir / "plan.json").stat().st_mtime_ns
    assert main(argv) == 0  # fresh: not rewritten
    assert (config.artifact_dir / "plan.json").stat().st_mtime_ns == written
    assert main([*argv, "--set", "target.tensorrt='8.6'"]) == 0
    assert "--layerDeviceTypes=/Reshape:GPU,bn1/Conv:GPU" in capsys.readouterr().out
    gated = main([*argv, "--set", "gates.min_dla_node_share=0.9"])
    assert gated == 2
    assert "predicted DLA node share 0.429 < min_dla_node_share 0.9" in capsys.readouterr().err


def test_two_islands_do_not_merge_when_one_reaches_the_other_through_gpu(tmp_path: Path) -> None:
    """p (DLA) -> erf (GPU) -> y1 (DLA); q (DLA); m = y1 + q joins y1 and q; n = p + q could join p's and
    q's islands directly, but p's island reaches y1 through the erf: merged, the erf would sit inside."""
    import onnx
    from onnx import TensorProto, helper

    nodes = [helper.make_node("Relu", ["x"], ["p"], name="m/Relu"),
             helper.make_node("Erf", ["p"], ["e"], name="m/Erf"),
             helper.make_node("Relu", ["e"], ["y1"], name="m/Relu.1"),
             helper.make_node("Relu", ["x"], ["q"], name="m/Relu.2"),
             helper.make_node("Add", ["y1", "q"], ["m"], name="m/Add"),
             helper.make_node("Add", ["p", "q"], ["n"], name="m/Add.1")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 8, 8])],
                              [helper.make_empty_tensor_value_info(n) for n in ("m", "n")])
    path = tmp_path / "tagged.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), str(path))
    config = config_from_dict({"name": "convex", "model": "x", "inputs": {"x": [4, 8, 8]}, "default_device": "DLA"})
    plan = plan_from_tagged(path, config)
    assert [i.nodes for i in plan.islands] == [("m/Relu", "m/Add.1"), ("m/Relu.1", "m/Relu.2", "m/Add")]


def test_constant_nodes_make_no_layer_and_no_island(tmp_path: Path) -> None:
    import numpy as np
    from onnx import helper, numpy_helper

    nodes = [helper.make_node("Constant", [], ["k"], name="m/Constant",
                              value=numpy_helper.from_array(np.ones((1, 4, 1, 1), np.float32))),
             helper.make_node("Relu", ["x"], ["a"], name="m/Relu"),
             helper.make_node("Mul", ["a", "k"], ["y"], name="m/Mul")]
    plan = _dla_plan_of(nodes, tmp_path)
    assert [(n.name, n.layerless, n.predicted, n.inputs) for n in plan.nodes] == [
        ("m/Constant", True, "DLA", ()), ("m/Relu", False, "DLA", ("x",)), ("m/Mul", False, "DLA", ("a",))]
    assert [i.nodes for i in plan.islands] == [("m/Relu", "m/Mul")]
    assert plan.to_json()["summary"]["nodes"] == 2


def _dla_plan_of(nodes: list[Any], tmp_path: Path) -> Any:
    """The all-DLA plan of a graph of ``nodes`` from input ``x`` (1x4x8x8) to output ``y``."""
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 8, 8])],
                              [helper.make_empty_tensor_value_info("y")])
    path = tmp_path / "tagged.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), str(path))
    config = config_from_dict({"name": "graph", "model": "x", "inputs": {"x": [4, 8, 8]}, "default_device": "DLA"})
    return plan_from_tagged(path, config)


def test_an_int8_plan_says_which_dla_nodes_run_in_fp16(tmp_path: Path) -> None:
    import onnx

    path = tmp_path / "tagged.onnx"
    onnx.save(chain(["Relu", "Sigmoid", "Softmax", "Relu"], [1, 4, 8, 8]), str(path))
    raw = {"name": "fp16ops", "model": "x", "inputs": {"x": [4, 8, 8]}, "default_device": "DLA", "precision": "int8"}
    plan = plan_from_tagged(path, config_from_dict(raw))
    assert all(n.predicted == "DLA" for n in plan.nodes)
    assert [w for w in plan.warnings if w.startswith("INT8 plan")] == [
        "INT8 plan: 2 DLA node(s) run in FP16 on DLA, not INT8 (Sigmoid x1, Softmax x1): DLA has no INT8 kernel for "
        "them (rules 'fp16_under_int8'); the weakly typed INT8 build enables FP16 beside INT8"]
    fp16 = plan_from_tagged(path, config_from_dict({**raw, "precision": "fp16"}))
    assert not any(w.startswith("INT8 plan") for w in fp16.warnings)
