"""Calibration data: image folders (with the model's preprocessing), ``.npy``/``.npz`` arrays, or synthetic.

Every source yields the same thing, ``{input name: float32 array (batch, *sample)}`` one batch at a time, and is
described by a manifest (kind, files with their content hashes, preprocessing, batch layout) whose hash keys
every artifact made from it. Synthetic data is allowed but marked ``synthetic: true`` everywhere.

What is read is checked before anything is computed from it, each failure one ``TrtforgeError`` naming the
file: arrays load with ``allow_pickle=False`` and must be real numbers (bool, int, float: no complex, string,
object or structured dtypes) that are finite as float32 (no NaN, no Inf, nothing that overflows float32);
an image must decode (a truncated, empty or non-image ``.jpg`` is named, not a PIL traceback). Every batch is
checked finite again before it is used.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from trtforge.artifacts import sha256_file, sha256_json
from trtforge.config import Config
from trtforge.errors import TrtforgeError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".webp")
SYNTHETIC = "synthetic"
SYNTHETIC_WARNING = ("SYNTHETIC calibration data (random images): INT8 ranges are NOT representative of real "
                     "inputs; set [calibration] data = '<image folder | .npy | .npz>' for a real deployment")
MANIFEST_FORMAT = 1

Batch = dict[str, np.ndarray]


@dataclass(frozen=True)
class DataSource:
    """Where batches come from and how they are cut: ``calibration`` batches first, then ``holdout`` batches."""

    kind: str  # synthetic | images | npy | npz
    path: Path | None
    files: tuple[Path, ...]
    shapes: dict[str, tuple[int, ...]]  # input name -> sample shape (no batch dimension)
    batch_size: int
    calibration: int
    holdout: int
    config: Config

    @property
    def synthetic(self) -> bool:
        return self.kind == SYNTHETIC

    def batches(self, part: str = "calibration") -> Iterator[Batch]:
        """The calibration batches, or the held-out ones (``part="holdout"``); re-iterable and deterministic."""
        first, count = (0, self.calibration) if part == "calibration" else (self.calibration, self.holdout)
        for index in range(first, first + count):
            batch = self._batch(index)
            for name, array in batch.items():
                _check_finite(array, f"{name} in {self.path or SYNTHETIC} (batch {index})")
            yield batch

    def _batch(self, index: int) -> Batch:
        if self.kind == SYNTHETIC:
            return _synthetic_batch(self, index)
        if self.kind == "images":
            names = self.files[index * self.batch_size:(index + 1) * self.batch_size]
            (name,) = self.shapes
            return {name: np.stack([image_array(f, self.config, self.shapes[name]) for f in names])}
        return _array_batch(self, index)


def source_from_config(config: Config, *, batch_size: int | None = None) -> DataSource:
    """The data source of ``config.calibration``, checked against the model's inputs and the batch layout."""
    cal = config.calibration
    size = batch_size or cal.batch_size or config.max_batch_size
    if not config.dynamic_batch and size != config.max_batch_size:
        raise TrtforgeError.of(f"calibration.batch_size to equal max_batch_size ({config.max_batch_size}) "
                               "for a static-batch model", found=size, fix="set batch_size = 0 or dynamic_batch")
    shapes = {name: tuple(shape) for name, shape in config.inputs.items()}
    common: dict[str, Any] = {"shapes": shapes, "batch_size": size, "calibration": cal.batches,
                              "holdout": cal.holdout_batches, "config": config}
    if cal.data == SYNTHETIC:
        return DataSource(kind=SYNTHETIC, path=None, files=(), **common)
    path = Path(cal.data)
    if path.is_dir():
        files = tuple(sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES))
        _check_count(len(files), size * (cal.batches + cal.holdout_batches), f"images in {path}")
        if len(shapes) != 1:
            raise TrtforgeError.of("a single-input model for an image folder", found=list(shapes),
                                   fix="use an .npz with one array per input")
        return DataSource(kind="images", path=path, files=files, **common)
    if path.suffix in (".npy", ".npz") and path.is_file():
        source = DataSource(kind=path.suffix[1:], path=path, files=(path,), **common)
        _check_arrays(source)
        return source
    raise TrtforgeError.of("calibration.data to be 'synthetic', an image folder, or a .npy/.npz file",
                           found=cal.data, fix="check the path")


def manifest_from_source(source: DataSource) -> dict[str, Any]:
    """The data manifest: what was read (with content hashes) and how it was cut and preprocessed."""
    cal = source.config.calibration
    manifest: dict[str, Any] = {
        "format": MANIFEST_FORMAT,
        "kind": source.kind,
        "source": str(source.path) if source.path else SYNTHETIC,
        "synthetic": source.synthetic,
        "inputs": {k: list(v) for k, v in source.shapes.items()},
        "batch_size": source.batch_size,
        "calibration_batches": source.calibration,
        "holdout_batches": source.holdout,
        "files": [{"path": str(f), "sha256": sha256_file(f)} for f in _used_files(source)],
    }
    if source.kind == "images":
        manifest["preprocessing"] = {"resize": cal.resize, "crop": cal.crop, "mean": list(cal.mean),
                                     "std": list(cal.std), "layout": "NCHW", "scale": "1/255"}
    if source.synthetic:
        manifest.update(seed=source.config.seed, warning=SYNTHETIC_WARNING)
    return manifest


def manifest_hash(manifest: dict[str, Any]) -> str:
    return sha256_json(manifest)


def _used_files(source: DataSource) -> tuple[Path, ...]:
    if source.kind != "images":
        return source.files
    return source.files[:source.batch_size * (source.calibration + source.holdout)]


def _check_count(have: int, need: int, what: str) -> None:
    if have < need:
        raise TrtforgeError.of(f"at least {need} {what} (batch_size x (batches + holdout_batches))", found=have,
                               fix="add data or lower [calibration] batches / holdout_batches")


def image_array(path: Path, config: Config, shape: tuple[int, ...]) -> np.ndarray:
    """One image as the model sees it: RGB, shorter side resized, centre-cropped, /255, normalised, CHW."""
    from PIL import Image

    cal = config.calibration
    try:
        with Image.open(path) as img:
            rgb = img.convert("RGB")
            scale = cal.resize / min(rgb.size)
            rgb = rgb.resize((max(cal.crop, round(rgb.width * scale)), max(cal.crop, round(rgb.height * scale))),
                             Image.Resampling.BILINEAR)
            left, top = (rgb.width - cal.crop) // 2, (rgb.height - cal.crop) // 2
            array = np.asarray(rgb.crop((left, top, left + cal.crop, top + cal.crop)), dtype=np.float32) / 255.0
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError, ZeroDivisionError) as err:
        # UnidentifiedImageError (text, empty file) and "Truncated File Read" are OSErrors
        raise TrtforgeError.of(f"a readable image at {path}", found=f"{type(err).__name__}: {err}",
                               fix="replace or remove the file (or move it out of the calibration folder)") from None
    chw = ((array - np.asarray(cal.mean, np.float32)) / np.asarray(cal.std, np.float32)).transpose(2, 0, 1)
    if tuple(chw.shape) != tuple(shape):
        raise TrtforgeError.of(f"preprocessed images of shape {tuple(shape)} (the model input)",
                               found=tuple(chw.shape), fix="set [calibration] crop to the model's input size")
    return np.ascontiguousarray(chw)


def _synthetic_batch(source: DataSource, index: int) -> Batch:
    """Random images in [0, 1] normalised like real ones (deterministic per seed and batch index)."""
    cal = source.config.calibration
    rng = np.random.default_rng([source.config.seed, index])
    batch = {}
    for name, shape in source.shapes.items():
        pixels = rng.random((source.batch_size, *shape), dtype=np.float32)
        if len(shape) == 3 and shape[0] == len(cal.mean):
            mean = np.asarray(cal.mean, np.float32).reshape(-1, 1, 1)
            std = np.asarray(cal.std, np.float32).reshape(-1, 1, 1)
            pixels = (pixels - mean) / std
        batch[name] = pixels.astype(np.float32)
    return batch


def _arrays(source: DataSource) -> dict[str, Any]:
    assert source.path is not None
    if source.kind == "npy" and len(source.shapes) != 1:
        raise TrtforgeError.of("an .npz (one array per input) for a multi-input model", found=source.path)
    try:
        if source.kind == "npy":
            (name,) = source.shapes
            return {name: np.load(source.path, mmap_mode="r", allow_pickle=False)}
        with np.load(source.path, allow_pickle=False) as archive:
            return {key: archive[key] for key in source.shapes if key in archive.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, KeyError) as err:
        # truncated (mmap length), pickled/object data (refused: allow_pickle=False), not an .npy/.npz at all
        raise TrtforgeError.of(f"a readable {source.kind} array file at {source.path}",
                               found=f"{type(err).__name__}: {str(err)[:200]}",
                               fix=f"write it again with numpy.save{'z' if source.kind == 'npz' else ''} "
                                   "(numeric arrays, no pickled objects)") from None


def _check_dtype(array: Any, what: str) -> None:
    kind = getattr(getattr(array, "dtype", None), "kind", "O")
    if kind not in "biuf":
        dtype = getattr(array, "dtype", type(array).__name__)
        raise TrtforgeError.of(f"{what} to hold real numbers (bool, int or float)", found=f"dtype {dtype}",
                               fix="save a float32 array (complex, string and object arrays are refused)")
    if kind in "iu":
        from trtforge.log import logger

        logger.warning("calib: %s holds integers (%s): used as float32 values as they are (no /255 scaling)",
                       what, array.dtype)


def _check_finite(array: np.ndarray, what: str, *, rows: int = 64) -> None:
    """Every value finite once cast to float32 (NaN, Inf and values beyond float32's range are refused)."""
    for start in range(0, max(len(array), 1), rows):
        with np.errstate(over="ignore", invalid="ignore"):
            chunk = np.asarray(array[start:start + rows], dtype=np.float32)
        finite = np.isfinite(chunk)
        if not finite.all():
            nan = int(np.isnan(chunk).sum())
            first = tuple(int(i) for i in np.argwhere(~finite)[0])
            raise TrtforgeError.of(f"finite calibration values in {what}",
                                   found=f"{nan} NaN and {int((~finite).sum()) - nan} Inf/overflowing float32 "
                                         f"from sample {start + first[0]}, index {first[1:]}",
                                   fix="clean the data (NaN/Inf make every range meaningless)")


def _check_arrays(source: DataSource) -> None:
    arrays = _arrays(source)
    for name, shape in source.shapes.items():
        if name not in arrays:
            raise TrtforgeError.of(f"an array named {name!r} in {source.path}", found=sorted(arrays),
                                   fix="save the .npz with one key per model input")
        if tuple(arrays[name].shape[1:]) != shape:
            raise TrtforgeError.of(f"{name} samples of shape {shape}", found=tuple(arrays[name].shape[1:]))
        need = source.batch_size * (source.calibration + source.holdout)
        _check_count(arrays[name].shape[0], need, f"samples of {name} in {source.path}")
        _check_dtype(arrays[name], f"{name} in {source.path}")
        _check_finite(arrays[name][:need], f"{name} in {source.path}")


def _array_batch(source: DataSource, index: int) -> Batch:
    rows = slice(index * source.batch_size, (index + 1) * source.batch_size)
    return {name: np.ascontiguousarray(array[rows], dtype=np.float32) for name, array in _arrays(source).items()}
