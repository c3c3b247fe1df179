"""Streaming statistics of |x| per tensor and the thresholds computed from them (pure numpy, no ONNX).

TensorRT's entropy method (``IInt8EntropyCalibrator2``, GTC 2017 "8-bit Inference with TensorRT"):
a histogram of |x| with 2048 bins over [0, max|x|]; for every candidate i = 128 .. 2048 the reference
distribution P is bins[0:i] with everything beyond folded into bin i-1, the candidate Q is bins[0:i] merged into
128 quantization levels and spread back over the non-empty bins; the threshold minimising KL(P || Q) is
``(i + 0.5) * bin_width`` and the scale is ``threshold / 127``. TensorRT's code is closed; where the talk is
silent this follows NVIDIA's open pytorch-quantization: bin j belongs to level floor(j * 128 / i), and the zero
bin is damped to its neighbour's count before the search (``amax_entropy``).

The histogram range is fixed by a first pass (max|x| over all batches), so the 2048 bins span exactly
[0, max|x|] as in the published algorithm, and memory never grows with the number of batches.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

BINS = 2048
LEVELS = 128
START_BIN = 128
MIN_AMAX = 1e-6  # an all-zero tensor still gets a usable (tiny) scale; a zero scale is invalid in Q/DQ ONNX
_BLOCK = 128  # candidate thresholds evaluated together (bounds the temporary memory to ~ 128 x 2048 floats)

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
    """The number of kept bins i (``start`` .. len(counts)) minimising KL(P || Q); the first minimum wins."""
    n = counts.size
    best_i, best_kl = n, np.inf
    for first in range(start, n + 1, _BLOCK):
        candidates = np.arange(first, min(first + _BLOCK, n + 1))
        divergence = _kl_block(counts, candidates, levels)
        k = int(np.argmin(divergence))
        if divergence[k] < best_kl:
            best_i, best_kl = int(candidates[k]), float(divergence[k])
    return best_i


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
