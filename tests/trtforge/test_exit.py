"""The console script's exit (``trtforge.cli.run``): once torch is loaded the process skips the interpreter's
teardown (``os._exit``), so everything must already be written and flushed, and the exit code must be main's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import onnx


def _trtforge(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "trtforge", *args], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=600)


def _config(tmp_path: Path, model: str) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(f'name = "tiny"\nmodel = "tiny_models:{model}"\noutputs = ["y"]\n'
                    f'output_dir = "{tmp_path / "out"}"\n[inputs]\nx = [3, 16, 16]\n')
    return path


def test_an_export_ends_with_its_artifacts_written_and_its_output_flushed(tmp_path: Path,
                                                                        tests_on_path: dict[str, str]) -> None:
    done = _trtforge(tmp_path, tests_on_path, "export", "-c", str(_config(tmp_path, "nested")))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("model.onnx")  # the last line printed, flushed before os._exit
    assert "export: done" in done.stderr
    onnx.checker.check_model(onnx.load(str(tmp_path / "out" / "model.onnx")))
    assert json.loads((tmp_path / "out" / "export.json").read_text())["outputs"]["onnx"]


def test_an_error_after_torch_is_loaded_keeps_exit_code_2_and_its_message(tmp_path: Path,
                                                                         tests_on_path: dict[str, str]) -> None:
    done = _trtforge(tmp_path, tests_on_path, "export", "-c", str(_config(tmp_path, "broken")))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith("trtforge: error: ")
