"""A test double of the TensorRT 10 Python API: just what ``trtforge.build`` calls, recording every call.

Every public name here must exist on the class of the same name in ``tensorrt-stubs`` (checked by
``test_trt10_double.py``); ``__slots__`` keep the double from growing attributes the stubs do not have.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any, ClassVar

from trtforge.build.devices import LayerRow


class EnumValue:
    def __init__(self, enum: str, name: str) -> None:
        self.enum, self.name = enum, name

    def __repr__(self) -> str:
        return f"{self.enum}.{self.name}"

    __str__ = __repr__


def _enum(name: str, members: Sequence[str]) -> type:
    return type(name, (), {m: EnumValue(name, m) for m in members} | {"STUB": name})


DeviceType = _enum("DeviceType", ["GPU", "DLA"])
BuilderFlag = _enum("BuilderFlag", ["FP16", "INT8", "GPU_FALLBACK", "DIRECT_IO"])
ProfilingVerbosity = _enum("ProfilingVerbosity", ["DETAILED"])
CalibrationAlgoType = _enum("CalibrationAlgoType", ["ENTROPY_CALIBRATION_2"])
NetworkDefinitionCreationFlag = _enum("NetworkDefinitionCreationFlag", ["EXPLICIT_BATCH"])
LayerType = _enum("LayerType", ["CONVOLUTION", "ACTIVATION", "POOLING", "ELEMENTWISE", "REDUCE", "SHUFFLE",
                                "CONSTANT", "MATRIX_MULTIPLY", "CAST", "QUANTIZE", "DEQUANTIZE"])
DataType = _enum("DataType", ["FLOAT"])


class ILogger:
    STUB = "ILogger"

    def __init__(self) -> None:
        pass


class IInt8EntropyCalibrator2:
    STUB = "IInt8EntropyCalibrator2"

    def __init__(self) -> None:
        pass


class ITensor:
    STUB = "ITensor"
    __slots__ = ("_name", "_shape")

    def __init__(self, name: str, shape: tuple[int, ...] = ()) -> None:
        self._name, self._shape = name, shape

    name = property(lambda self: self._name)
    shape = property(lambda self: self._shape)
    dtype = property(lambda self: DataType.FLOAT)


class ILayer:
    STUB = "ILayer"
    __slots__ = ("_row",)

    def __init__(self, row: LayerRow) -> None:
        self._row = row

    name = property(lambda self: self._row.name)
    type = property(lambda self: getattr(LayerType, self._row.type, EnumValue("LayerType", self._row.type)))
    metadata = property(lambda self: self._row.metadata or "")
    num_inputs = property(lambda self: len(self._row.inputs))
    num_outputs = property(lambda self: len(self._row.outputs))

    def get_input(self, index: int) -> ITensor:
        return ITensor(self._row.inputs[index])

    def get_output(self, index: int) -> ITensor:
        return ITensor(self._row.outputs[index])


class INetworkDefinition:
    STUB = "INetworkDefinition"
    __slots__ = ("_inputs", "_layers", "_outputs")

    def __init__(self) -> None:
        self._layers: list[ILayer] = []
        self._inputs: list[ITensor] = []
        self._outputs: list[ITensor] = []

    num_layers = property(lambda self: len(self._layers))
    num_inputs = property(lambda self: len(self._inputs))
    num_outputs = property(lambda self: len(self._outputs))

    def get_layer(self, index: int) -> ILayer:
        return self._layers[index]

    def get_input(self, index: int) -> ITensor:
        return self._inputs[index]

    def get_output(self, index: int) -> ITensor:
        return self._outputs[index]


class OnnxParser:
    """Parsing fills the network with the layers TensorRT's parser made for the same ONNX (``PARSED``)."""

    STUB = "OnnxParser"
    __slots__ = ("_network",)
    PARSED: ClassVar[dict[str, Any]] = {}  # onnx path -> (rows, inputs, outputs); set by the test

    def __init__(self, network: INetworkDefinition, logger: ILogger) -> None:
        self._network = network

    num_errors = property(lambda self: 0)

    def get_error(self, index: int) -> str:
        raise AssertionError("no errors")

    def parse_from_file(self, model: str) -> bool:
        rows, inputs, outputs = OnnxParser.PARSED[model]
        self._network._layers = [ILayer(row) for row in rows]
        self._network._inputs = [ITensor(n, s) for n, s in inputs]
        self._network._outputs = [ITensor(n, s) for n, s in outputs]
        return True


class ITimingCache:
    STUB = "ITimingCache"
    __slots__ = ("_data",)

    def __init__(self, data: bytes) -> None:
        self._data = data

    def serialize(self) -> bytes:
        return b"timing:" + self._data


class IOptimizationProfile:
    STUB = "IOptimizationProfile"
    __slots__ = ("_shapes",)

    def __init__(self) -> None:
        self._shapes: dict[str, Any] = {}

    def set_shape(self, input: str, min: Any, opt: Any, max: Any) -> None:  # the stubs' parameter names
        self._shapes[input] = (min, opt, max)


class IBuilderConfig:
    STUB = "IBuilderConfig"
    __slots__ = ("_calibrator", "_core", "_default", "_devices", "_flags", "_profiles", "_timing", "_verbosity")

    def __init__(self) -> None:
        self._flags: set[str] = set()
        self._devices: dict[str, EnumValue] = {}
        self._default, self._core, self._calibrator, self._verbosity = DeviceType.GPU, -1, None, None
        self._profiles: list[IOptimizationProfile] = []
        self._timing: tuple[bytes, bool] | None = None

    def _set(name: str) -> property:  # type: ignore[misc]
        return property(lambda self: getattr(self, name), lambda self, value: setattr(self, name, value))

    default_device_type = _set("_default")
    DLA_core = _set("_core")
    int8_calibrator = _set("_calibrator")
    profiling_verbosity = _set("_verbosity")

    def set_flag(self, flag: EnumValue) -> None:
        self._flags.add(flag.name)

    def get_flag(self, flag: EnumValue) -> bool:
        return flag.name in self._flags

    def set_device_type(self, layer: ILayer, device_type: EnumValue) -> None:
        self._devices[layer.name] = device_type

    def get_device_type(self, layer: ILayer) -> EnumValue:
        return self._devices.get(layer.name, self._default)

    def is_device_type_set(self, layer: ILayer) -> bool:
        return layer.name in self._devices

    def add_optimization_profile(self, profile: IOptimizationProfile) -> int:
        self._profiles.append(profile)
        return len(self._profiles) - 1

    def create_timing_cache(self, serialized_timing_cache: bytes) -> ITimingCache:
        return ITimingCache(serialized_timing_cache)

    def set_timing_cache(self, cache: ITimingCache, ignore_mismatch: bool) -> bool:
        self._timing = (cache._data, ignore_mismatch)
        return True


class Builder:
    """``build_serialized_network`` logs ``LOG`` (set by a test) at INFO, as TensorRT's builder would."""

    STUB = "Builder"
    __slots__ = ("_built", "_configs", "_logger", "_network_flags")
    LOG: ClassVar[list[str]] = []

    def __init__(self, logger: ILogger) -> None:
        self._logger = logger
        self._network_flags: list[int] = []
        self._configs: list[IBuilderConfig] = []
        self._built: list[tuple[INetworkDefinition, IBuilderConfig]] = []

    num_DLA_cores = property(lambda self: 2)

    def create_network(self, flags: int = 0) -> INetworkDefinition:
        self._network_flags.append(flags)
        return INetworkDefinition()

    def create_builder_config(self) -> IBuilderConfig:
        self._configs.append(IBuilderConfig())
        return self._configs[-1]

    def create_optimization_profile(self) -> IOptimizationProfile:
        return IOptimizationProfile()

    def build_serialized_network(self, network: INetworkDefinition, config: IBuilderConfig) -> bytes:
        self._built.append((network, config))
        for line in Builder.LOG:
            self._logger.log(EnumValue("Severity", "INFO"), line)  # type: ignore[attr-defined]
        return b"serialized plan"


LayerInformationFormat = _enum("LayerInformationFormat", ["JSON"])


class EngineInspector:
    STUB = "EngineInspector"
    __slots__ = ()

    def get_engine_information(self, format: EnumValue) -> str:  # the stubs' parameter name
        return '{"Layers": ["{ForeignNode[layer1.0.bn1/Conv...layer2.1.relu/Relu.1]}"], "Bindings": ["input"]}'


class ICudaEngine:
    STUB = "ICudaEngine"
    __slots__ = ("_core",)

    def __init__(self, core: int) -> None:
        self._core = core

    num_io_tensors = property(lambda self: 2)

    def get_tensor_name(self, index: int) -> str:
        return ["input", "logits"][index]

    def get_tensor_format_desc(self, name: str) -> str:
        return f"Row major linear FP32 format (kLINEAR), deserialized on DLA core {self._core}"

    def create_engine_inspector(self) -> EngineInspector:
        return EngineInspector()


class Runtime:
    STUB = "Runtime"
    __slots__ = ("_core",)

    def __init__(self, logger: ILogger) -> None:
        self._core = -1

    DLA_core = property(lambda self: self._core, lambda self, core: setattr(self, "_core", core))

    def deserialize_cuda_engine(self, serialized_engine: bytes) -> ICudaEngine:
        assert serialized_engine == b"serialized plan"
        return ICudaEngine(self._core)


BUILDERS: list[Builder] = []


def _builder(logger: ILogger) -> Builder:
    BUILDERS.append(Builder(logger))
    return BUILDERS[-1]


MODULE_NAMES = ("Builder", "BuilderFlag", "CalibrationAlgoType", "DataType", "DeviceType", "IInt8EntropyCalibrator2",
                "ILogger", "LayerInformationFormat", "LayerType", "NetworkDefinitionCreationFlag", "OnnxParser",
                "ProfilingVerbosity", "Runtime")
CLASSES = (Builder, IBuilderConfig, INetworkDefinition, ILayer, ITensor, OnnxParser, ITimingCache,
           IOptimizationProfile, ILogger, IInt8EntropyCalibrator2, DeviceType, BuilderFlag, ProfilingVerbosity,
           CalibrationAlgoType, NetworkDefinitionCreationFlag, LayerType, DataType, LayerInformationFormat,
           EngineInspector, ICudaEngine, Runtime)


def trt10_module() -> Any:
    """The double as a module: ``trt.Builder(...)`` records the builder in ``BUILDERS``."""
    names = {name: globals()[name] for name in MODULE_NAMES}
    names["Builder"] = _builder
    return SimpleNamespace(__version__="10.3.0", **names)
