"""Python 3.10 (JetPack 6, the declared minimum) runs the config schema, which evaluates annotations at runtime.

``make lint`` checks the whole package statically for 3.10 (``mypy --python-version 3.10`` and ``vermin``); this
test runs the parts that only fail at runtime (``typing.get_type_hints`` on the config dataclasses, TOML loading
through ``tomli``) on a real 3.10 interpreter, where one is installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _python310() -> str | None:
    found = shutil.which("python3.10")
    if found and subprocess.run([found, "--version"], capture_output=True).returncode == 0:
        return found
    pyenv = sorted(Path(os.path.expanduser("~/.pyenv/versions")).glob("3.10.*/bin/python3.10"))
    return str(pyenv[-1]) if pyenv else None


PY310 = _python310()

SCRIPT = """
import sys
assert sys.version_info[:2] == (3, 10), sys.version
from trtforge.config import available_configs, available_scenarios, load_config, load_scenario
names = available_configs()
assert len(names) == 20, names
for name in names:
    config = load_config(name)
    assert config.name == name
derived = load_config("resnet18_int8_gpu_dla12", ["dla_core=1", 'calibration.method="max"'])
assert derived.dla_core == 1 and derived.calibration.method == "max"
for name in available_scenarios():
    assert load_scenario(name).processes
from trtforge.cli import build_parser
build_parser()
print("ok", len(names))
"""


@pytest.mark.skipif(PY310 is None, reason="no Python 3.10 interpreter on this machine")
def test_config_schema_runs_on_python_310(tmp_path: Path) -> None:
    assert PY310 is not None
    env_dir = tmp_path / "py310"
    subprocess.run([PY310, "-m", "venv", str(env_dir)], check=True, timeout=300)
    pip = subprocess.run([str(env_dir / "bin" / "pip"), "install", "-q", "tomli>=2.0", "numpy"],
                         capture_output=True, text=True, timeout=600)
    if pip.returncode != 0:
        pytest.skip(f"could not install tomli for Python 3.10: {pip.stderr[-300:]}")
    env = {k: v for k, v in os.environ.items() if k not in ("TRTFORGE_CONFIG_DIR",)}
    env["PYTHONPATH"] = str(REPO)
    done = subprocess.run([str(env_dir / "bin" / "python"), "-c", SCRIPT], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "ok 20"
