"""Issue 12 (hardening), config / data / artifact side: one test per defect of
``reference/findings/reliability.md``, named after it. Every input is generated in ``tmp_path``."""

from __future__ import annotations

import argparse
import errno
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from trtforge.artifacts import (
    SELF_HASH,
    ensure_dir,
    is_fresh,
    read_json,
    seal,
    sweep_stale_temps,
    temp_dir,
    write_atomic,
    write_json,
    write_sealed_json,
)
from trtforge.config import config_from_dict, load_config
from trtforge.errors import TrtforgeError

BASE = {"name": "t", "model": "tiny_models:nested", "inputs": {"x": [3, 16, 16]}, "outputs": ["y"]}


def _config(tmp_path: Path, **extra: object):
    return config_from_dict({**BASE, "output_dir": str(tmp_path / "out"), **extra})


def _one_line(err: pytest.ExceptionInfo[TrtforgeError]) -> str:
    text = str(err.value)
    assert "\n" not in text
    return text


def _write_toml(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text))
    return path


# ---------------------------------------------------------------------------------------------- defect 3


def _npy_source(tmp_path: Path, array: np.ndarray, **cal: object):
    from trtforge.calib.data import source_from_config

    path = tmp_path / "data.npy"
    np.save(path, array)
    config = _config(tmp_path, precision="int8",
                     calibration={"data": str(path), "batches": 2, "holdout_batches": 1, **cal})
    return source_from_config(config)


@pytest.mark.parametrize("case", ["all_nan", "one_nan", "one_inf", "overflow"])
def test_defect03_nan_calibration_data_rejected(tmp_path: Path, case: str) -> None:
    rng = np.random.default_rng(0)
    if case == "overflow":  # finite float64 values beyond float32's range
        array = rng.standard_normal((3, 3, 16, 16)) * 1e39
    else:
        array = rng.standard_normal((3, 3, 16, 16)).astype(np.float32)
        if case == "all_nan":
            array[:] = np.nan
        else:
            array[2, 1, 3, 4] = np.nan if case == "one_nan" else np.inf
    with pytest.raises(TrtforgeError, match="finite calibration values") as err:
        _npy_source(tmp_path, array)
    assert "data.npy" in _one_line(err)


@pytest.mark.parametrize("dtype", ["complex64", "<U1", "object", "datetime64[s]"])
def test_defect03_complex_string_object_arrays_rejected(tmp_path: Path, dtype: str) -> None:
    shape = (3, 3, 16, 16)
    array = {"complex64": np.ones(shape, np.complex64) + 1j, "<U1": np.full(shape, "x"),
             "object": np.full(shape, None, dtype=object),
             "datetime64[s]": np.zeros(shape, "datetime64[s]")}[dtype]
    path = tmp_path / "data.npy"
    np.save(path, array, allow_pickle=True)  # object arrays need pickling to be written at all
    from trtforge.calib.data import source_from_config

    config = _config(tmp_path, precision="int8", calibration={"data": str(path), "batches": 2, "holdout_batches": 1})
    with pytest.raises(TrtforgeError) as err:
        source_from_config(config)
    assert "pickled" in str(err.value) or "real numbers" in _one_line(err)


def test_defect03_pickled_npz_is_never_unpickled(tmp_path: Path) -> None:
    from trtforge.calib.data import source_from_config

    path = tmp_path / "data.npz"
    np.savez(path, x=np.full((3, 3, 16, 16), None, dtype=object))
    config = _config(tmp_path, precision="int8", calibration={"data": str(path), "batches": 2, "holdout_batches": 1})
    with pytest.raises(TrtforgeError, match=r"allow_pickle|pickled"):
        source_from_config(config)


def test_defect03_good_data_still_loads_and_integers_are_allowed(tmp_path: Path) -> None:
    source = _npy_source(tmp_path, np.arange(3 * 3 * 16 * 16, dtype=np.int16).reshape(3, 3, 16, 16) % 7)
    (batch,) = list(source.batches("holdout"))
    assert batch["x"].dtype == np.float32 and np.isfinite(batch["x"]).all()


@pytest.mark.parametrize(("cal", "message"), [
    ({"std": [0.0, 0.0, 0.0]}, "std > 0"),
    ({"crop": 0, "resize": 0}, "resize >= 1"),
    ({"crop": 0}, "crop >= 1"),
    ({"mean": [0.5, 0.5], "std": [0.2, 0.2, 0.2]}, "same, non-zero length"),
    ({"mean": [0.5, 0.5], "std": [0.2, 0.2]}, "one value per channel"),
    ({"percentile": 150.0}, r"percentile in \(0, 100\]"),
    ({"percentile": 0.0}, r"percentile in \(0, 100\]"),
    ({"batches": -3}, "batches >= 0; found -3"),
    ({"holdout_batches": -1}, "holdout_batches >= 0; found -1"),
])
def test_defect03_calibration_values_checked_in_the_schema(tmp_path: Path, cal: dict, message: str) -> None:
    with pytest.raises(TrtforgeError, match=message) as err:
        _config(tmp_path, precision="int8", calibration=cal)
    _one_line(err)


# ---------------------------------------------------------------------------------------------- defect 6


def test_defect06_sealed_records_detect_edits_and_bad_schema(tmp_path: Path) -> None:
    record = tmp_path / "r.json"
    out = write_atomic(tmp_path / "o.bin", b"data")
    from trtforge.artifacts import sha256_file

    body = {"inputs": {"a": "1"}, "outputs": {"o": sha256_file(out)}, "io": [{"name": "x"}]}
    write_sealed_json(record, body)
    assert is_fresh(record, {"a": "1"}, {"o": out}, sealed=True)
    edited = json.loads(record.read_text())
    edited["io"][0]["name"] = "bogus"  # valid JSON, same inputs/outputs: the old check served it
    write_json(record, edited)
    assert is_fresh(record, {"a": "1"}, {"o": out})
    assert not is_fresh(record, {"a": "1"}, {"o": out}, sealed=True)

    def reject(data: dict) -> None:
        raise TrtforgeError("bad schema")

    write_sealed_json(record, body)
    assert not is_fresh(record, {"a": "1"}, {"o": out}, sealed=True, check=reject)
    for damaged in ("[1, 2]", '"text"', "\xff\xfe"):  # a list, a string, not UTF-8: stale, no exception
        record.write_bytes(damaged.encode("latin-1"))
        assert not is_fresh(record, {"a": "1"}, {"o": out}, sealed=True)


def test_defect06_sidecar_schema_check_rejects_edits_in_one_line() -> None:
    from trtforge.build.sidecar import check_sidecar

    with pytest.raises(TrtforgeError, match=r"sidecar.config; found it missing"):
        check_sidecar({"format": 1})
    with pytest.raises(TrtforgeError, match="sidecar to be object"):
        check_sidecar([1, 2])


def test_defect06_plan_with_an_extra_node_field_is_one_line_error() -> None:
    from trtforge.placement.plan import check_plan_record, plan_from_json

    with pytest.raises(TrtforgeError, match="placement plan") as err:
        plan_from_json({"config": "t", "target": {}, "inputs": {}, "nodes": [{"name": "n", "extra": 1}],
                        "islands": [], "transitions": [], "io": [], "summary": {"loadable_budget": 1},
                        "layer_device_types": "", "trtexec": "", "warnings": []})
    _one_line(err)
    with pytest.raises(TrtforgeError, match="keys"):
        check_plan_record({"format": 1, "nodes": []})


@pytest.mark.torch
@pytest.mark.rtx
@pytest.mark.slow
def test_defect06_edited_plan_and_sidecar_are_rebuilt_not_served(tmp_path: Path) -> None:
    from trtforge.build.sidecar import SIDECAR_FORMAT, check_sidecar
    from trtforge.build.stage import engine_for_config

    config = config_from_dict({**BASE, "output_dir": str(tmp_path), "device_types": {"stage1": "DLA"}})
    first = engine_for_config(config)
    assert not first.reused and SELF_HASH in read_json(first.sidecar_path, what="sidecar")
    assert engine_for_config(config).reused

    sidecar = json.loads(first.sidecar_path.read_text())
    sidecar["io"][0]["name"] = "bogus"
    sidecar["format"] = 999
    write_json(first.sidecar_path, sidecar)
    again = engine_for_config(config)
    assert not again.reused
    rebuilt = read_json(again.sidecar_path, what="sidecar")
    check_sidecar(rebuilt)
    assert rebuilt["io"][0]["name"] != "bogus" and rebuilt["format"] == SIDECAR_FORMAT

    plan_path = tmp_path / "plan.json"
    plan = json.loads(plan_path.read_text())
    plan["layer_device_types"] = "stage1/*:DLA;touch PLANPWNED"
    plan["nodes"][0]["extra"] = 1
    write_json(plan_path, plan)
    engine_for_config(config)
    assert "PLANPWNED" not in plan_path.read_text()
    assert "PLANPWNED" not in (tmp_path / f"{first.engine_path.name}.trtexec.sh").read_text()


# ---------------------------------------------------------------------------------------------- defect 7


def _stub_trtexec(tmp_path: Path) -> dict[str, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stub = bin_dir / "trtexec"
    stub.write_text('#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done > "$ARGS_OUT"\n')
    stub.chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "ARGS_OUT": str(tmp_path / "args")}


def test_defect07_trtexec_sh_quotes_name(tmp_path: Path) -> None:
    from trtforge.build.commands import shell_comment, trtexec_command

    name = "t;touch PWNED;x $(touch PWNED2) `touch PWNED3`"
    config = _config(tmp_path, name=name, default_device="DLA")
    layers = "stage1/*:DLA;touch PLANPWNED,stage2/*:GPU"
    line = trtexec_command(config, Path("tagged.onnx"), Path(f"{name}.engine"), layer_device_types=layers,
                           strongly_typed=False, calib_cache=None)
    script = tmp_path / "trtexec.sh"
    script.write_text(f"#!/bin/sh\n{shell_comment('reproduces ' + name + chr(10) + 'touch PWNED4')}\n{line}\n")
    subprocess.run(["sh", str(script)], cwd=tmp_path, env=_stub_trtexec(tmp_path), check=True)
    assert not [p.name for p in tmp_path.iterdir() if "PWNED" in p.name]
    args = (tmp_path / "args").read_text().splitlines()
    assert f"--saveEngine={name}.engine" in args and f"--layerDeviceTypes={layers}" in args


def test_defect07_shell_script_helper_quotes_every_argument(tmp_path: Path) -> None:
    from trtforge.build.commands import shell_script

    weird = ["it's", 'a "b"', "$HOME", "*", "x\ny", ""]
    script = tmp_path / "s.sh"
    script.write_text(shell_script([["trtexec", *weird]], comments=["line one\nrm -rf /tmp/nothing"]))
    subprocess.run(["sh", str(script)], cwd=tmp_path, env=_stub_trtexec(tmp_path), check=True)
    assert (tmp_path / "args").read_text() == "".join(f"{w}\n" for w in weird)


def test_defect07_triton_and_deepstream_files_escape_what_they_embed(tmp_path: Path) -> None:
    from trtforge.build.commands import keyfile_value, nvinfer_snippet, pbtxt_string, triton_snippet

    config = _config(tmp_path, name='m"x')
    io = [{"name": 'in"put\n}', "mode": "input", "dtype": "FLOAT", "shape": [1, 3]},
          {"name": "out", "mode": "output", "dtype": "EVIL } instance_group", "shape": [1]}]
    text = triton_snippet(config, Path("e.engine"), io, dla_applied=False)
    assert 'name: "m\\"x"' in text and 'name: "in\\"put\\012}"' in text and "TYPE_INVALID" in text
    assert pbtxt_string("plain") == '"plain"'
    ds = nvinfer_snippet(config, Path("a\nb=c.onnx"), Path("e.engine"), dla_applied=False, calib_cache=None,
                         note="x\n[other]")
    assert "\n[other]" not in ds and "onnx-file=a\\nb=c.onnx" in ds and keyfile_value(" a\\") == "\\sa\\\\"


# ---------------------------------------------------------------------------------------------- defect 11


def _bad_image_source(tmp_path: Path, kind: str):
    from PIL import Image
    from trtforge.calib.data import source_from_config

    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(3):
        Image.new("RGB", (20, 20), (i, 2 * i, 3 * i)).save(folder / f"{i:02d}.jpg")
    bad = folder / "00.jpg"
    if kind == "truncated":
        bad.write_bytes(bad.read_bytes()[:200])
    elif kind == "zero_byte":
        bad.write_bytes(b"")
    else:
        bad.write_text("this is not an image\n")
    config = _config(tmp_path, precision="int8", calibration={"data": str(folder), "batches": 2,
                                                              "holdout_batches": 1, "resize": 18, "crop": 16})
    return source_from_config(config)


@pytest.mark.parametrize("kind", ["truncated", "zero_byte", "text"])
def test_defect11_corrupt_jpg_is_one_line_error(tmp_path: Path, kind: str) -> None:
    source = _bad_image_source(tmp_path, kind)
    with pytest.raises(TrtforgeError, match=r"a readable image at .*00.jpg") as err:
        list(source.batches())
    _one_line(err)


@pytest.mark.parametrize("kind", ["truncated_npy", "garbage_npy", "garbage_npz"])
def test_defect11_truncated_npy_and_garbage_npz_are_one_line_errors(tmp_path: Path, kind: str) -> None:
    from trtforge.calib.data import source_from_config

    good = tmp_path / "good.npy"
    np.save(good, np.zeros((3, 3, 16, 16), np.float32))
    path = tmp_path / ("data.npz" if kind == "garbage_npz" else "data.npy")
    path.write_bytes({"truncated_npy": good.read_bytes()[: good.stat().st_size // 2],
                      "garbage_npy": b"\x93NUMPY garbage" * 40, "garbage_npz": b"PK\x03\x04garbage" * 10}[kind])
    config = _config(tmp_path, precision="int8", calibration={"data": str(path), "batches": 2, "holdout_batches": 1})
    with pytest.raises(TrtforgeError, match="a readable") as err:
        source_from_config(config)
    _one_line(err)


@pytest.mark.parametrize(("extra", "message"), [
    ({"max_batch_size": 10**20}, "2\\^31-1 elements"),
    ({"max_batch_size": 2**63 - 1}, "2\\^31-1 elements"),
    ({"inputs": {"x": [3, 1000000, 1000000]}}, "2\\^31-1 elements"),
    ({"inputs": {"x": [1] * 8}}, "at most 7 dimensions"),
    ({"max_batch_size": 5000, "default_device": "DLA"}, "max_batch_size <= 4096"),
    ({"inputs": {"x": [3, 9000, 16]}, "default_device": "DLA"}, "dimensions <= 8192"),
])
def test_defect11_huge_batch_and_dims_bounded_in_the_schema(tmp_path: Path, extra: dict, message: str) -> None:
    with pytest.raises(TrtforgeError, match=message) as err:
        _config(tmp_path, **extra)
    _one_line(err)


def test_defect11_non_utf8_config_is_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "binary.toml"
    path.write_bytes(b'model = "resnet18"\nname = "\xff\xfe"\n')
    with pytest.raises(TrtforgeError, match="UTF-8") as err:
        load_config(str(path))
    _one_line(err)


def test_defect11_output_dir_naming_a_file(tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(TrtforgeError, match="output_dir to be a folder"):
        _config(tmp_path, output_dir=str(afile))
    with pytest.raises(TrtforgeError, match="a file"):  # a file appearing later, or as a parent folder
        write_atomic(afile / "sub" / "model.onnx", b"x")


@pytest.mark.parametrize("override", ["max_batch_size.x=2", "seed.x=1", "inputs.x.y=1", "calibration.mean.a=1"])
def test_defect11_set_on_a_scalar_or_list_key(tmp_path: Path, override: str) -> None:
    path = _write_toml(tmp_path / "c.toml", """
        model = "resnet18"
        max_batch_size = 1
        seed = 0
        inputs = { x = [3, 16, 16] }
        [calibration]
        mean = [0.5, 0.5, 0.5]
        """)
    with pytest.raises(TrtforgeError, match="to be a table") as err:
        load_config(str(path), [override])
    _one_line(err)


@pytest.mark.parametrize("code", [errno.EROFS, errno.ENOSPC, errno.EACCES])
def test_defect11_read_only_folder_and_full_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 code: int) -> None:
    import trtforge.artifacts as artifacts

    def failing(*args: object, **kwargs: object) -> None:
        raise OSError(code, os.strerror(code), str(tmp_path / "x"))

    monkeypatch.setattr(artifacts.os, "fsync", failing)  # the write fails after the temp file exists
    with pytest.raises(TrtforgeError, match="fix: free space") as err:
        write_atomic(tmp_path / "model.onnx", b"x" * 100)
    _one_line(err)
    assert list(tmp_path.iterdir()) == []  # no temp file left behind
    monkeypatch.setattr(artifacts.tempfile, "mkstemp", failing)
    with pytest.raises(TrtforgeError, match="fix: free space"):
        write_atomic(tmp_path / "model.onnx", b"x")


def test_defect11_cli_maps_a_full_disk_outside_trtforge_writes(monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    import trtforge.cli as cli

    def handler(args: argparse.Namespace) -> int:
        raise OSError(errno.ENOSPC, "No space left on device", "/x/model.onnx")

    parser = cli.build_parser()
    args = parser.parse_args(["configs"])
    monkeypatch.setattr(cli, "build_parser", lambda: _Fixed(parser, args, handler))
    assert cli.main(["configs"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no space left" in err


class _Fixed:
    def __init__(self, parser: argparse.ArgumentParser, args: argparse.Namespace, handler: object) -> None:
        self.args = args
        args.handler = handler

    def parse_args(self, argv: object) -> argparse.Namespace:
        return self.args


@pytest.mark.parametrize("content", ["[1, 2]", '{"key": 5, "cache_sha256": "x"}', "\xff"])
def test_defect11_cache_key_sidecar_list_or_numeric_key(tmp_path: Path, content: str) -> None:
    from trtforge.calib.cache import CacheKey, check_cache, sidecar_path

    cache = tmp_path / "calib.cache"
    cache.write_text("TRT-100300-EntropyCalibration2\nx: 3c000000\n")
    sidecar_path(cache).write_bytes(content.encode("latin-1"))
    fields = {f: "x" for f in CacheKey.__dataclass_fields__}
    with pytest.raises(TrtforgeError) as err:
        check_cache(cache, CacheKey(**fields))  # type: ignore[arg-type]
    _one_line(err)


def test_defect11_a_sidecar_that_is_a_list_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "e.engine.json"
    path.write_text("[1, 2]")
    with pytest.raises(TrtforgeError, match="JSON object"):
        read_json(path, what="engine sidecar", kind=dict)


# ---------------------------------------------------------------------------------------------- defect 12


@pytest.mark.parametrize("name", ["../../escaped", "/abs/x", "", ".", "..", "a/b", "a\\b", "x\ny", ".hidden",
                                  "n" * 200])
def test_defect12_name_must_be_a_plain_file_name(tmp_path: Path, name: str) -> None:
    with pytest.raises(TrtforgeError, match="name to be a plain file name") as err:
        config_from_dict({**BASE, "name": name})
    _one_line(err)


def test_defect12_set_name_with_a_path_is_rejected(tmp_path: Path) -> None:
    path = _write_toml(tmp_path / "c.toml", 'model = "resnet18"\n')
    with pytest.raises(TrtforgeError, match="plain file name"):
        load_config(str(path), ["name='../../set_escaped'"])
    assert load_config(str(path), ["name='модель-é'"]).artifact_dir == Path("artifacts/модель-é")


@pytest.mark.parametrize("out", ["bs\\dir", "out'dir\"x", "with space/and'quote", "/tmp/x"])
def test_defect12_out_is_passed_as_a_path_not_toml(tmp_path: Path, out: str) -> None:
    from trtforge.cli import add_config_args, config_from_args

    path = _write_toml(tmp_path / "c.toml", 'model = "resnet18"\n')
    parser = argparse.ArgumentParser()
    add_config_args(parser)
    config = config_from_args(parser.parse_args(["-c", str(path), "--out", out]))
    assert config.artifact_dir == Path(out) and config.output_dir == out
    assert config.name == "c"  # --out is no override: the name (and artifact names) stay the file's


def test_defect12_timing_cache_stays_under_the_artifacts_root(tmp_path: Path) -> None:
    assert config_from_dict(BASE).shared_dir == Path("artifacts")
    config = _config(tmp_path)
    assert config.shared_dir == config.artifact_dir == tmp_path / "out"


# ---------------------------------------------------------------------------------------------- defect 14


_KILLED_WRITER = """
import os, sys
import trtforge.artifacts as a
folder = sys.argv[1]
def die(*args):
    os._exit(9)  # like kill -9 between the write and the rename
with a.temp_dir(folder, "export-") as tmp:
    open(os.path.join(tmp, "model.onnx"), "wb").write(b"x" * 1000)
    a.os.replace = die
    a.write_atomic(os.path.join(folder, "model.onnx"), b"y" * 1000)
"""


def test_defect14_temp_files_of_a_killed_run_are_cleared_on_the_next_run(tmp_path: Path) -> None:
    folder = tmp_path / "art"
    run = subprocess.run([sys.executable, "-c", _KILLED_WRITER, str(folder)], check=False)
    assert run.returncode == 9
    left = sorted(p.name for p in folder.iterdir())
    assert len(left) == 2 and all(".trtforge-" in n for n in left)  # a temp file and a temp folder
    live = folder / f".plan.json.trtforge-{os.getpid()}.abcd1234.tmp"  # a concurrent live run's temp file
    live.write_text("in progress")
    write_atomic(folder / "export.json", "{}")  # the next run's first write into the folder
    assert sorted(p.name for p in folder.iterdir()) == sorted(["export.json", live.name])


def test_defect14_temp_dir_lives_in_the_artifact_folder(tmp_path: Path) -> None:
    with temp_dir(tmp_path / "art", "preview-") as tmp:
        assert tmp.parent == tmp_path / "art" and tmp.name.startswith(f".trtforge-tmp-{os.getpid()}-preview-")
        (tmp / "a.onnx").write_bytes(b"x")
    assert list((tmp_path / "art").iterdir()) == []
    assert sweep_stale_temps(tmp_path / "art", force=True) == []
    assert ensure_dir(tmp_path / "art") == tmp_path / "art"


def test_defect14_exporter_and_preview_use_the_artifact_folder() -> None:
    """No stage module makes temporary files in the system temp dir; the exporter's go through ``temp_dir``
    (the artifact folder). The preview and Q/DQ passes keep their models in memory or in the artifact folder."""
    import importlib
    import inspect

    system_temp = ("TemporaryDirectory", "mkdtemp", "mkstemp", "gettempdir", "NamedTemporaryFile")
    for name in ("trtforge.export.onnx_export", "trtforge.calib.stage", "trtforge.calib.preview",
                 "trtforge.calib.qdq", "trtforge.build.stage", "trtforge.build.engine", "trtforge.placement.plan"):
        source = inspect.getsource(importlib.import_module(name))
        assert not [api for api in system_temp if api in source], name
    assert "temp_dir(" in inspect.getsource(importlib.import_module("trtforge.export.onnx_export"))


# ---------------------------------------------------------------------------------------------- defect 15


@pytest.mark.parametrize("platform", ["orin", "xavier"])
def test_defect15_dla_core_checked_against_the_platform(tmp_path: Path, platform: str) -> None:
    assert _config(tmp_path, dla_core=1, target={"platform": platform}).dla_core == 1
    with pytest.raises(TrtforgeError, match=f"dla_core below 2 \\(the DLA cores of {platform}") as err:
        _config(tmp_path, dla_core=99, target={"platform": platform})
    assert "found 99" in _one_line(err)
    path = _write_toml(tmp_path / "c.toml", 'model = "resnet18"\n')
    with pytest.raises(TrtforgeError, match="dla_core below 2"):
        load_config(str(path), ["dla_core=2", f"target.platform='{platform}'"])


@pytest.mark.parametrize(("gates", "message"), [
    ({"min_dla_node_share": 2.5}, "min_dla_node_share in \\[0, 1\\]"),
    ({"min_dla_flops_share": -0.1}, "min_dla_flops_share in \\[0, 1\\]"),
    ({"max_islands": -1}, "max_islands >= 0"),
])
def test_defect15_gate_shares_above_one_rejected(tmp_path: Path, gates: dict, message: str) -> None:
    with pytest.raises(TrtforgeError, match=message):
        _config(tmp_path, gates=gates)
    assert _config(tmp_path, gates={"min_dla_node_share": 1.0, "max_islands": 0}).gates.max_islands == 0


def test_seal_round_trip() -> None:
    record = seal({"a": 1, "b": [1, 2]})
    assert record[SELF_HASH] == seal({"b": [1, 2], "a": 1, SELF_HASH: "stale"})[SELF_HASH]


def test_the_guarantees_name_existing_tests() -> None:
    """Every test the README's "What trtforge guarantees" section names exists (so each line is backed)."""
    import re

    root = Path(__file__).resolve().parents[2]
    readme = (root / "README.md").read_text()
    section = readme.split("## What trtforge guarantees", 1)[1].split("\n## ", 1)[0]
    named = re.findall(r"(tests/[\w/]+\.py)::(\w+)", section)
    assert len(named) >= 10
    for path, test in named:
        source = (root / path).read_text() if (root / path).is_file() else ""
        assert re.search(rf"^def {test}\(", source, flags=re.M), f"{path}::{test} named in README.md does not exist"


def test_defect14_pidless_temp_files_of_older_runs_are_cleared_once_old(tmp_path: Path) -> None:
    """Temp files named as before (``.model.onnx.5qezyuv6.tmp``, no pid) go once untouched for ten minutes."""
    old, recent = tmp_path / ".model.onnx.5qezyuv6.tmp", tmp_path / ".qdq.onnx.blh3bk4v.tmp"
    for path in (old, recent):
        path.write_bytes(b"partial")
    os.utime(old, (1_000_000_000, 1_000_000_000))
    assert sweep_stale_temps(tmp_path, force=True) == [old]
    assert recent.exists() and not old.exists()
