"""The calibration stage end to end: resnet18 on generated images (cache, dynamic ranges, Q/DQ ONNX that
TensorRT-RTX builds, accuracy preview) and a tiny model on synthetic data; foreign caches are rejected."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from trtforge.calib import CalibResult, calib_for_config, check_cache

from trtforge.config import Config, config_from_dict, load_config
from trtforge.errors import TrtforgeError

pytestmark = pytest.mark.torch


def _images(folder: Path, count: int) -> Path:
    """Smooth random RGB images of odd sizes (resized and cropped by the model's preprocessing)."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(5)
    for index in range(count):
        coarse = rng.integers(0, 256, size=(6, 8, 3), dtype=np.uint8)
        Image.fromarray(coarse).resize((160 + 8 * index, 120), Image.Resampling.BICUBIC).save(folder / f"{index}.png")
    return folder


@pytest.fixture(scope="module")
def resnet18_calib(resnet18_tagged, tmp_path_factory: pytest.TempPathFactory) -> tuple[Config, CalibResult]:
    exported, _ = resnet18_tagged
    images = _images(tmp_path_factory.mktemp("images"), 4)
    config = load_config("resnet18_int8_gpu_dla12", [
        f"output_dir={str(exported.artifact_dir)!r}", f"calibration.data={str(images)!r}",
        "calibration.batches=2", "calibration.holdout_batches=2"])
    return config, calib_for_config(config)


def test_resnet18_artifacts(resnet18_calib: tuple[Config, CalibResult]) -> None:
    _, result = resnet18_calib
    assert result.cache_path.name == "calib.trt100300.dla.cache" and result.target == "dla"
    ranges = result.ranges()
    assert ranges.method == "entropy" and not ranges.synthetic and ranges.params["dla_equal_ranges"]
    assert len(ranges.amax) > 40 and all(v > 0 for v in ranges.amax.values())
    lines = result.cache_path.read_text().splitlines()
    assert lines[0] == "TRT-100300-EntropyCalibration2" and len(lines) == len(ranges.amax) + 1
    dynamic = json.loads(result.dynamic_ranges_path.read_text())["ranges"]
    assert dynamic["input"] == [-ranges.amax["input"], ranges.amax["input"]]
    manifest = json.loads(result.manifest_path.read_text())
    assert manifest["kind"] == "images" and len(manifest["files"]) == 4 and manifest["preprocessing"]["crop"] == 224
    check_cache(result.cache_path, result.key, tensors=ranges.amax)


def test_resnet18_dla_equal_ranges(resnet18_calib: tuple[Config, CalibResult]) -> None:
    import onnx
    from trtforge.calib.ranges import equal_range_groups

    _, result = resnet18_calib
    amax = result.ranges().amax
    model = onnx.load(str(result.folder.parent / "tagged.onnx"))
    groups = equal_range_groups(model)
    assert any(node.op_type == "MaxPool" for node in model.graph.node) and groups
    for group in groups:
        assert len({amax[name] for name in group}) == 1, group


def test_resnet18_preview(resnet18_calib: tuple[Config, CalibResult]) -> None:
    _, result = resnet18_calib
    rows = result.preview()["rows"]
    assert {row["method"] for row in rows} == {"entropy", "max", "percentile"}  # type: ignore[index]
    for row in rows:  # type: ignore[union-attr]
        assert row["samples"] == 2 and 0.0 <= row["top1_agreement"] <= 1.0
        assert 0.9 < row["cosine"] <= 1.0 + 1e-9 and row["max_abs_error"] > 0  # quantized, yet close


def test_resnet18_is_reused_when_fresh(resnet18_calib: tuple[Config, CalibResult]) -> None:
    config, first = resnet18_calib
    again = calib_for_config(config)
    assert again.reused and again.key == first.key


@pytest.mark.rtx
def test_resnet18_qdq_builds_with_tensorrt_rtx(resnet18_calib: tuple[Config, CalibResult]) -> None:
    import tensorrt_rtx as trt

    _, result = resnet18_calib
    logger = trt.Logger(trt.Logger.ERROR)
    builder = trt.Builder(logger)
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, logger)
    assert parser.parse_from_file(str(result.qdq_path)), [parser.get_error(i).desc() for i in range(parser.num_errors)]
    kinds = [network.get_layer(i).type for i in range(network.num_layers)]
    assert trt.LayerType.QUANTIZE in kinds and trt.LayerType.DEQUANTIZE in kinds
    assert builder.build_serialized_network(network, builder.create_builder_config()) is not None


def _tiny(tmp_path: Path, **calibration: object) -> Config:
    return config_from_dict({"name": "nested_int8", "model": "tiny_models:nested", "inputs": {"x": [3, 16, 16]},
                             "outputs": ["y"], "precision": "int8", "output_dir": str(tmp_path),
                             "calibration": {"batches": 2, "holdout_batches": 1, **calibration}})


def test_foreign_caches_are_rejected_with_the_reason(resnet18_calib: tuple[Config, CalibResult],
                                                     tmp_path: Path) -> None:
    config, result = resnet18_calib
    other_model = calib_for_config(_tiny(tmp_path / "tiny"))
    with pytest.raises(TrtforgeError, match="onnx_sha256: expected") as err:
        check_cache(other_model.cache_path, result.key)
    assert "data_sha256" in str(err.value) and "target: expected dla, found gpu" in str(err.value)
    other_version = calib_for_config(config, trt_version="8.6.1")
    assert other_version.cache_path.name == "calib.trt8601.dla.cache"
    with pytest.raises(TrtforgeError, match=r"trt_version: expected 100300, found 8601.*header: expected TRT-100300"):
        check_cache(other_version.cache_path, result.key)
    synthetic = config.__class__(**{**config.__dict__, "output_dir": str(tmp_path / "synthetic"),
                                    "calibration": config.calibration.__class__(
                                        **{**config.calibration.__dict__, "data": "synthetic"})})
    other_data = calib_for_config(synthetic)
    with pytest.raises(TrtforgeError, match="data_sha256: expected") as err:
        check_cache(other_data.cache_path, result.key)
    assert "onnx_sha256" not in str(err.value)  # same model, only the data differs


def test_tiny_model_on_synthetic_data_says_so(tmp_path: Path) -> None:
    result = calib_for_config(_tiny(tmp_path, method="max"))
    assert result.synthetic and result.target == "gpu"
    assert result.cache_path.name == "calib.trt100300.gpu.SYNTHETIC.cache"
    assert "SYNTHETIC" in json.loads(result.dynamic_ranges_path.read_text())["warning"]
    import onnx

    props = {p.key: p.value for p in onnx.load(str(result.qdq_path)).metadata_props}
    assert "SYNTHETIC" in props["trtforge.warning"] and props["trtforge.calibration_method"] == "max"
    ranges = json.loads(result.ranges_path.read_text())
    assert ranges["synthetic_data"] is True and "SYNTHETIC" in ranges["warning"]
    assert json.loads(result.manifest_path.read_text())["synthetic"] is True
    assert any("SYNTHETIC" in note for note in result.preview()["notes"])  # type: ignore[union-attr]


def _network_tensors(onnx_path: Path) -> set[str]:
    import tensorrt_rtx as trt

    logger = trt.Logger(trt.Logger.ERROR)
    network = trt.Builder(logger).create_network(0)
    assert trt.OnnxParser(network, logger).parse_from_file(str(onnx_path))
    names = {network.get_input(i).name for i in range(network.num_inputs)}
    for index in range(network.num_layers):
        layer = network.get_layer(index)
        names |= {layer.get_output(k).name for k in range(layer.num_outputs)}
    return names


@pytest.mark.rtx
def test_every_calibrated_tensor_is_a_tensorrt_network_tensor(resnet18_calib: tuple[Config, CalibResult],
                                                              tmp_path: Path) -> None:
    """The names in the cache are those TensorRT's ONNX parser gives the network (what it looks scales up by);
    a cache of another model names tensors this network does not have."""
    _, result = resnet18_calib
    network = _network_tensors(result.folder.parent / "tagged.onnx")
    assert set(result.ranges().amax) <= network
    check_cache(result.cache_path, result.key, network_tensors=network)
    other = calib_for_config(_tiny(tmp_path))
    with pytest.raises(TrtforgeError, match="tensors not in the network"):
        check_cache(other.cache_path, other.key, network_tensors=network)


@pytest.mark.parametrize("damage", ["delete", "truncate", "edit"])
def test_a_damaged_cache_key_sidecar_recalibrates(tmp_path: Path, damage: str) -> None:
    """``<cache>.json`` is one of calibration's hashed outputs: deleting, truncating or editing it redoes the
    stage instead of leaving a build that `check_cache` refuses and a calib stage that says "up to date"."""
    from trtforge.calib.cache import sidecar_path

    config = _tiny(tmp_path, method="max")
    first = calib_for_config(config)
    key_file = sidecar_path(first.cache_path)
    assert calib_for_config(config).reused
    if damage == "delete":
        key_file.unlink()
    elif damage == "truncate":
        key_file.write_text(key_file.read_text()[:20])
    else:
        key_file.write_text(key_file.read_text().replace('"gpu"', '"dla"'))
    again = calib_for_config(config)
    assert not again.reused
    check_cache(again.cache_path, again.key, tensors=again.ranges().amax)  # the build's check passes again
