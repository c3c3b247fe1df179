"""Helpers of the build tests: configs that reuse an export, and the builds made once per session."""

from __future__ import annotations

import shutil
from pathlib import Path

from trtforge.config import Config, load_config

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
