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
        return Path(self.output_dir) if self.output_dir else Path("artifacts") / self.name

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


def load_config(name_or_path: str, overrides: Sequence[str] = ()) -> Config:
    """Load a config by name (``configs/<name>.toml``) or path, then apply ``key=value`` overrides."""
    path = _resolve(name_or_path, config_dir(), available_configs(), what="config")
    raw = _read_toml(path)
    raw.setdefault("name", path.stem)
    if raw["name"] != path.stem and path.parent == config_dir():
        raise TrtforgeError.of(f"config name to match its file name {path.stem!r}", found=raw["name"],
                               fix=f"rename the file or remove `name` from {path}")
    if overrides:
        raw = _apply_overrides(raw, overrides)
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
        load_config(proc.config)  # every named config must exist and be valid
        _check_dla_core(proc.dla_core, where=f"{path}: processes")
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
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as err:
        raise TrtforgeError.of(f"valid TOML in {path}", found=str(err), fix="fix the syntax") from None


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
        for part in parents:
            target = target.setdefault(part, {})
        target[leaf] = value
        if key not in ("name", "output_dir"):
            suffix.append(re.sub(r"[^A-Za-z0-9._]+", "", f"{key.replace('.', '_')}{value}"))
    if "name" not in {o.partition("=")[0].strip() for o in overrides} and suffix:
        result["name"] = "-".join([str(result["name"]), *suffix])
    return result


def _parse_value(text: str) -> Any:
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text  # a bare word: a string


# ---------------------------------------------------------------------------------------------- checks


def check_config(config: Config, *, where: str) -> None:
    """Cross-field rules that do not need the model. Submodule names are checked by ``check_device_types``."""
    if not config.inputs:
        raise TrtforgeError.of(f"{where}: at least one entry in [inputs]", found="none",
                               fix='add e.g. input = [3, 224, 224]')
    for name, shape in config.inputs.items():
        if not shape or any(d <= 0 for d in shape):
            raise TrtforgeError.of(f"{where}: inputs.{name} to be a list of positive dimensions "
                                   "(the batch dimension excluded)", found=list(shape))
    if config.max_batch_size < 1:
        raise TrtforgeError.of(f"{where}: max_batch_size >= 1", found=config.max_batch_size)
    _check_dla_core(config.dla_core, where=where)
    dla = _dla_entries(config)
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


def _check_dla_core(core: object, *, where: str) -> None:
    if isinstance(core, bool) or not isinstance(core, int) or core < 0:
        raise TrtforgeError.of(f"{where}: dla_core to be a non-negative integer", found=core,
                               fix="use 0 or 1 (Xavier and Orin have two DLA cores)")


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
