"""The engine inspector's JSON as a second source of the realized placement: the corpus (reference/wild/inspector/,
GPU engines: detailed and names-only), a DLA engine's JSON written from the documented format
(tests/build/inspector/), and the merge with the builder log, disagreements reported."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from trtforge.build.inspector import (
    devices_from_inspector,
    layers_from_inspector,
    merge_realized,
    onnx_nodes_from_metadata,
)
from trtforge.build.realized import realized_from_log_text

from trtforge.errors import TrtforgeError

ROOT = Path(__file__).resolve().parents[2]
WILD = ROOT.parent / "shared" / "reference" / "wild"
DLA_JSON = Path(__file__).parent / "inspector" / "dla_detailed_from_docs.json"
BN_LOG = WILD / "logs" / "trt84_jetson_dla_tutorial_model_bn_orin.log"
BN_LAYERS = ["Conv_0", "Relu_1", "Conv_2", "Relu_3", "Conv_4", "Relu_5", "Conv_6", "Relu_7", "GlobalAveragePool_8",
             "Gemm_15", "linear.bias", "(Unnamed Layer* 19) [Shuffle]", "unsqueeze_node_after_linear.bias",
             "(Unnamed Layer* 20) [ElementWise]", "copied_squeeze_after_(Unnamed Layer* 20) [ElementWise]"]
needs_corpus = pytest.mark.skipif(not WILD.is_dir(), reason=f"the wild corpus is not at {WILD}")


@needs_corpus
def test_the_detailed_corpus_engine_is_all_gpu_with_its_types() -> None:
    layers = layers_from_inspector((WILD / "inspector" / "trex_resnet_fp16_a100_engine_graph.json").read_text())
    assert len(layers) == 24 and {layer.device for layer in layers} == {"GPU"}
    assert layers[0].name == "Conv_0 + Relu_1" and layers[0].layer_type == "CaskConvolution"
    assert not any(layer.name.startswith("Reformatting CopyNode") for layer in layers)
    names = ["Conv_0", "Relu_1", "MaxPool_2", "Conv_5", "Add_6", "Relu_7", "Gemm_48", "reshape_after_Gemm_48"]
    assert devices_from_inspector(layers, names) == dict.fromkeys(names, "GPU")
    merged = merge_realized(realized_from_log_text("no summary here", names), layers, names)
    assert merged.devices == dict.fromkeys(names, "GPU") and merged.source == "engine inspector"


@needs_corpus
def test_the_names_only_corpus_engine() -> None:
    raw = json.loads((WILD / "inspector" / "detr_resnet50_layer_info_names_only.json").read_text())
    layers = layers_from_inspector(raw)
    assert len(raw["Layers"]) == 840 and len(layers) == 590
    assert all(layer.layer_type is None and layer.device == "GPU" for layer in layers)
    devices = devices_from_inspector(layers, [])
    assert devices["/Sub"] == devices["/Div"] == "GPU"  # PWN(PWN(/Sub), PWN(/Div))


@needs_corpus
def test_polygraphy_text_is_not_inspector_json() -> None:
    with pytest.raises(TrtforgeError, match="engine inspector JSON"):
        layers_from_inspector((WILD / "inspector" / "polygraphy_inspect_engine_show_layers_readme.txt").read_text())


def test_a_dla_engine_written_from_the_documented_format() -> None:
    layers = layers_from_inspector(DLA_JSON.read_text())
    assert [layer.name for layer in layers] == [
        "{ForeignNode[Conv_0...Relu_7]}", "GlobalAveragePool_8",
        "{ForeignNode[Gemm_15 + linear.bias...(Unnamed Layer* 20) [ElementWise]]}",
        "{ForeignNode[/Constant_7_output_0 + ONNXTRT_Broadcast.../Einsum_1]}",
        "copied_squeeze_after_(Unnamed Layer* 20) [ElementWise]"]
    assert [layer.device for layer in layers] == ["DLA", "GPU", "DLA", "GPU", "GPU"]  # Myelin is a GPU ForeignNode
    assert layers[0].onnx_nodes[-1] == "Relu_7" and layers[2].onnx_nodes == ("Gemm_15",)
    devices = devices_from_inspector(layers, BN_LAYERS)
    assert sorted(n for n, d in devices.items() if d == "DLA") == sorted(set(BN_LAYERS) - {
        "GlobalAveragePool_8", "copied_squeeze_after_(Unnamed Layer* 20) [ElementWise]"})


@needs_corpus
def test_merged_with_the_log_of_the_same_network_they_agree() -> None:
    log = realized_from_log_text(BN_LOG.read_text(), BN_LAYERS)
    merged = merge_realized(log, layers_from_inspector(DLA_JSON.read_text()), BN_LAYERS)
    assert merged.devices == log.devices and merged.disagreements == () and merged.unconfirmed == ()


@needs_corpus
def test_disagreements_and_unplaceable_foreign_nodes_are_reported() -> None:
    record = json.loads(DLA_JSON.read_text())
    record["Layers"][5]["LayerType"] = "Myelin"  # the head's ForeignNode now says GPU
    log = realized_from_log_text(BN_LOG.read_text(), BN_LAYERS)
    merged = merge_realized(log, layers_from_inspector(record), BN_LAYERS)
    assert merged.devices == log.devices  # the log's summary stays the placement
    assert "Gemm_15: the builder log says DLA, the engine inspector says GPU" in merged.disagreements
    assert len(merged.disagreements) == 5
    record = json.loads(DLA_JSON.read_text())
    record["Layers"] = [layer for layer in record["Layers"] if "nvm" not in layer["Name"]]
    record["Layers"][0]["LayerType"] = "ForeignNode"
    layers = layers_from_inspector(record)
    assert layers[0].device is None  # a ForeignNode without nvm copies or a DLA type: Myelin or DLA, unknown
    unknown = merge_realized(realized_from_log_text("", BN_LAYERS), layers, BN_LAYERS)
    assert unknown.devices is None and "Conv_0" in unknown.unconfirmed


def test_metadata_forms() -> None:
    assert onnx_nodes_from_metadata("[ONNX Layer: /a/Conv]\x1f[ONNX Layer: /a/Relu | Local Function: f]") == (
        "/a/Conv", "/a/Relu")
    assert onnx_nodes_from_metadata("[ONNX Layer: n | doc line]") == ("n",)
    assert onnx_nodes_from_metadata(None) == () and onnx_nodes_from_metadata("free text") == ()


@pytest.mark.parametrize("bad", ["not json", "[]", '{"Bindings": []}', '{"Layers": [3]}'])
def test_not_inspector_json_is_one_error(bad: str) -> None:
    with pytest.raises(TrtforgeError):
        layers_from_inspector(bad)


@needs_corpus
def test_the_command_compares_the_inspector(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from trtforge.cli import main

    layers = tmp_path / "layers.txt"
    layers.write_text("\n".join(BN_LAYERS) + "\n")
    record = json.loads(DLA_JSON.read_text())
    record["Layers"][1]["LayerType"] = "Myelin"
    changed = tmp_path / "inspector.json"
    changed.write_text(json.dumps(record))
    argv = ["realized", "--log", str(BN_LOG), "--layers", str(layers), "--inspector"]
    assert main([*argv, str(DLA_JSON)]) == 0
    assert "engine inspector: 0 disagreement(s) with the log, 0 layer(s) it cannot place" in capsys.readouterr().out
    assert main([*argv, str(changed), "--json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["summary_found"] is True
    assert "engine inspector: 8 disagreement(s)" in err and "Conv_0: the builder log says DLA" in err
