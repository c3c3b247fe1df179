"""The config schema: one place for every default, strict about unknown keys and wrong types.

A config is a TOML file in ``configs/`` (loaded by its name) or anywhere else (loaded by its path). It can be
derived on the command line with ``--set key=value`` (``DLA_CORE=1`` in the Makefile); a derived config gets
its own name, and so its own artifact folder.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import sys
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from trtforge.errors import TrtforgeError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 (JetPack 6)
    import tomli as tomllib

Precision = Literal["fp32", "fp16", "int8"]
Device = Literal["GPU", "DLA"]
CalibMethod = Literal["entropy", "max", "percentile"]

REPO_ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR_ENV = "TRTFORGE_CONFIG_DIR"
ARTIFACTS_ROOT = Path("artifacts")  # relative to the working directory, unless output_dir / --out is given

# DLA cores per target platform: Xavier and Orin each have two (reference/tensorrt_dla.md, [C6 FAQ]).
DLA_CORES = {"orin": 2, "xavier": 2}
# Shape bounds. TensorRT's Dims hold at most 8 dimensions (nvinfer1::Dims32/Dims64 MAX_DIMS = 8, batch included);
# TensorRT 8.x extents are int32 and tensors over 2^31-1 elements are refused by many layers even on 10.0.1
# (NVIDIA/TensorRT#3815), so each input tensor (batch included) is capped at 2^31-1 elements. DLA: batch at most
# 4096, every non-batch dimension at most 8192 (TensorRT docs, "DLA Supported Layers and Restrictions", general
# restrictions; reference/tensorrt_dla.md).
MAX_RANK = 8
MAX_ELEMENTS = 2**31 - 1
DLA_MAX_BATCH = 4096
DLA_MAX_DIM = 8192
MAX_NAME_LENGTH = 128  # the longest artifact file name adds about 40 characters (".gpu-only.engine.inspector.json")


@dataclass(frozen=True)
class CalibrationConfig:
    """Where INT8 ranges come from. ``data`` is ``synthetic``, an image folder, or a ``.npy``/``.npz`` file."""

    data: str = "synthetic"
    method: CalibMethod = "entropy"
    percentile: float = 99.99
    batches: int = 8
    batch_size: int = 0  # 0: the config's max_batch_size
    holdout_batches: int = 2
    dla_equal_ranges: bool = True  # apply DLA's equal-range rules when any layer is placed on DLA
    resize: int = 256
    crop: int = 224
    mean: tuple[float, ...] = (0.485, 0.456, 0.406)
    std: tuple[float, ...] = (0.229, 0.224, 0.225)
    trt_version: str = "10.3.0"  # cache header when no real TensorRT is present (10.3.0 = JetPack 6.1/6.2)


@dataclass(frozen=True)
class TargetConfig:
    """The device the plan predicts for: DLA rules differ by platform and TensorRT line."""

    platform: Literal["orin", "xavier"] = "orin"
    tensorrt: Literal["8.6", "10.x", "11.4+"] = "10.x"


@dataclass(frozen=True)
class GatesConfig:
    """Placement drift that fails the run. ``None`` switches a gate off."""

    min_dla_node_share: float | None = None
    min_dla_flops_share: float | None = None
    max_islands: int | None = None
    fail_on_unexpected_fallback: bool = False


@dataclass(frozen=True)
class CompareConfig:
    """Accuracy tolerances per output; ``None`` takes the precision's default (see ``tolerances``)."""

    atol: float | None = None
    rtol: float | None = None
    min_cosine: float | None = None
    min_top1: float | None = None
    samples: int = 8


@dataclass(frozen=True)
class BenchConfig:
    warmup: int = 20
    iterations: int = 200
    duration_s: float = 0.0  # > 0: measure for this long instead of a fixed iteration count
    window_s: float = 10.0  # concurrent runs: the common wall-clock window every process measures
    timeout_s: float = 300.0  # concurrent runs: the most each phase (setup + warm-up, the window) may overrun


@dataclass(frozen=True)
class Config:
    """One engine: model, shapes, precision and placement. Field order is the documentation order."""

    name: str
    model: str
    inputs: dict[str, tuple[int, ...]] = field(default_factory=lambda: {"input": (3, 224, 224)})
    outputs: tuple[str, ...] = ("output",)
    export_module: str = ""  # a submodule path (e.g. "backbone") to export instead of the whole model
    max_batch_size: int = 1
    dynamic_batch: bool = False
    precision: Precision = "fp16"
    default_device: Device = "GPU"
    device_types: dict[str, Device] = field(default_factory=dict)
    gpu_fallback: bool = True
    require_dla: bool = False
    dla_core: int = 0
    opset: int = 18
    seed: int = 0
    description: str = ""
    output_dir: str = ""
    target: TargetConfig = field(default_factory=TargetConfig)
    calibration: CalibrationConfig = field(default_factory=CalibrationConfig)
    gates: GatesConfig = field(default_factory=GatesConfig)
    compare: CompareConfig = field(default_factory=CompareConfig)
    bench: BenchConfig = field(default_factory=BenchConfig)

    @property
    def uses_dla(self) -> bool:
        return self.default_device == "DLA" or "DLA" in self.device_types.values()

    @property
    def artifact_dir(self) -> Path:
        return Path(self.output_dir) if self.output_dir else ARTIFACTS_ROOT / self.name

    @property
    def shared_dir(self) -> Path:
        """Where files shared by configs (the timing cache) live: the artifacts root, or the config's own
        folder when ``output_dir`` is given (never outside the artifact folders, e.g. never ``/tmp``)."""
        return Path(self.output_dir) if self.output_dir else ARTIFACTS_ROOT

    def input_shapes(self) -> dict[str, tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]]:
        """(min, opt, max) shape per input; all three equal unless ``dynamic_batch``."""
        shapes = {}
        for name, sample in self.inputs.items():
            full = (self.max_batch_size, *sample)
            low = (1, *sample) if self.dynamic_batch else full
            shapes[name] = (low, full, full)
        return shapes

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(dataclasses.asdict(self))


@dataclass(frozen=True)
class ScenarioProcess:
    config: str
    dla_core: int = 0


@dataclass(frozen=True)
class Scenario:
    """Several configs run at once in separate processes (the benchmark page's concurrency tables)."""

    name: str
    title: str
    precision: Precision
    processes: tuple[ScenarioProcess, ...]
    description: str = ""


# ---------------------------------------------------------------------------------------------- loading


def config_dir() -> Path:
    """``$TRTFORGE_CONFIG_DIR``, else the configs shipped in the package (a wheel), else the checkout's."""
    if os.environ.get(CONFIG_DIR_ENV):
        return Path(os.environ[CONFIG_DIR_ENV])
    packaged = Path(__file__).resolve().parent / "configs"
    return packaged if packaged.is_dir() else REPO_ROOT / "configs"


def available_configs() -> list[str]:
    return sorted(p.stem for p in config_dir().glob("*.toml"))


def available_scenarios() -> list[str]:
    return sorted(p.stem for p in (config_dir() / "scenarios").glob("*.toml"))


def load_config(name_or_path: str, overrides: Sequence[str] = (), *,
                output_dir: str | os.PathLike[str] | None = None) -> Config:
    """Load a config by name (``configs/<name>.toml``) or path, then apply ``key=value`` overrides.
    ``output_dir`` (``--out``) is taken as a path, as given, not parsed as TOML."""
    path = _resolve(name_or_path, config_dir(), available_configs(), what="config")
    raw = _read_toml(path)
    raw.setdefault("name", path.stem)
    if raw["name"] != path.stem and path.parent == config_dir():
        raise TrtforgeError.of(f"config name to match its file name {path.stem!r}", found=raw["name"],
                               fix=f"rename the file or remove `name` from {path}")
    if overrides:
        raw = _apply_overrides(raw, overrides)
    if output_dir is not None:
        raw = {**raw, "output_dir": os.fspath(output_dir)}
    return config_from_dict(raw, source=str(path))


def config_from_dict(raw: Mapping[str, Any], *, source: str = "<dict>") -> Config:
    config = _build(Config, raw, where=source)
    check_config(config, where=source)
    return config


def load_scenario(name_or_path: str) -> Scenario:
    folder = config_dir() / "scenarios"
    path = _resolve(name_or_path, folder, available_scenarios(), what="scenario")
    raw = _read_toml(path)
    raw.setdefault("name", path.stem)
    scenario = _build(Scenario, raw, where=str(path))
    for proc in scenario.processes:
        config = load_config(proc.config)  # every named config must exist and be valid
        _check_dla_core(proc.dla_core, where=f"{path}: processes", platform=config.target.platform)
    return scenario


def _resolve(name_or_path: str, folder: Path, names: list[str], *, what: str) -> Path:
    candidate = Path(name_or_path)
    if candidate.suffix == ".toml" or os.sep in name_or_path:
        if not candidate.is_file():
            raise TrtforgeError.of(f"a {what} file", found=f"no file at {candidate}",
                                   fix="check the path")
        return candidate
    path = folder / f"{name_or_path}.toml"
    if not path.is_file():
        close = difflib.get_close_matches(name_or_path, names, n=3, cutoff=0.5)
        hint = f"closest: {', '.join(close)}" if close else f"known: {', '.join(names[:6])} ..."
        raise TrtforgeError.of(f"a known {what} name", found=name_or_path,
                               fix=f"{hint}; or give a path to a .toml file")
    return path


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_bytes().decode("utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise TrtforgeError.of(f"valid TOML in {path}", found=str(err), fix="fix the syntax") from None
    except UnicodeDecodeError as err:
        raise TrtforgeError.of(f"a UTF-8 text file at {path} (TOML is UTF-8)",
                               found=f"byte {err.object[err.start]:#04x} at offset {err.start}",
                               fix="save the config as UTF-8") from None
    except (OSError, RecursionError) as err:
        raise TrtforgeError.of(f"a readable config file at {path}", found=str(err) or type(err).__name__,
                               fix="check the path and its permissions") from None


def _apply_overrides(raw: Mapping[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """``dla_core=1`` or ``calibration.method="max"``: values are TOML; the name records the change."""
    result: dict[str, Any] = {k: (dict(v) if isinstance(v, dict) else v) for k, v in raw.items()}
    suffix = []
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise TrtforgeError.of("an override of the form key=value", found=item,
                                   fix="e.g. --set dla_core=1 or --set calibration.method='\"max\"'")
        key = key.strip()
        value = _parse_value(text.strip())
        target = result
        *parents, leaf = key.split(".")
        for depth, part in enumerate(parents):
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                table = ".".join(parents[:depth + 1])
                raise TrtforgeError.of(f"--set {key}: {table} to be a table", found=f"{target!r} in the config",
                                       fix=f"set {table} itself, e.g. --set {table}=...")
        target[leaf] = value
        if key not in ("name", "output_dir"):
            suffix.append(re.sub(r"[^A-Za-z0-9._]+", "", f"{key.replace('.', '_')}{value}"))
    if "name" not in {o.partition("=")[0].strip() for o in overrides} and suffix:
        result["name"] = _derived_name(str(result["name"]), suffix)
    return result


def _parse_value(text: str) -> Any:
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text  # a bare word: a string


# ---------------------------------------------------------------------------------------------- checks


def check_config(config: Config, *, where: str) -> None:
    """Cross-field rules that do not need the model. Submodule names are checked by ``check_device_types``."""
    check_name(config.name, where=where)
    _check_output_dir(config.output_dir, where=where)
    if not config.inputs:
        raise TrtforgeError.of(f"{where}: at least one entry in [inputs]", found="none",
                               fix='add e.g. input = [3, 224, 224]')
    for name, shape in config.inputs.items():
        if not shape or any(d <= 0 for d in shape):
            raise TrtforgeError.of(f"{where}: inputs.{name} to be a list of positive dimensions "
                                   "(the batch dimension excluded)", found=list(shape))
    if config.max_batch_size < 1:
        raise TrtforgeError.of(f"{where}: max_batch_size >= 1", found=config.max_batch_size)
    dla = _dla_entries(config)
    _check_shape_bounds(config, where=where, dla=bool(dla))
    _check_dla_core(config.dla_core, where=where, platform=config.target.platform)
    _check_calibration(config, where=where)
    _check_gates(config.gates, where=where)
    _check_bench(config.bench, where=where)
    if config.precision == "fp32" and dla:
        raise TrtforgeError.of(f"{where}: FP16 or INT8 when anything is placed on DLA (DLA has no FP32)",
                               found=f"precision = 'fp32' with {', '.join(dla)} on DLA",
                               fix="set precision = 'fp16' or 'int8', or place these on GPU")
    if config.dynamic_batch and dla:
        raise TrtforgeError.of(f"{where}: static shapes when anything is placed on DLA",
                               found=f"dynamic_batch = true with {', '.join(dla)} on DLA",
                               fix="set dynamic_batch = false (the engine is built for max_batch_size)")
    if config.require_dla and not dla:
        raise TrtforgeError.of(f"{where}: some DLA placement when require_dla = true", found="none",
                               fix="set default_device or device_types, or drop require_dla")
    if config.opset < 13:
        raise TrtforgeError.of(f"{where}: opset >= 13 (the TensorRT ONNX parser's floor)", found=config.opset)


def _dla_entries(config: Config) -> list[str]:
    entries = ["default_device"] if config.default_device == "DLA" else []
    return entries + [f"device_types[{k!r}]" for k, v in config.device_types.items() if v == "DLA"]


def _check_dla_core(core: object, *, where: str, platform: str | None = None) -> None:
    if isinstance(core, bool) or not isinstance(core, int) or core < 0:
        raise TrtforgeError.of(f"{where}: dla_core to be a non-negative integer", found=core,
                               fix="use 0 or 1 (Xavier and Orin have two DLA cores)")
    cores = DLA_CORES.get(platform or "", min(DLA_CORES.values()))
    if core >= cores:
        raise TrtforgeError.of(f"{where}: dla_core below {cores} (the DLA cores of {platform or 'a Jetson'}: "
                               f"{', '.join(map(str, range(cores)))})", found=core,
                               fix=f"use {' or '.join(map(str, range(cores)))}")


_BAD_NAME = re.compile(r"[/\\\x00-\x1f\x7f]")


def _derived_name(base: str, suffix: Sequence[str]) -> str:
    """``<base>-<key><value>-...``; where that would pass ``MAX_NAME_LENGTH`` (a long data path, many overrides),
    the suffix is cut and ends with a hash of all of it, so distinct overrides still get distinct folders."""
    import hashlib

    name = "-".join([base, *suffix])
    if len(name) <= MAX_NAME_LENGTH:
        return name
    digest = hashlib.sha256("-".join(suffix).encode()).hexdigest()[:12]
    return f"{name[:MAX_NAME_LENGTH - len(digest) - 1].rstrip('-_.')}-{digest}"


def check_name(name: str, *, where: str) -> None:
    """A config name is one plain file-name component: it names ``artifacts/<name>/`` and the engine files, and
    goes into generated scripts (quoted there too)."""
    problem = ("it is empty" if not name else
               "it holds a path separator or a control character" if _BAD_NAME.search(name) else
               "'.' and '..' name folders" if name in (".", "..") else
               "it starts with '.' (hidden; temporary files use that)" if name.startswith(".") else
               f"it is longer than {MAX_NAME_LENGTH} characters" if len(name) > MAX_NAME_LENGTH else None)
    if problem:
        raise TrtforgeError.of(f"{where}: name to be a plain file name (letters, digits, '-', '_', '.'; no "
                               "'/', no '..')", found=f"{name!r} ({problem})",
                               fix="rename the config; use output_dir or --out to choose the folder")


def _check_output_dir(output_dir: str, *, where: str) -> None:
    if "\x00" in output_dir:
        raise TrtforgeError.of(f"{where}: output_dir to be a path", found=repr(output_dir), fix="remove the NUL")
    if output_dir and Path(output_dir).exists() and not Path(output_dir).is_dir():
        raise TrtforgeError.of(f"{where}: output_dir to be a folder", found=f"{output_dir} is a file",
                               fix="choose a folder (it is created if missing)")


def _check_shape_bounds(config: Config, *, where: str, dla: bool) -> None:
    """Shapes TensorRT can hold, and (when anything is on DLA) shapes DLA accepts; see ``MAX_*`` for sources."""
    batch = config.max_batch_size
    if dla and batch > DLA_MAX_BATCH:
        raise TrtforgeError.of(f"{where}: max_batch_size <= {DLA_MAX_BATCH} when anything is placed on DLA "
                               "(DLA's batch limit)", found=batch, fix="lower max_batch_size or place it on GPU")
    for name, shape in config.inputs.items():
        if len(shape) + 1 > MAX_RANK:
            raise TrtforgeError.of(f"{where}: inputs.{name} with at most {MAX_RANK - 1} dimensions besides the "
                                   f"batch (TensorRT's {MAX_RANK}-dimension limit)", found=list(shape))
        elements = batch
        for dim in shape:
            elements *= dim
        if elements > MAX_ELEMENTS:
            raise TrtforgeError.of(f"{where}: inputs.{name} of at most 2^31-1 elements, batch included "
                                   "(TensorRT's tensor volume limit)",
                                   found=f"max_batch_size {batch} x {list(shape)} = {elements} elements",
                                   fix="lower max_batch_size or the input dimensions")
        if dla and max(shape) > DLA_MAX_DIM:
            raise TrtforgeError.of(f"{where}: inputs.{name} dimensions <= {DLA_MAX_DIM} when anything is placed "
                                   "on DLA (DLA's dimension limit)", found=list(shape),
                                   fix="lower the input size or place the model on GPU")


def _check_calibration(config: Config, *, where: str) -> None:
    """Value ranges of [calibration]: checked for every precision (a config can be switched to int8 by --set)."""
    cal, at = config.calibration, f"{where}: calibration"
    if not 0.0 < cal.percentile <= 100.0:
        raise TrtforgeError.of(f"{at}.percentile in (0, 100]", found=cal.percentile, fix="e.g. 99.99")
    for key in ("batches", "holdout_batches", "batch_size"):
        if getattr(cal, key) < 0:
            raise TrtforgeError.of(f"{at}.{key} >= 0", found=getattr(cal, key), fix=f"set {key} to a count")
    for key in ("resize", "crop"):
        if getattr(cal, key) < 1:
            raise TrtforgeError.of(f"{at}.{key} >= 1 (pixels)", found=getattr(cal, key),
                                   fix="set it to the model's input size (crop) and a little more (resize)")
    if len(cal.mean) != len(cal.std) or not cal.mean:
        raise TrtforgeError.of(f"{at}.mean and std of the same, non-zero length (one value per channel)",
                               found=f"mean {list(cal.mean)}, std {list(cal.std)}", fix="give one per channel")
    bad = [s for s in cal.std if not s > 0.0 or s == float("inf")]
    if bad or any(m != m or abs(m) == float("inf") for m in cal.mean):
        raise TrtforgeError.of(f"{at}.std > 0 and finite mean/std (images are divided by std)",
                               found=f"mean {list(cal.mean)}, std {list(cal.std)}",
                               fix="e.g. std = [0.229, 0.224, 0.225]")
    _check_normalisation_channels(config, where=at)


def _check_normalisation_channels(config: Config, *, where: str) -> None:
    """mean/std are per channel: images are RGB (3 channels); synthetic data is normalised per channel of every
    3-D input when the lengths match, and a length that fits no such input is an error unless left default."""
    cal = config.calibration
    defaults = CalibrationConfig()
    chw = {name: shape[0] for name, shape in config.inputs.items() if len(shape) == 3}
    image_folder = cal.data not in ("synthetic",) and not cal.data.endswith((".npy", ".npz"))
    if image_folder and len(cal.mean) not in (1, 3):
        raise TrtforgeError.of(f"{where}.mean/std of length 3 (RGB images) or 1", found=len(cal.mean),
                               fix="give one value per RGB channel")
    customised = (cal.mean, cal.std) != (defaults.mean, defaults.std)
    if cal.data == "synthetic" and customised and chw and all(c != len(cal.mean) for c in chw.values()):
        raise TrtforgeError.of(f"{where}.mean/std with one value per channel of the inputs {chw}",
                               found=f"{len(cal.mean)} values", fix="give one value per channel")


def _check_gates(gates: GatesConfig, *, where: str) -> None:
    for key in ("min_dla_node_share", "min_dla_flops_share"):
        value = getattr(gates, key)
        if value is not None and not 0.0 <= value <= 1.0:
            raise TrtforgeError.of(f"{where}: gates.{key} in [0, 1] (a share)", found=value,
                                   fix="e.g. 0.5 for half of the nodes, or remove the gate")
    if gates.max_islands is not None and gates.max_islands < 0:
        raise TrtforgeError.of(f"{where}: gates.max_islands >= 0", found=gates.max_islands,
                               fix="e.g. 1 for a single DLA island, or remove the gate")


def _check_bench(bench: BenchConfig, *, where: str) -> None:
    """Counts are not negative; durations are finite seconds, the concurrent window and timeout above zero
    (a negative window measures nothing; a negative timeout fails every run, an infinite one never ends)."""
    for key in ("warmup", "iterations"):
        if getattr(bench, key) < 0:
            raise TrtforgeError.of(f"{where}: bench.{key} >= 0", found=getattr(bench, key), fix="e.g. 20")
    for key, zero_ok in (("duration_s", True), ("window_s", False), ("timeout_s", False)):
        value = getattr(bench, key)
        if not (value >= 0 if zero_ok else value > 0) or value == float("inf"):  # NaN fails both comparisons
            raise TrtforgeError.of(f"{where}: bench.{key} {'>= 0' if zero_ok else '> 0'} (seconds, finite)",
                                   found=value, fix="e.g. 10.0")


def check_device_types(config: Config, module_names: Iterable[str], *, model: str | None = None) -> None:
    """Every ``device_types`` key must name a submodule; say which exist and which are closest."""
    names = list(module_names)
    known = set(names)
    for key in config.device_types:
        if key in known:
            continue
        top = sorted({n.split(".")[0] for n in names if n})
        close = difflib.get_close_matches(key, names, n=3, cutoff=0.6)
        raise TrtforgeError(
            f"device_types key {key!r} matches no submodule of {model or config.model}; "
            f"closest: {', '.join(close) if close else 'none'}; top-level submodules: {', '.join(top)}"
        )


def tolerances(config: Config) -> dict[str, float]:
    """Accuracy tolerances, precision defaults overridden by the config's [compare] table."""
    defaults = {
        "fp32": {"atol": 1e-4, "rtol": 1e-3, "min_cosine": 0.99999, "min_top1": 1.0},
        "fp16": {"atol": 5e-2, "rtol": 5e-2, "min_cosine": 0.999, "min_top1": 0.95},
        "int8": {"atol": 1.0, "rtol": 1.0, "min_cosine": 0.98, "min_top1": 0.75},
    }[config.precision]
    given = {k: getattr(config.compare, k) for k in defaults}
    return {k: float(given[k]) if given[k] is not None else v for k, v in defaults.items()}


# ---------------------------------------------------------------------------------------------- generic builder


def _build(cls: type, raw: Mapping[str, Any], *, where: str) -> Any:
    if not isinstance(raw, Mapping):
        raise TrtforgeError.of(f"{where}: a table", found=type(raw).__name__)
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = [k for k in raw if k not in fields]
    if unknown:
        close = {k: difflib.get_close_matches(k, list(fields), n=1) for k in unknown}
        hint = ", ".join(f"{k} (did you mean {c[0]}?)" if c else k for k, c in close.items())
        raise TrtforgeError.of(f"{where}: only known keys ({', '.join(fields)})", found=f"unknown key {hint}",
                               fix="remove or rename it")
    values = {}
    for name, f in fields.items():
        if name in raw:
            values[name] = _coerce(raw[name], hints[name], where=f"{where}: {name}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise TrtforgeError.of(f"{where}: the key {name!r}", found="it missing", fix=f"add {name} = ...")
    return cls(**values)


def _coerce(value: Any, hint: Any, *, where: str) -> Any:
    origin, args = get_origin(hint), get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(value, inner[0], where=where)
    if origin is Literal:
        if value not in args:
            raise TrtforgeError.of(f"{where} to be one of {', '.join(map(repr, args))}", found=repr(value))
        return value
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, where=where)  # type: ignore[arg-type]
    if origin is dict:
        if not isinstance(value, Mapping):
            raise TrtforgeError.of(f"{where} to be a table", found=value)
        return {str(k): _coerce(v, args[1], where=f"{where}.{k}") for k, v in value.items()}
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise TrtforgeError.of(f"{where} to be a list", found=value)
        item = args[0]
        return tuple(_coerce(v, item, where=f"{where}[{i}]") for i, v in enumerate(value))
    return _coerce_scalar(value, hint, where=where)


def _coerce_scalar(value: Any, hint: Any, *, where: str) -> Any:
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (int, float, str, bool) and (type(value) is not hint):
        raise TrtforgeError.of(f"{where} to be {hint.__name__}", found=f"{value!r} ({type(value).__name__})")
    return value


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    return obj
