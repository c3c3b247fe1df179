"""The model matrix: the models Jetson users bring, each in three configs, run export -> tag -> plan -> calib ->
build -> compare, with a model x stage table of times (``make matrix``, ``python -m trtforge.bench.matrix``).

Configs per model (generated as TOML files, never hand-written):

- ``<model>_fp16_dla``: fp16, default device DLA;
- ``<model>_fp16_gpu_dla``: fp16, default GPU, one real backbone submodule on DLA;
- ``<model>_int8_dla``: int8, default DLA, a small synthetic calibration (2 batches, 1 held out).

Where no DLA exists (CI, TensorRT-RTX) the DLA configs build GPU-only engines and say so; the plan keeps the
DLA placement. The three configs of a model share one export: the second and third reuse the first's export and
tagging by content hash (their input hashes are the same), so each model is exported once.
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import sys
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trtforge.errors import TrtforgeError

STAGES = ("export", "tag", "plan", "calib", "build", "compare")


@dataclass(frozen=True)
class ModelSpec:
    """One model of the matrix: what to build, its I/O, and the backbone submodule the GPU config puts on DLA."""

    key: str  # the config name prefix
    model: str
    inputs: dict[str, tuple[int, ...]]
    outputs: tuple[str, ...]
    dla_module: str
    export_module: str = ""
    needs: str = ""  # an optional module; the model is skipped (with the reason) when it is missing
    ci: bool = False  # in CI's slice (``-m matrix_ci``)


IMAGE: dict[str, tuple[int, ...]] = {"input": (3, 224, 224)}
MODELS: tuple[ModelSpec, ...] = (
    ModelSpec("mobilenet_v2", "mobilenet_v2", IMAGE, ("logits",), "features", ci=True),
    ModelSpec("mobilenet_v3_small", "mobilenet_v3_small", IMAGE, ("logits",), "features"),
    ModelSpec("efficientnet_b0", "efficientnet_b0", IMAGE, ("logits",), "features"),
    ModelSpec("shufflenet_v2_x0_5", "shufflenet_v2_x0_5", IMAGE, ("logits",), "stage2"),
    ModelSpec("convnext_tiny", "convnext_tiny", IMAGE, ("logits",), "features"),
    ModelSpec("swin_t", "swin_t", IMAGE, ("logits",), "features"),
    ModelSpec("vit_b_16", "vit_b_16", IMAGE, ("logits",), "encoder"),
    ModelSpec("densenet121", "densenet121", IMAGE, ("logits",), "features"),
    ModelSpec("inception_v3", "inception_v3", {"input": (3, 299, 299)}, ("logits",), "Mixed_5b"),
    # segmentation: the model returns a dict; its key names the output
    ModelSpec("deeplabv3_mobilenet_v3_large", "deeplabv3_mobilenet_v3_large", {"input": (3, 256, 256)}, ("out",),
              "backbone", ci=True),
    # detection: SSDlite's postprocess (data-dependent NMS) cannot export; its backbone (a dict of 6 maps) can
    ModelSpec("ssdlite320_mobilenet_v3_large", "ssdlite320_mobilenet_v3_large", {"input": (3, 320, 320)},
              tuple("012345"), "features", export_module="backbone"),
    # YOLOv8n from Ultralytics' bundled yaml: decoded predictions, then a dict (boxes, scores, 3 feature maps)
    ModelSpec("yolov8n", "trtforge.export.zoo:yolov8n", {"images": (3, 320, 320)},
              ("pred", "boxes", "scores", "p3", "p4", "p5"), "model.2", needs="ultralytics"),
)


@dataclass
class Outcome:
    """One config's run: seconds per stage (``None``: not run), the error that stopped it, the compare rows."""

    config: str
    seconds: dict[str, float | None] = field(default_factory=dict)
    error: str = ""
    failed_stage: str = ""
    rows: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.error


def raw_configs(spec: ModelSpec, artifacts: Path) -> list[dict[str, Any]]:
    """The three configs of ``spec`` as TOML-ready dicts, each with its own artifact folder."""
    base: dict[str, Any] = {"model": spec.model, "inputs": {k: list(v) for k, v in spec.inputs.items()},
                            "outputs": list(spec.outputs), "compare": {"samples": 2}}
    if spec.export_module:
        base["export_module"] = spec.export_module
    variants: list[tuple[str, dict[str, Any]]] = [
        ("fp16_dla", {"precision": "fp16", "default_device": "DLA"}),
        ("fp16_gpu_dla", {"precision": "fp16", "default_device": "GPU", "device_types": {spec.dla_module: "DLA"}}),
        ("int8_dla", {"precision": "int8", "default_device": "DLA",
                      "calibration": {"data": "synthetic", "batches": 2, "holdout_batches": 1}}),
    ]
    configs = []
    for suffix, extra in variants:
        name = f"{spec.key}_{suffix}"
        configs.append({"name": name, **base, **extra, "output_dir": str(artifacts / name),
                        "description": f"matrix: {spec.model} {suffix.replace('_', ' ')}"})
    return configs


def toml_text(raw: dict[str, Any]) -> str:
    """A flat TOML writer for these configs (scalars, lists, one level of tables)."""
    scalars = [f"{k} = {_toml_value(v)}" for k, v in raw.items() if not isinstance(v, dict)]
    tables = [f"\n[{k}]\n" + "\n".join(f"{_toml_key(n)} = {_toml_value(x)}" for n, x in v.items())
              for k, v in raw.items() if isinstance(v, dict)]
    return "\n".join(scalars) + "\n" + "\n".join(tables) + "\n"


def _toml_key(key: str) -> str:
    return key if key.replace("_", "").isalnum() else f'"{key}"'


def _toml_value(value: Any) -> str:
    import json

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(value) if isinstance(value, str) else repr(value)


def write_configs(specs: Sequence[ModelSpec], folder: Path, artifacts: Path) -> dict[str, list[Path]]:
    """``<folder>/<config>.toml`` for every config of ``specs``; model key -> its config paths."""
    folder.mkdir(parents=True, exist_ok=True)
    written: dict[str, list[Path]] = {}
    for spec in specs:
        for raw in raw_configs(spec, artifacts):
            path = folder / f"{raw['name']}.toml"
            path.write_text(toml_text(raw))
            written.setdefault(spec.key, []).append(path)
    return written


def skip_reason(spec: ModelSpec) -> str:
    if spec.needs and importlib.util.find_spec(spec.needs) is None:
        from trtforge.export.zoo import YOLO_INSTALL

        return f"{spec.needs} is not installed ({YOLO_INSTALL})"
    return ""


def run_config(path: Path, shared_from: Path | None = None) -> Outcome:
    """Every stage of the config at ``path``, timed; stops at the first error (a ``TrtforgeError`` or a bug,
    whose traceback goes to ``matrix.traceback.txt`` in the artifact folder)."""
    from trtforge.config import load_config

    config = load_config(str(path))
    outcome = Outcome(config.name, {s: None for s in STAGES})
    if shared_from is not None:
        share_export(shared_from, config.artifact_dir)
    for name, step in _steps(config):
        start = time.perf_counter()
        try:
            result = step()
        except TrtforgeError as err:
            outcome.error, outcome.failed_stage = str(err), name
            return outcome
        except Exception as err:  # a bug: keep its traceback beside the artifacts, report it in the table
            config.artifact_dir.mkdir(parents=True, exist_ok=True)
            (config.artifact_dir / "matrix.traceback.txt").write_text("".join(traceback.format_exception(err)))
            outcome.error, outcome.failed_stage = f"TRACEBACK {type(err).__name__}: {err}", name
            return outcome
        outcome.seconds[name] = time.perf_counter() - start
        if name == "compare":
            for row in result:
                outcome.rows[row.status] = outcome.rows.get(row.status, 0) + 1
    return outcome


def _steps(config: Any) -> list[tuple[str, Any]]:
    from trtforge.bench.compare import rows_from_configs
    from trtforge.build import engine_for_config
    from trtforge.export import onnx_from_torch
    from trtforge.placement import plan_for_config

    from trtforge.pipeline import tagged_from_config

    steps = [("export", lambda: onnx_from_torch(config)), ("tag", lambda: tagged_from_config(config)),
             ("plan", lambda: plan_for_config(config))]
    if config.precision == "int8":
        from trtforge.calib import calib_for_config

        steps.append(("calib", lambda: calib_for_config(config)))
    steps += [("build", lambda: engine_for_config(config)),
              ("compare", lambda: rows_from_configs([config], data="generated")[0])]
    return steps


def share_export(source: Path, target: Path) -> None:
    """Copy the export and tagging of another config of the same model (the same export input hashes): the
    stages then find them fresh by hash instead of exporting again."""
    from trtforge.export.onnx_export import LOG_FILE, MODEL_FILE, RECORD_FILE
    from trtforge.placement.tagging import TAGGED_FILE, TAGS_FILE

    target.mkdir(parents=True, exist_ok=True)
    for name in (MODEL_FILE, RECORD_FILE, LOG_FILE, TAGGED_FILE, TAGS_FILE):
        if (source / name).is_file() and not (target / name).exists():
            shutil.copy2(source / name, target / name)


def run_matrix(specs: Sequence[ModelSpec], folder: Path, artifacts: Path) -> tuple[list[Outcome], list[str]]:
    """Every config of ``specs``; returns the outcomes and the skipped models (with reasons)."""
    outcomes: list[Outcome] = []
    skipped: list[str] = []
    for key, paths in write_configs(specs, folder, artifacts).items():
        spec = next(s for s in specs if s.key == key)
        reason = skip_reason(spec)
        if reason:
            skipped.append(f"{key}: skipped, {reason}")
            continue
        first = None
        for path in paths:
            outcome = run_config(path, shared_from=first)
            outcomes.append(outcome)
            print(row_text(outcome), flush=True)
            first = first or (artifacts / outcome.config if outcome.seconds["tag"] is not None else None)
    return outcomes, skipped


def header_text() -> str:
    head = "| config | " + " | ".join(STAGES) + " | total s | compare rows | result |"
    return head + "\n" + "|---" * (len(STAGES) + 4) + "|"


def row_text(outcome: Outcome) -> str:
    cells = []
    for stage in STAGES:
        seconds = outcome.seconds.get(stage)
        cells.append("ERROR" if stage == outcome.failed_stage else ("–" if seconds is None else f"{seconds:.1f}"))
    total = sum(s for s in outcome.seconds.values() if s is not None)
    rows = ", ".join(f"{n} {k}" for k, n in sorted(outcome.rows.items())) or "–"
    result = "ok" if outcome.ok else f"{outcome.failed_stage}: {' '.join(outcome.error.split())[:300]}"
    return f"| {outcome.config} | " + " | ".join(cells) + f" | {total:.1f} | {rows} | {result} |"


def specs_named(names: Sequence[str]) -> list[ModelSpec]:
    known = {s.key: s for s in MODELS}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise TrtforgeError.of(f"matrix model names ({', '.join(known)})", found=", ".join(unknown))
    return [known[n] for n in names] if names else list(MODELS)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m trtforge.bench.matrix", description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="", help="comma-separated model keys (default: all); e.g. mobilenet_v2")
    parser.add_argument("--ci", action="store_true", help="only CI's slice")
    parser.add_argument("--out", type=Path, default=Path("artifacts") / "matrix", help="artifact root")
    args = parser.parse_args(argv)
    from trtforge.log import configure

    configure(0)
    import logging

    logging.getLogger("trtforge").setLevel(logging.WARNING)  # the table is the output
    try:
        specs = specs_named([n for n in args.models.split(",") if n])
    except TrtforgeError as err:
        print(f"trtforge: error: {err}", file=sys.stderr)
        return 2
    if args.ci:
        specs = [s for s in specs if s.ci]
    start = time.perf_counter()
    print(header_text(), flush=True)
    outcomes, skipped = run_matrix(specs, args.out / "configs", args.out)
    for line in skipped:
        print(line)
    failed = [o for o in outcomes if not o.ok]
    print(f"{len(outcomes) - len(failed)} of {len(outcomes)} configs ran every stage; "
          f"wall time {time.perf_counter() - start:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
