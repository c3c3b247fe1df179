// The engine sidecar (<config>.engine.json) written by `trtforge build`, format 1.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace trtforge {

struct Tensor {
  std::string name;
  std::string mode;  // "input" or "output"
  std::vector<int64_t> shape;
  std::string dtype;   // TensorRT DataType name: FLOAT, HALF, INT8, INT32, INT64, BOOL
  std::string format;  // TensorRT TensorFormat name: LINEAR, CHW16, ...
};

struct Sidecar {
  int format = 0;
  std::string config;
  std::string engine_file;  // resolved against the sidecar's folder
  int64_t engine_bytes = 0;
  std::string engine_sha256;
  bool gpu_only = false;
  std::string flavour;  // "tensorrt" or "tensorrt-rtx"
  std::string trt_version;
  std::string precision;
  std::string runs_on;
  bool dla_applied = false;
  std::optional<int> dla_core;  // the core to deserialize on (IRuntime::setDLACore), when DLA is applied
  std::vector<Tensor> io;
};

constexpr int kSidecarFormat = 1;

// Reads and checks a sidecar; throws std::runtime_error naming the first problem.
Sidecar read_sidecar(const std::string& path);

// Bytes per element of a TensorRT DataType name; throws for unknown names.
int64_t element_size(const std::string& dtype);

// "10.3.0" vs (10, 3, 0): the sidecar's TensorRT version against the headers' NV_TENSORRT_MAJOR/MINOR/PATCH.
bool version_matches(const std::string& version, int major, int minor, int patch);

}  // namespace trtforge
