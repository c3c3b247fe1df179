// trt_infer <engine.json> [dla_core]: one inference with the engine a sidecar describes (TensorRT 8.6 / 10.x / 11.x).
// Sets the runtime DLA core before deserializing (the core an engine runs on is chosen at load time), refuses an
// engine built by another TensorRT version or flavour, binds every I/O tensor by the sidecar's names, runs once.
#include <cuda_runtime_api.h>

#include <NvInfer.h>

#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <vector>

#include "sidecar.hpp"

namespace {

class Logger : public nvinfer1::ILogger {
  void log(Severity severity, const char* msg) noexcept override {
    if (severity <= Severity::kWARNING) std::cerr << "[TensorRT] " << msg << "\n";
  }
};

bool check(cudaError_t status, const char* what) {
  if (status != cudaSuccess) std::cerr << "trt_infer: " << what << ": " << cudaGetErrorString(status) << "\n";
  return status == cudaSuccess;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: trt_infer <engine.json> [dla_core]\n";
    return 2;
  }
  trtforge::Sidecar s;
  try {
    s = trtforge::read_sidecar(argv[1]);
  } catch (const std::exception& err) {
    std::cerr << "trt_infer: " << err.what() << "\n";
    return 2;
  }
  if (s.flavour != "tensorrt" ||
      !trtforge::version_matches(s.trt_version, NV_TENSORRT_MAJOR, NV_TENSORRT_MINOR, NV_TENSORRT_PATCH)) {
    std::cerr << "trt_infer: engine built by " << s.flavour << " " << s.trt_version << ", this is TensorRT "
              << NV_TENSORRT_MAJOR << "." << NV_TENSORRT_MINOR << "." << NV_TENSORRT_PATCH << "\n";
    return 3;
  }
  Logger logger;
  std::unique_ptr<nvinfer1::IRuntime> runtime{nvinfer1::createInferRuntime(logger)};
  const int core = argc > 2 ? std::stoi(argv[2]) : s.dla_core.value_or(-1);
  if (s.dla_applied) {
    if (core < 0 || core >= runtime->getNbDLACores()) {
      std::cerr << "trt_infer: DLA core " << core << " not available (" << runtime->getNbDLACores() << " cores)\n";
      return 3;
    }
    runtime->setDLACore(core);
  }
  std::ifstream file(s.engine_file, std::ios::binary);
  std::vector<char> plan{std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
  std::unique_ptr<nvinfer1::ICudaEngine> engine{runtime->deserializeCudaEngine(plan.data(), plan.size())};
  if (!engine) return 4;
  std::unique_ptr<nvinfer1::IExecutionContext> context{engine->createExecutionContext()};
  std::vector<void*> buffers;
  std::vector<std::vector<char>> host;
  for (const auto& t : s.io) {
    nvinfer1::Dims dims{};
    dims.nbDims = static_cast<int32_t>(t.shape.size());
    int64_t bytes = trtforge::element_size(t.dtype);
    for (int i = 0; i < dims.nbDims; ++i) {
      dims.d[i] = t.shape[i];
      bytes *= t.shape[i];
    }
    const bool input = t.mode == "input";
    if (engine->getTensorIOMode(t.name.c_str()) !=
        (input ? nvinfer1::TensorIOMode::kINPUT : nvinfer1::TensorIOMode::kOUTPUT)) {
      std::cerr << "trt_infer: the engine has no " << t.mode << " named " << t.name << "\n";
      return 4;
    }
    if (input && !context->setInputShape(t.name.c_str(), dims)) return 4;
    void* device = nullptr;
    if (!check(cudaMalloc(&device, bytes), "cudaMalloc")) return 5;
    buffers.push_back(device);
    host.emplace_back(bytes, 0);  // inputs: zeros
    if (input && !check(cudaMemcpy(device, host.back().data(), bytes, cudaMemcpyHostToDevice), "copy in")) return 5;
    context->setTensorAddress(t.name.c_str(), device);
  }
  cudaStream_t stream;
  if (!check(cudaStreamCreate(&stream), "stream")) return 5;
  const bool ran = context->enqueueV3(stream) && check(cudaStreamSynchronize(stream), "run");
  for (size_t i = 0; i < s.io.size() && ran; ++i) {
    if (s.io[i].mode != "output") continue;
    check(cudaMemcpy(host[i].data(), buffers[i], host[i].size(), cudaMemcpyDeviceToHost), "copy out");
    std::cout << "output " << s.io[i].name << " " << host[i].size() << " bytes\n";
  }
  for (void* device : buffers) cudaFree(device);
  cudaStreamDestroy(stream);
  std::cout << (ran ? "ran one inference on " : "failed on ") << (s.dla_applied ? "GPU + DLA core " : "GPU")
            << (s.dla_applied ? std::to_string(core) : "") << "\n";
  return ran ? 0 : 6;
}
