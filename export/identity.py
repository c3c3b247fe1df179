"""The model-identity hash of an export, computable without importing torch, torchvision or the model's code.

At export time (the model imported, constructed and exported) ``sources_of_model`` records the source file of
every module the process loaded from user code: not the standard library, not site-packages, not trtforge
itself, and always the factory's own module. ``export.json`` keeps ``{path: sha256}`` of those files. A later
freshness check re-hashes exactly those files and re-resolves the factory's module on ``sys.path`` without
executing it (``module_file``), so an edit to any module the model's code imports (not only the factory's
file) re-exports, and nothing heavy is imported to find out.
"""

from __future__ import annotations

import importlib.machinery
import importlib.metadata
import site
import sys
import sysconfig
from collections.abc import Iterable, Mapping
from pathlib import Path

from trtforge.artifacts import sha256_file, sha256_json
from trtforge.config import Config

MISSING = "missing"
_OWN_PACKAGE = "trtforge"


def distribution_version(name: str) -> str:
    """An installed distribution's version from its metadata (no import of the package itself)."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return MISSING


def factory_module(config: Config) -> str | None:
    """``package.module`` of a ``package.module:factory`` model, ``None`` for a torchvision model name."""
    return config.model.partition(":")[0] if ":" in config.model else None


def module_file(name: str) -> str:
    """The file ``import name`` would load, found on ``sys.path`` without running any of its code (parents'
    ``__init__`` included); an already imported module answers with its ``__file__``."""
    loaded = sys.modules.get(name)
    if loaded is not None:
        origin = getattr(loaded, "__file__", None)
    else:
        parts, locations, spec = name.split("."), None, None
        for depth in range(1, len(parts) + 1):
            spec = importlib.machinery.PathFinder.find_spec(".".join(parts[:depth]), locations)
            if spec is None:
                return f"<{name}: not found>"
            locations = list(spec.submodule_search_locations or [])
        origin = spec.origin if spec is not None else None
    return str(Path(origin).resolve()) if origin and Path(origin).is_file() else f"<{name}: no file>"


def _excluded_roots() -> list[Path]:
    paths = {sysconfig.get_paths()[key] for key in ("stdlib", "platstdlib", "purelib", "platlib")}
    paths.update(site.getsitepackages() if hasattr(site, "getsitepackages") else [])
    paths.add(site.getusersitepackages())
    return [Path(p).resolve() for p in paths if p]


def _under(path: Path, roots: Iterable[Path]) -> bool:
    return any(path == root or root in path.parents for root in roots)


def user_module_files(modules: Mapping[str, object], factory: str | None) -> list[Path]:
    """Source files of the loaded modules that are user code: ``.py`` files outside the standard library and
    site-packages, trtforge's own modules left out; the factory's module is always in."""
    excluded = _excluded_roots()
    files = []
    for name, module in list(modules.items()):
        source = getattr(module, "__file__", None)
        if not source or name == "__main__" or name.split(".")[0] == _OWN_PACKAGE:
            continue
        path = Path(source).resolve()
        if path.suffix == ".py" and path.is_file() and (name == factory or not _under(path, excluded)):
            files.append(path)
    return sorted(set(files))


def sources_of_model(config: Config) -> dict[str, str]:
    """``{path: sha256}`` of the user modules loaded now (call it after the model was built and exported);
    empty for a torchvision model name, whose identity is torchvision's version."""
    factory = factory_module(config)
    if factory is None:
        return {}
    return {str(p): sha256_file(p) for p in user_module_files(sys.modules, factory)}


def rehashed(sources: Mapping[str, str]) -> dict[str, str]:
    """The same files hashed again now (``missing`` for a file that is gone)."""
    return {path: sha256_file(path) if Path(path).is_file() else MISSING for path in sources}


def model_identity(config: Config, sources: Mapping[str, str]) -> str:
    """The hash that changes when the model's code changes: the model name, where its factory's module
    resolves, the hashes of the user modules it loaded; torchvision's version for a torchvision name."""
    factory = factory_module(config)
    if factory is None:
        return sha256_json(["torchvision", distribution_version("torchvision"), config.model])
    return sha256_json([config.model, module_file(factory), dict(sorted(sources.items()))])
