"""Calibration data sources: image preprocessing, .npy/.npz arrays, synthetic data, batch layout and manifests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from trtforge.calib.data import image_array, manifest_from_source, manifest_hash, source_from_config

from trtforge.config import Config, config_from_dict
from trtforge.errors import TrtforgeError


def _config(data: str, *, batch: int = 2, inputs: dict | None = None, **calibration: object) -> Config:
    return config_from_dict({"name": "c", "model": "m", "inputs": inputs or {"x": [3, 8, 8]}, "max_batch_size": batch,
                             "precision": "int8", "calibration": {"data": data, "batches": 2, "holdout_batches": 1,
                                                                  "resize": 8, "crop": 8, **calibration}})


def test_npz_batches_follow_the_batch_size_and_holdout(tmp_path: Path) -> None:
    samples = np.arange(7 * 3 * 8 * 8, dtype=np.float32).reshape(7, 3, 8, 8)
    np.savez(tmp_path / "d.npz", x=samples)
    source = source_from_config(_config(str(tmp_path / "d.npz")))
    calibration = list(source.batches())
    holdout = list(source.batches("holdout"))
    assert [b["x"].shape for b in calibration] == [(2, 3, 8, 8)] * 2 and len(holdout) == 1
    np.testing.assert_array_equal(holdout[0]["x"], samples[4:6])
    manifest = manifest_from_source(source)
    assert manifest["kind"] == "npz" and manifest["synthetic"] is False and len(manifest["files"]) == 1


def test_npy_and_a_too_small_dataset(tmp_path: Path) -> None:
    np.save(tmp_path / "d.npy", np.zeros((5, 3, 8, 8), np.float32))
    with pytest.raises(TrtforgeError, match=r"at least 6 samples of x"):
        source_from_config(_config(str(tmp_path / "d.npy")))
    source = source_from_config(_config(str(tmp_path / "d.npy"), batch=1))
    assert next(source.batches())["x"].shape == (1, 3, 8, 8)


def test_manifest_hash_follows_file_content(tmp_path: Path) -> None:
    path = tmp_path / "d.npy"
    np.save(path, np.zeros((6, 3, 8, 8), np.float32))
    first = manifest_hash(manifest_from_source(source_from_config(_config(str(path)))))
    np.save(path, np.ones((6, 3, 8, 8), np.float32))
    assert manifest_hash(manifest_from_source(source_from_config(_config(str(path))))) != first


def test_image_preprocessing_resizes_crops_and_normalises(tmp_path: Path) -> None:
    from PIL import Image

    Image.new("RGB", (20, 10), (255, 0, 128)).save(tmp_path / "a.png")
    config = _config(str(tmp_path), batch=1, resize=8, crop=8, mean=[0.5, 0.5, 0.5], std=[0.5, 0.5, 0.5])
    array = image_array(tmp_path / "a.png", config, (3, 8, 8))
    assert array.shape == (3, 8, 8) and array.dtype == np.float32
    np.testing.assert_allclose(array[:, 4, 4], [1.0, -1.0, 128 / 255 * 2 - 1], atol=1e-2)
    with pytest.raises(TrtforgeError, match="at least 3 images"):
        source_from_config(config)


def test_synthetic_is_deterministic_and_flagged() -> None:
    source = source_from_config(_config("synthetic"))
    first, again = next(source.batches()), next(source.batches())
    np.testing.assert_array_equal(first["x"], again["x"])
    manifest = manifest_from_source(source)
    assert manifest["synthetic"] is True and "SYNTHETIC" in manifest["warning"]


def test_bad_sources_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(TrtforgeError, match=r"an image folder, or a \.npy/\.npz"):
        source_from_config(_config(str(tmp_path / "missing.bin")))
    with pytest.raises(TrtforgeError, match="batch_size to equal max_batch_size"):
        source_from_config(_config("synthetic", batch_size=3))
    np.savez(tmp_path / "w.npz", y=np.zeros((6, 3, 8, 8), np.float32))
    with pytest.raises(TrtforgeError, match="an array named 'x'"):
        source_from_config(_config(str(tmp_path / "w.npz")))
