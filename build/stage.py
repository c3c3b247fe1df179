"""The build stage of one config: ``<artifact_dir>/<config>.engine`` + ``.engine.json`` sidecar + commands.

``engine_for_config`` runs (or reuses) export, tag, plan and calibration, refuses what this machine's TensorRT
cannot build (``trtforge.compat.build_target``), and skips the build only when every input hash (ONNX, plan,
calibration, config, TensorRT, DLA target, builder format) matches the sidecar and the engine is unchanged.
A DLA config built where there are no DLA cores becomes ``<config>.gpu-only.engine``: every layer on the GPU,
the sidecar saying so (``"dla": {"applied": false, "reason": ...}``), the DLA placement kept in the plan.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trtforge.build.commands import nvinfer_snippet, shell_comment, triton_snippet, trtexec_command
from trtforge.build.engine import EngineBuild, engine_from_onnx
from trtforge.build.realized import by_submodule, drift_from_table
from trtforge.build.sidecar import SIDECAR_FORMAT, check_sidecar

from trtforge.artifacts import (
    is_fresh,
    json_text,
    read_json,
    sha256_bytes,
    sha256_file,
    write_atomic,
    write_json,
    write_sealed_json,
)
from trtforge.compat import BuildTarget, build_target, compute_capability, l4t_version, platform_name
from trtforge.config import Config
from trtforge.log import logger, stage

BUILDER_FORMAT = "2"  # bump when the same inputs would give a different engine
FP16_FILE = "fp16.onnx"
TIMING_CACHE = "timing.{flavour}-{version}.cache"  # shared by the configs of one artifact root


@dataclass(frozen=True)
class BuildResult:
    engine_path: Path
    sidecar_path: Path
    summary: dict[str, Any]
    reused: bool


def engine_name(config: Config, target: BuildTarget) -> str:
    return f"{config.name}.gpu-only.engine" if target.gpu_only else f"{config.name}.engine"


def typed_onnx_for(config: Config, *, force: bool = False) -> Path:
    """The ONNX a strongly typed build uses (upstream stages run once by ``trtforge.pipeline``)."""
    from trtforge.pipeline import run_stages

    done = run_stages(config, "calib" if config.precision == "int8" else "tag")
    return typed_onnx_from(config, done.tagged_path, done.calib, force=force)


def typed_onnx_from(config: Config, tagged: Path, calib: Any, *, force: bool = False) -> Path:
    """The tagged ONNX (fp32), its FP16-typed copy (fp16, made here if stale), the calibration stage's Q/DQ
    ONNX (int8, ``calib`` is its ``CalibResult``)."""
    if config.precision == "fp32":
        return tagged
    if config.precision == "int8":
        return Path(calib.qdq_path)
    from trtforge.build.fp16 import FP16_PASS, fp16_from_onnx

    out = config.artifact_dir / FP16_FILE
    record, inputs = out.with_suffix(".json"), {"onnx": sha256_file(tagged), "pass": FP16_PASS}
    if force or not is_fresh(record, inputs, {"fp16": out}):
        fp16_from_onnx(tagged, out)
        write_json(record, {"inputs": inputs, "outputs": {"fp16": sha256_file(out)}})
    return out


def engine_for_config(config: Config, force: bool = False, *, require_dla: bool = False) -> BuildResult:
    """Every stage up to the engine for ``config`` (``trtforge.pipeline`` runs each once; stale upstream
    artifacts are redone); ``force`` rebuilds the engine (and its typed ONNX) regardless."""
    from trtforge.pipeline import run_stages

    done = run_stages(config, "build", force={"build"} if force else set(), require_dla=require_dla)
    assert done.build is not None  # run_stages builds whenever it is asked to stop at "build"
    return done.build


def target_for_config(config: Config, *, require_dla: bool = False) -> BuildTarget:
    """What this machine's TensorRT builds for ``config``, or a refusal (the pipeline asks before any stage)."""
    target = build_target(config.uses_dla, config.precision, config.dla_core,
                          require_dla=require_dla or config.require_dla)
    if target.gpu_only:
        logger.warning("build: %s -- WARNING: GPU-ONLY ENGINE: %s", config.name, target.reason)
    return target


def engine_from_artifacts(config: Config, target: BuildTarget, plan: Any, tagged: Path, calib: Any, *,
                          force: bool = False) -> BuildResult:
    """The build stage: the engine from the tagged ONNX, the plan and (int8) the calibration result; skipped
    when the sidecar's input hashes match and the engine is unchanged."""
    strongly = target.info.strongly_typed
    onnx_path = typed_onnx_from(config, tagged, calib, force=force) if strongly else tagged
    out = config.artifact_dir
    engine_path, plan_path = out / engine_name(config, target), out / "plan.json"
    sidecar_path = engine_path.with_name(engine_path.name + ".json")
    inputs = _inputs(config, target, onnx_path, plan_path, calib, strongly)
    with stage("build", config=config.name, onnx=onnx_path, tensorrt=target.info.label,
               dla="applied" if target.dla_applied else "not applied") as done:
        done["artifact"] = engine_path
        # reused only when sealed (its own content unedited) and valid against SIDECAR_SCHEMA: never served else
        if not force and is_fresh(sidecar_path, inputs, {"engine": engine_path}, sealed=True, check=check_sidecar):
            done["skipped"] = True
            record = read_json(sidecar_path, what="engine sidecar")
            _refuse_failed_gates(config, record["placement"]["gates"])
            return BuildResult(engine_path, sidecar_path, summary_from_sidecar(record, plan.to_json()),
                               reused=True)
        built = _build(config, target, onnx_path, plan, calib, strongly)
        write_atomic(engine_path, built.plan)
        write_atomic(out / f"{engine_path.name}.log", "\n".join(built.log) + "\n")
        record = sidecar_from_build(config, target, built, plan, onnx_path, engine_path, inputs, calib, strongly)
        _add_engine_facts(record, config, target, built, engine_path)
        _write_commands(config, target, built, plan, onnx_path, engine_path, calib, strongly, record, tagged=tagged)
        check_sidecar(record)
        write_sealed_json(sidecar_path, record)
    _enforce_realized_gates(config, target, plan, built)
    if target.gpu_only:
        logger.warning("build: %s is a GPU-ONLY engine: %s", engine_path.name, target.reason)
    return BuildResult(engine_path, sidecar_path, summary_from_sidecar(record, plan.to_json()), reused=False)


def _inputs(config: Config, target: BuildTarget, onnx_path: Path, plan_path: Path, calib: Any,
            strongly: bool) -> dict[str, str]:
    from trtforge.placement.plan import config_hash

    calibration = "" if calib is None else sha256_file(calib.qdq_path if strongly else calib.cache_path)
    data = "" if calib is None else sha256_file(calib.manifest_path)  # what the ranges were computed from
    return {"onnx": sha256_file(onnx_path), "plan": sha256_file(plan_path), "calibration": calibration,
            "calibration_data": data,
            "config": config_hash(config), "tensorrt": target.info.label,
            "dla_target": f"applied={target.dla_applied},cores={target.cores}", "builder": BUILDER_FORMAT}


def _build(config: Config, target: BuildTarget, onnx_path: Path, plan: Any, calib: Any,
           strongly: bool) -> EngineBuild:
    import onnx
    from trtforge.placement.tagging import folded_from_tagged, owners_from_tagged

    model = onnx.load(str(onnx_path), load_external_data=False)
    owners = owners_from_tagged(model)
    node_devices = {n.name: n.requested for n in plan.nodes}
    calibrator = None
    if calib is not None and not strongly:
        from trtforge.calib import calibrator_from_cache

        calibrator = calibrator_from_cache(target.info.module, calib.cache_path, calib.key)
    cache = config.shared_dir / TIMING_CACHE.format(flavour=target.info.flavour, version=target.info.version)
    return engine_from_onnx(onnx_path, config, target, owners, node_devices, calibrator=calibrator,
                            timing_cache=cache, folded=folded_from_tagged(model))


def _add_engine_facts(record: dict[str, Any], config: Config, target: BuildTarget, built: EngineBuild,
                      engine_path: Path) -> None:
    """Where the engine loads here: the inspector's JSON beside it, and the real I/O formats in the sidecar."""
    from trtforge.build.engine import engine_facts

    from trtforge.compat import can_run_engines

    if not can_run_engines(target.info):
        return
    facts = engine_facts(target.info, built.plan, config.dla_core if target.dla_applied else None)
    if facts is None:
        return
    name = f"{engine_path.name}.inspector.json"
    write_json(config.artifact_dir / name, facts["inspector"])
    record["placement"]["inspector"] = name
    _compare_inspector(facts["inspector"], built)
    for tensor in record["io"]:
        tensor["format"] = str(facts["formats"].get(tensor["name"], tensor["format"]))


def _compare_inspector(inspector: Any, built: EngineBuild) -> None:
    """The engine inspector as a second source (build/inspector.py): each layer it places otherwise than the
    builder log is a warning; the log's summary stays the realized placement."""
    from trtforge.build.inspector import layers_from_inspector, merge_realized

    from trtforge.errors import TrtforgeError

    try:
        layers = layers_from_inspector(inspector)
    except TrtforgeError as err:
        logger.warning("build: the engine inspector's JSON was not compared with the log: %s", err)
        return
    merged = merge_realized(built.realized, layers, [layer.name for layer in built.placement.layers])
    for line in merged.disagreements:
        logger.warning("build: placement disagreement: %s", line)


def runs_on(target: BuildTarget, config: Config) -> str:
    if target.gpu_only:
        return f"GPU only: {target.reason}"
    if target.dla_applied:
        fallback = " with GPU fallback" if config.gpu_fallback else ""
        return f"GPU + DLA core {config.dla_core}{fallback} (the runtime core is chosen when deserializing)"
    return "GPU"


def sidecar_from_build(config: Config, target: BuildTarget, built: EngineBuild, plan: Any, onnx_path: Path,
                       engine_path: Path, inputs: dict[str, str], calib: Any, strongly: bool) -> dict[str, Any]:
    predicted = {n.name: n.predicted for n in plan.nodes}
    rows = [(layer.name, layer.owner, layer.device if target.dla_applied else _planned(layer, plan),
             predicted.get(layer.node or "", layer.device) if layer.owner is not None else layer.device)
            for layer in built.placement.layers]
    table = by_submodule(rows, built.realized)
    read_back = built.read_back
    return {
        "format": SIDECAR_FORMAT, "config": config.name,
        "engine": {"file": engine_path.name, "bytes": len(built.plan), "sha256": sha256_bytes(built.plan),
                   "gpu_only": target.gpu_only, "compute_capability": compute_capability(),
                   "platform": platform_name(), "l4t": l4t_version()},
        "tensorrt": {"flavour": target.info.flavour, "version": target.info.version, "label": target.info.label,
                     "strongly_typed": strongly},
        "runs_on": runs_on(target, config), "precision": config.precision, "io": list(built.io),
        "dla": {"requested": config.uses_dla, "applied": target.dla_applied,
                "core": config.dla_core if target.dla_applied else None, "cores_available": target.cores,
                "reason": target.reason, "planned_layers": sum(r[2] == "DLA" for r in rows)},
        "build": {"flags": list(built.flags), "seconds": round(built.seconds, 3),
                  "finished_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                  "onnx": _relative(onnx_path, config.artifact_dir),
                  "read_back": {"default_device_type": read_back["default_device_type"],
                                "DLA_core": read_back["DLA_core"], "GPU_FALLBACK": read_back["GPU_FALLBACK"],
                                "layers_set": len(read_back["device_types"]),
                                "layers_on_dla": sum(d == "DLA" for d in read_back["device_types"].values())}},
        "placement": {"by_submodule": table, "realized_source": built.realized.source,
                      "realized_fallbacks": list(built.realized.fallbacks),
                      "drift": drift_from_table(table) if target.dla_applied else [],
                      "gates": _realized_gates(config, target, plan, built),
                      "helper_layers": {layer.name: {"device": layer.device, "rule": layer.rule}
                                        for layer in built.placement.layers if layer.owner is None},
                      "layer_device_types": plan.layer_device_types, "inspector": None},
        "commands": {"trtexec": "", "files": {}},
        "inputs": inputs, "outputs": {"engine": sha256_bytes(built.plan)},
    }


def _planned(layer: Any, plan: Any) -> str:
    """The requested device of a layer's node in the plan (what a DLA build would have applied)."""
    requested = {n.name: n.requested for n in plan.nodes}
    return requested.get(layer.node or "", "GPU")


def _relative(path: Path, folder: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(Path(folder).resolve()))
    except ValueError:
        return str(path)


def _realized_gates(config: Config, target: BuildTarget, plan: Any, built: EngineBuild) -> list[str]:
    if not target.dla_applied or built.realized.devices is None:
        return []
    from trtforge.placement import check_gates

    return check_gates(plan, config, built.realized.devices)


def _enforce_realized_gates(config: Config, target: BuildTarget, plan: Any, built: EngineBuild) -> None:
    if target.dla_applied and built.realized.devices is not None:
        from trtforge.placement import enforce_gates

        enforce_gates(plan, config, built.realized.devices)


def _refuse_failed_gates(config: Config, failed: list[str]) -> None:
    """A reused engine whose realized placement failed the gates fails again (the sidecar recorded why)."""
    if failed:
        from trtforge.errors import TrtforgeError

        raise TrtforgeError.of(f"the realized placement of {config.name} to pass its [gates]",
                               found="; ".join(failed), fix="change device_types, or relax [gates] in the config")


def _write_commands(config: Config, target: BuildTarget, built: EngineBuild, plan: Any, onnx_path: Path,
                    engine_path: Path, calib: Any, strongly: bool, record: dict[str, Any], *, tagged: Path) -> None:
    """trtexec / nvinfer / Triton files beside the engine. trtexec reproduces the planned engine on the
    config's target TensorRT ([target] tensorrt): weakly typed (tagged ONNX + flags + cache) before 11.4."""
    folder = config.artifact_dir
    target_strongly = config.target.tensorrt == "11.4+"
    source = onnx_path if target_strongly == strongly else (
        typed_onnx_from(config, tagged, calib) if target_strongly else tagged)
    onnx_rel, engine_rel = Path(_relative(source, folder)), Path(engine_path.name)
    target_engine = Path(f"{config.name}.engine")  # on the target the DLA placement is applied
    cache = (Path(_relative(calib.cache_path, folder)) if calib is not None and not target_strongly else None)
    trtexec = trtexec_command(config, onnx_rel, target_engine, layer_device_types=plan.layer_device_types,
                              strongly_typed=target_strongly, calib_cache=cache)
    note = runs_on(target, config)
    files = {"trtexec": f"{engine_path.name}.trtexec.sh", "deepstream": f"{engine_path.name}.nvinfer.txt",
             "triton": f"{engine_path.name}.triton.pbtxt"}
    header = shell_comment(f"reproduces {config.name} on TensorRT {config.target.tensorrt} (run in the artifact "
                           f"folder); this engine: {note}")
    write_atomic(folder / files["trtexec"], f"#!/bin/sh\n{header}\n{trtexec}\n")  # every argument quoted
    write_atomic(folder / files["deepstream"], nvinfer_snippet(config, onnx_rel, engine_rel,
                 dla_applied=target.dla_applied, calib_cache=cache, note=note))
    write_atomic(folder / files["triton"], triton_snippet(config, engine_rel, built.io,
                                                          dla_applied=target.dla_applied))
    record["commands"] = {"trtexec": trtexec, "files": files}


def summary_from_sidecar(record: dict[str, Any], plan: dict[str, Any]) -> dict[str, Any]:
    """What ``make engine`` prints: flavour, precision, size, build time, DLA share, islands, fallbacks."""
    table = record["placement"]["by_submodule"]
    layers = sum(row["layers"] for row in table.values())
    realized = [row["realized_dla"] for row in table.values()]
    on_dla = None if None in realized else sum(realized)
    return {
        "engine": record["engine"]["file"], "built_with": record["tensorrt"]["label"],
        "runs_on": record["runs_on"], "precision": record["precision"],
        "engine_size": f"{record['engine']['bytes'] / 1e6:.1f} MB", "build_time": f"{record['build']['seconds']:.2f} s",
        "dla_share_planned": f"{plan['summary']['dla_node_share']:.3f} of nodes (predicted)",
        "dla_share_realized": "unknown (log had no summary)" if on_dla is None else f"{on_dla}/{layers} layers",
        "dla_islands_planned": plan["summary"]["islands"],
        "fallbacks": f"{plan['summary']['fallbacks']} predicted, "
                     f"{len(record['placement']['realized_fallbacks'])} in the build log",
        "drift": "; ".join(record["placement"]["drift"]) or "none",
    }


def sidecar_text(record: dict[str, Any]) -> str:
    return json_text(record)
