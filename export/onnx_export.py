"""PyTorch -> ONNX with the dynamo exporter, checked, shape-inferred, and skipped when nothing changed.

The exporter's own output (warnings, the thousands of lines torch.export prints for an untraceable model, the
full error report) goes to ``export.log`` in the artifact folder, never to the terminal; a failure is one line
with the cause from the exporter's "Exception summary", the module and function that raised it, and the log.
The config's ``opset`` is honoured (the exporter's result converted with onnx's version converter when the
exporter writes another opset) or refused, and its ``outputs`` must name every output the model returns.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import re
import sys
import tempfile
import traceback
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trtforge.artifacts import is_fresh, read_json, sha256_file, sha256_json, temp_dir, write_atomic, write_json
from trtforge.config import Config, check_device_types
from trtforge.errors import TrtforgeError
from trtforge.log import logger, stage

EXPORT_FORMAT = 2  # bump when the exported graph changes for the same inputs (2: opset honoured, outputs checked)
MODEL_FILE = "model.onnx"
RECORD_FILE = "export.json"
LOG_FILE = "export.log"
# The newest opset each TensorRT line's ONNX parser reads (``[target] tensorrt``):
# 8.6: onnx-tensorrt release/8.6-GA docs/operators.md ("TensorRT 8.6 supports operators up to Opset 17");
# 10.x: onnx-tensorrt release/10.0 docs/operators.md ("inclusive range of opset 9 to opset 20"; the floor of 10.x);
# 11.4+: TensorRT 11.x ONNX Opset Guide ("Maximum opset 25").
MAX_OPSET = {"8.6": 17, "10.x": 20, "11.4+": 25}
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@dataclass(frozen=True)
class ExportResult:
    onnx_path: Path
    record_path: Path
    reused: bool

    def record(self) -> dict[str, Any]:
        return dict(read_json(self.record_path, what="export record"))


def export_inputs(config: Config, sources: Mapping[str, str] | None = None) -> dict[str, str]:
    """Everything an export depends on, as hashes: a change in any of them re-exports. ``sources`` are the
    model's user modules (``{path: sha256}``, see ``trtforge.export.identity``); without them the model is
    imported to find them. Versions come from package metadata: nothing here imports torch."""
    from trtforge.export.identity import distribution_version, factory_module, model_identity, sources_of_model

    if sources is None and factory_module(config) is not None:
        from trtforge.export.models import model_from_config

        model_from_config(config)
        sources = sources_of_model(config)
    shape_fields = {k: getattr(config, k) for k in
                    ("model", "inputs", "outputs", "max_batch_size", "dynamic_batch", "opset", "seed")}
    if config.export_module:  # only when set, so the hashes of existing exports stay the same
        shape_fields["export_module"] = config.export_module
    return {
        "config": sha256_json(shape_fields),
        "model": model_identity(config, sources or {}),
        "toolchain": sha256_json([distribution_version("torch"), distribution_version("onnx"), EXPORT_FORMAT]),
    }


def fresh_export(config: Config, record_path: Path, onnx_path: Path) -> bool:
    """True when ``export.json`` was made from the same inputs as now: the config fields, the toolchain, and
    the recorded model sources re-hashed (no torch import, no import of the model's code)."""
    from trtforge.export.identity import rehashed

    try:
        recorded = json.loads(record_path.read_text()).get("model_sources")
    except (OSError, ValueError, AttributeError):
        return False
    if not isinstance(recorded, dict):
        return False
    return is_fresh(record_path, export_inputs(config, rehashed(recorded)), {"onnx": onnx_path})


def onnx_from_torch(config: Config, out_dir: Path | None = None, *, force: bool = False) -> ExportResult:
    """Export the config's model to ``<out_dir>/model.onnx`` plus ``export.json``; reuse a fresh export."""
    out = Path(out_dir or config.artifact_dir)
    onnx_path, record_path = out / MODEL_FILE, out / RECORD_FILE
    with stage("export", config=config.name, model=config.model, opset=config.opset) as done:
        if not force and fresh_export(config, record_path, onnx_path):
            _check_against_record(config, record_path)
            done.update(artifact=onnx_path, skipped=True)
            return ExportResult(onnx_path, record_path, reused=True)
        from trtforge.export.identity import sources_of_model
        check_opset(config)
        same = out.resolve() == Path(config.artifact_dir).resolve()
        model_proto, record = _export(config if same else dataclasses.replace(config, output_dir=str(out)))
        sources = sources_of_model(config)  # every user module the model's code loaded, now that it ran
        write_atomic(onnx_path, model_proto.SerializeToString())
        record.update(inputs=export_inputs(config, sources), model_sources=sources,
                      outputs={"onnx": sha256_file(onnx_path)})
        write_json(record_path, record)
        done["artifact"] = onnx_path
    return ExportResult(onnx_path, record_path, reused=False)


def check_opset(config: Config) -> None:
    """The config's opset must be one onnx knows and the target TensorRT line's parser reads."""
    import onnx

    newest = min(onnx.defs.onnx_opset_version(), MAX_OPSET[config.target.tensorrt])
    if config.opset > newest:
        line = config.target.tensorrt
        raise TrtforgeError.of(
            f"opset <= {newest} (onnx {onnx.__version__} knows up to {onnx.defs.onnx_opset_version()}; the "
            f"ONNX parser of TensorRT {line} reads up to {MAX_OPSET[line]})",
            found=f"opset = {config.opset}", fix=f"set opset = {min(18, newest)} in the config")


def _export(config: Config) -> tuple[Any, dict[str, Any]]:
    import onnx
    import torch
    from trtforge.export.models import model_from_config, submodule_tree

    model = model_from_config(config)
    tree = submodule_tree(model)
    check_device_types(config, [m["name"] for m in tree])
    _check_input_count(config, model)
    args = tuple(torch.randn(shape[1]) for shape in config.input_shapes().values())
    proto = _run_exporter(config, model, args, Path(config.artifact_dir) / LOG_FILE)
    try:
        onnx.checker.check_model(proto, full_check=False)
        proto = onnx.shape_inference.infer_shapes(proto, check_type=True, strict_mode=True)
    except Exception as err:  # onnx raises several types; all mean "the exported model is not valid"
        raise TrtforgeError.of("a valid ONNX model from the exporter", found=f"{type(err).__name__}: {err}",
                               fix="report the model; try another opset in the config") from None
    proto = _honour_opset(proto, config)
    _check_output_count(proto, config, model, args)
    record = {
        "format": EXPORT_FORMAT,
        "config": config.name,
        "model": config.model,
        "export_module": config.export_module,
        "torch": torch.__version__,
        "onnx": onnx.__version__,
        "opset": _opset(proto),
        "io": {"inputs": _io_entries(proto.graph.input), "outputs": _io_entries(proto.graph.output)},
        "static_shapes": not config.dynamic_batch,
        "submodules": tree,
    }
    return proto, record


def _check_input_count(config: Config, model: Any) -> None:
    """One config input per positional parameter of ``forward`` (those without defaults are required)."""
    import inspect

    try:
        params = list(inspect.signature(model.forward).parameters.values())
    except (TypeError, ValueError):  # a forward without a Python signature: let the exporter decide
        return
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = [p.name for p in positional if p.default is p.empty]
    varargs = any(p.kind is p.VAR_POSITIONAL for p in params)
    given = len(config.inputs)
    if given < len(required) or (given > len(positional) and not varargs):
        wanted = len(required) if given < len(required) else len(positional)
        raise TrtforgeError.of(
            f"{wanted} input(s) in [inputs], one per argument of {type(model).__name__}.forward"
            f"({', '.join(p.name for p in positional)})",
            found=f"{given}: {', '.join(config.inputs)}", fix="add or remove entries in [inputs]")


def _run_exporter(config: Config, model: Any, args: tuple[Any, ...], log_path: Path) -> Any:
    import onnx
    import torch

    dynamic = None
    if config.dynamic_batch:
        dynamic = {name: {0: torch.export.Dim.AUTO} for name in config.inputs}
    error: BaseException | None = None
    proto = None
    with _captured_output() as captured:
        try:
            program = torch.onnx.export(
                model, args, dynamo=True, opset_version=config.opset, input_names=list(config.inputs),
                output_names=list(config.outputs), dynamic_shapes=dynamic, verbose=False, optimize=True)
            if program is not None:
                with temp_dir(log_path.parent, "export-") as tmp:  # in the artifact folder, swept if killed
                    path = Path(tmp) / MODEL_FILE
                    program.save(str(path), external_data=False)
                    proto = onnx.load(io.BytesIO(path.read_bytes()))
        except Exception as err:  # the exporter raises many types; each is summarised below
            error = err
    log = captured.getvalue()
    if error is not None:
        log += "\n" + "".join(traceback.format_exception(error))
    write_atomic(log_path, _ANSI.sub("", log))
    if error is not None:
        raise error_from_export(config, model, error, log_path) from None
    if proto is None:
        raise TrtforgeError.of("torch.onnx.export to return an ONNXProgram", found="None",
                               fix="use torch >= 2.5 (the dynamo exporter)")
    return proto


@contextlib.contextmanager
def _captured_output() -> Iterator[io.StringIO]:
    """Everything written to stdout and stderr meanwhile (Python and C level) into the yielded buffer."""
    captured = io.StringIO()
    sys.stdout.flush()
    sys.stderr.flush()
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    with tempfile.TemporaryFile(mode="w+b") as sink:
        old_streams = sys.stdout, sys.stderr
        text = io.TextIOWrapper(sink, encoding="utf-8", errors="replace", write_through=True)
        try:
            for fd in (1, 2):
                os.dup2(sink.fileno(), fd)
            sys.stdout = sys.stderr = text
            yield captured
        finally:
            sys.stdout, sys.stderr = old_streams
            text.flush()
            for fd, copy in saved.items():
                os.dup2(copy, fd)
                os.close(copy)
            sink.seek(0)
            captured.write(sink.read().decode("utf-8", errors="replace"))
            text.detach()


def error_from_export(config: Config, model: Any, err: BaseException, log_path: Path) -> TrtforgeError:
    """One line: the cause from the exporter's "Exception summary" (else the innermost exception), where it
    was raised (submodule and function), and the log with the exporter's full output."""
    cause = _summary_cause(str(err)) or _innermost(err)
    where = _raised_in(model, err)
    found = f"{cause}{f' (raised in {where[0]})' if where else ''}"
    children = [name for name, _m in model.named_children()]
    shapes = ", ".join(f"{name} {list(shape[1])}" for name, shape in config.input_shapes().items())
    if not _is_trace_error(err):  # the model's own code refused the inputs (a shape, a dtype, a count)
        fix = f"check [inputs] (batch included, the model got {shapes}) against what the model expects"
    elif where and not where[1] and children:  # untraceable code outside every submodule: offer the parts
        fix = (f"make {where[0].split(' (')[0]} traceable by torch.export, or export one submodule that traces "
               f"with `export_module` (e.g. export_module = \"{_likely_backbone(children)}\"; submodules: "
               f"{', '.join(children)})")
    elif where:
        fix = f"make {where[0]} traceable by torch.export, or export another submodule with `export_module`"
    else:
        fix = "make the model traceable by torch.export, or export one submodule with `export_module`"
    return TrtforgeError.of(f"torch.onnx.export(dynamo=True) to export {_what(config)}",
                            found=found, fix=f"{fix}; full exporter output: {log_path}")


def _what(config: Config) -> str:
    return f"{config.model!r}" + (f" (export_module {config.export_module!r})" if config.export_module else "")


def _one_line(text: str, limit: int = 300) -> str:
    flat = " ".join(_ANSI.sub("", text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _summary_cause(message: str) -> str:
    """``RuntimeError: ...`` from the exporter's "## Exception summary" section, or ``""``."""
    plain = _ANSI.sub("", message)
    _head, sep, tail = plain.partition("## Exception summary")
    if not sep:
        return ""
    body = tail.split("(Refer to the full stack trace", 1)[0].strip()
    body = re.sub(r"^<class '(?:[\w.]+\.)?(\w+)'>:", r"\1:", body)
    return _one_line(body)


def _chain(err: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = err
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _innermost(err: BaseException) -> str:
    last = _chain(err)[-1]
    return _one_line(f"{type(last).__name__}: {last}")


def _raised_in(model: Any, err: BaseException) -> tuple[str, str] | None:
    """``("SSD.postprocess_detections (ssd.py:453) in the root module", "")``: the deepest frame of the
    traceback whose ``self`` is one of the model's modules (non-strict export runs the model's Python code)."""
    names = {id(module): name for name, module in model.named_modules()}
    found: tuple[str, str] | None = None
    for exc in _chain(err):
        tb = exc.__traceback__
        while tb is not None:
            frame = tb.tb_frame
            owner = frame.f_locals.get("self")
            if id(owner) in names and frame.f_code.co_name not in ("_call_impl", "_wrapped_call_impl"):
                name = names[id(owner)]
                place = f"submodule {name!r}" if name else "the root module"
                where = f"{type(owner).__name__}.{frame.f_code.co_name} ({Path(frame.f_code.co_filename).name}:" \
                        f"{tb.tb_lineno}) in {place}"
                found = (where, name)
            tb = tb.tb_next
    return found


def _is_trace_error(err: BaseException) -> bool:
    """Whether the innermost cause comes from tracing (torch.export, dynamo, symbolic shapes, the ONNX
    translation) rather than from the model's own checks on its inputs."""
    module = type(_chain(err)[-1]).__module__
    return module.startswith(("torch._dynamo", "torch.fx", "torch.export", "torch._export", "torch._guards",
                              "torch.utils._sympy", "torch.onnx", "onnxscript", "torch._subclasses"))


def _likely_backbone(children: list[str]) -> str:
    for wanted in ("backbone", "features", "body", "encoder"):
        if wanted in children:
            return wanted
    return children[0]


def _honour_opset(proto: Any, config: Config) -> Any:
    """The model at the config's opset: as exported, or converted by onnx's version converter; else refused."""
    import onnx
    from onnx import version_converter

    got = _opset(proto)
    if got == config.opset:
        return proto
    try:
        converted = version_converter.convert_version(proto, config.opset)
        onnx.checker.check_model(converted, full_check=True)
    except Exception as err:  # the converter raises RuntimeError, ValidationError, ...
        lowest = "" if config.target.tensorrt != "8.6" else (
            "; TensorRT 8.6's parser reads opsets up to 17, so this model needs TensorRT 10.x or newer "
            "([target] tensorrt = \"10.x\")")
        raise TrtforgeError.of(
            f"an ONNX model at the config's opset {config.opset}",
            found=f"the dynamo exporter wrote opset {got} and onnx's version converter failed "
                  f"({type(err).__name__}: {_one_line(str(err), 160)})",
            fix=f"set opset = {got} (the opsets the dynamo exporter writes start at 18){lowest}") from None
    logger.info("export: opset %d converted to the config's opset %d (onnx version converter)", got, config.opset)
    return converted


def _check_output_count(proto: Any, config: Config, model: Any, args: tuple[Any, ...]) -> None:
    """``outputs`` must name every output the model returns, in order (never auto-named by position)."""
    exported = [o.name for o in proto.graph.output]
    if len(exported) == len(config.outputs):
        return
    returned = output_names_from_model(model, args)
    raise TrtforgeError.of(
        f"one name in `outputs` per output the model returns: outputs = {list(config.outputs)}",
        found=f"{len(exported)} outputs returned: {returned}",
        fix=f"set outputs = {returned} (names of your choice, in this order)")


def output_names_from_model(model: Any, args: tuple[Any, ...]) -> list[str]:
    """Names of the model's flattened outputs: dict keys, ``output_<i>`` for tuple/list positions."""
    import torch
    from torch.utils import _pytree

    with torch.no_grad():
        result = model(*args)
    return names_from_structure(result, _pytree)


def names_from_structure(result: Any, pytree: Any) -> list[str]:
    leaves, _spec = pytree.tree_flatten_with_path(result)
    names = []
    for path, _leaf in leaves:
        parts = []
        for key in path:
            if hasattr(key, "key"):
                parts.append(str(key.key))
            elif hasattr(key, "idx"):
                parts.append(f"output_{key.idx}" if not parts else str(key.idx))
            else:
                parts.append(str(getattr(key, "name", key)))
        names.append("_".join(parts) or "output")
    return names


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
