"""The calibration stage of one config: ``<artifact_dir>/calib/`` from ``tagged.onnx`` and the config's data.

Artifacts (all written atomically, skipped when ``calib.json`` shows the same inputs and unchanged outputs):

- ``data_manifest.json``   what data was read (content hashes) and how it was cut and preprocessed
- ``ranges.json``          tensor -> amax for the config's method (version-neutral) with provenance
- ``calib.trt<N>.<target>[.SYNTHETIC].cache`` (+ ``.json`` key sidecar) TensorRT cache for version number N,
  gpu or dla
- ``dynamic_ranges.json``  tensor -> [-amax, amax] for ``ITensor.dynamic_range``
- ``qdq.onnx``             the Q/DQ model (TensorRT >= 11, TensorRT-RTX)
- ``preview.json``         fake-quantized accuracy against FP32 on held-out batches, per method
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trtforge.calib.cache import (
    CacheKey,
    Target,
    cache_file_name,
    dynamic_ranges_from_ranges,
    sidecar_path,
    write_cache,
)
from trtforge.calib.data import (
    SYNTHETIC,
    SYNTHETIC_WARNING,
    DataSource,
    manifest_from_source,
    manifest_hash,
    source_from_config,
)
from trtforge.calib.preview import Preview, agreement_from_references
from trtforge.calib.qdq import qdq_models_from_ranges
from trtforge.calib.ranges import METHODS, Ranges, ranges_and_statistics, read_ranges

from trtforge.artifacts import is_fresh, read_json, sha256_file, sha256_json, write_atomic, write_json
from trtforge.config import Config
from trtforge.log import logger, stage

CALIB_DIR = "calib"
CALIB_FORMAT = 2  # 2: one-pass growing histograms, batched runs, preview against the pass's FP32 outputs
FILES = {"ranges": "ranges.json", "manifest": "data_manifest.json", "dynamic_ranges": "dynamic_ranges.json",
         "qdq": "qdq.onnx", "preview": "preview.json"}
RECORD = "calib.json"


@dataclass(frozen=True)
class CalibResult:
    """Where every calibration artifact of a config is, and the key its cache must match at build time."""

    folder: Path
    ranges_path: Path
    manifest_path: Path
    cache_path: Path
    dynamic_ranges_path: Path
    qdq_path: Path
    preview_path: Path
    key: CacheKey
    trt_version: str
    target: Target
    synthetic: bool
    reused: bool

    def ranges(self) -> Ranges:
        return read_ranges(self.ranges_path)

    def preview(self) -> dict[str, object]:
        return dict(read_json(self.preview_path, what="accuracy preview"))


def cache_trt_version(config: Config, override: str | None = None) -> str:
    """The TensorRT version the cache header is written for: ``override``, else real TensorRT's own version,
    else ``[calibration] trt_version`` (TensorRT-RTX has no calibrators, so its version never applies)."""
    if override:
        return override
    from trtforge import compat

    info = compat.detect()
    if info is not None and info.flavour == "tensorrt":
        return info.version
    return config.calibration.trt_version


def target_of(config: Config) -> Target:
    return "dla" if config.uses_dla else "gpu"


def calib_for_config(config: Config, *, force: bool = False, trt_version: str | None = None) -> CalibResult:
    """Calibrate ``config`` (export and tag first if stale: ``trtforge.pipeline`` runs each stage once;
    ``force`` redoes only calibration)."""
    from trtforge.pipeline import run_stages

    done = run_stages(config, "calib", force={"calib"} if force else set(), trt_version=trt_version)
    assert done.calib is not None  # run_stages calibrates whenever it is asked to stop at "calib"
    return done.calib


def calib_from_tagged(config: Config, tagged: Path, *, force: bool = False,
                      trt_version: str | None = None) -> CalibResult:
    """The calibration stage: ``<artifact_dir>/calib/`` from the tagged ONNX; reuses fresh artifacts (the cache's
    key sidecar ``<cache>.json`` is one of the hashed outputs) unless ``force``."""
    version, target = cache_trt_version(config, trt_version), target_of(config)
    folder = config.artifact_dir / CALIB_DIR
    paths = {key: folder / name for key, name in FILES.items()}
    synthetic = config.calibration.data == SYNTHETIC
    paths["cache"] = folder / cache_file_name(version, target, synthetic=synthetic)
    paths["cache_key"] = sidecar_path(paths["cache"])
    with stage("calib", config=config.name, onnx=tagged, data=config.calibration.data,
               method=config.calibration.method, trt_version=version, target=target) as done:
        source = source_from_config(config)
        manifest = manifest_from_source(source)
        inputs = {"onnx": sha256_file(tagged), "data": manifest_hash(manifest), "trt_version": version,
                  "settings": sha256_json([dataclasses.asdict(config.calibration), target, CALIB_FORMAT])}
        reused = not force and is_fresh(folder / RECORD, inputs, paths)
        if source.synthetic:
            logger.warning("calib: %s", SYNTHETIC_WARNING)
        if reused:
            done["skipped"] = True
        else:
            _calibrate(config, tagged, source, manifest, paths, version, target)
            write_json(folder / RECORD, {"inputs": inputs,
                                         "outputs": {k: sha256_file(p) for k, p in paths.items()}})
        done["artifact"] = paths["cache"]
    ranges = read_ranges(paths["ranges"])
    return CalibResult(folder=folder, ranges_path=paths["ranges"], manifest_path=paths["manifest"],
                       cache_path=paths["cache"], dynamic_ranges_path=paths["dynamic_ranges"],
                       qdq_path=paths["qdq"], preview_path=paths["preview"],
                       key=CacheKey.of(ranges, version, target), trt_version=version, target=target,
                       synthetic=ranges.synthetic, reused=reused)


def _calibrate(config: Config, tagged: Path, source: DataSource, manifest: dict[str, object],
               paths: dict[str, Path], version: str, target: Target) -> None:
    cal = config.calibration
    write_json(paths["manifest"], manifest)
    by_method, stats = ranges_and_statistics(tagged, source, manifest_hash(manifest), percentile=cal.percentile,
                                             dla_equal=bool(cal.dla_equal_ranges and config.uses_dla))
    chosen = by_method[cal.method]
    write_json(paths["ranges"], chosen.to_json())
    write_cache(chosen, paths["cache"], version, target)
    dynamic = {"format": 1, "method": chosen.method, "onnx_sha256": chosen.onnx_sha256,
               "data_sha256": chosen.data_sha256, "synthetic_data": chosen.synthetic,
               "ranges": {k: list(v) for k, v in dynamic_ranges_from_ranges(chosen).items()}}
    write_json(paths["dynamic_ranges"], {**dynamic, "warning": SYNTHETIC_WARNING} if chosen.synthetic else dynamic)
    ordered = {cal.method: chosen, **{m: by_method[m] for m in METHODS if m != cal.method}}
    models = {m: model.SerializeToString() for m, model in qdq_models_from_ranges(tagged, ordered).items()}
    write_atomic(paths["qdq"], models[cal.method])
    write_json(paths["preview"], preview_from_models(models, stats.references, cal.method, source).to_json())


def preview_from_models(models: dict[str, bytes], references: list[dict[str, Any]], chosen: str,
                        source: DataSource) -> Preview:
    """Accuracy of every method's Q/DQ model (serialized) on the held-out batches, against the FP32 outputs the
    calibration pass computed for them (no second FP32 run, no temporary files)."""
    holdout, synthetic = source.holdout, source.synthetic
    notes = [f"WARNING: {SYNTHETIC_WARNING}"] if synthetic else []
    if holdout == 0:
        notes.append("no held-out batches ([calibration] holdout_batches = 0): preview skipped")
        return Preview(rows=[], chosen=chosen, synthetic=synthetic, holdout_batches=0, notes=notes)
    rows = agreement_from_references(references, {m: models[m] for m in METHODS}, source.batches("holdout"))
    return Preview(rows=rows, chosen=chosen, synthetic=synthetic, holdout_batches=holdout, notes=notes)
