"""The pipeline runs every stage once: ``--force`` redoes each stage a single time, fresh ones are reused, the
log has one start and one done/skipped line per stage, and the freshness checks import no torch."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from trtforge.config import config_from_dict

pytestmark = [pytest.mark.torch, pytest.mark.rtx]

TESTS = Path(__file__).resolve().parents[1]
STAGE_LINE = re.compile(r"^(export|tag|plan|calib|build): (start|done|skipped)\b")


def _config(tmp_path: Path, precision: str = "fp16") -> dict[str, object]:
    raw: dict[str, object] = {"name": "nested", "model": "tiny_models:nested", "inputs": {"x": [3, 16, 16]},
                              "outputs": ["y"], "output_dir": str(tmp_path), "precision": precision,
                              "device_types": {"stage1": "DLA"}}
    if precision == "int8":
        raw["calibration"] = {"batches": 2, "holdout_batches": 1}
    return raw


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())

    def stage_lines(self) -> Counter[tuple[str, str]]:
        found = (STAGE_LINE.match(line) for line in self.lines)
        return Counter((m.group(1), m.group(2)) for m in found if m)


@pytest.fixture()
def stage_log():
    handler = _Lines()
    logger = logging.getLogger("trtforge")
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(old_level)


@pytest.fixture()
def entries(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Counts the calls of each stage's entry (what the pipeline calls) and of the export's freshness check."""
    import trtforge.build.stage as build_stage
    import trtforge.calib.stage as calib_stage
    import trtforge.export as export
    import trtforge.export.onnx_export as onnx_export
    import trtforge.placement as placement
    import trtforge.placement.plan as plan

    calls: Counter[str] = Counter()

    def counted(module: object, attr: str, key: str) -> None:
        real = getattr(module, attr)

        def wrapper(*args: object, **kwargs: object) -> object:
            calls[key] += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(module, attr, wrapper)

    counted(export, "onnx_from_torch", "export")
    counted(onnx_export, "fresh_export", "export-freshness")
    counted(onnx_export, "_export", "export-work")
    counted(placement, "tag_owners", "tag")
    counted(plan, "plan_from_artifacts", "plan")
    counted(calib_stage, "calib_from_tagged", "calib")
    counted(build_stage, "engine_from_artifacts", "build")
    return calls


def test_engine_runs_each_stage_exactly_once(tmp_path: Path, entries: Counter[str], stage_log: _Lines) -> None:
    """`make engine` (= `trtforge engine`) of an int8 config: each stage is entered once, logs one start line
    and one finish line, whether it works (first run) or is skipped (second run)."""
    from trtforge.pipeline import STAGES, engine_from_config

    config = config_from_dict(_config(tmp_path, "int8"))
    first = engine_from_config(config)
    assert dict(entries) == {s: 1 for s in STAGES} | {"export-freshness": 1, "export-work": 1}
    assert stage_log.stage_lines() == Counter({**{(s, "start"): 1 for s in STAGES},
                                               **{(s, "done"): 1 for s in STAGES}})
    entries.clear()
    stage_log.lines.clear()
    again = engine_from_config(config)
    assert dict(entries) == {s: 1 for s in STAGES} | {"export-freshness": 1}  # nothing exported again
    assert stage_log.stage_lines() == Counter({**{(s, "start"): 1 for s in STAGES},
                                               **{(s, "skipped"): 1 for s in STAGES}})
    assert again["engine"] == first["engine"]
    assert again["nodes"] == first["nodes"] > 0


def test_force_redoes_each_stage_once(tmp_path: Path, entries: Counter[str], stage_log: _Lines) -> None:
    from trtforge.pipeline import STAGES, engine_from_config

    config = config_from_dict(_config(tmp_path))
    first = engine_from_config(config)
    engine = tmp_path / first["engine"]
    built_at = engine.stat().st_mtime_ns
    entries.clear()
    stage_log.lines.clear()
    engine_from_config(config, force=True)
    fp16_stages = [s for s in STAGES if s != "calib"]
    assert dict(entries) == {s: 1 for s in fp16_stages} | {"export-work": 1}  # forced: no freshness check
    assert stage_log.stage_lines() == Counter({**{(s, "start"): 1 for s in fp16_stages},
                                               **{(s, "done"): 1 for s in fp16_stages}})
    assert engine.stat().st_mtime_ns != built_at  # and the engine rebuilt


def test_a_stage_command_runs_only_what_it_needs(tmp_path: Path, entries: Counter[str]) -> None:
    from trtforge.pipeline import run_stages, stages_for

    config = config_from_dict(_config(tmp_path, "int8"))
    assert stages_for(config, "plan") == ["export", "tag", "plan"]
    assert stages_for(config, "calib") == ["export", "tag", "calib"]
    assert stages_for(config, "build") == ["export", "tag", "plan", "calib", "build"]
    fp16 = config_from_dict(_config(tmp_path))
    assert stages_for(fp16, "build") == ["export", "tag", "plan", "build"]
    done = run_stages(config, "calib", force={"calib"})
    assert done.ran == ["export", "tag", "calib"] and done.plan is None and done.build is None
    assert dict(entries) == {"export": 1, "export-freshness": 1, "export-work": 1, "tag": 1, "calib": 1}


def test_fresh_stages_import_no_torch(tmp_path: Path) -> None:
    """A warm `trtforge plan` in a fresh process: every stage skipped, and torch/torchvision never imported."""
    from trtforge.pipeline import run_stages

    config = config_from_dict(_config(tmp_path))
    run_stages(config, "plan")
    script = "\n".join([
        f"import sys; sys.path.insert(0, {str(TESTS)!r})",
        "from trtforge.config import config_from_dict",
        "from trtforge.pipeline import run_stages",
        f"run = run_stages(config_from_dict({_config(tmp_path)!r}), 'plan')",
        "assert run.export.reused and run.tagged.reused, run",
        "names = ('torch', 'torchvision', 'onnx', 'onnxruntime', 'tiny_models')",
        "print('HEAVY', sorted(m for m in names if m in sys.modules))",
    ])
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "HEAVY []" in result.stdout, result.stdout


def test_make_engine_logs_one_start_and_one_finish_per_stage(tmp_path: Path, tests_on_path: dict[str, str]) -> None:
    """`make engine CONFIG=<int8 config>` itself, twice, in the Makefile's environment: each stage of the log is
    started once and done once, then started once and skipped once (stage runs counted, never seconds)."""
    import shutil

    make = shutil.which("make")
    if make is None:
        pytest.skip("needs make")
    repo = TESTS.parent
    cal = _config(tmp_path, "int8")["calibration"]
    toml = tmp_path / "nested_int8.toml"
    toml.write_text(f'name = "nested_int8"\nmodel = "tiny_models:nested"\noutputs = ["y"]\nprecision = "int8"\n'
                    f'output_dir = "{tmp_path / "out"}"\n[inputs]\nx = [3, 16, 16]\n[device_types]\nstage1 = "DLA"\n'
                    f'[calibration]\nbatches = {cal["batches"]}\nholdout_batches = {cal["holdout_batches"]}\n')
    stamp = ".venv/.trtforge-installed"  # the Makefile's name for it: never re-run `make setup` from a test
    logs = []
    for _ in range(2):
        done = subprocess.run([make, "-s", "-o", stamp, "engine", f"CONFIG={toml}"], cwd=repo, env=tests_on_path,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
        found = (STAGE_LINE.match(line.removeprefix("[trtforge] ")) for line in done.stderr.splitlines())
        logs.append(Counter((m.group(1), m.group(2)) for m in found if m))
    stages = ("export", "tag", "plan", "calib", "build")
    assert logs[0] == Counter({**{(s, "start"): 1 for s in stages}, **{(s, "done"): 1 for s in stages}})
    assert logs[1] == Counter({**{(s, "start"): 1 for s in stages}, **{(s, "skipped"): 1 for s in stages}})
