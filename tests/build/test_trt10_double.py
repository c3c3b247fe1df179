"""The weakly typed TensorRT 10 path, driven through a test double of the TensorRT 10 API whose every name is
checked against ``tensorrt-stubs``: FP16/INT8 flags, the calibrator serving the cache, the per-layer device
types, the default device, GPU fallback, DLA core and timing cache, for all 20 named configs."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest
import trt10_double as double
from trtforge.build.devices import layer_rows_from_network
from trtforge.build.engine import engine_from_onnx
from trtforge.build.stubfix import stub_text_fixed

from trtforge.compat import BuildTarget, TrtInfo
from trtforge.config import available_configs, load_config

STUBS = Path(__file__).resolve().parents[2] / ".stubs"
STUB_FILE = STUBS / "tensorrt_bindings" / "tensorrt.pyi"
needs_stubs = pytest.mark.skipif(not STUB_FILE.is_file(), reason="needs tensorrt-stubs in .stubs (make setup)")


def stub_classes() -> dict[str, set[str]]:
    """Class name -> every name it defines or inherits (methods, properties, attributes), from the stubs."""
    tree = ast.parse(stub_text_fixed(STUB_FILE.read_text()))
    own: dict[str, set[str]] = {}
    bases: dict[str, list[str]] = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            names = set()
            for item in node.body:
                if isinstance(item, ast.FunctionDef):
                    names.add(item.name)
                elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                    names.add(item.target.id)
                elif isinstance(item, ast.Assign):
                    names |= {t.id for t in item.targets if isinstance(t, ast.Name)}
            own[node.name] = names
            bases[node.name] = [b.id for b in node.bases if isinstance(b, ast.Name)]

    def resolve(name: str) -> set[str]:
        return own.get(name, set()).union(*(resolve(b) for b in bases.get(name, [])))

    return {name: resolve(name) for name in own}


def module_names() -> set[str]:
    tree = ast.parse(STUB_FILE.read_text().split("\nclass ", 1)[0])
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "__all__" for t in node.targets):
            return set(ast.literal_eval(node.value))
    raise AssertionError("no __all__ in the stubs")


def missing_from_stubs(cls: type, classes: dict[str, set[str]]) -> set[str]:
    public = {n for n in vars(cls) if not n.startswith("_") and n not in ("STUB", "PARSED", "LOG")}
    return public - classes.get(cls.STUB, set())  # type: ignore[attr-defined]


@needs_stubs
def test_every_name_of_the_double_exists_in_the_tensorrt_10_stubs() -> None:
    classes = stub_classes()
    assert set(double.MODULE_NAMES) <= module_names()
    for cls in double.CLASSES:
        assert cls.STUB in classes and not missing_from_stubs(cls, classes), cls.STUB
    assert {"set_device_type", "default_device_type", "DLA_core", "int8_calibrator"} <= classes["IBuilderConfig"]


@needs_stubs
def test_a_name_missing_from_the_stubs_is_caught() -> None:
    wrong = type("Wrong", (), {"STUB": "IBuilderConfig", "set_dla_core": None, "set_device_type": None})
    assert missing_from_stubs(wrong, stub_classes()) == {"set_dla_core"}


@pytest.fixture(scope="module")
def parsed(resnet18_tagged, resnet50_tagged) -> dict[str, Any]:
    """model -> (tagged path, owners, rows of the network TensorRT-RTX's parser made from it)."""
    import onnx
    from trtforge.build.engine import capturing_logger, network_from_onnx
    from trtforge.placement import owners_from_tagged

    from trtforge import compat

    info = compat.detect("tensorrt-rtx")
    if info is None:
        pytest.skip("needs TensorRT-RTX to replay a real parsed network")
    result = {}
    for (config, tagged) in (resnet18_tagged, resnet50_tagged):
        _b, network, _p = network_from_onnx(info.module, capturing_logger(info.module), tagged.tagged_path, 0)
        io = ([(t.name, tuple(t.shape)) for t in (network.get_input(i) for i in range(network.num_inputs))],
              [(t.name, tuple(t.shape)) for t in (network.get_output(i) for i in range(network.num_outputs))])
        rows = layer_rows_from_network(network)
        double.OnnxParser.PARSED[str(tagged.tagged_path)] = (rows, *io)
        result[config.model] = (config, tagged.tagged_path, owners_from_tagged(onnx.load(str(tagged.tagged_path))))
    return result


def _calibrator(trt: Any, folder: Path, target: str) -> Any:
    from trtforge.calib import CacheKey, Ranges, calibrator_from_cache
    from trtforge.calib.cache import write_cache

    ranges = Ranges(amax={"input": 2.6, "val_0": 4.0}, method="entropy", onnx_sha256="onnx", data_sha256="data",
                    synthetic=True)
    cache = write_cache(ranges, folder / "calib.cache", "10.3.0", target)  # type: ignore[arg-type]
    return calibrator_from_cache(trt, cache, CacheKey.of(ranges, "10.3.0", target))  # type: ignore[arg-type]


@pytest.mark.rtx
@pytest.mark.torch
@pytest.mark.parametrize("name", available_configs())
def test_weakly_typed_build_sets_what_the_plan_says(parsed, name: str, tmp_path: Path) -> None:
    from trtforge.placement import plan_from_tagged

    trt = double.trt10_module()
    exported, tagged, owners = parsed[load_config(name).model]
    config = load_config(name, [f"output_dir={str(exported.artifact_dir)!r}"])
    plan = plan_from_tagged(tagged, config)
    requested = {n.name: n.requested for n in plan.nodes}
    target = BuildTarget(TrtInfo("tensorrt", "10.3.0", trt), cores=2, dla_requested=config.uses_dla,
                         dla_applied=config.uses_dla, gpu_only=False, reason="test double")
    calibrator = _calibrator(trt, tmp_path, "dla" if config.uses_dla else "gpu") if config.precision == "int8" \
        else None
    built = engine_from_onnx(tagged, config, target, owners, requested, calibrator=calibrator,
                             timing_cache=tmp_path / "timing.cache")
    builder = double.BUILDERS[-1]
    (network, builder_config), = builder._built
    assert builder._network_flags == [0] and built.plan == b"serialized plan"
    # precision: builder flags and the calibrator, exactly per the config
    expected = {"fp16": {"FP16"}, "int8": {"INT8", "FP16"}}[config.precision]
    fallback = {"GPU_FALLBACK"} if config.uses_dla and config.gpu_fallback else set()
    assert builder_config._flags == expected | fallback
    assert builder_config.int8_calibrator is calibrator
    if calibrator is not None:
        assert isinstance(calibrator, double.IInt8EntropyCalibrator2)
        assert calibrator.get_algorithm() is double.CalibrationAlgoType.ENTROPY_CALIBRATION_2
        assert calibrator.read_calibration_cache() == (tmp_path / "calib.cache").read_bytes()
    # placement: default device, DLA core, and the device of every layer = its node's requested device
    assert builder_config.default_device_type is getattr(double.DeviceType, config.default_device)
    assert builder_config.DLA_core == (config.dla_core if config.uses_dla else -1)
    layers = {layer.name: layer for layer in built.placement.layers}
    for index in range(network.num_layers):
        layer = network.get_layer(index)
        mapped = layers[layer.name]
        want = requested[mapped.node] if mapped.rule == "node" else mapped.device
        assert builder_config.get_device_type(layer).name == want, layer.name
    assert sum(m.rule == "node" for m in layers.values()) >= len([n for n in plan.nodes if not n.layerless])
    assert {m.rule for m in layers.values()} <= {"node", "helper:consumer", "helper:producer"}
    on_dla = {m.owner.split(".")[0] for m in layers.values() if m.owner is not None and m.device == "DLA"}
    if config.default_device == "DLA":
        assert {"layer1", "layer2", "layer3", "layer4"} <= on_dla
    else:
        assert on_dla == set(config.device_types)
    # profiling detail for the engine inspector, and the persistent timing cache
    assert builder_config.profiling_verbosity is double.ProfilingVerbosity.DETAILED
    assert builder_config._timing == (b"", False)
    assert (tmp_path / "timing.cache").read_bytes() == b"timing:"
