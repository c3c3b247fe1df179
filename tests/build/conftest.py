"""Build-stage fixtures: configs that reuse the session's resnet18/resnet50 exports, and real TensorRT-RTX builds
(FP32, FP16-typed, Q/DQ INT8) made once per session."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from trtforge.config import Config, load_config

GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE = os.environ.get("TRTFORGE_UPDATE_GOLDEN") == "1"
SMALL_CALIBRATION = ("calibration.batches=2", "calibration.holdout_batches=1")  # keeps CI fast; still real ranges
REUSED = ("model.onnx", "export.json", "tagged.onnx", "tags.json")  # valid for every config of the same model


def config_beside(exported: Config, name: str, root: Path, *overrides: str, as_name: str = "") -> Config:
    """``name`` (with ``overrides``, called ``as_name``) in its own folder under ``root``, starting from
    ``exported``'s export and tagging, which do not depend on precision or placement (their freshness checks
    still run)."""
    folder = root / (as_name or name)
    folder.mkdir(parents=True, exist_ok=True)
    for file in REUSED:
        if not (folder / file).exists():
            shutil.copyfile(exported.artifact_dir / file, folder / file)
    return load_config(name, [*overrides, f"output_dir={str(folder)!r}", f"name={folder.name!r}"])


BUILDS = {  # precision -> (config, overrides, name of the derived config)
    "fp32": ("{model}_fp16_gpu", ("precision='fp32'",), "{model}_fp32_gpu"),
    "fp16": ("{model}_fp16_gpu_dla12", (), "{model}_fp16_gpu_dla12"),
    "int8": ("{model}_int8_gpu_dla12", SMALL_CALIBRATION, "{model}_int8_gpu_dla12"),
}


@pytest.fixture(scope="session")
def rtx_builds(resnet18_tagged, resnet50_tagged, tmp_path_factory: pytest.TempPathFactory):
    """(model, precision) -> (config, BuildResult), built for real with TensorRT-RTX through engine_for_config."""
    pytest.importorskip("tensorrt_rtx")
    from trtforge.build import engine_for_config

    root = tmp_path_factory.mktemp("builds")
    results = {}
    for model, (exported, _tags) in (("resnet18", resnet18_tagged), ("resnet50", resnet50_tagged)):
        for precision, (pattern, overrides, name) in BUILDS.items():
            config = config_beside(exported, pattern.format(model=model), root, *overrides,
                                   as_name=name.format(model=model))
            results[model, precision] = (config, engine_for_config(config))
    return results
