"""INT8 ranges from data: the ONNX model run in ONNX Runtime (CPU) with every activation exposed.

One streamed pass over the calibration batches. ONNX Runtime runs a calibration copy of the model whose batch
dimension is symbolic (``calibration_copy``), so that several of the config's batches go through at once while
the engine keeps its static batch; the copy is checked against per-batch runs before it is trusted, and a model
whose batch is baked into its graph is run one batch at a time instead. Each activation feeds a
``GrowingHistogram`` (range widened and bins merged as larger values arrive), from which max|x| and the 2048-bin
|x| histograms of ``entropy`` and ``percentile`` come; a ReLU's output is derived from its input's histogram
instead of being fetched. Only one chunk of activations and the fixed-size histograms live in memory. The
held-out batches go through the same session for the graph outputs the accuracy preview compares against.

``ranges.json`` is version-neutral: tensor -> amax, with the method, its parameters, the data manifest hash and
the ONNX hash. DLA's equal-range rules (pooling in = out, element-wise inputs equal, concat inputs = output) are
applied on request by taking the largest amax of each group.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from trtforge.calib.histogram import (
    BINS,
    LEVELS,
    MIN_AMAX,
    OVERSAMPLE,
    AbsHistogram,
    GrowingHistogram,
    amax_entropy,
    amax_percentile,
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


def with_inferred_shapes(model: Any) -> Any:
    """``model`` itself when every node output already has a type and shape (the export's are kept in
    ``tagged.onnx``), else a shape-inferred copy (0.3 s for resnet18)."""
    import onnx

    typed = {v.name for v in [*model.graph.value_info, *model.graph.input, *model.graph.output]
             if v.type.tensor_type.elem_type and v.type.tensor_type.HasField("shape")}
    if all(o in typed for node in model.graph.node for o in node.output if o):
        return model
    return onnx.shape_inference.infer_shapes(model)


def tensors_to_calibrate(model: Any) -> list[str]:
    """Every floating-point tensor TensorRT needs a scale for: graph inputs and node outputs (not weights,
    not constants, not shape arithmetic), in graph order."""
    inferred = with_inferred_shapes(model)
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

CHUNK_BYTES = 256 << 20  # activations of one ONNX Runtime run at most (the memory that does not grow)
CHUNK_SAMPLES = 32  # samples per run at most
HISTOGRAM_THREADS = 0  # threads updating histograms (0: one per CPU)
Batch = dict[str, np.ndarray]


@dataclass
class Statistics:
    """What the pass collected: max|x| and |x| histograms per tensor, and the graph outputs of the held-out
    batches (the accuracy preview's FP32 reference)."""

    maxima: dict[str, float]
    histograms: dict[str, AbsHistogram]
    batches: int
    references: list[dict[str, np.ndarray]] = field(default_factory=list)
    samples_per_run: int = 0


def relu_inputs(model: Any, names: list[str]) -> dict[str, str]:
    """ReLU output -> its input, for ReLUs whose input is calibrated too: the output's histogram is the input's
    with the negative half in bin 0, so the output is never fetched."""
    wanted = set(names)
    return {node.output[0]: node.input[0] for node in model.graph.node
            if node.op_type == "Relu" and node.output[0] in wanted and node.input[0] in wanted}


def calibration_copy(model: Any, fetch: list[str], batch: int) -> Any:
    """The model with ``fetch`` exposed as outputs and its batch dimension symbolic: graph inputs and outputs get
    ``N`` for dimension 0, inferred shapes are dropped, and a constant Reshape target whose first entry is the
    static ``batch`` gets -1 there (torch's ``flatten(x, 1)`` exports as ``Reshape(x, [batch, -1...])``)."""
    import onnx
    from onnx import numpy_helper

    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    graph = copy.graph
    weights = {init.name for init in graph.initializer}
    for value in [*graph.input, *graph.output]:
        dims = value.type.tensor_type.shape.dim
        if value.name not in weights and len(dims) and dims[0].dim_value == batch:
            dims[0].dim_param = "N"
    del graph.value_info[:]
    shapes = {init.name: init for init in graph.initializer}
    for node in graph.node:
        if node.op_type == "Reshape" and len(node.input) > 1 and node.input[1] in shapes:
            target = numpy_helper.to_array(shapes[node.input[1]]).copy()
            if target.ndim == 1 and target.size and target[0] == batch and -1 not in target[1:]:
                target[0] = -1
                shapes[node.input[1]].CopyFrom(numpy_helper.from_array(target, node.input[1]))
    present = {o.name for o in graph.output}
    graph.output.extend(onnx.ValueInfoProto(name=n) for n in fetch if n not in present)
    return copy


def _session(model: Any) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL  # exposed tensors keep names
    options.log_severity_level = 3
    # ONNX Runtime's idle intra-op threads spin by default: after each run they would take the cores from the
    # histogram threads (``statistics_from_source``; 64 resnet18 images: 7.4 s -> 6.4 s). Documented in ORT's
    # onnxruntime_session_options_config_keys.h ("session.intra_op.allow_spinning").
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def samples_per_run(model: Any, names: list[str], batch: int) -> int:
    """How many samples one run takes: ``CHUNK_SAMPLES`` at most, and about ``CHUNK_BYTES`` of activations."""
    inferred = with_inferred_shapes(model)
    sizes = {}
    for value in [*inferred.graph.value_info, *inferred.graph.output, *inferred.graph.input]:
        dims = [d.dim_value for d in value.type.tensor_type.shape.dim]
        sizes[value.name] = int(np.prod(dims)) if dims and all(dims) else None
    known = [sizes.get(n) for n in names]
    if any(size is None for size in known):
        return batch
    per_sample = 4 * sum(size or 0 for size in known) / batch
    fit = int(CHUNK_BYTES // max(per_sample, 1.0))
    return max(batch, min(CHUNK_SAMPLES, fit) // batch * batch)


def _concat(batches: list[Batch]) -> Batch:
    return {name: np.concatenate([b[name] for b in batches]) for name in batches[0]}


def _chunks(batches: Iterable[Batch], per_run: int, batch: int) -> Iterable[tuple[Batch, int]]:
    """The batches joined ``per_run // batch`` at a time: (joined batch, how many were joined)."""
    group: list[Batch] = []
    for item in batches:
        group.append(item)
        if len(group) * batch >= per_run:
            yield _concat(group), len(group)
            group = []
    if group:
        yield _concat(group), len(group)


def batched_session(model: Any, fetch: list[str], source: DataSource) -> tuple[Any, int]:
    """(session, samples per run): the calibration copy when several batches per run are worth it and it gives
    the per-batch results on the first two batches; else the model itself, one batch per run."""
    batch = source.batch_size
    per_run = samples_per_run(model, fetch, batch)
    if per_run > batch and source.calibration > 1:
        try:
            session = _session(calibration_copy(model, fetch, batch))
            first = list(itertools.islice(source.batches(), 2))
            joined = session.run(fetch, _concat(first))
            for index, single in enumerate(first):
                for got, want in zip(joined, session.run(fetch, single), strict=True):
                    rows = got[index * batch:(index + 1) * batch]
                    if rows.shape != want.shape or not np.allclose(rows, want, rtol=1e-3, atol=1e-4):
                        raise ValueError("batched rows differ from per-batch results")
            return session, per_run
        except Exception as err:  # ONNX Runtime raises several types; all mean "this graph cannot be batched"
            logger.info("calib: %s cannot run several batches at once (%s): one batch per run", source.config.name,
                        str(err).splitlines()[0][:160])
    return _session(calibration_copy(model, fetch, -1)), batch


def _add_all(pool: ThreadPoolExecutor, hists: dict[str, GrowingHistogram], fetch: list[str],
             values: list[np.ndarray]) -> None:
    """One run's histogram updates, one task per tensor (numpy releases the GIL in most of ``add``); a task's
    error (non-finite activations) is raised here."""
    tasks = [pool.submit(hists[name].add, value, name=name) for name, value in zip(fetch, values, strict=True)]
    try:
        for task in tasks:
            task.result()
    finally:
        for task in tasks:
            task.cancel()


def statistics_from_source(model: Any, names: list[str], source: DataSource) -> Statistics:
    """One pass over the calibration batches (histograms of every tensor) and the held-out ones (outputs).

    Each run's histograms are updated in a thread pool, done before the next run starts: overlapping them with
    the next inference measured no faster on 2 cores and holds two runs' activations (about 250 MiB more)."""
    derived = relu_inputs(model, names)
    fetch = [n for n in names if n not in derived]
    outputs = [o.name for o in model.graph.output]
    session, per_run = batched_session(model, fetch, source)
    hists = {name: GrowingHistogram() for name in fetch}
    seen = 0
    runs = -(-source.calibration * source.batch_size // per_run)
    with ThreadPoolExecutor(max_workers=HISTOGRAM_THREADS or os.cpu_count() or 1) as pool:
        for joined, count in progress(_chunks(source.batches(), per_run, source.batch_size), desc="calibration",
                                      total=runs):
            seen += count
            _add_all(pool, hists, fetch, session.run(fetch, joined))
    if seen == 0:
        raise TrtforgeError.of("at least one calibration batch", found=0, fix="set [calibration] batches >= 1")
    references = [dict(zip(outputs, session.run(outputs, b), strict=True)) for b in source.batches("holdout")]
    final = {name: hists[name].to_abs() for name in fetch}
    final.update({out: hists[src].to_abs(relu=True) for out, src in derived.items()})
    maxima = {name: final[name].limit for name in names}
    return Statistics(maxima=maxima, histograms=final, batches=seen, references=references, samples_per_run=per_run)


def amax_from_statistics(stats: Statistics, method: str, percentile: float) -> dict[str, float]:
    if method == "max":
        return {n: max(v, MIN_AMAX) for n, v in stats.maxima.items()}
    if method == "entropy":  # the KL searches are independent and numpy releases the GIL in them
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            return dict(zip(stats.histograms, pool.map(amax_entropy, stats.histograms.values()), strict=True))
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
    return ranges_and_statistics(onnx_path, source, data_sha256, percentile=percentile, dla_equal=dla_equal)[0]


def ranges_and_statistics(onnx_path: Path, source: DataSource, data_sha256: str, *, percentile: float,
                          dla_equal: bool) -> tuple[dict[str, Ranges], Statistics]:
    """Ranges of every method and the pass's statistics (with the held-out batches' FP32 outputs)."""
    import onnx

    model = with_inferred_shapes(onnx.load(str(onnx_path)))  # once: the calls below find it typed
    names = tensors_to_calibrate(model)
    stats = statistics_from_source(model, names, source)
    logger.info("calib: %d tensors calibrated in one pass over %d batches of %d (%d samples per run)", len(names),
                stats.batches, source.batch_size, stats.samples_per_run)
    groups = equal_range_groups(model) if dla_equal else []
    onnx_sha = sha256_file(onnx_path)
    result = {}
    for method in METHODS:
        amax = amax_from_statistics(stats, method, percentile)
        params: dict[str, Any] = {"batches": stats.batches, "batch_size": source.batch_size,
                                  "dla_equal_ranges": dla_equal}
        if method != "max":
            params.update(bins=BINS, histogram="abs", range="[0, max|x|]",
                          collection=f"one pass: growing signed histogram, {OVERSAMPLE}x finer, resampled")
        if method == "entropy":
            params.update(levels=LEVELS, threshold="(i + 0.5) * bin_width", zero_bin="bins[0] = bins[1]")
        if method == "percentile":
            params.update(percentile=percentile)
        result[method] = Ranges(amax=equalize_ranges(amax, groups) if groups else amax, method=method,
                                onnx_sha256=onnx_sha, data_sha256=data_sha256, synthetic=source.synthetic,
                                params=params)
    return result, stats


def ranges_from_data(onnx_path: Path, config: Config, *, method: str | None = None) -> Ranges:
    """The config's INT8 ranges for ``onnx_path`` (``method`` overrides ``config.calibration.method``)."""
    from trtforge.calib.data import manifest_from_source, manifest_hash, source_from_config

    source = source_from_config(config)
    data_sha = manifest_hash(manifest_from_source(source))
    cal = config.calibration
    dla_equal = bool(cal.dla_equal_ranges and config.uses_dla)
    return ranges_by_method(Path(onnx_path), source, data_sha, percentile=cal.percentile,
                            dla_equal=dla_equal)[method or cal.method]
