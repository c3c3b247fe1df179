"""The wheel carries its configs: built, installed into a fresh environment, run from anywhere (issue 15.1).

The fresh environment gets only the wheel (``--no-deps``); its dependencies (torch, ONNX, TensorRT-RTX) are borrowed
from the project's virtual environment through a plain path entry, which does not process that environment's
``.pth`` files, so the editable install of the checkout stays out of it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.torch, pytest.mark.rtx]


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: int = 600) -> str:
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{cmd} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh environment holding the wheel built from this checkout; returns its ``bin/``."""
    root = tmp_path_factory.mktemp("wheel")
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(root / "dist"),
          str(REPO)], cwd=root)
    (wheel,) = (root / "dist").glob("trtforge-*.whl")
    env_dir = root / "env"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q", str(wheel)], cwd=root)
    purelib = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                        cwd=root).strip())
    (purelib / "zz_project_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return env_dir / "bin"


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("TRTFORGE_CONFIG_DIR", "PYTHONPATH")}
    return env


def test_wheel_lists_every_packaged_config_from_any_folder(installed: Path, tmp_path: Path) -> None:
    out = _run([str(installed / "trtforge"), "configs"], cwd=tmp_path, env=_clean_env())
    configs = out.splitlines()[0].split()[1:]
    scenarios = out.splitlines()[1].split()[1:]
    assert len(configs) == 20 and "resnet18_fp16_gpu_dla12" in configs
    assert sorted(scenarios) == sorted(p.stem for p in (REPO / "configs" / "scenarios").glob("*.toml"))
    where = _run([str(installed / "python"), "-c", "import trtforge.config as c; print(c.__file__, c.config_dir())"],
                 cwd=tmp_path, env=_clean_env())
    module_file, folder = where.split()
    assert str(installed.parent) in module_file and str(installed.parent) in folder  # the wheel's, not the checkout's


def test_wheel_user_config_dir_still_wins(installed: Path, tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    (mine / "scenarios").mkdir(parents=True)
    (mine / "only_mine.toml").write_text((REPO / "configs" / "resnet18_fp16_gpu.toml").read_text())
    out = _run([str(installed / "trtforge"), "configs"], cwd=tmp_path,
               env={**_clean_env(), "TRTFORGE_CONFIG_DIR": str(mine)})
    assert out.splitlines()[0].split()[1:] == ["only_mine"]


def test_wheel_runs_from_the_source_folder_too(installed: Path) -> None:
    """``python -m trtforge`` in the checkout puts the bare ``trtforge/`` first on sys.path; it still works."""
    out = _run([str(installed / "python"), "-m", "trtforge", "configs"], cwd=REPO, env=_clean_env())
    assert "resnet18_fp16_gpu_dla12" in out


@pytest.mark.slow
def test_wheel_engine_writes_into_the_working_folder(installed: Path, tmp_path: Path) -> None:
    _run([str(installed / "trtforge"), "engine", "-c", "resnet18_fp16_gpu_dla12"], cwd=tmp_path, env=_clean_env())
    folder = tmp_path / "artifacts" / "resnet18_fp16_gpu_dla12"
    sidecars = list(folder.glob("*.engine.json"))
    assert (folder / "plan.json").is_file() and len(sidecars) == 1
    sidecar = json.loads(sidecars[0].read_text())
    assert sidecar["config"] == "resnet18_fp16_gpu_dla12"
    assert (folder / Path(sidecar["engine"]["file"]).name).stat().st_size == sidecar["engine"]["bytes"]
