"""Tag every ONNX node with the PyTorch submodule that owns it, and answer where ``device_types`` puts it.

The owner is the innermost submodule in the node's scope: the dynamo exporter's
``pkg.torch.onnx.name_scopes`` metadata (``['', 'layer1', 'layer1.0', 'layer1.0.bn1', '<fx node>']``), or the
scope encoded in a TorchScript-exported name (``/layer1/layer1.0/conv2/Conv``). Functional ops written in a
module's ``forward`` belong to that module, root-level ones to the root ``''`` (torch2trt's semantics). A node
the exporter left without a scope (the Split of ``x.chunk()``, constants) belongs to the innermost common owner
of its neighbours. A Conv whose batch-norm was folded into it keeps the batch-norm's scope as its owner, and
the conv it came from (named by its weight, ``<conv>.weight``) is recorded in ``trtforge.folded_from``: a
``device_types`` key naming that conv places the fused node too.

The owner is carried in the node name, ``<owner>/<OpType>`` (``layer1.0.bn1/Conv``; repeats get ``.1``, ``.2``),
because TensorRT names each layer after its node; it is also stored in ``metadata_props['trtforge.owner']``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from trtforge.artifacts import is_fresh, sha256_file, write_atomic, write_json
from trtforge.config import Config, Device
from trtforge.errors import TrtforgeError
from trtforge.log import stage

OWNER_KEY = "trtforge.owner"
SOURCE_NAME_KEY = "trtforge.source_name"
FOLDED_KEY = "trtforge.folded_from"
FOLDING_OPS = ("Conv", "ConvTranspose")
SCOPES_KEY = "pkg.torch.onnx.name_scopes"
TAGGED_FILE = "tagged.onnx"
TAGS_FILE = "tags.json"
TAGGER_FORMAT = "2"  # 2: unscoped nodes by their neighbours' common owner; folded convs recorded
ROOT = ""
# A TensorRT layer name is the node name, plus ``_<k>`` suffixes for extra layers of one node.
_LAYER_SUFFIX = re.compile(r"_\d+$")
_METADATA = re.compile(r"\[ONNX Layer: (?P<node>.*?)(?: \| .*)?\]$", re.S)


@dataclass(frozen=True)
class TagResult:
    tagged_path: Path
    tags_path: Path
    known_owners: dict[str, str] | None  # None for a reused file: read from it on first use of ``owners``
    reused: bool

    @cached_property
    def owners(self) -> dict[str, str]:
        """Tagged node name -> owning submodule ('' is the root), read from ``tagged.onnx`` when reused (so a
        skipped tag stage never loads ONNX unless someone asks)."""
        return self.known_owners if self.known_owners is not None else owners_from_tagged(_load(self.tagged_path))


# ---------------------------------------------------------------------------------------------- owners


def owner_from_scopes(scopes: Iterable[str], modules: set[str]) -> str:
    """Innermost known submodule among the name scopes; the last scope is the op itself and is skipped.

    A module instance shared at several paths is scoped by the exporter at the path it first met
    (``['', 'head', 'stem.act', 'silu_1']``: ``head`` calling the SiLU it shares with ``stem``): a scope that is
    not inside the one before it is rebased there, as ``<before>.<its tail>`` (``head.act``) when that path
    exists; deeper scopes follow the same rebase."""
    owner = path = ROOT
    rebased: dict[str, str] = {}
    for scope in list(scopes)[:-1]:
        scope = next((new + scope[len(old):] for old, new in rebased.items()
                      if scope == old or scope.startswith(old + ".")), scope)
        if path and scope != path and not scope.startswith(path + "."):
            parts = scope.split(".")
            moved = next((f"{path}.{'.'.join(parts[i:])}" for i in range(len(parts) - 1, -1, -1)
                          if f"{path}.{'.'.join(parts[i:])}" in modules), None)
            if moved is not None:
                rebased[scope], scope = moved, moved
        if scope in modules:
            owner = path = scope
    return owner


def owner_from_scoped_name(name: str, modules: set[str]) -> str:
    """Owner from a TorchScript-exporter node name such as ``/layer1/layer1.0/relu_1/Relu``."""
    owner = ROOT
    for part in name.strip("/").split("/")[:-1]:
        for candidate in (part, f"{owner}.{part}" if owner else part, re.sub(r"_\d+$", "", part)):
            if candidate in modules:
                owner = candidate
                break
            nested = f"{owner}.{candidate}" if owner else candidate
            if nested in modules:
                owner = nested
                break
    return owner


def owners_from_onnx(model: Any, modules: Iterable[str]) -> list[str]:
    """The owner of each node of ``model.graph`` in order (pure: reads names and metadata only)."""
    known = set(modules)
    owners: list[str | None] = []
    for node in model.graph.node:
        meta = {p.key: p.value for p in node.metadata_props}
        if SCOPES_KEY in meta:
            owners.append(owner_from_scopes(_parse_scopes(meta[SCOPES_KEY]), known))
        elif node.name.startswith("/"):
            owners.append(owner_from_scoped_name(node.name, known))
        else:
            owners.append(None)
    return _fill_unscoped(model, owners)


def _parse_scopes(text: str) -> list[str]:
    import ast

    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return []
    return [str(v) for v in value] if isinstance(value, list) else []


def _fill_unscoped(model: Any, owners: list[str | None]) -> list[str]:
    """A node without scope (the Split of ``x.chunk()``, a constant the exporter added) belongs to the innermost
    common owner of its neighbours (producers and consumers) that have one; repeated so that chains of
    unscoped nodes resolve, nearest neighbours first; what stays unknown is the root's."""
    nodes = list(model.graph.node)
    producer = {out: i for i, node in enumerate(nodes) for out in node.output}
    consumers: dict[str, list[int]] = {}
    for index, node in enumerate(nodes):
        for name in node.input:
            consumers.setdefault(name, []).append(index)
    neighbours = [[producer[n] for n in node.input if n in producer]
                  + [i for out in node.output for i in consumers.get(out, [])] for node in nodes]
    filled = list(owners)
    while True:  # in rounds: each round reads only the owners known before it (no dependence on node order)
        found = {index: common_owner(known) for index, owner in enumerate(filled) if owner is None
                 if (known := [filled[i] for i in neighbours[index] if filled[i] is not None])}
        if not found:
            return [o if o is not None else ROOT for o in filled]
        for index, owner in found.items():
            filled[index] = owner


def common_owner(owners: Iterable[str | None]) -> str:
    """The innermost submodule that contains every one of ``owners`` (``layer1.0.conv1``, ``layer1.1`` ->
    ``layer1``)."""
    chains = [ancestors(o or ROOT) for o in owners]
    shared = set(chains[0]).intersection(*chains[1:]) if chains else {ROOT}
    return max(shared, key=lambda a: (len(a.split(".")) if a else 0))


def folded_from_onnx(model: Any, owners: list[str], modules: Iterable[str]) -> list[str | None]:
    """For each node: the conv whose batch-norm was folded into it (its weight is ``<conv>.weight``, a module
    that is not the node's owner or one of its ancestors), else None."""
    known = set(modules)
    initializers = {init.name for init in model.graph.initializer}
    folded: list[str | None] = []
    for node, owner in zip(model.graph.node, owners, strict=True):
        weight = node.input[1] if node.op_type in FOLDING_OPS and len(node.input) > 1 else ""
        module = weight[: -len(".weight")] if weight.endswith(".weight") and weight in initializers else ""
        folded.append(module if module in known and module not in ancestors(owner) else None)
    return folded


def tagged_names(op_types: Iterable[str], owners: Iterable[str]) -> list[str]:
    """``<owner>/<OpType>`` for each node, repeats within one owner numbered ``.1``, ``.2``..."""
    seen: Counter[str] = Counter()
    names = []
    for op, owner in zip(op_types, owners, strict=True):
        base = f"{owner}/{op}"
        names.append(base if seen[base] == 0 else f"{base}.{seen[base]}")
        seen[base] += 1
    return names


# ---------------------------------------------------------------------------------------------- the pass


def tag_owners(onnx_path: Path, modules: Iterable[str], out_path: Path, *, force: bool = False) -> TagResult:
    """Write ``tagged.onnx``: nodes renamed to their owner, ``trtforge.owner`` metadata, and ``tags.json``."""
    tags_path = out_path.with_name(TAGS_FILE)
    module_list = sorted(set(modules))
    inputs = {"onnx": sha256_file(onnx_path), "modules": _hash_list(module_list), "tagger": TAGGER_FORMAT}
    with stage("tag", onnx=onnx_path) as done:
        done["artifact"] = out_path
        if not force and is_fresh(tags_path, inputs, {"tagged": out_path}):
            done["skipped"] = True
            return TagResult(out_path, tags_path, None, reused=True)
        tagged = _tagged_model(onnx_path, module_list)
        write_atomic(out_path, tagged.SerializeToString())
        owners = owners_from_tagged(tagged)
        write_json(tags_path, {"inputs": inputs, "outputs": {"tagged": sha256_file(out_path)},
                               "owners": owners, "source": str(onnx_path)})
    return TagResult(out_path, tags_path, owners, reused=False)


def _tagged_model(onnx_path: Path, modules: list[str]) -> Any:
    import onnx
    import onnx_graphsurgeon as gs

    model = _load(onnx_path)
    owners = owners_from_onnx(model, modules)
    folded = folded_from_onnx(model, owners, modules)
    names = tagged_names((n.op_type for n in model.graph.node), owners)
    saved = {new: (node.name, list(node.metadata_props), owner, conv)
             for new, node, owner, conv in zip(names, model.graph.node, owners, folded, strict=True)}
    graph = gs.import_onnx(model)
    for node, new in zip(graph.nodes, names, strict=True):
        node.name = new
    graph.cleanup().toposort()
    tagged = gs.export_onnx(graph)
    for node in tagged.graph.node:  # graphsurgeon drops metadata_props: put them back, plus ours
        source, props, owner, conv = saved[node.name]
        node.metadata_props.extend(props)
        node.metadata_props.add(key=OWNER_KEY, value=owner)
        node.metadata_props.add(key=SOURCE_NAME_KEY, value=source)
        if conv is not None:
            node.metadata_props.add(key=FOLDED_KEY, value=conv)
    onnx.checker.check_model(tagged)
    return tagged


def _load(path: str | Path) -> Any:
    import onnx

    if not Path(path).is_file():
        raise TrtforgeError.of(f"an ONNX model at {path}", found="no such file",
                               fix="run `trtforge export` first")
    return onnx.load(str(path))


def _hash_list(items: list[str]) -> str:
    from trtforge.artifacts import sha256_json

    return sha256_json(items)


# ---------------------------------------------------------------------------------------------- queries


def owners_from_tagged(model: Any) -> dict[str, str]:
    """Tagged node name -> owner, from ``trtforge.owner`` metadata (or the name, if metadata was lost)."""
    owners = {}
    for node in model.graph.node:
        meta = {p.key: p.value for p in node.metadata_props}
        owners[node.name] = meta.get(OWNER_KEY, node.name.rpartition("/")[0])
    return owners


def folded_from_tagged(model: Any) -> dict[str, str]:
    """Tagged node name -> the conv folded into it (only the nodes that have one)."""
    found = {}
    for node in model.graph.node:
        meta = {p.key: p.value for p in node.metadata_props}
        if FOLDED_KEY in meta:
            found[node.name] = meta[FOLDED_KEY]
    return found


def owner_keys(owner: str, folded: str | None = None) -> list[str]:
    """The ``device_types`` keys that reach a node, innermost first: its owner's ancestors, with the conv folded
    into it (if any) right after the owner itself."""
    keys = ancestors(owner)
    if folded:
        keys = keys[:1] + [k for k in ancestors(folded) if k not in keys] + keys[1:]
    return keys


def ancestors(owner: str) -> list[str]:
    """``layer1.0.bn1`` -> ``['layer1.0.bn1', 'layer1.0', 'layer1', '']`` (innermost first)."""
    parts = owner.split(".") if owner else []
    return [".".join(parts[:i]) for i in range(len(parts), 0, -1)] + [ROOT]


def requested_device(owner: str, device_types: Mapping[str, Device], default: Device,
                     folded: str | None = None) -> Device:
    """torch2trt's rule: the innermost listed ancestor wins (the folded conv counts as the owner's sibling, just
    after the owner), else the default device."""
    return next((device_types[a] for a in owner_keys(owner, folded) if a in device_types), default)


def requested_devices(owners: Mapping[str, str], config: Config,
                      folded: Mapping[str, str] | None = None) -> dict[str, Device]:
    folded = folded or {}
    return {node: requested_device(owner, config.device_types, config.default_device, folded.get(node))
            for node, owner in owners.items()}


def nodes_on_dla(model_or_path: Any, config: Config) -> list[str]:
    """Names of the tagged nodes that ``config`` requests on DLA, in graph order."""
    model = _load(model_or_path) if isinstance(model_or_path, str | Path) else model_or_path
    devices = requested_devices(owners_from_tagged(model), config, folded_from_tagged(model))
    return [name for name, device in devices.items() if device == "DLA"]


def node_of_layer(layer_name: str, metadata: str | None, node_names: set[str]) -> str | None:
    """The ONNX node a TensorRT layer came from: ``[ONNX Layer: <node>]`` metadata first, then the layer
    name with the parser's ``_<k>`` suffixes removed. ``None`` for helper layers the parser added."""
    if metadata:
        found = _METADATA.match(metadata.strip())
        if found and found.group("node") in node_names:
            return found.group("node")
    if layer_name in node_names:
        return layer_name
    stripped = layer_name
    while (shorter := _LAYER_SUFFIX.sub("", stripped, count=1)) != stripped:
        if shorter in node_names:
            return shorter
        stripped = shorter
    return None


def layer_owners(layers: Iterable[tuple[str, str | None]], owners: Mapping[str, str]) -> dict[str, str | None]:
    """TensorRT layer name -> owning submodule, for (name, metadata) pairs; ``None`` marks a helper layer
    the parser added (constants for initializers, ``ONNXTRT_*`` shuffles), which no node owns."""
    nodes = set(owners)
    mapped = {}
    for name, metadata in layers:
        node = node_of_layer(name, metadata, nodes)
        mapped[name] = owners[node] if node is not None else None
    return mapped
