"""INT8 ranges from data: the ONNX model run in ONNX Runtime (CPU) with every activation exposed.

Two streamed passes over the calibration batches: the first finds max|x| per tensor (the ``max`` method, and
the histogram range), the second accumulates 2048-bin |x| histograms over exactly that range (``entropy`` and
``percentile``). Only the per-batch activations and the fixed-size histograms live in memory.

``ranges.json`` is version-neutral: tensor -> amax, with the method, its parameters, the data manifest hash and
the ONNX hash. DLA's equal-range rules (pooling in = out, element-wise inputs equal, concat inputs = output) are
applied on request by taking the largest amax of each group.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from trtforge.calib.histogram import (
    BINS,
    LEVELS,
    MIN_AMAX,
    AbsHistogram,
    amax_entropy,
    amax_percentile,
    max_abs,
)

from trtforge.artifacts import read_json, sha256_file
from trtforge.errors import TrtforgeError
from trtforge.log import logger, progress

if TYPE_CHECKING:
    from trtforge.calib.data import DataSource

    from trtforge.config import Config

RANGES_FORMAT = 1
METHODS = ("entropy", "max", "percentile")
_FLOAT_TYPES = (1, 10, 16)  # onnx.TensorProto FLOAT, FLOAT16, BFLOAT16
_POOLS = ("MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool")
_ELEMENTWISE = ("Add", "Sub", "Mul", "Max", "Min")


@dataclass(frozen=True)
class Ranges:
    """amax per tensor (symmetric: the range is [-amax, amax]) and where it came from."""

    amax: dict[str, float]
    method: str
    onnx_sha256: str
    data_sha256: str
    synthetic: bool
    params: dict[str, Any] = field(default_factory=dict)  # bins, levels, percentile, batches, dla rules

    def to_json(self) -> dict[str, Any]:
        record: dict[str, Any] = {"format": RANGES_FORMAT, "method": self.method, "onnx_sha256": self.onnx_sha256,
                                  "data_sha256": self.data_sha256, "synthetic_data": self.synthetic,
                                  "params": self.params, "tensors": self.amax}
        if self.synthetic:
            from trtforge.calib.data import SYNTHETIC_WARNING

            record["warning"] = SYNTHETIC_WARNING
        return record

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Ranges:
        if data.get("format") != RANGES_FORMAT:
            raise TrtforgeError.of(f"ranges.json format {RANGES_FORMAT}", found=data.get("format"),
                                   fix="run `trtforge calib --force`")
        return cls(amax={k: float(v) for k, v in data["tensors"].items()}, method=str(data["method"]),
                   onnx_sha256=str(data["onnx_sha256"]), data_sha256=str(data["data_sha256"]),
                   synthetic=bool(data["synthetic_data"]), params=dict(data.get("params", {})))


def read_ranges(path: Path) -> Ranges:
    return Ranges.from_json(read_json(path, what="INT8 ranges"))


# ---------------------------------------------------------------------------------------------- which tensors


def tensors_to_calibrate(model: Any) -> list[str]:
    """Every floating-point tensor TensorRT needs a scale for: graph inputs and node outputs (not weights,
    not constants, not shape arithmetic), in graph order."""
    import onnx

    inferred = onnx.shape_inference.infer_shapes(model)
    types = {v.name: v.type.tensor_type.elem_type
             for v in [*inferred.graph.value_info, *inferred.graph.input, *inferred.graph.output]}
    weights = {init.name for init in model.graph.initializer}
    names = [i.name for i in model.graph.input if i.name not in weights]
    for node in model.graph.node:
        if node.op_type in ("Constant", "Shape", "ConstantOfShape"):
            continue
        names += [o for o in node.output if o and o not in weights]
    return [n for n in dict.fromkeys(names) if types.get(n) in _FLOAT_TYPES]


def session_with_tensors(model: Any, names: list[str]) -> Any:
    """An ONNX Runtime CPU session whose outputs are ``names`` (graph optimisations off: names stay ONNX's)."""
    import onnx
    import onnxruntime as ort

    exposed = onnx.ModelProto()
    exposed.CopyFrom(model)
    present = {o.name for o in exposed.graph.output}
    for name in names:
        if name not in present:
            exposed.graph.output.append(onnx.ValueInfoProto(name=name))
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.log_severity_level = 3
    return ort.InferenceSession(exposed.SerializeToString(), options, providers=["CPUExecutionProvider"])


# ---------------------------------------------------------------------------------------------- collection


@dataclass
class Statistics:
    """What the two passes collected: max|x| and |x| histograms per tensor."""

    maxima: dict[str, float]
    histograms: dict[str, AbsHistogram]
    batches: int


def statistics_from_batches(session: Any, names: list[str], batches: Callable[[], Iterable[dict[str, np.ndarray]]],
                            count: int, *, histograms: bool = True) -> Statistics:
    """Stream ``batches`` (a callable returning a fresh iterator) through the session once or twice."""
    maxima = dict.fromkeys(names, 0.0)
    for outputs in _runs(session, names, batches(), count, "calibration pass 1/2 (max)" if histograms else
                         "calibration (max)"):
        for name, value in zip(names, outputs, strict=True):
            maxima[name] = max(maxima[name], max_abs(value))
    hists = {name: AbsHistogram(limit=maxima[name]) for name in names} if histograms else {}
    if histograms:
        for outputs in _runs(session, names, batches(), count, "calibration pass 2/2 (histograms)"):
            for name, value in zip(names, outputs, strict=True):
                hists[name].add(value)
    return Statistics(maxima=maxima, histograms=hists, batches=count)


def _runs(session: Any, names: list[str], batches: Iterable[dict[str, np.ndarray]], count: int,
          desc: str) -> Iterable[list[np.ndarray]]:
    seen = 0
    for batch in progress(batches, desc=desc, total=count):
        seen += 1
        yield session.run(names, batch)
    if seen == 0:
        raise TrtforgeError.of("at least one calibration batch", found=0, fix="set [calibration] batches >= 1")


def amax_from_statistics(stats: Statistics, method: str, percentile: float) -> dict[str, float]:
    if method == "max":
        return {n: max(v, MIN_AMAX) for n, v in stats.maxima.items()}
    if method == "entropy":
        return {n: amax_entropy(h) for n, h in stats.histograms.items()}
    if method == "percentile":
        return {n: amax_percentile(h, percentile) for n, h in stats.histograms.items()}
    raise TrtforgeError.of(f"a calibration method among {', '.join(METHODS)}", found=method)


# ---------------------------------------------------------------------------------------------- DLA rules


def equal_range_groups(model: Any) -> list[set[str]]:
    """Tensors DLA needs to share one range: pooling in/out, element-wise inputs, concat inputs and output."""
    weights = {init.name for init in model.graph.initializer}
    groups = []
    for node in model.graph.node:
        ins = [i for i in node.input if i and i not in weights]
        if node.op_type in _POOLS:
            groups.append({*ins[:1], *node.output[:1]})
        elif node.op_type in _ELEMENTWISE and len(ins) == 2:
            groups.append(set(ins))
        elif node.op_type == "Concat":
            groups.append({*ins, *node.output})
    return [g for g in groups if len(g) > 1]


def equalize_ranges(amax: Mapping[str, float], groups: Iterable[set[str]]) -> dict[str, float]:
    """The largest amax of each (transitively merged) group, given to all its members."""
    parent = {name: name for name in amax}

    def root(name: str) -> str:
        while parent[name] != name:
            parent[name] = parent[parent[name]]
            name = parent[name]
        return name

    for group in groups:
        members = [m for m in group if m in parent]
        for other in members[1:]:
            parent[root(other)] = root(members[0])
    best: dict[str, float] = {}
    for name, value in amax.items():
        best[root(name)] = max(best.get(root(name), 0.0), value)
    return {name: best[root(name)] for name in amax}


# ---------------------------------------------------------------------------------------------- the step


def ranges_by_method(onnx_path: Path, source: DataSource, data_sha256: str, *, percentile: float,
                     dla_equal: bool) -> dict[str, Ranges]:
    """Ranges of every method from one collection (the preview compares them; one is the config's)."""
    import onnx

    model = onnx.load(str(onnx_path))
    names = tensors_to_calibrate(model)
    logger.info("calib: %d tensors to calibrate over %d batches of %d", len(names), source.calibration,
                source.batch_size)
    session = session_with_tensors(model, names)
    stats = statistics_from_batches(session, names, source.batches, source.calibration)
    groups = equal_range_groups(model) if dla_equal else []
    onnx_sha = sha256_file(onnx_path)
    result = {}
    for method in METHODS:
        amax = amax_from_statistics(stats, method, percentile)
        params: dict[str, Any] = {"batches": stats.batches, "batch_size": source.batch_size,
                                  "dla_equal_ranges": dla_equal}
        if method != "max":
            params.update(bins=BINS, histogram="abs", range="[0, max|x|]")
        if method == "entropy":
            params.update(levels=LEVELS, threshold="(i + 0.5) * bin_width", zero_bin="bins[0] = bins[1]")
        if method == "percentile":
            params.update(percentile=percentile)
        result[method] = Ranges(amax=equalize_ranges(amax, groups) if groups else amax, method=method,
                                onnx_sha256=onnx_sha, data_sha256=data_sha256, synthetic=source.synthetic,
                                params=params)
    return result


def ranges_from_data(onnx_path: Path, config: Config, *, method: str | None = None) -> Ranges:
    """The config's INT8 ranges for ``onnx_path`` (``method`` overrides ``config.calibration.method``)."""
    from trtforge.calib.data import manifest_from_source, manifest_hash, source_from_config

    source = source_from_config(config)
    data_sha = manifest_hash(manifest_from_source(source))
    cal = config.calibration
    dla_equal = bool(cal.dla_equal_ranges and config.uses_dla)
    return ranges_by_method(Path(onnx_path), source, data_sha, percentile=cal.percentile,
                            dla_equal=dla_equal)[method or cal.method]
