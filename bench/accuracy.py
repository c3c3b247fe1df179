"""Accuracy: polygraphy's Comparator between references and candidates on the same inputs.

References: ONNX Runtime on the tagged FP32 ONNX, and the PyTorch FP32 model. Candidates: ONNX Runtime on the
typed ONNX of each config (FP16-typed, Q/DQ), and the TensorRT engine where TensorRT can run it. Each
candidate is checked per output against its precision's tolerances (``config.tolerances``): polygraphy's
element-wise ``|c - r| <= atol + rtol * |r|``, the minimum cosine similarity over samples, and, for
classifier outputs (2-D logits: batch, classes), top-1 agreement. A reference output that cannot tell a good
candidate from a bad one (constant, or the same for every input: random-weight ViT logits are all zero,
GoogLeNet's ignore the input) makes the row INCONCLUSIVE, with the reason, instead of PASS or FAIL.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from trtforge.config import Config
from trtforge.errors import TrtforgeError

RESULT_FORMAT = "trtforge.bench.compare/1"
NEGLIGIBLE = 1e-3  # a reference whose largest value is below NEGLIGIBLE * atol cannot judge a candidate
Feeds = list[dict[str, Any]]


@dataclass(frozen=True)
class Row:
    """One candidate output against one reference: metrics, tolerances, PASS / FAIL / INCONCLUSIVE /
    NOT MEASURED."""

    config: str
    precision: str
    candidate: str
    reference: str
    output: str
    status: str
    metrics: dict[str, float] = field(default_factory=dict)
    tolerance: dict[str, float] = field(default_factory=dict)
    reason: str = ""


def feeds_from_config(config: Config, *, data: str, samples: int | None = None) -> tuple[Feeds, str]:
    """Inputs for every runner: ``generated`` (seeded normal) or ``calibration`` (the held-out batches of the
    config's calibration data source). Returns the feeds and a description of them."""
    from trtforge.bench.workloads import inputs_from_config

    count = samples or config.compare.samples
    if data == "generated":
        feeds = [inputs_from_config(config, seed=config.seed + 1000 + i) for i in range(count)]
        return feeds, f"{count} generated batches (standard normal, seed {config.seed + 1000}+)"
    if data == "calibration":
        from trtforge.calib.data import source_from_config  # type: ignore[import-not-found]

        source = source_from_config(config)
        feeds = list(source.batches("holdout"))[:count]
        if not feeds:
            raise TrtforgeError.of("held-out calibration batches to compare on", found="none",
                                   fix="set [calibration] holdout_batches >= 1")
        return feeds, f"{len(feeds)} held-out batches of {source.kind} data ({source.path or 'synthetic'})"
    raise TrtforgeError.of("--data to be 'generated' or 'calibration'", found=data)


def outputs_from_runner(runner: Any, feeds: Feeds, names: Sequence[str]) -> list[dict[str, Any]]:
    """Run ``runner`` through polygraphy's Comparator; float32 outputs renamed to ``names`` by position."""
    import numpy as np
    from polygraphy.comparator import Comparator

    _quiet_polygraphy()
    results = Comparator.run([runner], data_loader=_cast_feeds(runner, feeds))
    outputs = []
    for iteration in results[0][1]:
        values = list(iteration.values())
        if len(values) != len(names):
            raise TrtforgeError.of(f"{len(names)} outputs ({', '.join(names)}) from {runner.name}",
                                   found=f"{len(values)}: {', '.join(map(str, iteration.keys()))}",
                                   fix="set `outputs` to one name per output of the model and export again")
        outputs.append({n: np.asarray(v, dtype=np.float32) for n, v in zip(names, values, strict=True)})
    return outputs


def _cast_feeds(runner: Any, feeds: Feeds) -> Feeds:
    """Each feed cast to the runner's input types (an FP16-typed ONNX takes float16), matched by position."""
    with runner:
        metadata = runner.get_input_metadata()
    cast: Feeds = []
    for feed in feeds:
        items = zip(metadata.items(), feed.values(), strict=True)
        cast.append(OrderedDict((name, value.astype(_numpy_dtype(meta.dtype))) for (name, meta), value in items))
    return cast


def _numpy_dtype(dtype: Any) -> Any:
    """A numpy dtype from polygraphy's ``DataType`` (or a numpy dtype already)."""
    from polygraphy.datatype import DataType

    return DataType.to_dtype(dtype, "numpy") if isinstance(dtype, DataType) else dtype


def metrics_from_outputs(reference: list[dict[str, Any]], candidate: list[dict[str, Any]], name: str
                         ) -> dict[str, float]:
    """Max and mean absolute / relative error, minimum cosine similarity, top-1 agreement (classifiers)."""
    import numpy as np

    ref = np.stack([r[name] for r in reference]).astype(np.float64)
    got = np.stack([c[name] for c in candidate]).astype(np.float64)
    if ref.shape != got.shape:
        raise TrtforgeError.of(f"output {name!r} of the candidate to have the reference's shape {ref.shape}",
                               found=got.shape)
    diff = np.abs(got - ref)
    rel = diff / np.maximum(np.abs(ref), 1e-6)
    flat_ref, flat_got = ref.reshape(ref.shape[0] * ref.shape[1], -1), got.reshape(got.shape[0] * got.shape[1], -1)
    norm_ref, norm_got = np.linalg.norm(flat_ref, axis=1), np.linalg.norm(flat_got, axis=1)
    both = (norm_ref > 0) & (norm_got > 0)  # float64: no floor needed even for outputs around 1e-30
    dots = np.sum(flat_ref * flat_got, axis=1)
    cosine = np.where(both, dots / np.where(both, norm_ref * norm_got, 1.0), (norm_ref == norm_got).astype(float))
    metrics = {"max_abs": float(diff.max()), "mean_abs": float(diff.mean()), "max_rel": float(rel.max()),
               "mean_rel": float(rel.mean()), "cosine": float(cosine.min())}
    if ref.ndim == 3 and ref.shape[-1] > 1:  # (samples, batch, classes): a classifier
        metrics["top1"] = float(np.mean(ref.argmax(-1) == got.argmax(-1)))
    return metrics


def polygraphy_passes(reference: list[dict[str, Any]], candidate: list[dict[str, Any]], *, atol: float,
                      rtol: float) -> dict[str, bool]:
    """Per output: polygraphy's element-wise check (``CompareFunc.simple``) passes on every sample."""
    from polygraphy import comparator
    from polygraphy.comparator import Comparator, RunResults

    simple = getattr(comparator, "SimpleCompareFunc", None) or comparator.CompareFunc.simple  # older polygraphy

    _quiet_polygraphy(failures_too=True)  # failures are the table's FAIL rows, with their metrics
    results = RunResults([("reference", reference), ("candidate", candidate)])
    accuracy = Comparator.compare_accuracy(results, compare_func=simple(atol=atol, rtol=rtol))
    per_output: dict[str, bool] = {}
    if not hasattr(accuracy, "items"):  # polygraphy >= 0.50: one AccuracyResult per compare function
        accuracy = accuracy[0]
    for _pair, iterations in accuracy.items():
        for iteration in iterations:
            for name, outcome in iteration.items():
                per_output[name] = per_output.get(name, True) and bool(outcome)
    return per_output


def rows_from_outputs(name: str, precision: str, candidate: str, reference: str, ref_out: list[dict[str, Any]],
                      got_out: list[dict[str, Any]], tol: dict[str, float]) -> list[Row]:
    """One row per output: PASS when polygraphy's element-wise check, cosine and top-1 all pass; INCONCLUSIVE
    (with the reason) when the reference output is degenerate (``degenerate_reason``)."""
    passes = polygraphy_passes(_iterations(ref_out), _iterations(got_out), atol=tol["atol"], rtol=tol["rtol"])
    rows = []
    for output in ref_out[0]:
        metrics = metrics_from_outputs(ref_out, got_out, output)
        ok = passes[output] and metrics["cosine"] >= tol["min_cosine"] and metrics.get("top1", 1.0) >= tol["min_top1"]
        why = degenerate_reason(ref_out, output, atol=tol["atol"])
        status, reason = ("INCONCLUSIVE", f"INCONCLUSIVE: {why}") if why else ("PASS" if ok else "FAIL", "")
        if status == "FAIL":
            reason = _non_finite_reason(ref_out, got_out, output, precision)
        rows.append(Row(name, precision, candidate, reference, output, status, metrics, dict(tol), reason=reason))
    return rows


def _non_finite_reason(reference: list[dict[str, Any]], candidate: list[dict[str, Any]], name: str,
                       precision: str) -> str:
    """``FAIL: ...`` when the candidate has NaN/Inf, naming float16's range when the reference exceeds it."""
    import numpy as np

    got = np.stack([c[name] for c in candidate])
    if np.all(np.isfinite(got)):
        return ""
    scale = float(np.max(np.abs(np.stack([r[name] for r in reference]))))
    fp16_overflow = precision == "fp16" and scale > 65504  # float16's largest finite value
    overflow = f" (float16 overflow: max |reference| {scale:.3g} > 65504)" if fp16_overflow else ""
    return f"FAIL: the candidate has {int(np.sum(~np.isfinite(got)))} NaN/Inf values{overflow}"


def degenerate_reason(reference: list[dict[str, Any]], name: str, *, atol: float = 0.0) -> str:
    """Why the reference output ``name`` cannot judge a candidate, or ``""``: it is not finite, constant (every
    value the same, e.g. all-zero logits), the same for every input (several different inputs, one output), or
    negligible (every value three orders of magnitude inside ``atol``: any candidate near zero passes the
    element-wise check; random-weight MobileNet logits are about 1e-9, SSDlite's backbone maps 1e-20)."""
    import numpy as np

    values = np.stack([r[name] for r in reference]).astype(np.float64)
    if values.size == 0:
        return "the reference output is empty"
    if not np.all(np.isfinite(values)):
        return f"the reference output has {int(np.sum(~np.isfinite(values)))} NaN/Inf values"
    scale = float(np.max(np.abs(values)))
    if float(np.ptp(values)) <= 1e-7 * max(scale, 1e-30):
        first = float(values.flat[0])
        return f"the reference output is constant (every value {first:.3g}): it cannot tell outputs apart"
    if len(values) >= 2 and float(np.max(np.abs(values - values[0]))) <= 1e-6 * scale:
        return (f"the reference output does not depend on the input (the same for {len(values)} different "
                "inputs): it cannot tell outputs apart")
    if scale <= NEGLIGIBLE * atol:
        return (f"the reference output is negligible (max |value| {scale:.3g}, atol {atol:g}): any output near "
                "zero would pass")
    return ""


def _quiet_polygraphy(*, failures_too: bool = False) -> None:
    """Polygraphy's per-iteration INFO lines would bury the table; keep its warnings and errors."""
    from polygraphy.logger import G_LOGGER

    G_LOGGER.module_severity = G_LOGGER.CRITICAL if failures_too else G_LOGGER.WARNING


def _iterations(outputs: list[dict[str, Any]]) -> list[Any]:
    from polygraphy.comparator import IterationResult

    return [IterationResult(outputs=OrderedDict(o), runtime=0.0, runner_name="") for o in outputs]


def fp32_config(config: Config) -> Config:
    """``config`` at FP32 with GPU placement: the reference's tolerances."""
    return dataclasses.replace(config, precision="fp32", default_device="GPU", device_types={})
