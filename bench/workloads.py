"""Workloads to time: the eager PyTorch model, ONNX Runtime on an ONNX file, a TensorRT engine with
device-resident buffers, and a synthetic workload of known duration (to check the harness itself).

Every builder returns a :class:`~trtforge.bench.timing.Workload` whose ``label`` records where it runs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from trtforge.bench.timing import Workload

from trtforge.config import Config
from trtforge.errors import TrtforgeError

Runtime = Literal["torch", "onnxruntime", "tensorrt", "synthetic"]
RUNTIMES: tuple[Runtime, ...] = ("torch", "onnxruntime", "tensorrt", "synthetic")


@dataclass(frozen=True)
class Synthetic:
    """A workload of known duration: each step takes ``seconds``; it can fail or hang on purpose."""

    seconds: float
    fail_after: int = -1  # raise at this step (counting warm-up), -1: never
    hang: Literal["", "setup", "window"] = ""


def inputs_from_config(config: Config, *, batch: int | None = None, seed: int | None = None) -> dict[str, Any]:
    """Generated float32 inputs (standard normal) of the config's shapes, from ``seed`` (default the config's)."""
    import numpy as np

    rng = np.random.default_rng(config.seed if seed is None else seed)
    size = batch or config.max_batch_size
    return {name: rng.standard_normal((size, *shape), dtype=np.float32) for name, shape in config.inputs.items()}


def synthetic_workload(spec: Synthetic, *, batch: int = 1) -> Workload:
    """Each step ends ``seconds`` after the previous one ended (a metronome: sleep, then spin to the deadline),
    so a run of back-to-back steps lasts exactly ``steps * seconds`` even when the OS preempts a step for a
    few milliseconds (the next steps catch up); after a pause of more than five steps it restarts from now."""
    if spec.hang == "setup":
        time.sleep(1e6)
    steps = [0]
    deadline = [0.0]

    def step() -> None:
        steps[0] += 1
        if steps[0] == spec.fail_after:
            raise RuntimeError(f"synthetic failure at step {steps[0]}")
        if spec.hang == "window" and steps[0] > 1:
            time.sleep(1e6)
        now = time.perf_counter()
        late = now - deadline[0]  # how long after the previous step's end this one starts
        deadline[0] = deadline[0] + spec.seconds if late < 5 * spec.seconds else now + spec.seconds
        if deadline[0] - now > 0.003:
            time.sleep(deadline[0] - now - 0.002)
        while time.perf_counter() < deadline[0]:
            pass

    return Workload(step=step, batch=batch, label={"runtime": "synthetic", "device": "cpu",
                                                   "step_s": spec.seconds, "precision": "none"})


def torch_workload(config: Config, *, device: str, precision: str, threads: int = 0) -> Workload:
    """The eager PyTorch model under ``torch.no_grad()``, on ``device`` (``cuda`` or ``cpu``), same input and
    batch as the engine; ``precision`` ``fp16`` runs ``model.half()`` (CUDA only)."""
    import torch
    from trtforge.export.models import model_from_config

    if threads > 0:
        torch.set_num_threads(threads)
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise TrtforgeError.of("a CUDA GPU for the torch workload", found="torch.cuda.is_available() is False",
                               fix="use --device cpu")
    dtype = torch.float16 if precision == "fp16" else torch.float32
    model = model_from_config(config).to(device=device, dtype=dtype)
    feeds = [torch.from_numpy(v).to(device=device, dtype=dtype) for v in inputs_from_config(config).values()]

    def step() -> object:
        with torch.no_grad():
            return model(*feeds)

    sync = torch.cuda.synchronize if device.startswith("cuda") else None
    label = {"runtime": "torch", "version": torch.__version__, "device": _torch_device_name(device),
             "precision": precision, "threads": torch.get_num_threads()}
    return Workload(step=step, batch=config.max_batch_size, label=label, sync=sync)


def _torch_device_name(device: str) -> str:
    import torch

    if device.startswith("cuda"):
        return f"cuda ({torch.cuda.get_device_name(torch.device(device))}, CUDA {torch.version.cuda})"
    return "cpu"


def onnxruntime_workload(config: Config, onnx_path: Path, *, threads: int = 0, precision: str = "fp32") -> Workload:
    """ONNX Runtime (CPU execution provider) on ``onnx_path``; ``threads`` > 0 limits intra-op threads (1 in
    concurrent runs, so several processes on a few cores stay meaningful)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads > 0:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    options.log_severity_level = 3
    session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    feeds = feeds_for_session(session, inputs_from_config(config))
    label = {"runtime": "onnxruntime", "version": ort.__version__, "device": "cpu", "precision": precision,
             "threads": threads or "default", "onnx": str(onnx_path)}
    return Workload(step=lambda: session.run(None, feeds), batch=config.max_batch_size, label=label)


def feeds_for_session(session: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    """``inputs`` cast to the session's input types (an FP16-typed ONNX takes float16), matched by position."""
    import numpy as np

    types = {"tensor(float16)": np.float16, "tensor(float)": np.float32, "tensor(double)": np.float64}
    feeds = {}
    for meta, value in zip(session.get_inputs(), inputs.values(), strict=True):
        feeds[meta.name] = value.astype(types.get(meta.type, value.dtype))
    return feeds


def tensorrt_workload(config: Config, engine_path: Path, *, dla_core: int | None = None) -> Workload:
    """The engine through the TensorRT execution API with device-resident input and output buffers (torch
    CUDA tensors), enqueued on one stream; ``sync`` waits for that stream. Needs real TensorRT and a GPU."""
    import torch

    from trtforge import compat

    info = compat.detect()
    if info is None or not torch.cuda.is_available():
        raise TrtforgeError.of("TensorRT and a CUDA GPU to run an engine", found=engine_runnable_reason())
    trt = info.module
    runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
    if dla_core is not None and info.supports_dla_api:
        runtime.DLA_core = dla_core  # set before deserializing (the core the engine was built for)
    engine = runtime.deserialize_cuda_engine(engine_path.read_bytes())
    context = engine.create_execution_context()
    stream = torch.cuda.Stream()
    buffers = _device_buffers(trt, engine, context, config)
    for name, tensor in buffers.items():
        context.set_tensor_address(name, tensor.data_ptr())

    def step() -> None:
        context.execute_async_v3(stream.cuda_stream)

    label = {"runtime": "tensorrt", "version": info.label, "device": f"cuda ({torch.cuda.get_device_name()})",
             "precision": config.precision, "dla_core": dla_core, "engine": str(engine_path)}
    return Workload(step=step, batch=config.max_batch_size, label=label, sync=stream.synchronize)


def _device_buffers(trt: Any, engine: Any, context: Any, config: Config) -> dict[str, Any]:
    import numpy as np
    import torch

    inputs = inputs_from_config(config)
    buffers = {}
    for index in range(engine.num_io_tensors):
        name = engine.get_tensor_name(index)
        dtype = torch.from_numpy(np.zeros(1, dtype=trt.nptype(engine.get_tensor_dtype(name)))).dtype
        if engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT:
            shape = (config.max_batch_size, *config.inputs[name]) if name in config.inputs else None
            value = torch.from_numpy(inputs[name]) if name in inputs else torch.zeros(shape or (1,))
            context.set_input_shape(name, tuple(value.shape))
            buffers[name] = value.to(device="cuda", dtype=dtype).contiguous()
        else:
            buffers[name] = torch.empty(tuple(context.get_tensor_shape(name)), dtype=dtype, device="cuda")
    return buffers


def engine_runnable_reason() -> str:
    """Empty when this machine can run TensorRT engines, else why not (for "not measured here" rows)."""
    from trtforge import compat

    info = compat.detect()
    if info is None:
        return "no TensorRT installed"
    if not compat.cuda_gpus():
        return f"{info.label} is installed but this machine has no CUDA GPU to run engines"
    return ""
