"""``trtforge compare``: every config of one run in one accuracy table, PASS / FAIL / INCONCLUSIVE per row."""

from __future__ import annotations

import datetime
import time
from collections.abc import Sequence
from typing import Any

from trtforge.bench.accuracy import (
    RESULT_FORMAT,
    Feeds,
    Row,
    feeds_from_config,
    fp32_config,
    outputs_from_runner,
    rows_from_outputs,
)

from trtforge.config import Config, tolerances
from trtforge.errors import TrtforgeError
from trtforge.log import progress


def torch_runner(config: Config) -> Any:
    """A polygraphy runner for the eager PyTorch FP32 model (``torch.no_grad()``, CUDA when present)."""
    from polygraphy.backend.base import BaseRunner
    from polygraphy.common import TensorMetadata

    class TorchRunner(BaseRunner):  # polygraphy's PytRunner needs CUDA and splits single outputs by batch
        def __init__(self) -> None:
            super().__init__(name="torch-fp32", prefix="torch-runner")

        def activate_impl(self) -> None:
            import torch
            from trtforge.export.models import model_from_config

            self.device = "cuda" if torch.cuda.is_available() else "cpu"
            self.model = model_from_config(config).to(self.device)

        def get_input_metadata_impl(self) -> Any:
            from polygraphy.datatype import DataType

            meta = TensorMetadata()
            for name, shape in config.inputs.items():
                meta.add(name, DataType.FLOAT32, (config.max_batch_size, *shape))
            return meta

        def infer_impl(self, feed_dict: Any) -> Any:
            import torch

            start = time.perf_counter()
            with torch.no_grad():
                outputs = self.model(*[torch.from_numpy(v).to(self.device) for v in feed_dict.values()])
            self.inference_time = time.perf_counter() - start
            return named_outputs(outputs, config.outputs)

        def deactivate_impl(self) -> None:
            del self.model

    return TorchRunner()


def named_outputs(outputs: Any, names: Sequence[str]) -> dict[str, Any]:
    """A model's outputs (a tensor, a tuple, a list, a dict, or nested) as float32 arrays under the config's
    ``outputs`` names: by dict key where the keys are those names, else in the exporter's flattening order."""
    from torch.utils import _pytree
    from trtforge.export.onnx_export import names_from_structure

    leaves = _pytree.tree_leaves(outputs)
    found = names_from_structure(outputs, _pytree)
    if len(leaves) != len(names):
        raise TrtforgeError.of(f"one name in `outputs` per output of the model: outputs = {list(names)}",
                               found=f"{len(leaves)} outputs returned: {found}", fix=f"set outputs = {found}")
    by_name = dict(zip(found, leaves, strict=True)) if set(found) == set(names) else dict(zip(names, leaves,
                                                                                              strict=True))
    return {n: by_name[n].float().cpu().numpy() for n in names}


def onnxruntime_runner(path: Any, name: str) -> Any:
    from polygraphy.backend.onnxrt import OnnxrtRunner, SessionFromOnnx

    return OnnxrtRunner(SessionFromOnnx(str(path), providers=["cpu"]), name=name)


def tensorrt_runner(config: Config, name: str) -> Any:
    """polygraphy's TrtRunner on the config's engine (TensorRT-RTX through polygraphy's RTX switch)."""
    import os

    from trtforge import compat

    info = compat.detect()
    if info is not None and info.flavour == "tensorrt-rtx":
        os.environ.setdefault("POLYGRAPHY_USE_TENSORRT_RTX", "1")
    from polygraphy.backend.common import BytesFromPath
    from polygraphy.backend.trt import EngineFromBytes, TrtRunner
    from trtforge.bench.sources import engine_for

    return TrtRunner(EngineFromBytes(BytesFromPath(str(engine_for(config)))), name=name)


def rows_from_configs(configs: Sequence[Config], *, data: str, samples: int | None = None,
                      reference: str = "onnxruntime") -> tuple[list[Row], list[str]]:
    """Accuracy rows for every config, grouped by model: references once per model, candidates per config."""
    groups: dict[tuple[Any, ...], list[Config]] = {}
    for config in configs:
        key = (config.model, config.seed, tuple(config.inputs.items()), config.max_batch_size)
        groups.setdefault(key, []).append(config)
    rows: list[Row] = []
    notes: list[str] = []
    for group in groups.values():
        feeds, described = feeds_from_config(group[0], data=data, samples=samples)
        notes.append(f"{group[0].model}: {described}")
        rows += _rows_for_group(group, feeds, reference)
    return rows, notes


def _rows_for_group(group: list[Config], feeds: Feeds, reference_runtime: str) -> list[Row]:
    """The export row (ONNX Runtime FP32 against PyTorch FP32), then each config's candidates against
    ``reference_runtime`` FP32 (``onnxruntime`` or ``torch``)."""
    from trtforge.bench.sources import reference_onnx
    from trtforge.bench.workloads import engine_runnable_reason

    first, names = group[0], list(group[0].outputs)
    reference = fp32_config(first)
    ort_ref = outputs_from_runner(onnxruntime_runner(reference_onnx(first), "onnxruntime-fp32"), feeds, names)
    torch_ref = outputs_from_runner(torch_runner(first), feeds, names)
    rows = rows_from_outputs(f"{first.model} (export)", "fp32", "onnxruntime fp32 (tagged ONNX)", "torch fp32",
                             torch_ref, ort_ref, tolerances(reference))
    engine_reason = engine_runnable_reason()
    ref_name = f"{reference_runtime} fp32"
    ref_out = ort_ref if reference_runtime == "onnxruntime" else torch_ref
    for config in progress(group, desc=f"compare {first.model}"):
        rows += _candidate_rows(config, (ref_name, ref_out), feeds, names)
        rows += _engine_rows(config, engine_reason, (ref_name, ref_out), feeds, names)
    return rows


def _candidate_rows(config: Config, reference: tuple[str, list[dict[str, Any]]], feeds: Feeds,
                    names: list[str]) -> list[Row]:
    """The typed ONNX (FP16-typed, Q/DQ) of ``config`` in ONNX Runtime; a candidate that cannot be made or that
    ONNX Runtime refuses is a FAIL row with the reason, not a traceback."""
    from trtforge.bench.sources import candidate_onnx

    what = f"onnxruntime {config.precision}"
    try:
        candidate = candidate_onnx(config)
    except TrtforgeError as err:
        return [Row(config.name, config.precision, what, reference[0], "*", "FAIL", reason=f"FAIL: {err}")]
    what = f"onnxruntime {config.precision} ({candidate.what})"
    if candidate.path is None:
        return [Row(config.name, config.precision, what, reference[0], "*", "NOT MEASURED",
                    reason=f"not measured here: {candidate.reason}")]
    try:
        got = outputs_from_runner(onnxruntime_runner(candidate.path, f"ort-{config.name}"), feeds, names)
    except Exception as err:  # ONNX Runtime (through polygraphy) refusing the model: a FAIL of that candidate
        message = " ".join(str(err).split())[:300]
        return [Row(config.name, config.precision, what, reference[0], "*", "FAIL",
                    reason=f"FAIL: ONNX Runtime cannot run {candidate.path}: {type(err).__name__}: {message}")]
    return rows_from_outputs(config.name, config.precision, what, reference[0], reference[1], got,
                             tolerances(config))


def _engine_rows(config: Config, reason: str, reference: tuple[str, list[dict[str, Any]]], feeds: Feeds,
                 names: list[str]) -> list[Row]:
    what = f"tensorrt engine ({config.precision})"
    if reason:
        return [Row(config.name, config.precision, what, reference[0], "*", "NOT MEASURED",
                    reason=f"not measured here: {reason}")]
    got = outputs_from_runner(tensorrt_runner(config, f"trt-{config.name}"), feeds, names)
    return rows_from_outputs(config.name, config.precision, what, reference[0], reference[1], got,
                             tolerances(config))


def record_from_rows(rows: Sequence[Row], notes: Sequence[str], *, data: str) -> dict[str, Any]:
    from dataclasses import asdict

    from trtforge.bench.throughput import machine_record

    return {"format": RESULT_FORMAT, "data": data, "inputs": list(notes), "rows": [asdict(r) for r in rows],
            "failed": sum(r.status == "FAIL" for r in rows),
            "inconclusive": sum(r.status == "INCONCLUSIVE" for r in rows), "machine": machine_record(),
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}


def table_from_rows(rows: Sequence[dict[str, Any]]) -> str:
    """The accuracy table in markdown (also what ``trtforge compare`` prints)."""
    head = ("| config | precision | candidate | reference | output | max abs | mean abs | max rel | mean rel "
            "| cosine | top-1 | tolerance (atol, rtol, cos, top-1) | result |")
    lines = [head, "|" + "---|" * 13]
    for r in rows:
        m, t = r["metrics"], r["tolerance"]
        cells = [f"{m[k]:.3g}" if k in m else "–" for k in ("max_abs", "mean_abs", "max_rel", "mean_rel")]
        cells += [f"{m['cosine']:.6f}" if "cosine" in m else "–", f"{m['top1']:.2f}" if "top1" in m else "–"]
        tol = (f"{t['atol']:g}, {t['rtol']:g}, {t['min_cosine']:g}, {t['min_top1']:g}" if t else "–")
        result = r["reason"] or r["status"]
        lines.append("| " + " | ".join([r["config"], r["precision"], r["candidate"], r["reference"], r["output"],
                                        *cells, tol, result]) + " |")
    return "\n".join(lines) + "\n"
