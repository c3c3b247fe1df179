"""``trtforge bundle``: prepare on a workstation, build on any Jetson with nothing but ``trtexec``.

A bundle is a folder (and a ``.tar.gz`` of it) holding what the device's trtexec needs and what ``trtforge adopt``
needs to turn the device's engine back into the project's sidecar:

- the ONNX the config's target TensorRT builds (``[target] tensorrt``: the tagged ONNX with FP16/INT8 flags and the
  calibration cache before 11.4; the FP16-typed or Q/DQ ONNX from 11.4), with any external-data files beside it;
- the calibration cache (INT8 before 11.4), made for the TensorRT version of its header;
- ``build.sh``: POSIX sh, every argument quoted, trtexec asked for ``--verbose``, ``--profilingVerbosity=detailed``
  and ``--exportLayerInfo=layers.json`` so the log and the inspector JSON come back;
- ``MANIFEST.json``: the sha256 of every file, the plan's expected placement (requested and predicted device of
  every layer, in network order) and the trtexec arguments;
- ``README.txt``: what to run on the device and what to bring back.

``--layerDeviceTypes`` exists from trtexec 8.6 (reference/tensorrt_dla.md 4.1): a bundle whose placement needs it
checks the device's trtexec for the option and refuses clearly where it is missing (JetPack 5's 8.5).
"""

from __future__ import annotations

import shlex
import shutil
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trtforge.build.commands import trtexec_args

from trtforge.artifacts import json_text, sha256_file, write_atomic
from trtforge.config import Config
from trtforge.errors import TrtforgeError
from trtforge.log import logger, stage

BUNDLE_FORMAT = 1
MANIFEST = "MANIFEST.json"
BUILD_SCRIPT = "build.sh"
LAYER_INFO = "layers.json"
BUILD_LOG = "build.log"
JETPACK = {"8.6": "JetPack 6.0 (TensorRT 8.6)", "10.x": "JetPack 6.1/6.2 (TensorRT 10.3)",
           "11.4+": "JetPack 7.2.2+ (TensorRT 11.4+)"}


@dataclass(frozen=True)
class Bundle:
    folder: Path
    archive: Path
    manifest: dict[str, Any]


def bundle_from_config(config: Config, out: Path | None = None) -> Bundle:
    """Run (or reuse) the stages the device build needs, then write the bundle folder and its archive."""
    folder = Path(out) if out is not None else config.artifact_dir / "bundle"
    with stage("bundle", config=config.name, target=f"{config.target.platform}/{config.target.tensorrt}") as done:
        done["artifact"] = folder
        plan, onnx_path, cache = _inputs_for_device(config)
        layers = expected_layers(config, plan, onnx_path)
        manifest = _write_folder(config, folder, plan, onnx_path, cache, layers)
        archive = _archive(folder)
    logger.info("bundle: copy %s to the Jetson, run `sh build.sh` there, bring back %s",
                archive.name, ", ".join(manifest["bring_back"]))
    return Bundle(folder, archive, manifest)


def _inputs_for_device(config: Config) -> tuple[Any, Path, Path | None]:
    """The plan, the ONNX the target TensorRT builds, and the calibration cache it reads (or None); the
    pipeline runs each upstream stage once (skipped where fresh)."""
    from trtforge.build.stage import typed_onnx_from

    from trtforge.pipeline import run_stages

    strongly = config.target.tensorrt == "11.4+"
    done = run_stages(config, "plan")
    calib = run_stages(config, "calib").calib if config.precision == "int8" else None  # calib needs no plan
    onnx_path = typed_onnx_from(config, done.tagged_path, calib) if strongly else done.tagged_path
    cache = Path(calib.cache_path) if calib is not None and not strongly else None
    return done.plan, onnx_path, cache


def expected_layers(config: Config, plan: Any, onnx_path: Path) -> list[dict[str, Any]]:
    """Every TensorRT layer in network order with its node, owner, requested and predicted device. The layers
    come from parsing ``onnx_path`` with the TensorRT flavour present (its parser names layers as the device's
    does, helper layers aside); without one, from the plan's nodes (the first layer of a node bears its name)."""
    requested = {n.name: n.requested for n in plan.nodes}
    predicted = {n.name: n.predicted for n in plan.nodes}
    rows = _parsed_rows(onnx_path)
    if rows is None:
        return [{"name": n.name, "node": n.name, "owner": n.owner, "requested": n.requested,
                 "predicted": n.predicted} for n in plan.nodes]
    import onnx
    from trtforge.build.devices import placement_from_rows
    from trtforge.placement.tagging import owners_from_tagged

    owners = owners_from_tagged(onnx.load(str(onnx_path), load_external_data=False))
    placement = placement_from_rows(rows, owners, owners, requested, config)
    return [{"name": layer.name, "node": layer.node, "owner": layer.owner, "requested": layer.device,
             "predicted": predicted.get(layer.node or "", layer.device) if layer.owner is not None
             else layer.device} for layer in placement.layers]


def _parsed_rows(onnx_path: Path) -> list[Any] | None:
    from trtforge.build.devices import layer_rows_from_network
    from trtforge.build.engine import capturing_logger, network_from_onnx

    from trtforge.compat import detect, network_flags

    info = detect()
    if info is None:
        return None
    _builder, network, _parser = network_from_onnx(info.module, capturing_logger(info.module), onnx_path,
                                                   network_flags(info))
    return layer_rows_from_network(network)


def _write_folder(config: Config, folder: Path, plan: Any, onnx_path: Path, cache: Path | None,
                  layers: list[dict[str, Any]]) -> dict[str, Any]:
    """Everything is written into a temporary sibling folder first, which then replaces ``folder``."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())) and not (folder / MANIFEST).is_file():
        raise TrtforgeError.of("--out to be a new folder or an earlier bundle", found=f"{folder} holds no {MANIFEST}",
                               fix="choose another --out folder")
    work = folder.with_name(f".{folder.name}.partial")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    files = [_copy(onnx_path, work)] + [_copy(p, work) for p in _external_data(onnx_path)]
    if cache is not None:
        files.append(_copy(cache, work))
    files.append(_copy(config.artifact_dir / "plan.json", work))  # `adopt` applies the gates to it
    engine = f"{config.name}.engine"
    args = _trtexec_args(config, plan, Path(files[0]), engine, Path(cache.name) if cache is not None else None)
    write_atomic(work / BUILD_SCRIPT, build_script(config, args, engine, needs_layer_device_types=bool(
        plan.layer_device_types)))
    manifest = _manifest(config, plan, layers, args, engine, [*files, BUILD_SCRIPT], work)
    write_atomic(work / "README.txt", readme_text(config, engine))
    manifest["files"]["README.txt"] = sha256_file(work / "README.txt")
    write_atomic(work / MANIFEST, json_text(manifest))
    shutil.rmtree(folder, ignore_errors=True)
    work.rename(folder)
    return manifest


def _copy(source: Path, folder: Path) -> str:
    shutil.copyfile(source, folder / source.name)
    return source.name


def _external_data(onnx_path: Path) -> list[Path]:
    """The external-data files an ONNX names (they must travel beside it, under the same names)."""
    import onnx
    from onnx.external_data_helper import ExternalDataInfo, uses_external_data

    model = onnx.load(str(onnx_path), load_external_data=False)
    tensors = list(model.graph.initializer) + [a.t for n in model.graph.node for a in n.attribute if a.HasField("t")]
    names = {ExternalDataInfo(t).location for t in tensors if uses_external_data(t)}
    return [onnx_path.parent / name for name in sorted(names)]


def _trtexec_args(config: Config, plan: Any, onnx: Path, engine: str, cache: Path | None) -> list[str]:
    args = trtexec_args(config, onnx, Path(engine), layer_device_types=plan.layer_device_types,
                        strongly_typed=config.target.tensorrt == "11.4+", calib_cache=cache)
    return [*args, "--verbose", "--profilingVerbosity=detailed", f"--exportLayerInfo={LAYER_INFO}"]


def build_script(config: Config, args: list[str], engine: str, *, needs_layer_device_types: bool) -> str:
    """POSIX sh using nothing but shell builtins and trtexec; every argument is quoted."""
    quoted = " \\\n    ".join(shlex.quote(a) for a in args)
    check = ""
    if needs_layer_device_types:
        check = ('case "$("$TRTEXEC" --help 2>&1)" in\n'
                 '  *layerDeviceTypes*) ;;\n'
                 '  *) echo "build.sh: this trtexec has no --layerDeviceTypes (TensorRT < 8.6, e.g. JetPack 5);'
                 ' the per-submodule placement cannot be applied: use JetPack 6, or a config without'
                 ' device_types" >&2; exit 2 ;;\n'
                 'esac\n')
    return (f"#!/bin/sh\n"
            f"# trtforge bundle of {shlex.quote(config.name)}: builds the engine with trtexec on the device.\n"
            f"# target: TensorRT {config.target.tensorrt} on {config.target.platform}"
            f" ({JETPACK[config.target.tensorrt]}); precision {config.precision}\n"
            "# run: sh build.sh   (TRTEXEC=/path/to/trtexec sh build.sh to choose the binary)\n"
            "set -u\n"
            f"ENGINE={shlex.quote(engine)}\n"
            'case "$0" in */*) cd "${0%/*}" || exit 1 ;; esac\n'
            'TRTEXEC="${TRTEXEC:-trtexec}"\n'
            'if ! command -v "$TRTEXEC" >/dev/null 2>&1; then\n'
            '  if [ -x /usr/src/tensorrt/bin/trtexec ]; then TRTEXEC=/usr/src/tensorrt/bin/trtexec\n'
            '  else echo "build.sh: trtexec not found; set TRTEXEC=/usr/src/tensorrt/bin/trtexec" >&2; exit 127\n'
            '  fi\n'
            'fi\n'
            f"{check}"
            f'echo "build.sh: building $ENGINE (log: {BUILD_LOG})"\n'
            f'"$TRTEXEC" {quoted} \\\n    >{BUILD_LOG} 2>&1\n'
            'status=$?\n'
            'if [ "$status" -ne 0 ]; then\n'
            f'  echo "build.sh: trtexec failed with status $status; bring {BUILD_LOG} back" >&2; exit "$status"\n'
            'fi\n'
            f'echo "build.sh: done; bring back $ENGINE {BUILD_LOG} {LAYER_INFO}"\n')


def readme_text(config: Config, engine: str) -> str:
    return (f"trtforge bundle: {config.name}\n\n"
            f"Target: TensorRT {config.target.tensorrt} on {config.target.platform}"
            f" ({JETPACK[config.target.tensorrt]}),"
            f" {config.precision}, DLA core {config.dla_core if config.uses_dla else '-'}.\n\n"
            "On the Jetson:\n"
            "    tar xzf <bundle>.tar.gz && cd <bundle> && sh build.sh\n"
            "(set TRTEXEC=/usr/src/tensorrt/bin/trtexec if trtexec is not on PATH).\n\n"
            f"Bring back: {engine}, {BUILD_LOG} and {LAYER_INFO}. Then, on the workstation:\n"
            f"    trtforge adopt --bundle <bundle> --engine {engine} --log {BUILD_LOG} --layer-info {LAYER_INFO}\n"
            "writes the engine's sidecar (<engine>.json) with the realized placement against the plan.\n")


def _manifest(config: Config, plan: Any, layers: list[dict[str, Any]], args: list[str], engine: str,
              files: list[str], folder: Path) -> dict[str, Any]:
    from trtforge.placement.plan import config_hash

    summary = plan.to_json()["summary"]
    return {
        "format": BUNDLE_FORMAT, "config": config.name, "config_hash": config_hash(config),
        "config_dict": config.to_dict(),
        "precision": config.precision, "dla_core": config.dla_core if config.uses_dla else None,
        "uses_dla": config.uses_dla, "gpu_fallback": config.gpu_fallback,
        "target": {"platform": config.target.platform, "tensorrt": config.target.tensorrt},
        "onnx": files[0], "engine": engine, "trtexec": args, "bring_back": [engine, BUILD_LOG, LAYER_INFO],
        "files": {name: sha256_file(folder / name) for name in files},
        "plan": {"layer_device_types": plan.layer_device_types, "summary": summary, "layers": layers},
    }


def _archive(folder: Path) -> Path:
    """``<folder>.tar.gz`` holding the folder under its own name, written atomically, reproducible order."""
    archive = folder.with_name(folder.name + ".tar.gz")
    partial = archive.with_name(f".{archive.name}.partial")
    with tarfile.open(partial, "w:gz") as tar:
        for path in sorted(folder.iterdir()):
            info = tar.gettarinfo(str(path), arcname=f"{folder.name}/{path.name}")
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            with path.open("rb") as handle:
                tar.addfile(info, handle)
    partial.replace(archive)
    return archive


def read_manifest(folder: Path) -> dict[str, Any]:
    """The bundle's manifest, after checking every file it lists against its sha256."""
    from trtforge.artifacts import read_json

    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise TrtforgeError.of("a trtforge bundle folder", found=f"no {MANIFEST} in {folder}",
                               fix="pass the folder `trtforge bundle` wrote (or its unpacked .tar.gz)")
    manifest = read_json(path, what="bundle manifest")
    if not isinstance(manifest, dict) or manifest.get("format") != BUNDLE_FORMAT:
        raise TrtforgeError.of(f"a bundle manifest of format {BUNDLE_FORMAT}", found=f"{path}",
                               fix="re-create the bundle with this trtforge")
    changed = [name for name, digest in manifest["files"].items()
               if not (Path(folder) / name).is_file() or sha256_file(Path(folder) / name) != digest]
    if changed:
        raise TrtforgeError.of("every bundle file to match its MANIFEST.json sha256", found=f"changed: {changed}",
                               fix="re-create the bundle; the device must build from the files the plan was made for")
    return manifest
