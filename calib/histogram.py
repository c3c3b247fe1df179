"""Streaming statistics of |x| per tensor and the thresholds computed from them (pure numpy, no ONNX).

TensorRT's entropy method (``IInt8EntropyCalibrator2``, GTC 2017 "8-bit Inference with TensorRT"):
a histogram of |x| with 2048 bins over [0, max|x|]; for every candidate i = 128 .. 2048 the reference
distribution P is bins[0:i] with everything beyond folded into bin i-1, the candidate Q is bins[0:i] merged into
128 quantization levels and spread back over the non-empty bins; the threshold minimising KL(P || Q) is
``(i + 0.5) * bin_width`` and the scale is ``threshold / 127``. TensorRT's code is closed; where the talk is
silent this follows NVIDIA's open pytorch-quantization: bin j belongs to level floor(j * 128 / i), and the zero
bin is damped to its neighbour's count before the search (``amax_entropy``).

One pass: ``GrowingHistogram`` widens its range as new maxima arrive, as NVIDIA pytorch-quantization's
``HistogramCalibrator.collect`` does (``pytorch_quantization/calib/histogram.py``: when a batch's max exceeds the
last bin edge the histogram grows, the counts so far kept, then the batch is binned). pytorch-quantization keeps
the bin width and appends bins (their number grows with the range); here the range doubles and adjacent bins
merge pairwise (exact: every old bin falls in one new bin), so memory stays fixed. The histogram is signed and
``OVERSAMPLE`` times finer than the final one, and its sparse tails keep their few values exactly; at the end it
is folded to |x| and resampled to exactly 2048 bins over [0, max|x|] (the published layout). The ReLU of a
tensor has the same histogram with the negative half moved into bin 0 (``to_abs(relu=True)``), so a ReLU's
output needs no look at its values. The two-pass
method (max first, then a fixed-range ``AbsHistogram``) gives the same thresholds within one bin
(``tests/calib/test_histogram.py``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from trtforge.errors import TrtforgeError

BINS = 2048
OVERSAMPLE = 64  # fine bins per final bin when the range is exact (8 and 32 miss the two-pass thresholds)
TAIL_COUNT = 8  # bins holding at most this many values (in the sparse tails) keep their values exactly
LEVELS = 128
START_BIN = 128
MIN_AMAX = 1e-6  # an all-zero tensor still gets a usable (tiny) scale; a zero scale is invalid in Q/DQ ONNX
_BLOCK = 128  # candidate thresholds evaluated together (bounds the temporary memory to ~ 128 x 2048 floats)
CHUNK_VALUES = 1 << 20  # values binned at once by ``GrowingHistogram.add`` (its scratch: 4 MiB per thread)
_KL_SLACK = 1e-9  # candidates whose estimated KL is this close to the best are re-evaluated exactly

FloatArray = npt.NDArray[np.float64]


@dataclass
class AbsHistogram:
    """A 2048-bin histogram of |x| over [0, ``limit``], accumulated batch by batch (values above go to the
    last bin, which only happens when a second pass sees data the first did not)."""

    limit: float
    bins: int = BINS
    counts: FloatArray = field(init=False)

    def __post_init__(self) -> None:
        self.counts = np.zeros(self.bins, dtype=np.float64)

    @property
    def bin_width(self) -> float:
        return self.limit / self.bins

    def add(self, values: npt.ArrayLike) -> None:
        flat = np.abs(np.asarray(values, dtype=np.float32)).ravel()
        if self.limit <= 0:
            self.counts[0] += flat.size
            return
        index = np.minimum((flat * (self.bins / self.limit)).astype(np.int64), self.bins - 1)
        self.counts += np.bincount(index, minlength=self.bins)


@dataclass
class GrowingHistogram:
    """A signed histogram of one tensor over [-``limit``, ``limit``] in ``2 * fine`` bins, widened (range doubled,
    bins merged in pairs) whenever a batch holds a larger |x|; ``low``/``high`` are the exact extremes seen.

    The sparse tails (the outermost bins holding at most ``TAIL_COUNT`` values) also keep their values exactly
    (``tail``, bounded by ``TAIL_COUNT`` per bin): at the end those land in the right final bin, while the dense
    bins are spread evenly over their width. Which tail bins stay empty is what the KL search is sensitive to."""

    fine: int = BINS * OVERSAMPLE
    limit: float = 0.0
    low: float = 0.0
    high: float = 0.0
    counts: npt.NDArray[np.int32] | npt.NDArray[np.int64] = field(init=False)
    tail: npt.NDArray[np.float64] = field(init=False)
    total: int = 0

    def __post_init__(self) -> None:
        # int32 counts until they could overflow: half the memory of int64 (1 MiB), more of it in the cache while
        # binning (real resnet18 activations: 3.7 -> 3.1 ns a value); the last bin holds x == limit exactly
        self.counts = np.zeros(2 * self.fine + 1, dtype=np.int32)
        self.tail = np.zeros(0, dtype=np.float64)

    @property
    def max_abs(self) -> float:
        return max(-self.low, self.high)

    def add(self, values: np.ndarray, *, name: str = "tensor") -> None:
        flat = np.asarray(values).reshape(-1)
        if flat.size == 0:
            return
        self.total += flat.size
        if self.total > np.iinfo(self.counts.dtype).max:
            self.counts = self.counts.astype(np.int64)
        low, high = float(flat.min()), float(flat.max())
        if not (np.isfinite(low) and np.isfinite(high)):
            raise TrtforgeError.of(f"finite activations in {name!r} during calibration", found="NaN or Inf",
                                   fix="check the calibration data (NaN, Inf or values that overflow)")
        self.low, self.high = min(self.low, low), max(self.high, high)
        self._widen(max(-low, high))
        if self.limit == 0.0:  # only zeros so far: they belong to bin 0 whatever its width becomes
            self.counts[self.fine] += flat.size
            if self.counts[self.fine] <= TAIL_COUNT:
                self.tail = np.concatenate([self.tail, np.zeros(flat.size)])
            return
        found = [self.tail]
        for start in range(0, flat.size, CHUNK_VALUES):
            found.append(self._add_chunk(flat[start:start + CHUNK_VALUES]))
        kept = np.concatenate(found)
        first, last = self._tail_span()
        where = self._index(kept.astype(np.float32)) if kept.size else np.zeros(0, dtype=np.intp)
        self.tail = kept[(where < first) | (where > last)]  # bins that became crowded need no exact values

    def _add_chunk(self, part: np.ndarray) -> npt.NDArray[np.float64]:
        """Bins one chunk in one compiled pass (``bin_and_collect``) and returns its values outside the crowded
        span as it was before the chunk: a superset of those in the sparse tails at the end (counts only grow, so
        the span only widens). The caller filters them against the final span."""
        first, last = self._tail_span()
        tail = _tail_buffer()
        found = _binning()(np.ascontiguousarray(part, dtype=np.float32), np.float32(self.fine / self.limit),
                           np.float32(self.fine), self.counts, first, last, tail)
        return tail[:found].astype(np.float64)

    def _index(self, values: np.ndarray) -> npt.NDArray[np.intp]:
        scaled = np.multiply(values, np.float32(self.fine / self.limit), dtype=np.float32)
        scaled += np.float32(self.fine)  # in [0, 2 * fine] up to float32 rounding (far below one bin)
        return scaled.astype(np.intp)  # truncation = floor for values >= 0; -1e-3 truncates to 0 too

    def _tail_span(self) -> tuple[int, int]:
        """The first and last bin holding more than ``TAIL_COUNT`` values: outside them is the sparse tail."""
        crowded = np.flatnonzero(self.counts > TAIL_COUNT)
        return (int(crowded[0]), int(crowded[-1])) if crowded.size else (2 * self.fine + 1, -1)

    def _widen(self, needed: float) -> None:
        if needed <= self.limit:
            return
        if self.limit == 0.0:
            self.limit = needed
            return
        while self.limit < needed:  # a jump past ``fine`` times the range merges everything, then again
            factor = 1
            while self.limit * factor < needed:
                factor *= 2
            factor = min(factor, self.fine)
            self.counts = _merged(self.counts, self.fine, factor)
            self.limit *= factor

    def to_abs(self, *, relu: bool = False) -> AbsHistogram:
        """The final ``BINS``-bin |x| histogram over exactly [0, max|x|] (of ``relu(x)`` with ``relu``)."""
        top = max(self.high, 0.0) if relu else self.max_abs
        hist = AbsHistogram(limit=top)
        if top <= 0.0 or self.limit <= 0.0:
            hist.counts[0] = self.counts.sum()
            return hist
        fine, counts = self.fine, self.counts.astype(np.float64)
        first, last = self._tail_span()
        if first <= last:
            counts[:first] = 0.0  # the tails are placed from their exact values
            counts[last + 1:] = 0.0
        else:
            counts[:] = 0.0
        tail = self.tail
        if first <= last and tail.size:  # exact values only for bins still in the tails
            where = self._index(tail.astype(np.float32))
            tail = tail[(where < first) | (where > last)]
        dense = counts[fine:].copy()
        if relu:
            dense[0] += counts[:fine].sum()
            exact = np.maximum(tail, 0.0)
        else:
            dense[:fine] += counts[fine - 1::-1][:fine]
            exact = np.abs(tail)
        dense[fine - 1] += dense[fine]  # x == limit belongs to the last bin
        hist.counts = resampled(dense[:fine], self.limit / fine, top, hist.bins)
        hist.counts += np.bincount(np.minimum((exact * (hist.bins / top)).astype(np.int64), hist.bins - 1),
                                   minlength=hist.bins)
        return hist


_SCRATCH = threading.local()
_COMPILE = threading.Lock()
_COMPILED: list[Callable[..., object]] = []


def _tail_buffer() -> npt.NDArray[np.float32]:
    """This thread's reused buffer for one chunk's tail candidates (``CHUNK_VALUES`` float32)."""
    buffer = getattr(_SCRATCH, "tail", None)
    if buffer is None:
        buffer = _SCRATCH.tail = np.empty(CHUNK_VALUES, np.float32)
    return buffer  # type: ignore[no-any-return]


def bin_and_collect(part: npt.NDArray[np.float32], scale: np.float32, offset: np.float32,
                    counts: npt.NDArray[np.int32] | npt.NDArray[np.int64], first: int, last: int,
                    tail: npt.NDArray[np.float32]) -> int:
    """One pass over ``part``: bin ``floor(x * scale + offset)`` (float32 arithmetic, as ``_index``) into
    ``counts`` and copy every value whose bin is outside ``[first, last]`` to ``tail``; returns how many were
    copied. Compiled by numba (``_binning``); as plain Python it is the reference the tests compare with."""
    found = 0
    top = counts.size - 1
    for k in range(part.size):
        value = part[k]
        scaled = value * scale
        scaled = scaled + offset
        index = min(max(int(scaled), 0), top)  # [0, top] already, up to float32 rounding far below one bin
        counts[index] += 1
        if index < first or index > last:
            tail[found] = value
            found += 1
    return found


def _binning() -> Callable[..., int]:
    """``bin_and_collect`` compiled (numba, GIL released; compiled once per process and cached on disk): one
    read of the values instead of numpy's multiply, add, cast, ``bincount`` and masks, about 2.3x faster per value
    on real resnet18 activations (``bench/scripts/calib_speed.py``)."""
    if not _COMPILED:
        with _COMPILE:
            if not _COMPILED:
                import numba

                try:
                    compiled = numba.njit(nogil=True, cache=True)(bin_and_collect)
                except RuntimeError:  # numba found no writable cache folder: compiled in memory, per process
                    compiled = numba.njit(nogil=True)(bin_and_collect)
                _COMPILED.append(compiled)
    return _COMPILED[0]  # type: ignore[return-value]


def _merged(values: np.ndarray, fine: int, factor: int) -> np.ndarray:
    """Signed bins merged ``factor`` to one around 0 (the range grew ``factor`` times): exact regrouping."""
    merged = np.zeros_like(values)
    part = fine // factor
    merged[fine - part:fine] = values[:fine].reshape(part, factor).sum(axis=1)
    merged[fine:fine + part] = values[fine:2 * fine].reshape(part, factor).sum(axis=1)
    merged[fine + part] += values[2 * fine]  # the old x == limit values
    return merged


def resampled(counts: FloatArray, width: float, top: float, bins: int) -> FloatArray:
    """|x| counts in bins of ``width`` from 0 (every value <= ``top``) spread evenly over each bin's width (the
    one holding ``top`` ending at ``top``) and regrouped into ``bins`` equal bins on [0, ``top``]."""
    last = min(int(top / width), counts.size - 1)
    cumulative = np.concatenate([[0.0], np.cumsum(counts[:last + 1])])
    edges = np.arange(last + 2, dtype=np.float64) * width
    edges[-1] = top
    on_edge = 0.0
    if edges[-1] <= edges[-2]:  # top sits on a fine edge: that bin holds only values == top
        on_edge = cumulative[-1] - cumulative[-2]
        edges, cumulative = edges[:-1], cumulative[:-1]
    result = np.diff(np.interp(np.linspace(0.0, top, bins + 1), edges, cumulative))
    result[-1] += on_edge
    return result


def max_abs(values: npt.ArrayLike) -> float:
    array = np.asarray(values)
    return float(np.max(np.abs(array))) if array.size else 0.0


def amax_percentile(hist: AbsHistogram, percentile: float) -> float:
    """The upper edge of the first bin at which the cumulative share of |x| reaches ``percentile`` %."""
    total = hist.counts.sum()
    if total == 0 or hist.limit <= 0:
        return MIN_AMAX
    cumulative = np.cumsum(hist.counts) / total
    index = int(np.searchsorted(cumulative, percentile / 100.0, side="left"))
    return max((min(index, hist.bins - 1) + 1) * hist.bin_width, MIN_AMAX)


def entropy_bin(counts: FloatArray, *, levels: int = LEVELS, start: int = START_BIN) -> int:
    """The number of kept bins i (``start`` .. len(counts)) minimising KL(P || Q); the first minimum wins.

    Every candidate's KL is first estimated from prefix sums (``_kl_estimate``: O(levels) per candidate instead of
    O(bins)); only the candidates whose estimate is within ``_KL_SLACK`` of the best are then evaluated exactly
    (``_kl_block``), so the result is the exact search's (the estimate's error is orders of magnitude smaller)."""
    n = counts.size
    everyone = np.arange(start, n + 1)
    if everyone.size == 0:
        return n
    estimate = _kl_estimate(counts, everyone, levels)
    if np.isnan(estimate).any():  # degenerate counts (all zero): the exact search decides
        return _entropy_bin_exact(counts, everyone, levels)
    if not np.isfinite(estimate).any():
        return n
    near = everyone[estimate <= estimate.min() + _KL_SLACK * max(1.0, abs(float(estimate.min())))]
    return _entropy_bin_exact(counts, near, levels)


def _entropy_bin_exact(counts: FloatArray, candidates: npt.NDArray[np.int64], levels: int) -> int:
    best_i, best_kl = counts.size, np.inf
    for first in range(0, candidates.size, _BLOCK):
        block = candidates[first:first + _BLOCK]
        divergence = _kl_block(counts, block, levels)
        k = int(np.argmin(divergence))
        if divergence[k] < best_kl:
            best_i, best_kl = int(block[k]), float(divergence[k])
    return best_i


def _kl_estimate(counts: FloatArray, candidates: npt.NDArray[np.int64], levels: int) -> FloatArray:
    """KL(P || Q) of ``_kl_block`` for each candidate i from prefix sums: with R = sum(P's counts), Q's levels
    L holding S_L over nz_L non-empty bins and Qt = sum S_L, KL = sum_j p_j log p_j - sum_L P_L log(S_L / (nz_L Qt))
    where P_L is P's mass in level L (the outliers land in bin i-1, in the last level)."""
    positive = counts > 0
    xlogx = np.zeros_like(counts)
    xlogx[positive] = counts[positive] * np.log(counts[positive])
    c_sum = np.concatenate([[0.0], np.cumsum(counts)])
    x_sum = np.concatenate([[0.0], np.cumsum(xlogx)])
    nz_sum = np.concatenate([[0], np.cumsum(positive)])
    i = candidates
    outliers = counts.sum() - np.cumsum(counts)[i - 1]  # as ``_kl_block`` computes them
    last = counts[i - 1]
    total = c_sum[i] + outliers
    level = np.arange(levels)
    lo = -(-(level[None, :] * i[:, None]) // levels)  # bins of level L: ceil(L i / levels) .. ceil((L+1) i / levels)
    hi = -(-((level[None, :] + 1) * i[:, None]) // levels)
    mass, filled = c_sum[hi] - c_sum[lo], nz_sum[hi] - nz_sum[lo]
    q_total = c_sum[i]
    top = ((i - 1) * levels) // i
    p_mass = mass.copy()
    p_mass[np.arange(i.size), top] += np.where(last > 0, outliers, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_q = np.where(filled > 0, np.log(np.where(filled > 0, mass, 1.0) / (np.maximum(filled, 1)
                                                                             * q_total[:, None])), 0.0)
        cross = (p_mass * log_q).sum(axis=1) / total
        p_last = (last + outliers) / total
        own = (x_sum[i - 1] - c_sum[i - 1] * np.log(total)) / total
        own += np.where(last > 0, p_last * np.log(np.where(last > 0, p_last, 1.0)), 0.0)
        divergence = own - cross
    divergence[(last <= 0) & (outliers > 0)] = np.inf  # P has mass where Q has none
    divergence[q_total <= 0] = np.inf
    return divergence


def amax_entropy(hist: AbsHistogram) -> float:
    """TensorRT's entropy threshold: ``(i + 0.5) * bin_width`` for the KL-minimising i, never above max|x|.

    The zero bin is first damped to its neighbour's count (``bins[0] = bins[1]``, as NVIDIA's open
    pytorch-quantization ``HistogramCalibrator`` does): without it the spike of exact zeros after a ReLU dominates
    the KL search and clips ReLU outputs to a fraction of their range."""
    if hist.counts.sum() == 0 or hist.limit <= 0:
        return MIN_AMAX
    counts = hist.counts.copy()
    counts[0] = counts[1]
    return max(min((entropy_bin(counts) + 0.5) * hist.bin_width, hist.limit), MIN_AMAX)


def _kl_block(counts: FloatArray, candidates: npt.NDArray[np.int64], levels: int) -> FloatArray:
    """KL(P || Q) for each candidate i at once: rows are candidates, columns are bins."""
    n = counts.size
    cols = np.arange(n)
    kept = cols[None, :] < candidates[:, None]
    ref = np.where(kept, counts[None, :], 0.0)
    rows = np.arange(candidates.size)
    ref[rows, candidates - 1] += counts.sum() - np.cumsum(counts)[candidates - 1]  # outliers into bin i-1
    level = (cols[None, :] * levels) // candidates[:, None]  # quantization level of each kept bin
    nonzero = kept & (counts[None, :] > 0)
    slot = (rows[:, None] * levels + np.minimum(level, levels - 1))
    level_sum = np.bincount(slot[nonzero], weights=np.broadcast_to(counts, ref.shape)[nonzero],
                            minlength=candidates.size * levels).astype(np.float64)
    level_nonzero = np.bincount(slot[nonzero], minlength=candidates.size * levels)
    spread = np.divide(level_sum, level_nonzero, out=np.zeros_like(level_sum), where=level_nonzero > 0)
    cand = np.where(nonzero, spread[slot], 0.0)
    p = ref / ref.sum(axis=1, keepdims=True)
    q_total = cand.sum(axis=1, keepdims=True)
    q = np.divide(cand, q_total, out=np.zeros_like(cand), where=q_total > 0)
    positive = p > 0
    impossible = (positive & (q <= 0)).any(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(positive & (q > 0), p * np.log(np.where(positive, p, 1.0) / np.where(q > 0, q, 1.0)), 0.0)
    divergence = terms.sum(axis=1)
    divergence[impossible] = np.inf
    return divergence
