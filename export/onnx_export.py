"""PyTorch -> ONNX with the dynamo exporter, checked, shape-inferred, and skipped when nothing changed."""

from __future__ import annotations

import io
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trtforge.artifacts import is_fresh, read_json, sha256_file, sha256_json, write_atomic, write_json
from trtforge.config import Config, check_device_types
from trtforge.errors import TrtforgeError
from trtforge.log import logger, stage

EXPORT_FORMAT = 1  # bump when the exported graph changes for the same inputs
MODEL_FILE = "model.onnx"
RECORD_FILE = "export.json"


@dataclass(frozen=True)
class ExportResult:
    onnx_path: Path
    record_path: Path
    reused: bool

    def record(self) -> dict[str, Any]:
        return dict(read_json(self.record_path, what="export record"))


def export_inputs(config: Config) -> dict[str, str]:
    """Everything an export depends on, as hashes: a change in any of them re-exports."""
    import onnx
    import torch
    from trtforge.export.models import model_identity

    shape_fields = {k: getattr(config, k) for k in
                    ("model", "inputs", "outputs", "max_batch_size", "dynamic_batch", "opset", "seed")}
    return {
        "config": sha256_json(shape_fields),
        "model": sha256_json(model_identity(config)),
        "toolchain": sha256_json([torch.__version__, onnx.__version__, EXPORT_FORMAT]),
    }


def onnx_from_torch(config: Config, out_dir: Path | None = None, *, force: bool = False) -> ExportResult:
    """Export the config's model to ``<out_dir>/model.onnx`` plus ``export.json``; reuse a fresh export."""
    out = Path(out_dir or config.artifact_dir)
    onnx_path, record_path = out / MODEL_FILE, out / RECORD_FILE
    with stage("export", config=config.name, model=config.model, opset=config.opset) as done:
        inputs = export_inputs(config)
        if not force and is_fresh(record_path, inputs, {"onnx": onnx_path}):
            logger.info("export: %s is up to date (input hashes match), skipped", onnx_path)
            _check_against_record(config, record_path)
            done["artifact"] = onnx_path
            return ExportResult(onnx_path, record_path, reused=True)
        model_proto, record = _export(config)
        write_atomic(onnx_path, model_proto.SerializeToString())
        record.update(inputs=inputs, outputs={"onnx": sha256_file(onnx_path)})
        write_json(record_path, record)
        done["artifact"] = onnx_path
    return ExportResult(onnx_path, record_path, reused=False)


def _export(config: Config) -> tuple[Any, dict[str, Any]]:
    import onnx
    import torch
    from trtforge.export.models import model_from_config, submodule_tree

    model = model_from_config(config)
    tree = submodule_tree(model)
    check_device_types(config, [m["name"] for m in tree])
    args = tuple(torch.randn(shape[1]) for shape in config.input_shapes().values())
    proto = _run_exporter(config, model, args)
    try:
        onnx.checker.check_model(proto, full_check=False)
        proto = onnx.shape_inference.infer_shapes(proto, check_type=True, strict_mode=True)
    except Exception as err:  # onnx raises several types; all mean "the exported model is not valid"
        raise TrtforgeError.of("a valid ONNX model from the exporter", found=f"{type(err).__name__}: {err}",
                               fix="report the model; try another opset in the config") from None
    record = {
        "format": EXPORT_FORMAT,
        "config": config.name,
        "model": config.model,
        "torch": torch.__version__,
        "onnx": onnx.__version__,
        "opset": _opset(proto),
        "io": {"inputs": _io_entries(proto.graph.input), "outputs": _io_entries(proto.graph.output)},
        "static_shapes": not config.dynamic_batch,
        "submodules": tree,
    }
    return proto, record


def _run_exporter(config: Config, model: Any, args: tuple[Any, ...]) -> Any:
    import onnx
    import torch

    dynamic = None
    if config.dynamic_batch:
        dynamic = {name: {0: torch.export.Dim.AUTO} for name in config.inputs}
    try:
        program = torch.onnx.export(
            model, args, dynamo=True, opset_version=config.opset, input_names=list(config.inputs),
            output_names=list(config.outputs), dynamic_shapes=dynamic, verbose=False, optimize=True)
    except Exception as err:
        reason = str(err).strip().splitlines()
        short = next((line for line in reason if line.strip()), type(err).__name__)
        raise TrtforgeError.of(f"torch.onnx.export(dynamo=True) to export {config.model!r}",
                               found=f"{type(err).__name__}: {short[:400]}",
                               fix="make the model traceable by torch.export (see the exporter's "
                                   "message), or change the opset in the config") from None
    if program is None:
        raise TrtforgeError.of("torch.onnx.export to return an ONNXProgram", found="None",
                               fix="use torch >= 2.5 (the dynamo exporter)")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / MODEL_FILE
        program.save(str(path), external_data=False)
        proto = onnx.load(io.BytesIO(path.read_bytes()))
    return proto


def _opset(proto: Any) -> int:
    return next(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx"))


def _io_entries(values: Any) -> list[dict[str, Any]]:
    from onnx import helper

    entries = []
    for value in values:
        tensor = value.type.tensor_type
        dims = [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in tensor.shape.dim]
        entries.append({"name": value.name, "dtype": helper.tensor_dtype_to_np_dtype(tensor.elem_type).name,
                        "shape": dims})
    return entries


def _check_against_record(config: Config, record_path: Path) -> None:
    record = read_json(record_path, what="export record")
    check_device_types(config, [m["name"] for m in record["submodules"]])
