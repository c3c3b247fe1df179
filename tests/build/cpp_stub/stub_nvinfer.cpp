// A stub libnvinfer for the C++ tests: trtforge's own code, NOT NVIDIA's. It exports the factory symbols a
// consumer links against (createInferRuntime_INTERNAL, getInferLibVersion) with the declarations in include/.
//
// By default, like a real libnvinfer without a usable GPU, the runtime cannot be created (nullptr, after logging
// an error). TRTFORGE_STUB_RUNTIME=ok gives a runtime that deserializes the stub's text "plans":
//   trtforge-stub-plan
//   tensor <input|output> <name> <DTYPE> <FORMAT> <d0>x<d1>x...     (FORMAT: a TensorFormat name without k)
//   dla <core>                                                      (deserializes only on that DLA core)
//   context fail                                                    (createExecutionContext returns nullptr)
//   enqueue fail                                                    (enqueueV3 returns false)
// Its enqueueV3 fails unless every I/O tensor is bound to a stub-cudart buffer at least as large as the format
// needs. TRTFORGE_STUB_LIB_VERSION is what getInferLibVersion() returns (default: these headers' version);
// TRTFORGE_STUB_DLA_CORES the DLA core count (default 0).
#include <NvInfer.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

// From the stub libcudart; absent (weak, null) with NVIDIA's libcudart, where buffer sizes are not checked.
extern "C" __attribute__((weak)) size_t trtforge_stub_device_bytes(const void* device);

namespace {

using namespace nvinfer1;
using Dim = std::remove_reference_t<decltype(Dims{}.d[0])>;  // int32_t in 8.x, int64_t from 10.0

struct StubTensor {
  std::string name;
  TensorIOMode mode = TensorIOMode::kNONE;
  DataType type = DataType::kFLOAT;
  TensorFormat format = TensorFormat::kLINEAR;
  Dims dims{};
};

const char* kFormats[] = {"LINEAR", "CHW2", "HWC8", "CHW4", "CHW16", "CHW32", "DHWC8",
                          "CDHW32", "HWC", "DLA_LINEAR", "DLA_HWC4", "HWC16", "DHWC"};
const char* kTypes[] = {"FLOAT", "HALF", "INT8", "INT32", "BOOL", "UINT8", "FP8", "BF16", "INT64"};

int64_t element_bytes(DataType type) {
  switch (static_cast<int32_t>(type)) {
    case 0: case 3: return 4;
    case 1: case 7: return 2;
    case 8: return 8;
    default: return 1;
  }
}

// Components per vector and the vectorized dimension (the channel of NCHW), per NvInferRuntime.h's TensorFormat.
int32_t components(const StubTensor& t) {
  switch (t.format) {
    case TensorFormat::kCHW2: return 2;
    case TensorFormat::kCHW4: case TensorFormat::kDLA_HWC4: return 4;
    case TensorFormat::kHWC8: return 8;
    case TensorFormat::kCHW16: case TensorFormat::kHWC16: return 16;
    case TensorFormat::kCHW32: return 32;
    default: return 1;
  }
}

int32_t vectorized_dim(const StubTensor& t) { return components(t) > 1 ? t.dims.nbDims - 3 : -1; }

// Strides in vectors: row-major over (N, C/vector, H, W) for LINEAR/CHWn, channel-last for HWC/HWCn/DLA_HWC4,
// rows rounded up to 64 bytes for DLA_LINEAR and DLA_HWC4.
Dims strides(const StubTensor& t) {
  Dims s{};
  s.nbDims = t.dims.nbDims;
  const int32_t n = t.dims.nbDims, comps = components(t), c = n - 3;
  std::vector<int64_t> extent(static_cast<size_t>(n));
  for (int32_t i = 0; i < n; ++i) extent[i] = i == vectorized_dim(t) ? (t.dims.d[i] + comps - 1) / comps : t.dims.d[i];
  const int64_t vector_bytes = comps * element_bytes(t.type);
  const bool channel_last = t.format == TensorFormat::kHWC || t.format == TensorFormat::kHWC8 ||
                            t.format == TensorFormat::kHWC16 || t.format == TensorFormat::kDLA_HWC4;
  if (channel_last && n >= 3) {
    s.d[c] = 1;
    s.d[n - 1] = static_cast<Dim>(extent[c]);
    int64_t row = extent[n - 1] * extent[c];
    if (t.format == TensorFormat::kDLA_HWC4) row = (row * vector_bytes + 63) / 64 * 64 / vector_bytes;
    s.d[n - 2] = static_cast<Dim>(row);
    for (int32_t i = c - 1; i >= 0; --i) {  // the dimensions outside C (N): whole images
      s.d[i] = static_cast<Dim>(i == c - 1 ? row * extent[n - 2] : s.d[i + 1] * extent[i + 1]);
    }
    return s;
  }
  int64_t stride = 1;
  for (int32_t i = n - 1; i >= 0; --i) {
    s.d[i] = static_cast<Dim>(stride);
    int64_t step = extent[i];
    if (i == n - 1 && t.format == TensorFormat::kDLA_LINEAR) step = (step * vector_bytes + 63) / 64 * 64 / vector_bytes;
    stride *= step;
  }
  return s;
}

int64_t needed_bytes(const StubTensor& t) {
  const Dims s = strides(t);
  const int32_t comps = components(t);
  int64_t vectors = 1;
  for (int32_t i = 0; i < t.dims.nbDims; ++i) {
    const int64_t extent = i == vectorized_dim(t) ? (t.dims.d[i] + comps - 1) / comps : t.dims.d[i];
    vectors = std::max(vectors, static_cast<int64_t>(s.d[i]) * extent);
  }
  return vectors * comps * element_bytes(t.type);
}

class StubContext : public IExecutionContext {
 public:
  StubContext(const std::vector<StubTensor>& tensors, bool fail_enqueue, ILogger& logger)
      : tensors_(tensors), fail_enqueue_(fail_enqueue), logger_(logger) {}
  bool setInputShape(char const* name, Dims const& dims) noexcept override {
    const StubTensor* t = find(name);
    return t && t->mode == TensorIOMode::kINPUT && dims.nbDims == t->dims.nbDims &&
           std::equal(dims.d, dims.d + dims.nbDims, t->dims.d);
  }
  Dims getTensorShape(char const* name) const noexcept override {
    const StubTensor* t = find(name);
    return t ? t->dims : Dims{-1, {}};
  }
  Dims getTensorStrides(char const* name) const noexcept override {
    const StubTensor* t = find(name);
    return t ? strides(*t) : Dims{-1, {}};
  }
  bool setTensorAddress(char const* name, void* data) noexcept override {
    if (!find(name)) return false;
    addresses_[name] = data;
    return true;
  }
  bool enqueueV3(cudaStream_t) noexcept override {
    for (const auto& t : tensors_) {
      const auto bound = addresses_.find(t.name);
      if (bound == addresses_.end()) return error("stub enqueueV3: tensor " + t.name + " is not bound");
      if (trtforge_stub_device_bytes == nullptr) continue;
      const size_t have = trtforge_stub_device_bytes(bound->second);
      if (static_cast<int64_t>(have) < needed_bytes(t)) {
        return error("stub enqueueV3: buffer of " + t.name + " is " + std::to_string(have) + " bytes, its format needs " +
                     std::to_string(needed_bytes(t)));
      }
    }
    return fail_enqueue_ ? error("stub enqueueV3: failed as the plan asked") : true;
  }

 private:
  const StubTensor* find(const char* name) const {
    for (const auto& t : tensors_) if (t.name == name) return &t;
    return nullptr;
  }
  bool error(const std::string& message) {
    logger_.log(ILogger::Severity::kERROR, message.c_str());
    return false;
  }
  std::vector<StubTensor> tensors_;
  bool fail_enqueue_;
  ILogger& logger_;
  std::map<std::string, void*> addresses_;
};

class StubEngine : public ICudaEngine {
 public:
  StubEngine(std::vector<StubTensor> tensors, bool fail_context, bool fail_enqueue, ILogger& logger)
      : tensors_(std::move(tensors)), fail_context_(fail_context), fail_enqueue_(fail_enqueue), logger_(logger) {}
  int32_t getNbIOTensors() const noexcept override { return static_cast<int32_t>(tensors_.size()); }
  char const* getIOTensorName(int32_t index) const noexcept override {
    return index >= 0 && index < getNbIOTensors() ? tensors_[static_cast<size_t>(index)].name.c_str() : nullptr;
  }
  TensorIOMode getTensorIOMode(char const* name) const noexcept override {
    const StubTensor* t = find(name);
    return t ? t->mode : TensorIOMode::kNONE;
  }
  Dims getTensorShape(char const* name) const noexcept override {
    const StubTensor* t = find(name);
    return t ? t->dims : Dims{-1, {}};
  }
  DataType getTensorDataType(char const* name) const noexcept override {
    const StubTensor* t = find(name);
    return t ? t->type : DataType::kFLOAT;
  }
  TensorFormat getTensorFormat(char const* name) const noexcept override {
    const StubTensor* t = find(name);
    return t ? t->format : TensorFormat::kLINEAR;
  }
  int32_t getTensorVectorizedDim(char const* name) const noexcept override {
    const StubTensor* t = find(name);
    return t ? vectorized_dim(*t) : -1;
  }
  int32_t getTensorComponentsPerElement(char const* name) const noexcept override {
    const StubTensor* t = find(name);
    return t ? components(*t) : -1;
  }
  int32_t getTensorBytesPerComponent(char const* name) const noexcept override {
    const StubTensor* t = find(name);
    return t ? static_cast<int32_t>(element_bytes(t->type)) : -1;
  }
  IExecutionContext* createExecutionContext() noexcept override {
    if (fail_context_) {
      logger_.log(ILogger::Severity::kERROR, "stub createExecutionContext: out of device memory");
      return nullptr;
    }
    return new StubContext(tensors_, fail_enqueue_, logger_);
  }

 private:
  const StubTensor* find(const char* name) const {
    for (const auto& t : tensors_) if (t.name == name) return &t;
    return nullptr;
  }
  std::vector<StubTensor> tensors_;
  bool fail_context_, fail_enqueue_;
  ILogger& logger_;
};

bool parse_tensor(std::istringstream& line, StubTensor& t) {
  std::string mode, type, format, shape;
  if (!(line >> mode >> t.name >> type >> format >> shape)) return false;
  t.mode = mode == "input" ? TensorIOMode::kINPUT : TensorIOMode::kOUTPUT;
  const auto ti = std::find(std::begin(kTypes), std::end(kTypes), type);
  const auto fi = std::find(std::begin(kFormats), std::end(kFormats), format);
  if (ti == std::end(kTypes) || fi == std::end(kFormats)) return false;
  t.type = static_cast<DataType>(ti - std::begin(kTypes));
  t.format = static_cast<TensorFormat>(fi - std::begin(kFormats));
  std::istringstream dims(shape);
  std::string d;
  while (std::getline(dims, d, 'x') && t.dims.nbDims < Dims::MAX_DIMS) {
    t.dims.d[t.dims.nbDims++] = static_cast<Dim>(std::stoll(d));
  }
  return true;
}

class StubRuntime : public IRuntime {
 public:
  explicit StubRuntime(ILogger& logger) : logger_(logger) {}
  void setDLACore(int32_t core) noexcept override { core_ = core; }
  int32_t getNbDLACores() const noexcept override {
    const char* env = std::getenv("TRTFORGE_STUB_DLA_CORES");
    return env ? std::atoi(env) : 0;
  }
  ICudaEngine* deserializeCudaEngine(void const* blob, std::size_t size) noexcept override {
    std::istringstream plan(std::string(static_cast<const char*>(blob), size));
    std::string line;
    if (!std::getline(plan, line) || line != "trtforge-stub-plan") return error("stub: not a stub plan");
    std::vector<StubTensor> tensors;
    bool fail_context = false, fail_enqueue = false;
    while (std::getline(plan, line)) {
      std::istringstream words(line);
      std::string word;
      words >> word;
      if (word == "tensor") {
        tensors.emplace_back();
        if (!parse_tensor(words, tensors.back())) return error("stub: bad tensor line " + line);
      } else if (word == "dla") {
        int32_t core = -1;
        words >> core;
        if (core != core_) return error("stub: the engine is for DLA core " + std::to_string(core) + ", runtime core is " +
                                        std::to_string(core_));
      } else if (word == "context") {
        fail_context = true;
      } else if (word == "enqueue") {
        fail_enqueue = true;
      }
    }
    return new StubEngine(std::move(tensors), fail_context, fail_enqueue, logger_);
  }

 private:
  ICudaEngine* error(const std::string& message) {
    logger_.log(ILogger::Severity::kERROR, message.c_str());
    return nullptr;
  }
  ILogger& logger_;
  int32_t core_ = -1;
};

}  // namespace

extern "C" int32_t getInferLibVersion() noexcept {
  const char* env = std::getenv("TRTFORGE_STUB_LIB_VERSION");
  return env ? std::atoi(env) : static_cast<int32_t>(NV_TENSORRT_VERSION);
}

extern "C" void* createInferRuntime_INTERNAL(void* logger, int32_t) noexcept {
  auto* log = static_cast<ILogger*>(logger);
  const char* mode = std::getenv("TRTFORGE_STUB_RUNTIME");
  if (mode == nullptr || std::string(mode) != "ok") {
    log->log(ILogger::Severity::kERROR, "stub createInferRuntime: CUDA initialization failure with error: 35");
    return nullptr;
  }
  return static_cast<IRuntime*>(new StubRuntime(*log));
}
