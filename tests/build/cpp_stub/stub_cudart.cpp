// A stub libcudart for the C++ tests: trtforge's own code, NOT NVIDIA's. "Device" memory is host memory, streams
// are tokens, copies are memcpy. TRTFORGE_STUB_CC ("8.7") is the GPU's compute capability; TRTFORGE_STUB_CC=none
// means no GPU. With TRTFORGE_STUB_REPORT=1 it prints, at exit, how many buffers and streams were never freed.
#include <cuda_runtime_api.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <string>

namespace {

struct State {
  std::map<const void*, size_t> buffers;
  std::set<cudaStream_t> streams;
  ~State() {
    if (std::getenv("TRTFORGE_STUB_REPORT")) {
      std::fprintf(stderr, "stub-cudart: %zu buffers and %zu streams left\n", buffers.size(), streams.size());
    }
  }
};

State& state() {
  static State s;
  return s;
}

const bool kReportAtExit = (state(), true);  // made at load time, so the report comes even when nothing was used

std::string cc() {
  const char* env = std::getenv("TRTFORGE_STUB_CC");
  return env ? env : "8.7";
}

}  // namespace

extern "C" {

size_t trtforge_stub_device_bytes(const void* device) {
  const auto found = state().buffers.find(device);
  return found == state().buffers.end() ? 0 : found->second;
}

cudaError_t cudaMalloc(void** devPtr, size_t size) {
  if (size > (size_t(1) << 34)) return cudaErrorMemoryAllocation;
  *devPtr = std::calloc(size ? size : 1, 1);
  if (*devPtr == nullptr) return cudaErrorMemoryAllocation;
  state().buffers[*devPtr] = size;
  return cudaSuccess;
}

cudaError_t cudaFree(void* devPtr) {
  if (devPtr == nullptr) return cudaSuccess;
  if (state().buffers.erase(devPtr) == 0) return cudaErrorInvalidValue;
  std::free(devPtr);
  return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t count, enum cudaMemcpyKind kind, cudaStream_t) {
  const void* device = kind == cudaMemcpyHostToDevice ? dst : src;
  if (trtforge_stub_device_bytes(device) < count) return cudaErrorInvalidValue;
  std::memcpy(dst, src, count);
  return cudaSuccess;
}

cudaError_t cudaStreamCreate(cudaStream_t* pStream) {
  static char tokens[64];
  static size_t next = 0;
  *pStream = reinterpret_cast<cudaStream_t>(&tokens[next++ % 64]);
  state().streams.insert(*pStream);
  return cudaSuccess;
}

cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  return state().streams.erase(stream) ? cudaSuccess : cudaErrorInvalidValue;
}

cudaError_t cudaStreamSynchronize(cudaStream_t stream) {
  return state().streams.count(stream) ? cudaSuccess : cudaErrorInvalidValue;
}

cudaError_t cudaGetDevice(int* device) {
  if (cc() == "none") return cudaErrorNoDevice;
  *device = 0;
  return cudaSuccess;
}

cudaError_t cudaDeviceGetAttribute(int* value, enum cudaDeviceAttr attr, int) {
  const std::string text = cc();
  const size_t dot = text.find('.');
  if (text == "none" || dot == std::string::npos) return cudaErrorNoDevice;
  *value = std::atoi((attr == cudaDevAttrComputeCapabilityMajor ? text.substr(0, dot) : text.substr(dot + 1)).c_str());
  return cudaSuccess;
}

const char* cudaGetErrorString(cudaError_t error) {
  switch (error) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected";
  }
  return "unknown error";
}

}  // extern "C"
