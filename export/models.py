"""Models by name: a torchvision model name, or an importable ``package.module:factory``.

Weights are randomly initialised from the config's seed (no downloads): exports are reproducible and the
content hash of an export only changes when its inputs change.
"""

from __future__ import annotations

import importlib
import inspect
from typing import TYPE_CHECKING, Any

from trtforge.config import Config
from trtforge.errors import TrtforgeError

if TYPE_CHECKING:
    import torch


def model_from_config(config: Config) -> torch.nn.Module:
    """The config's model in eval mode, initialised from ``config.seed``."""
    import torch

    torch.manual_seed(config.seed)
    factory = _factory(config.model)
    try:
        model = factory()
    except Exception as err:
        raise TrtforgeError.of(f"model {config.model!r} to construct without arguments",
                               found=f"{type(err).__name__}: {err}",
                               fix="point `model` at a factory function that takes no arguments") from None
    if not isinstance(model, torch.nn.Module):
        raise TrtforgeError.of(f"model {config.model!r} to return a torch.nn.Module",
                               found=type(model).__name__)
    return model.eval()


def model_identity(config: Config) -> str:
    """A hash that changes when the model's code changes (the factory's source file for ``module:factory``)."""
    if ":" not in config.model:
        import torchvision

        return f"torchvision {torchvision.__version__} {config.model}"
    from trtforge.artifacts import sha256_file

    source = inspect.getsourcefile(_factory(config.model)) or config.model
    return f"{config.model} {sha256_file(source)}"


def submodule_tree(model: torch.nn.Module) -> list[dict[str, str]]:
    """Qualified name and type of every submodule, the root as ``''``."""
    return [{"name": name, "type": f"{type(mod).__module__}.{type(mod).__qualname__}"}
            for name, mod in model.named_modules()]


def _factory(spec: str) -> Any:
    if ":" in spec:
        module_name, _, attr = spec.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as err:
            raise TrtforgeError.of(f"model module {module_name!r} to be importable", found=str(err),
                                   fix="install it or add its folder to PYTHONPATH") from None
        if not hasattr(module, attr):
            raise TrtforgeError.of(f"a factory {attr!r} in {module_name}", found="no such attribute")
        return getattr(module, attr)
    import torchvision

    names = torchvision.models.list_models()
    if spec not in names:
        import difflib

        close = difflib.get_close_matches(spec, names, n=3)
        raise TrtforgeError.of("a torchvision model name or 'package.module:factory'", found=spec,
                               fix=f"closest torchvision models: {', '.join(close) or 'none'}")
    return lambda: torchvision.models.get_model(spec, weights=None)
