"""Accuracy preview before any device: the fake-quantized Q/DQ model against the FP32 model in ONNX Runtime on
held-out batches, per output and per method (top-1 agreement, cosine similarity, max absolute error)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


@dataclass
class OutputAgreement:
    """Streaming agreement between a reference and a candidate output, batch by batch."""

    dot: float = 0.0
    ref_sq: float = 0.0
    cand_sq: float = 0.0
    max_abs_error: float = 0.0
    top1_same: int = 0
    samples: int = 0

    def add(self, ref: np.ndarray, cand: np.ndarray) -> None:
        r, c = ref.astype(np.float64), cand.astype(np.float64)
        self.dot += float((r * c).sum())
        self.ref_sq += float((r * r).sum())
        self.cand_sq += float((c * c).sum())
        self.max_abs_error = max(self.max_abs_error, float(np.abs(r - c).max(initial=0.0)))
        if r.ndim == 2 and r.shape[1] > 1:  # classifier logits (batch, classes) only, never feature/segmentation maps
            self.top1_same += int((r.argmax(axis=1) == c.argmax(axis=1)).sum())
            self.samples += r.shape[0]

    @property
    def cosine(self) -> float:
        norm = np.sqrt(self.ref_sq * self.cand_sq)
        return float(self.dot / norm) if norm > 0 else 1.0

    @property
    def top1(self) -> float | None:
        return self.top1_same / self.samples if self.samples else None


@dataclass(frozen=True)
class PreviewRow:
    method: str
    output: str
    top1_agreement: float | None
    cosine: float
    max_abs_error: float
    samples: int


@dataclass(frozen=True)
class Preview:
    rows: list[PreviewRow]
    chosen: str
    synthetic: bool
    holdout_batches: int
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"format": 1, "chosen_method": self.chosen, "synthetic_data": self.synthetic,
                "holdout_batches": self.holdout_batches, "rows": [asdict(r) for r in self.rows],
                "notes": self.notes}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Preview:
        return cls(rows=[PreviewRow(**row) for row in data["rows"]], chosen=str(data["chosen_method"]),
                   synthetic=bool(data["synthetic_data"]), holdout_batches=int(data["holdout_batches"]),
                   notes=[str(n) for n in data["notes"]])


def _session(model: Path | bytes) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # Q/DQ stay fake-quantization
    options.log_severity_level = 3
    return ort.InferenceSession(model if isinstance(model, bytes) else str(model), options,
                                providers=["CPUExecutionProvider"])


def agreement_from_models(fp32_path: Path, qdq_paths: Mapping[str, Path],
                          batches: Iterable[dict[str, np.ndarray]]) -> list[PreviewRow]:
    """Run the FP32 model and each method's Q/DQ model on the same batches; one row per method and output."""
    reference = _session(fp32_path)
    outputs = [o.name for o in reference.get_outputs()]
    feeds = list(batches)
    expected = [dict(zip(outputs, reference.run(outputs, batch), strict=True)) for batch in feeds]
    return agreement_from_references(expected, {m: Path(p) for m, p in qdq_paths.items()}, feeds)


def agreement_from_references(references: Sequence[Mapping[str, np.ndarray]], qdq_models: Mapping[str, Path | bytes],
                              batches: Iterable[dict[str, np.ndarray]]) -> list[PreviewRow]:
    """Each method's Q/DQ model (a file or serialized bytes) on ``batches``, against the FP32 outputs the
    calibration pass already computed for them (``references``, one mapping per batch)."""
    candidates = {method: _session(model) for method, model in qdq_models.items()}
    outputs = list(references[0]) if references else []
    stats = {(m, o): OutputAgreement() for m in candidates for o in outputs}
    for expected, batch in zip(references, batches, strict=True):
        for method, session in candidates.items():
            for name, cand in zip(outputs, session.run(outputs, batch), strict=True):
                stats[(method, name)].add(expected[name], cand)
    return [PreviewRow(method=m, output=o, top1_agreement=s.top1, cosine=s.cosine,
                       max_abs_error=s.max_abs_error, samples=s.samples) for (m, o), s in stats.items()]


def table_from_preview(preview: Preview) -> str:
    """The table ``trtforge calib`` prints."""
    head = f"{'method':<11} {'output':<16} {'top-1 agree':>11} {'cosine':>9} {'max |err|':>10} {'samples':>7}"
    lines = [head, "-" * len(head)]
    for row in preview.rows:
        top1 = f"{row.top1_agreement:.3f}" if row.top1_agreement is not None else "-"
        mark = " *" if row.method == preview.chosen else ""
        lines.append(f"{row.method:<11} {row.output:<16} {top1:>11} {row.cosine:>9.5f} {row.max_abs_error:>10.3g} "
                     f"{row.samples:>7}{mark}")
    lines.append("* the config's method (qdq.onnx, the cache and dynamic_ranges.json use it)")
    lines += preview.notes
    return "\n".join(lines)
