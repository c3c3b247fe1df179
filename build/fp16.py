"""The FP16-typed ONNX that strongly typed TensorRT (>= 11, TensorRT-RTX) builds an FP16 engine from.

One onnx-graphsurgeon pass: float32 weights and constants become float16, ``Cast(to=FLOAT)`` becomes
``Cast(to=FLOAT16)``, and the engine keeps float32 inputs and outputs through one ``Cast`` after each input and
one before each output (so callers and sidecars see the same I/O as the FP32 engine). Node names are kept, so
the tagged owners (and the plan) still apply; the added casts are named ``/Cast.<tensor>`` and carry no owner
(the build gives them the device of the layer they feed or follow). The result runs in ONNX Runtime (CPU).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from trtforge.artifacts import write_atomic
from trtforge.log import stage


def fp16_from_onnx(onnx_path: Path, out_path: Path) -> Path:
    """Write the FP16-typed copy of ``onnx_path`` to ``out_path``."""
    import onnx
    import onnx_graphsurgeon as gs

    with stage("fp16", onnx=onnx_path) as done:
        graph = gs.import_onnx(onnx.load(str(onnx_path)))
        _weights_to_fp16(graph)
        _keep_float32_io(graph)
        for tensor in graph.tensors().values():
            if isinstance(tensor, gs.Variable) and tensor not in graph.inputs and tensor not in graph.outputs:
                tensor.dtype, tensor.shape = None, None  # let the consumers infer (float16 now)
        graph.cleanup().toposort()
        model = gs.export_onnx(graph)
        onnx.checker.check_model(model)
        write_atomic(out_path, model.SerializeToString())
        done["artifact"] = out_path
    return out_path


def _weights_to_fp16(graph: Any) -> None:
    import numpy as np
    import onnx
    import onnx_graphsurgeon as gs

    for tensor in graph.tensors().values():
        if isinstance(tensor, gs.Constant) and tensor.values.dtype == np.float32:
            tensor.values = tensor.values.astype(np.float16)
    for node in graph.nodes:
        if node.op == "Cast" and node.attrs.get("to") == onnx.TensorProto.FLOAT:
            node.attrs["to"] = onnx.TensorProto.FLOAT16
        value = node.attrs.get("value")
        if node.op == "Constant" and isinstance(value, gs.Constant) and value.values.dtype == np.float32:
            value.values = value.values.astype(np.float16)


def _keep_float32_io(graph: Any) -> None:
    import numpy as np
    import onnx
    import onnx_graphsurgeon as gs

    for tensor in [t for t in graph.inputs if t.dtype == np.float32]:
        half = gs.Variable(f"{tensor.name}_fp16", dtype=np.float16, shape=tensor.shape)
        for node in [n for n in graph.nodes if tensor in n.inputs]:
            node.inputs = [half if t is tensor else t for t in node.inputs]
        graph.nodes.append(gs.Node("Cast", f"/Cast.{tensor.name}", attrs={"to": onnx.TensorProto.FLOAT16},
                                   inputs=[tensor], outputs=[half]))
    for index, tensor in enumerate(list(graph.outputs)):
        if tensor.dtype != np.float32:
            continue
        half = gs.Variable(f"{tensor.name}_fp16", dtype=np.float16, shape=tensor.shape)
        for node in [n for n in graph.nodes if tensor in n.outputs]:
            node.outputs = [half if t is tensor else t for t in node.outputs]
        graph.nodes.append(gs.Node("Cast", f"/Cast.{tensor.name}", attrs={"to": onnx.TensorProto.FLOAT},
                                   inputs=[half], outputs=[tensor]))
        graph.outputs[index] = tensor
