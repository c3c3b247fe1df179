"""Models by name: a torchvision model name, or an importable ``package.module:factory``.

Weights are randomly initialised from the config's seed, and every pretrained-weights argument of a torchvision
builder is off (``weights``, ``weights_backbone``): nothing is downloaded, exports are reproducible and the content
hash of an export only changes when its inputs change.
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
    """The config's model (its ``export_module`` submodule when set) in eval mode, initialised from
    ``config.seed``."""
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
    return submodule_for_export(model, config).eval()


def submodule_for_export(model: torch.nn.Module, config: Config) -> torch.nn.Module:
    """``model`` itself, or its submodule named by ``export_module`` (a path like ``backbone`` or ``features.3``)."""
    if not config.export_module:
        return model
    names = [name for name, _mod in model.named_modules() if name]
    if config.export_module not in names:
        import difflib

        close = difflib.get_close_matches(config.export_module, names, n=3, cutoff=0.5)
        top = sorted({n.split(".")[0] for n in names})
        raise TrtforgeError.of(f"export_module {config.export_module!r} to name a submodule of {config.model}",
                               found="no such submodule",
                               fix=f"closest: {', '.join(close) or 'none'}; top-level submodules: {', '.join(top)}")
    return model.get_submodule(config.export_module)


def torchvision_kwargs(builder: Any) -> dict[str, Any]:
    """Keyword arguments that switch off every pretrained-weights argument of a torchvision builder:
    ``weights`` and every ``weights_*`` parameter (``weights_backbone`` of segmentation and detection models
    defaults to ImageNet weights, which would be downloaded); ``aux_loss`` off (the extra head of pretrained
    segmentation models)."""
    params = inspect.signature(builder).parameters
    kwargs: dict[str, Any] = {"weights": None}
    kwargs.update({name: None for name in params if name.startswith("weights")})
    if "aux_loss" in params:  # an auxiliary head only pretrained segmentation weights bring
        kwargs["aux_loss"] = False
    return kwargs


def submodule_tree(model: torch.nn.Module) -> list[dict[str, str]]:
    """Qualified name and type of every submodule, the root as ``''``; a module instance shared at several paths
    is listed at every path (the exporter scopes each call by the path it went through)."""
    return [{"name": name, "type": f"{type(mod).__module__}.{type(mod).__qualname__}"}
            for name, mod in model.named_modules(remove_duplicate=False)]


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
    builder = torchvision.models.get_model_builder(spec)
    return lambda: builder(**torchvision_kwargs(builder))
