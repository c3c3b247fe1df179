"""The entropy threshold against an independent, loop-based transcription of TensorRT's published algorithm
(GTC 2017 S7310, "8-bit Inference with TensorRT", as quoted in the NVIDIA forum thread on KL calibration),
and what ONNX Runtime's "Entropy" calibrator returns on the same data."""

from __future__ import annotations

import math

import numpy as np
import pytest
from trtforge.calib.histogram import BINS, AbsHistogram, amax_entropy, amax_percentile, entropy_bin


def reference_threshold_bin(bins: list[float]) -> int:
    """GTC 2017 pseudo-code, line by line, with plain Python loops (independent of the vectorised version),
    after pytorch-quantization's zero-bin damping (``bins[0] = bins[1]``)::

        for i in range(128, len(bins) + 1):
            reference_distribution_P = [bins[0], ..., bins[i-1]]
            outliers_count = sum(bins[i], ..., bins[2047]); P[i-1] += outliers_count; P /= sum(P)
            candidate_distribution_Q = quantize [bins[0], ..., bins[i-1]] into 128 levels
            expand Q to i bins (a level's count is spread evenly over its non-empty bins); Q /= sum(Q)
            divergence[i] = KL_divergence(P, Q)
        m = argmin(divergence); threshold = (m + 0.5) * bin_width
    """
    bins = [bins[1], *bins[1:]]
    best_i, best = -1, math.inf
    for i in range(128, len(bins) + 1):
        p = list(bins[:i])
        p[i - 1] += sum(bins[i:])
        total_p = sum(p)
        p = [v / total_p for v in p]
        merged_per_level = i / 128.0
        q = [0.0] * i
        for level in range(128):
            start = math.ceil(level * merged_per_level - 1e-9)
            stop = math.ceil((level + 1) * merged_per_level - 1e-9)
            members = range(start, min(stop, i))
            level_sum = sum(bins[j] for j in members)
            non_empty = [j for j in members if bins[j] != 0]
            for j in non_empty:
                q[j] = level_sum / len(non_empty)
        total_q = sum(q)
        q = [v / total_q for v in q] if total_q else q
        kl = 0.0
        for pj, qj in zip(p, q, strict=True):
            if pj == 0:
                continue
            if qj == 0:
                kl = math.inf
                break
            kl += pj * math.log(pj / qj)
        if kl < best:
            best_i, best = i, kl
    return best_i


def _samples(kind: str, rng: np.random.Generator, n: int = 200_000) -> np.ndarray:
    if kind == "gaussian":
        return rng.normal(0.0, 1.0, n)
    if kind == "laplacian":
        return rng.laplace(0.0, 1.0, n)
    if kind == "uniform":
        return rng.uniform(-2.0, 2.0, n)
    if kind == "bimodal":
        return np.concatenate([rng.normal(-3.0, 0.5, n // 2), rng.normal(3.0, 0.5, n // 2)])
    if kind == "heavy_tailed":
        return rng.standard_t(2.0, n)
    raise AssertionError(kind)


def _histogram(values: np.ndarray) -> AbsHistogram:
    hist = AbsHistogram(limit=float(np.abs(values).max()))
    for chunk in np.array_split(values, 7):  # accumulated batch by batch
        hist.add(chunk)
    return hist


@pytest.mark.parametrize("kind", ["gaussian", "laplacian", "uniform", "bimodal", "heavy_tailed"])
def test_entropy_threshold_matches_reference_within_one_bin(kind: str) -> None:
    hist = _histogram(_samples(kind, np.random.default_rng(7)))
    reference_bin = reference_threshold_bin([float(c) for c in hist.counts])
    reference_amax = (reference_bin + 0.5) * hist.bin_width
    assert abs(amax_entropy(hist) - reference_amax) <= hist.bin_width
    damped = hist.counts.copy()
    damped[0] = damped[1]
    assert abs(entropy_bin(damped) - reference_bin) <= 1


def test_relu_outputs_are_not_clipped_by_the_spike_of_zeros() -> None:
    """Half the values of a ReLU output are exactly 0; the damped zero bin keeps the threshold near the tail."""
    values = np.maximum(_samples("gaussian", np.random.default_rng(5)), 0.0)
    hist = _histogram(values)
    assert amax_entropy(hist) > 0.8 * hist.limit
    undamped = (entropy_bin(hist.counts) + 0.5) * hist.bin_width
    assert undamped < 0.7 * hist.limit  # the plain GTC search would clip it hard


def test_entropy_clips_outliers_but_not_uniform_data() -> None:
    rng = np.random.default_rng(3)
    heavy = _histogram(_samples("heavy_tailed", rng))
    assert amax_entropy(heavy) < 0.5 * heavy.limit  # a long tail is clipped
    uniform = _histogram(_samples("uniform", rng))
    assert amax_entropy(uniform) > 0.9 * uniform.limit  # nothing to clip


def test_histogram_is_abs_and_fixed_size() -> None:
    hist = AbsHistogram(limit=4.0)
    hist.add(np.array([-4.0, -1.0, 1.0, 3.999]))
    assert hist.counts.shape == (BINS,)
    assert hist.counts.sum() == 4
    assert hist.counts[BINS // 4] == 2  # -1 and 1 land in the same |x| bin
    assert hist.counts[-1] == 2


def test_percentile_is_the_cumulative_edge() -> None:
    hist = AbsHistogram(limit=1.0)
    hist.add(np.linspace(0.0, 1.0, 10_001))
    assert amax_percentile(hist, 50.0) == pytest.approx(0.5, abs=2 / BINS)
    assert amax_percentile(hist, 100.0) == pytest.approx(1.0)


def test_onnxruntime_entropy_is_plain_min_max(tmp_path) -> None:
    """ORT's "Entropy" calibrator with its defaults (128 bins, 128 quantized bins) has one candidate, so it
    returns the observed min/max: not TensorRT's clipped threshold (documented, not hidden)."""
    import onnx
    from onnx import TensorProto, helper
    from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, create_calibrator

    graph = helper.make_graph([helper.make_node("Add", ["x", "zero"], ["y"])], "add0",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4096])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4096])],
                              [helper.make_tensor("zero", TensorProto.FLOAT, [1], [0.0])])
    model_path = tmp_path / "add.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(model_path))
    data = _samples("gaussian", np.random.default_rng(11), 8 * 4096).astype(np.float32).reshape(8, 1, 4096)

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.items = iter([{"x": batch} for batch in data])

        def get_next(self):
            return next(self.items, None)

    calibrator = create_calibrator(model_path, ["Add"], augmented_model_path=str(tmp_path / "aug.onnx"),
                                   calibrate_method=CalibrationMethod.Entropy)
    calibrator.collect_data(Reader())
    low, high = (float(v) for v in calibrator.compute_data()["y"].range_value)
    assert low == pytest.approx(float(data.min()), rel=1e-5)
    assert high == pytest.approx(float(data.max()), rel=1e-5)
    ours = amax_entropy(_histogram(data.ravel()))
    assert ours < 0.95 * max(abs(low), abs(high))  # TensorRT's entropy clips; ORT's does not


def _one_pass(chunks: list[np.ndarray]):
    from trtforge.calib.histogram import GrowingHistogram

    hist = GrowingHistogram()
    for chunk in chunks:
        hist.add(chunk.astype(np.float32))
    return hist


def _two_pass(chunks: list[np.ndarray], *, relu: bool = False) -> AbsHistogram:
    """The two-pass method: max|x| over every chunk first, then a fixed-range histogram over [0, max]."""
    values = [np.maximum(c, 0.0) if relu else c for c in chunks]
    hist = AbsHistogram(limit=max(float(np.abs(v).max()) for v in values))
    for chunk in values:
        hist.add(chunk.astype(np.float32))
    return hist


@pytest.mark.parametrize("order", ["shuffled", "growing"])
@pytest.mark.parametrize("kind", ["gaussian", "laplacian", "uniform", "bimodal", "heavy_tailed"])
def test_one_pass_thresholds_equal_the_two_pass_method_within_one_bin(kind: str, order: str) -> None:
    """The growing histogram (range doubled and bins merged as maxima arrive, resampled at the end) gives the
    two-pass thresholds within one bin, also when every chunk brings a new maximum ("growing": chunks of
    increasing |x|, the range widened many times)."""
    values = _samples(kind, np.random.default_rng(7))
    if order == "growing":
        values = values[np.argsort(np.abs(values), kind="stable")]
    chunks = np.array_split(values, 7)
    one, two = _one_pass(chunks), _two_pass(chunks)
    final = one.to_abs()
    assert final.limit == pytest.approx(two.limit, rel=1e-6) and final.counts.sum() == two.counts.sum()
    assert abs(amax_entropy(final) - amax_entropy(two)) <= two.bin_width
    assert abs(amax_percentile(final, 99.99) - amax_percentile(two, 99.99)) <= two.bin_width
    relu_one, relu_two = one.to_abs(relu=True), _two_pass(chunks, relu=True)  # a ReLU output, never fetched
    assert relu_one.limit == pytest.approx(relu_two.limit, rel=1e-6)
    assert abs(amax_entropy(relu_one) - amax_entropy(relu_two)) <= relu_two.bin_width


def test_widening_merges_bins_exactly_and_keeps_memory_fixed() -> None:
    from trtforge.calib.histogram import GrowingHistogram

    hist = GrowingHistogram(fine=16)
    hist.add(np.array([0.0, 0.0]))  # zeros only: no range yet
    hist.add(np.array([-1.0, 0.5, 1.0]))
    size = hist.counts.size
    hist.add(np.array([3.0, -0.25]))  # range 1 -> 4: bins merged four to one
    assert hist.limit == 4.0 and hist.counts.size == size and hist.counts.sum() == 7
    assert (hist.low, hist.high) == (-1.0, 3.0)
    final = hist.to_abs()
    assert final.limit == 3.0 and final.counts.sum() == 7
    assert final.counts[0] == 2  # the two zeros
    assert final.counts[-1] == 1  # 3.0 itself, exact


def test_non_finite_activations_are_one_clear_error() -> None:
    from trtforge.calib.histogram import GrowingHistogram

    from trtforge.errors import TrtforgeError

    with pytest.raises(TrtforgeError, match=r"finite activations in 'conv1'.*NaN or Inf"):
        GrowingHistogram().add(np.array([1.0, np.nan]), name="conv1")


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_compiled_binning_equals_its_python_reference_and_numpy(dtype: type) -> None:
    """The numba loop gives the counts and tail values of the same function run as plain Python, and of numpy's
    float32 multiply, add, truncate and ``add.at``: bit for bit, spans and scales of every kind."""
    from trtforge.calib.histogram import _binning, bin_and_collect

    rng = np.random.default_rng(11)
    fine = 64
    for trial in range(12):
        part = (rng.standard_normal(3000) * rng.uniform(1e-3, 1e3)).astype(np.float32)
        if trial % 3 == 0:
            part = np.maximum(part, 0)
        limit = float(np.abs(part).max()) * float(rng.choice([1.0, 2.0, 8.0]))
        scale, offset = np.float32(fine / limit), np.float32(fine)
        first, last = (2 * fine + 1, -1) if trial == 0 else sorted(int(v) for v in rng.integers(0, 2 * fine + 1, 2))
        start = rng.integers(0, 10, 2 * fine + 1).astype(dtype)
        got, want = start.copy(), start.copy()
        tail, want_tail = np.empty(part.size, np.float32), np.empty(part.size, np.float32)
        found = _binning()(part, scale, offset, got, first, last, tail)
        want_found = bin_and_collect(part, scale, offset, want, first, last, want_tail)
        assert np.array_equal(got, want) and found == want_found
        assert np.array_equal(tail[:found], want_tail[:want_found])
        index = (np.multiply(part, scale, dtype=np.float32) + offset).astype(np.intp)
        by_numpy = start.copy()
        np.add.at(by_numpy, index, 1)
        assert np.array_equal(got, by_numpy)
        assert np.array_equal(tail[:found], part[(index < first) | (index > last)])


def test_counts_become_int64_before_they_could_overflow() -> None:
    from trtforge.calib.histogram import GrowingHistogram

    hist = GrowingHistogram(fine=16)
    hist.add(np.array([1.0, -0.5], np.float32))
    assert hist.counts.dtype == np.int32
    hist.total = int(np.iinfo(np.int32).max) - 1  # as if 2**31 values had been binned
    hist.add(np.array([0.25, 0.75], np.float32))
    assert hist.counts.dtype == np.int64 and hist.counts.sum() == 4


def test_a_range_that_jumps_past_fine_times_the_old_one_keeps_every_value() -> None:
    """A batch whose max|x| is more than ``fine`` times the range so far: merged until it fits (it used to
    index past the counts)."""
    from trtforge.calib.histogram import GrowingHistogram

    hist = GrowingHistogram(fine=16)
    hist.add(np.array([1.0, -1.0], np.float32))
    hist.add(np.array([1e6, 3.0], np.float32))
    assert hist.limit >= 1e6 and hist.counts.sum() == 4
    final = hist.to_abs()
    assert final.limit == 1e6 and final.counts.sum() == 4 and final.counts[-1] == 1


def test_binning_compiles_without_a_writable_cache_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    """numba refuses ``cache=True`` when it finds no folder to write to (a read-only install): the loop is then
    compiled in memory."""
    import numba
    from trtforge.calib import histogram

    real = numba.njit

    def njit(**options: object):
        if options.get("cache"):
            raise RuntimeError("cannot cache function 'bin_and_collect': no locator available")
        return real(**options)

    monkeypatch.setattr(numba, "njit", njit)
    monkeypatch.setattr(histogram, "_COMPILED", [])
    hist = histogram.GrowingHistogram(fine=16)
    hist.add(np.array([0.5, -1.0, 0.25], np.float32))
    assert hist.counts.sum() == 3 and histogram._COMPILED
