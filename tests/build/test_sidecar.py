"""The sidecar contract: its schema (pinned), the validator, and exact golden sidecars and consumer snippets
of real TensorRT-RTX builds (volatile values masked). TRTFORGE_UPDATE_GOLDEN=1 rewrites the golden files."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
from trtforge.build.sidecar import SIDECAR_SCHEMA, check_sidecar

from trtforge.artifacts import json_text
from trtforge.errors import TrtforgeError

GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE = __import__("os").environ.get("TRTFORGE_UPDATE_GOLDEN") == "1"
_SHA = re.compile(r"\b[0-9a-f]{64}\b")


def golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.write_text(text)
    assert path.is_file(), f"no golden file {path}: run with TRTFORGE_UPDATE_GOLDEN=1"
    assert text == path.read_text()


def masked(record: dict) -> dict:
    """The sidecar with what changes from build to build replaced: hashes, engine size, time."""
    out = json.loads(_SHA.sub("<sha256>", json.dumps(record)))
    out["engine"]["bytes"] = "<bytes>"
    out["engine"]["compute_capability"] = "<compute_capability>"  # the build machine's GPU, null without one
    out["build"]["seconds"] = "<seconds>"
    out["build"]["finished_utc"] = "<utc>"
    return out


def test_schema_is_pinned() -> None:
    golden("sidecar.schema.json", json_text(SIDECAR_SCHEMA))


@pytest.mark.rtx
@pytest.mark.torch
@pytest.mark.slow
@pytest.mark.parametrize("precision", ["fp32", "fp16", "int8"])
def test_resnet18_sidecar_and_snippets_golden(rtx_builds, precision: str) -> None:
    config, result = rtx_builds["resnet18", precision]
    record = json.loads(Path(result.sidecar_path).read_text())
    files = {kind: (config.artifact_dir / name).read_text() for kind, name in record["commands"]["files"].items()}
    golden(f"{config.name}.sidecar.json", json_text({"sidecar": masked(record), "files": files}))


@pytest.mark.rtx
@pytest.mark.torch
@pytest.mark.slow
def test_validator_rejects_what_the_schema_forbids(rtx_builds) -> None:
    _config, result = rtx_builds["resnet18", "fp16"]
    record = json.loads(Path(result.sidecar_path).read_text())
    check_sidecar(record)
    cases = [
        (lambda r: r.update(extra=1), r"only known keys in sidecar; found unknown key 'extra'"),
        (lambda r: r["dla"].pop("core"), r"sidecar.dla.core; found it missing"),
        (lambda r: r["engine"].update(bytes="12"), r"sidecar.engine.bytes to be integer"),
        (lambda r: r.update(precision="bf16"), r"sidecar.precision to be one of \['fp32', 'fp16', 'int8'\]"),
        (lambda r: r["io"][0].update(mode="both"), r"sidecar.io\[0\].mode to be one of"),
        (lambda r: r["placement"]["by_submodule"]["layer1"].update(realized_dla="3"),
         r"sidecar.placement.by_submodule.layer1.realized_dla to be integer or null"),
        (lambda r: r.update(format=1), r"sidecar.format to be one of \[2\]"),
        (lambda r: r["engine"].pop("platform"), r"sidecar.engine.platform; found it missing"),
    ]
    for change, message in cases:
        broken = copy.deepcopy(record)
        change(broken)
        with pytest.raises(TrtforgeError, match=message):
            check_sidecar(broken)
