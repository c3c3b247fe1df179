"""The calibration preview's agreement: top-1 only for 2-D classifier logits (batch, classes), never for feature
or segmentation maps; tiny errors are printed in significant digits, not rounded to 0.0000."""

from __future__ import annotations

import numpy as np
from trtforge.calib.preview import OutputAgreement, Preview, PreviewRow, table_from_preview


def test_top1_only_for_2d_logits() -> None:
    rng = np.random.default_rng(0)
    logits, maps = OutputAgreement(), OutputAgreement()
    ref = rng.standard_normal((4, 10)).astype(np.float32)
    logits.add(ref, ref)
    seg = rng.standard_normal((2, 21, 8, 8)).astype(np.float32)
    maps.add(seg, seg)
    assert logits.top1 == 1.0 and logits.samples == 4
    assert maps.top1 is None and maps.samples == 0


def test_tiny_errors_keep_significant_digits() -> None:
    row = PreviewRow(method="max", output="logits", top1_agreement=None, cosine=1.0, max_abs_error=3.2e-9, samples=2)
    table = table_from_preview(Preview(rows=[row], chosen="max", synthetic=True, holdout_batches=1))
    assert "3.2e-09" in table and "0.0000" not in table
