"""The FP16-typed ONNX that strongly typed TensorRT (>= 11, TensorRT-RTX) builds an FP16 engine from.

The conversion is onnxconverter-common's float16 converter (``convert_float_to_float16``) with float32 graph
inputs and outputs kept (``keep_io_types``: callers and sidecars see the same I/O as the FP32 engine) and its
default block list (ops kept in float32 between casts, e.g. ``Resize``, whose ``scales`` must stay float32).
Around it, one small pass of our own for what was measured to go wrong with the converter alone
(onnxconverter-common 1.16.0, torch 2.14 dynamo exports):

- a graph output that is also consumed inside the graph (``forward`` returning ``(y, y * 2)``, multi-output
  YOLOv8): the consumers kept reading the float32 output next to float16 tensors (``Mul`` bound to two types);
- a graph output produced by a blocked op (the final ``Resize`` of DeepLabV3) became float16 despite
  ``keep_io_types``;
- ``ConstantOfShape`` without a ``value`` attribute (float32 zeros by the spec; Swin's attention mask) stayed
  float32 while its consumers became float16.

Before the converter every float graph output is produced by an ``Identity`` of its own, and every
``ConstantOfShape`` gets its ``value`` spelled out; after it the ``Identity`` nodes are bypassed again, and every
node the converter added is named ``<owner>/Cast.fp16.<k>`` (``/Cast.<tensor>`` at the graph inputs and
outputs) with the owner of the node it feeds or follows, so the tagged owners (and the plan) still apply.
The result must pass ``onnx.checker.check_model(full_check=True)``; it runs in ONNX Runtime (CPU).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from trtforge.artifacts import write_atomic
from trtforge.errors import TrtforgeError
from trtforge.log import stage

FP16_PASS = "2"  # bump when the same input gives another FP16-typed ONNX (2: onnxconverter-common)
_SHIELD = "/Identity.fp16_output"
FP16_MIN_SUBNORMAL = 2.0**-24  # the smallest positive float16; smaller weights round to zero or to it anyway


def fp16_from_onnx(onnx_path: Path, out_path: Path) -> Path:
    """Write the FP16-typed copy of ``onnx_path`` to ``out_path``."""
    import onnx

    with stage("fp16", onnx=onnx_path) as done:
        model = onnx.load(str(onnx_path))
        source_names = {n.name for n in model.graph.node}
        owners = _owners(model)
        _shield_outputs(model)
        _explicit_constant_of_shape(model)
        model = _convert(model)
        _unshield_outputs(model)
        _name_added_nodes(model, source_names, owners)
        check_fp16_model(model, onnx_path)
        write_atomic(out_path, model.SerializeToString())
        done["artifact"] = out_path
    return out_path


def check_fp16_model(model: Any, source: Path) -> None:
    """The FP16-typed ONNX must be valid by the spec (full check: types and shapes inferred strictly) with float32
    I/O; a failure is ours, not the user's model's."""
    import onnx

    try:
        onnx.checker.check_model(model, full_check=True)
    except Exception as err:  # onnx raises ValidationError, InferenceError, ...
        first = " ".join(str(err).split())[:300]
        raise TrtforgeError.of(f"a valid FP16-typed ONNX from {source}", found=f"{type(err).__name__}: {first}",
                               fix="report it (trtforge's FP16 pass is at fault); meanwhile use precision = "
                                   "'int8' or a weakly typed TensorRT") from None
    wrong = [v.name for v in (*model.graph.input, *model.graph.output)
             if v.type.tensor_type.elem_type == onnx.TensorProto.FLOAT16]
    if wrong:
        raise TrtforgeError.of(f"float32 graph inputs and outputs in the FP16-typed ONNX from {source}",
                               found=f"float16 {', '.join(wrong)}", fix="report it (trtforge's FP16 pass)")


def _convert(model: Any) -> Any:
    from onnxconverter_common import float16

    with warnings.catch_warnings():  # one warning per tiny weight ("will be truncated to ...")
        warnings.simplefilter("ignore")
        return float16.convert_float_to_float16(
            model, keep_io_types=True, min_positive_val=FP16_MIN_SUBNORMAL, max_finite_val=65504.0,
            op_block_list=float16.DEFAULT_OP_BLOCK_LIST)


def _owners(model: Any) -> dict[str, str]:
    from trtforge.placement.tagging import owners_from_tagged

    return owners_from_tagged(model)


def _shield_outputs(model: Any) -> None:
    """Every float32 graph output produced by an ``Identity`` of its own, read by nothing else."""
    import onnx
    from onnx import helper

    graph = model.graph
    for output in graph.output:
        if output.type.tensor_type.elem_type != onnx.TensorProto.FLOAT:
            continue
        inner = f"{output.name}{_SHIELD}"
        for node in graph.node:
            node.output[:] = [inner if name == output.name else name for name in node.output]
            node.input[:] = [inner if name == output.name else name for name in node.input]
        graph.node.append(helper.make_node("Identity", [inner], [output.name], name=f"{output.name}{_SHIELD}"))


def _unshield_outputs(model: Any) -> None:
    """Bypass the ``Identity`` nodes of ``_shield_outputs``: their consumers read their input."""
    graph = model.graph
    shields = [n for n in graph.node if n.op_type == "Identity" and n.name.endswith(_SHIELD)]
    outputs = {o.name for o in graph.output}
    for shield in shields:
        source, target = shield.input[0], shield.output[0]
        if target in outputs:  # no cast after it: the output keeps its Identity
            continue
        for node in graph.node:
            node.input[:] = [source if name == target else name for name in node.input]
        graph.node.remove(shield)


def _explicit_constant_of_shape(model: Any) -> None:
    """``ConstantOfShape`` without ``value`` makes float32 zeros: spell the value out so the converter sees it."""
    import numpy as np
    from onnx import helper, numpy_helper

    for node in model.graph.node:
        if node.op_type == "ConstantOfShape" and not any(a.name == "value" for a in node.attribute):
            node.attribute.append(helper.make_attribute("value", numpy_helper.from_array(np.zeros(1, np.float32))))


def _name_added_nodes(model: Any, source_names: set[str], owners: dict[str, str]) -> None:
    """Nodes added by the converter: ``/Cast.<tensor>`` at graph I/O, else ``<owner>/Cast.fp16.<k>`` with the
    owner of the node they feed (or follow), and the owner in the node's metadata."""
    from trtforge.placement.tagging import OWNER_KEY

    graph = model.graph
    inputs, outputs = {i.name for i in graph.input}, {o.name for o in graph.output}
    producer = {name: node.name for node in graph.node for name in node.output}
    consumers: dict[str, list[str]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node.name)
    used = set(source_names)
    for k, node in enumerate(n for n in graph.node if n.name not in source_names):
        near = [c for name in node.output for c in consumers.get(name, [])] + \
               [producer[name] for name in node.input if name in producer]
        owner = next((owners[n] for n in near if n in owners), "")
        io_name = next((t for t in (*node.input, *node.output) if t in inputs or t in outputs), None)
        base = f"/Cast.{io_name}" if io_name is not None else f"{owner}/Cast.fp16.{k}"
        name, i = base, 1
        while name in used:
            name, i = f"{base}.{i}", i + 1
        used.add(name)
        node.name = name
        node.metadata_props.add(key=OWNER_KEY, value="" if io_name is not None else owner)
