"""Shared fixtures: tiny generated models, session-wide exports, and the hardware markers' skip rules."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS))  # tiny_models.py is importable as `tiny_models:<factory>` in configs


@pytest.fixture()
def tests_on_path() -> dict[str, str]:
    """The environment of a child process (``trtforge`` run as a command) that imports ``tiny_models`` too."""
    import os

    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _real_tensorrt() -> bool:
    from trtforge import compat

    info = compat.detect("tensorrt")
    return info is not None and info.flavour == "tensorrt"


def _dla() -> bool:
    from trtforge import compat

    return _real_tensorrt() and compat.dla_cores() > 0


def _gpu() -> bool:
    from trtforge import compat

    return bool(compat.cuda_gpus())


SKIPS = {
    "tensorrt": (_real_tensorrt, "needs real TensorRT (8.6/10.x/11.x), not installable here"),
    "dla": (_dla, "needs a device with DLA cores (Jetson Xavier/Orin) and real TensorRT"),
    "gpu": (_gpu, "needs a CUDA GPU"),
    "rtx": (lambda: _has("tensorrt_rtx"), "needs TensorRT-RTX: pip install tensorrt-rtx-cu13"),
    "torch": (lambda: _has("torch") and _has("torchvision"), "needs torch and torchvision"),
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    cache: dict[str, bool] = {}
    for item in items:
        for marker, (check, reason) in SKIPS.items():
            if marker in item.keywords:
                if marker not in cache:
                    cache[marker] = check()
                if not cache[marker]:
                    item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One artifact root for the session, so each model is exported once."""
    return tmp_path_factory.mktemp("artifacts")


def _tagged(name: str, root: Path):
    from trtforge.config import load_config
    from trtforge.pipeline import tagged_from_config

    config = load_config(name, [f"output_dir={str(root / name)!r}"])
    return config, tagged_from_config(config)


@pytest.fixture(scope="session")
def resnet18_tagged(artifacts: Path):
    """(config, TagResult) for resnet18_fp16_gpu_dla12, exported and tagged once per session."""
    pytest.importorskip("torchvision")
    return _tagged("resnet18_fp16_gpu_dla12", artifacts)


@pytest.fixture(scope="session")
def resnet50_tagged(artifacts: Path):
    pytest.importorskip("torchvision")
    return _tagged("resnet50_fp16_gpu_dla12", artifacts)


@pytest.fixture(scope="session")
def rtx_resnet18(resnet18_tagged):
    """(trt, builder, network, parser, tagged): the tagged resnet18 parsed by TensorRT-RTX's ONNX parser
    (the parser is kept alive with the network it filled)."""
    trt = pytest.importorskip("tensorrt_rtx")
    _config, tagged = resnet18_tagged
    logger = trt.Logger(trt.Logger.ERROR)
    builder = trt.Builder(logger)
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, logger)
    assert parser.parse_from_file(str(tagged.tagged_path)), parser.get_error(0)
    return trt, builder, network, parser, tagged
