// trt_infer <engine.json> [dla_core]: one inference with the engine a sidecar describes (TensorRT 8.5 to 11.x).
//
// Before deserializing, it refuses an engine this machine cannot load: another flavour (TensorRT-RTX), platform,
// GPU compute capability or TensorRT major.minor than the LOADED libnvinfer (getInferLibVersion(), not the
// headers it was compiled with), and an engine file whose size or sha256 differs from the sidecar's. It sets the
// runtime DLA core before deserializing (the core an engine runs on is chosen at load time), binds every I/O
// tensor of the engine (sized from the engine's formats and strides), runs once and copies the outputs back.
//
// Exit status: 0 ran; 1 the engine file is missing or differs from the sidecar; 2 bad arguments or sidecar;
// 3 the engine cannot run here (flavour, platform, GPU, TensorRT version, DLA core); 4 TensorRT failed (runtime,
// engine, context, I/O tensors); 5 a CUDA call failed; 6 the inference failed.
#include <NvInfer.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "sidecar.hpp"

#if NV_TENSORRT_MAJOR < 8 || (NV_TENSORRT_MAJOR == 8 && NV_TENSORRT_MINOR < 5)
#error "trt_infer needs TensorRT >= 8.5 (name-based I/O: getTensorIOMode, setTensorAddress, enqueueV3)"
#endif
#ifdef TRT_MAJOR_RTX
#error "trt_infer is for TensorRT (Jetson, x86), not TensorRT-RTX: point TENSORRT_ROOT at a TensorRT install"
#endif

namespace {

// Every refusal: the exit status and one line saying what was expected, what was found, and the fix.
struct Failure {
  int code;
  std::string message;
};

class Logger : public nvinfer1::ILogger {
  void log(Severity severity, const char* msg) noexcept override {
    if (severity <= Severity::kWARNING) std::cerr << "[TensorRT] " << msg << "\n";
  }
};

void cuda(cudaError_t status, const std::string& what) {
  if (status != cudaSuccess) throw Failure{5, what + " failed: " + cudaGetErrorString(status)};
}

void warn_on(cudaError_t status, const char* what) noexcept {
  if (status != cudaSuccess) std::cerr << "trt_infer: " << what << " failed: " << cudaGetErrorString(status) << "\n";
}

struct DeviceFree {
  void operator()(void* device) const noexcept { warn_on(cudaFree(device), "cudaFree"); }
};
using DeviceBuffer = std::unique_ptr<void, DeviceFree>;

DeviceBuffer device_alloc(size_t bytes, const std::string& name) {
  void* device = nullptr;
  cuda(cudaMalloc(&device, bytes), "cudaMalloc of " + std::to_string(bytes) + " bytes for " + name);
  return DeviceBuffer{device};
}

class Stream {
 public:
  Stream() { cuda(cudaStreamCreate(&stream_), "cudaStreamCreate"); }
  ~Stream() { warn_on(cudaStreamDestroy(stream_), "cudaStreamDestroy"); }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  cudaStream_t get() const { return stream_; }

 private:
  cudaStream_t stream_ = nullptr;
};

std::string dotted(const std::array<int, 3>& v) {
  return std::to_string(v[0]) + "." + std::to_string(v[1]) + "." + std::to_string(v[2]);
}

std::string shape_text(const nvinfer1::Dims& dims) {
  std::string out;
  for (int32_t i = 0; i < dims.nbDims; ++i) out += (i ? "x" : "") + std::to_string(dims.d[i]);
  return out.empty() ? "scalar" : out;
}

// A non-negative int from an argument, or a Failure (no std::stoi: it throws on "x" and aborts the process).
int parse_core(const char* text) {
  char* end = nullptr;
  errno = 0;
  const long value = std::strtol(text, &end, 10);
  if (end == text || *end != '\0' || errno != 0 || value < 0 || value > INT_MAX) {
    throw Failure{2, std::string("dla_core must be a non-negative integer, found '") + text + "'"};
  }
  return static_cast<int>(value);
}

// nvinfer1::DataType and TensorFormat by value, so one switch serves 8.5 to 11.x (NvInferRuntimeBase.h,
// NvInferRuntime.h: DataType kFLOAT=0 .. kE8M0=11, TensorFormat kLINEAR=0 .. kDHWC=12).
std::string dtype_name(nvinfer1::DataType type) {
  static const char* names[] = {"FLOAT", "HALF", "INT8", "INT32", "BOOL", "UINT8",
                                "FP8",   "BF16", "INT64", "INT4", "FP4", "E8M0"};
  const auto index = static_cast<int32_t>(type);
  return index >= 0 && index < 12 ? names[index] : "DataType(" + std::to_string(index) + ")";
}

std::string format_name(nvinfer1::TensorFormat format) {
  static const char* names[] = {"LINEAR", "CHW2", "HWC8",       "CHW4",     "CHW16", "CHW32", "DHWC8",
                                "CDHW32", "HWC",  "DLA_LINEAR", "DLA_HWC4", "HWC16", "DHWC"};
  const auto index = static_cast<int32_t>(format);
  return index >= 0 && index < 13 ? names[index] : "TensorFormat(" + std::to_string(index) + ")";
}

int64_t times(int64_t a, int64_t b, const std::string& name) {
  if (a < 0 || b < 0 || (b != 0 && a > INT64_MAX / b)) throw Failure{4, "the size of " + name + " overflows"};
  return a * b;
}

// Bytes of a tensor's buffer in the engine's I/O format. A vectorized format (kCHW32, kHWC16, kDLA_HWC4, ...)
// pads its vectorized dimension to whole vectors of getTensorComponentsPerElement() components, each
// getTensorBytesPerComponent() bytes; the strides (in vectors: IExecutionContext::getTensorStrides) add row
// padding such as kDLA_LINEAR's 64-byte rows. So the buffer can be larger than the shape's product.
int64_t tensor_bytes(const nvinfer1::ICudaEngine& engine, const nvinfer1::IExecutionContext& context,
                     const std::string& name, const nvinfer1::Dims& dims, int64_t element_bytes) {
  const char* n = name.c_str();
  const int32_t vectorized = engine.getTensorVectorizedDim(n);
  int64_t components = vectorized >= 0 ? engine.getTensorComponentsPerElement(n) : 1;
  int64_t component_bytes = engine.getTensorBytesPerComponent(n);
  if (components < 1) components = 1;
  if (component_bytes < 1) component_bytes = element_bytes;
  std::vector<int64_t> extent(static_cast<size_t>(dims.nbDims));
  int64_t vectors = 1;
  for (int32_t i = 0; i < dims.nbDims; ++i) {
    const int64_t d = dims.d[i];
    extent[static_cast<size_t>(i)] = i == vectorized ? (d + components - 1) / components : d;
    vectors = times(vectors, extent[static_cast<size_t>(i)], name);
  }
  const nvinfer1::Dims strides = context.getTensorStrides(n);
  if (strides.nbDims == dims.nbDims && vectors > 0) {
    for (int32_t i = 0; i < dims.nbDims; ++i) {
      vectors = std::max(vectors, times(static_cast<int64_t>(strides.d[i]), extent[static_cast<size_t>(i)], name));
    }
  }
  return times(times(vectors, components, name), component_bytes, name);
}

struct Binding {
  std::string name;
  bool input;
  int64_t bytes;
  DeviceBuffer device;
  std::vector<char> host;
};

// The loaded library against the sidecar: a different major.minor is refused (TensorRT loads engines of its own
// version only); a different patch is reported and left to TensorRT's own check at deserialization.
void check_version(const trtforge::Sidecar& s, const std::array<int, 3>& library) {
  const auto built = trtforge::parse_version(s.trt_version);
  if (!built) throw Failure{2, "sidecar.tensorrt.version must look like 10.3.0, found '" + s.trt_version + "'"};
  const std::array<int, 3> headers{NV_TENSORRT_MAJOR, NV_TENSORRT_MINOR, NV_TENSORRT_PATCH};
  if (headers[0] != library[0] || headers[1] != library[1]) {
    std::cerr << "trt_infer: warning: compiled against TensorRT " << dotted(headers) << " headers, loaded library is "
              << dotted(library) << ": rebuild trt_infer against the installed TensorRT\n";
  }
  if ((*built)[0] != library[0] || (*built)[1] != library[1]) {
    throw Failure{3, "engine built by TensorRT " + s.trt_version + ", the loaded libnvinfer is TensorRT " +
                         dotted(library) + ": TensorRT loads engines of its own version only; rebuild this config "
                         "with this TensorRT (make engine CONFIG=" + s.config + ")"};
  }
  if ((*built)[2] != library[2]) {
    std::cerr << "trt_infer: warning: engine built by TensorRT " << s.trt_version << ", loaded library is "
              << dotted(library) << ": TensorRT's own check at deserialization decides\n";
  }
}

void check_machine(const trtforge::Sidecar& s) {
  const std::string rebuild = "(make engine CONFIG=" + s.config + ")";
  if (s.flavour == "tensorrt-rtx") {
    throw Failure{3, "engine built by TensorRT-RTX " + s.trt_version + " on " + s.platform +
                         " (a GPU-only engine of the CPU development flow): TensorRT cannot load TensorRT-RTX "
                         "engines and TensorRT-RTX does not run on Jetson; rebuild this config on the Jetson with "
                         "TensorRT " + rebuild};
  }
  if (s.flavour != "tensorrt") {
    throw Failure{3, "engine built by " + s.flavour + ", trt_infer loads TensorRT engines only " + rebuild};
  }
  const std::string here = trtforge::this_platform();
  if (s.platform != here) {
    const std::string where = here == "aarch64-jetson" ? "on the Jetson" : "on this machine";
    throw Failure{3, "engine built on " + s.platform + ", this machine is " + here +
                         ": an engine loads only on the platform and GPU it was built for; rebuild this config " +
                         where + " " + rebuild};
  }
}

void check_gpu(const trtforge::Sidecar& s) {
  int device = 0, major = 0, minor = 0;
  cuda(cudaGetDevice(&device), "finding the CUDA device (is a GPU visible to this process?)");
  cuda(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device), "reading the compute capability");
  cuda(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device), "reading the compute capability");
  const std::string here = std::to_string(major) + "." + std::to_string(minor);
  if (!s.compute_capability) {
    std::cerr << "trt_infer: warning: the sidecar records no compute capability; this GPU is " << here << "\n";
  } else if (*s.compute_capability != here) {
    throw Failure{3, "engine built for a GPU of compute capability " + *s.compute_capability + ", this GPU (device " +
                         std::to_string(device) + ") is " + here +
                         ": engines are specific to the GPU architecture; rebuild this config on this machine "
                         "(make engine CONFIG=" + s.config + ")"};
  }
}

int run(int argc, char** argv) {
  if (argc < 2 || argc > 3) throw Failure{2, "usage: trt_infer <engine.json> [dla_core]"};
  trtforge::Sidecar s;
  try {
    s = trtforge::read_sidecar(argv[1]);
  } catch (const std::exception& err) {
    throw Failure{2, err.what()};
  }
  const int core_arg = argc > 2 ? parse_core(argv[2]) : -1;  // -1: the sidecar's core
  if (core_arg >= 0 && !s.dla_applied) {
    throw Failure{2, "engine " + s.config + " does not use DLA (runs on: " + s.runs_on +
                         "): a dla_core argument applies to DLA engines only"};
  }
  check_machine(s);
  const std::array<int, 3> library = trtforge::decode_lib_version(getInferLibVersion());
  std::cout << "TensorRT library " << dotted(library) << " (headers " << NV_TENSORRT_MAJOR << "." << NV_TENSORRT_MINOR
            << "." << NV_TENSORRT_PATCH << "), engine built by " << s.flavour << " " << s.trt_version << "\n";
  check_version(s, library);
  std::vector<char> plan;
  const std::string problem = trtforge::load_engine_file(s, plan);
  if (!problem.empty()) throw Failure{1, problem};
  check_gpu(s);

  Logger logger;  // outlives the runtime, engine and context below (destroyed in reverse order)
  std::unique_ptr<nvinfer1::IRuntime> runtime{nvinfer1::createInferRuntime(logger)};
  if (!runtime) {
    throw Failure{4, "could not create the TensorRT runtime (libnvinfer " + dotted(library) +
                         "): CUDA did not initialize or the library is broken; check that this user can use the GPU "
                         "(on a Jetson: the video and render groups; in a container: --runtime nvidia) and see the "
                         "[TensorRT] lines above"};
  }
  const int core = core_arg >= 0 ? core_arg : s.dla_core.value_or(-1);
  if (s.dla_applied) {
    const int32_t cores = runtime->getNbDLACores();
    if (core < 0 || core >= cores) {
      throw Failure{3, "DLA core " + std::to_string(core) + " is not available: this device has " +
                           std::to_string(cores) + " DLA cores; run on a Jetson with DLA, or pick a core below " +
                           std::to_string(cores)};
    }
    runtime->setDLACore(core);
  }
  std::unique_ptr<nvinfer1::ICudaEngine> engine{runtime->deserializeCudaEngine(plan.data(), plan.size())};
  if (!engine) {
    throw Failure{4, "TensorRT could not deserialize " + s.engine_file +
                         " (see the [TensorRT] lines above: usually another TensorRT version, GPU or DLA core)"};
  }
  std::unique_ptr<nvinfer1::IExecutionContext> context{engine->createExecutionContext()};
  if (!context) {
    throw Failure{4, "could not create an execution context for " + s.engine_file +
                         " (out of device memory, or a DLA loadable failed to load; see the [TensorRT] lines above)"};
  }

  std::map<std::string, const trtforge::Tensor*> listed;
  for (const auto& t : s.io) listed[t.name] = &t;
  const int32_t count = engine->getNbIOTensors();
  std::vector<Binding> bindings;
  for (int32_t i = 0; i < count; ++i) {
    const char* cname = engine->getIOTensorName(i);
    if (cname == nullptr) throw Failure{4, "the engine has no name for I/O tensor " + std::to_string(i)};
    const std::string name = cname;
    const bool input = engine->getTensorIOMode(name.c_str()) == nvinfer1::TensorIOMode::kINPUT;
    const std::string mode = input ? "input" : "output";
    const auto found = listed.find(name);
    if (found == listed.end()) {
      throw Failure{4, "the engine's " + mode + " " + name + " is not in the sidecar " + argv[1] +
                           ": the sidecar is stale or belongs to another engine; rebuild (make engine CONFIG=" +
                           s.config + ")"};
    }
    const trtforge::Tensor& t = *found->second;
    const nvinfer1::Dims dims = engine->getTensorShape(name.c_str());
    const std::string dtype = dtype_name(engine->getTensorDataType(name.c_str()));
    std::vector<int64_t> shape(dims.d, dims.d + std::max<int32_t>(dims.nbDims, 0));
    if (t.mode != mode || t.dtype != dtype || t.shape != shape) {
      throw Failure{4, "the sidecar's " + t.mode + " " + name + " (" + t.dtype + ") differs from the engine's " + mode +
                           " (" + dtype + " " + shape_text(dims) + "): the sidecar is stale; rebuild"};
    }
    if (std::any_of(shape.begin(), shape.end(), [](int64_t d) { return d < 0; })) {
      throw Failure{4, "the engine's " + mode + " " + name + " has dynamic dimensions (" + shape_text(dims) +
                           "): trt_infer runs static-shape engines only (as DLA requires); export the model with "
                           "static shapes"};
    }
    if (input && !context->setInputShape(name.c_str(), dims)) {
      throw Failure{4, "TensorRT refused the shape " + shape_text(dims) + " for input " + name};
    }
    listed.erase(found);
    bindings.push_back(Binding{name, input, 0, nullptr, {}});
  }
  if (!listed.empty()) {
    throw Failure{4, "the sidecar lists " + listed.begin()->second->mode + " " + listed.begin()->first +
                         ", which the engine does not have: the sidecar is stale; rebuild"};
  }
  for (auto& b : bindings) {
    const nvinfer1::Dims dims = engine->getTensorShape(b.name.c_str());
    const int64_t element = trtforge::element_size(dtype_name(engine->getTensorDataType(b.name.c_str())));
    b.bytes = tensor_bytes(*engine, *context, b.name, dims, element);
    b.device = device_alloc(static_cast<size_t>(b.bytes), b.name);
    b.host.assign(static_cast<size_t>(b.bytes), 0);  // inputs: zeros
    if (!context->setTensorAddress(b.name.c_str(), b.device.get())) {
      throw Failure{4, "TensorRT refused the buffer address for " + b.name};
    }
    std::cout << (b.input ? "input " : "output ") << b.name << " "
              << dtype_name(engine->getTensorDataType(b.name.c_str())) << " "
              << format_name(engine->getTensorFormat(b.name.c_str())) << " " << shape_text(dims) << " " << b.bytes
              << " bytes\n";
  }
  Stream stream;
  for (auto& b : bindings) {
    if (b.input) {
      cuda(cudaMemcpyAsync(b.device.get(), b.host.data(), b.host.size(), cudaMemcpyHostToDevice, stream.get()),
           "copying input " + b.name + " to the device");
    }
  }
  if (!context->enqueueV3(stream.get())) {
    throw Failure{6, "TensorRT could not enqueue the inference (see the [TensorRT] lines above)"};
  }
  for (auto& b : bindings) {
    if (!b.input) {
      cuda(cudaMemcpyAsync(b.host.data(), b.device.get(), b.host.size(), cudaMemcpyDeviceToHost, stream.get()),
           "copying output " + b.name + " to the host");
    }
  }
  cuda(cudaStreamSynchronize(stream.get()), "the inference");
  std::cout << "ran one inference on " << (s.dla_applied ? "GPU + DLA core " + std::to_string(core) : "GPU") << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const Failure& failure) {
    std::cerr << "trt_infer: " << failure.message << "\n";
    return failure.code;
  } catch (const std::exception& err) {  // std::bad_alloc, or an unknown data type
    std::cerr << "trt_infer: " << err.what() << "\n";
    return 4;
  }
}
