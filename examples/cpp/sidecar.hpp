// The engine sidecar (<config>.engine.json) written by `trtforge build`, format 2.
#pragma once

#include <array>
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
  std::string format;  // informational (TensorRT's format description); trt_infer sizes buffers from the engine
};

struct Sidecar {
  int format = 0;
  std::string config;
  std::string engine_file;  // resolved against the sidecar's folder
  int64_t engine_bytes = 0;
  std::string engine_sha256;
  bool gpu_only = false;
  std::optional<std::string> compute_capability;  // "8.7": the GPU the engine was built for; empty when unknown
  std::string platform;                           // "x86_64", "aarch64", "aarch64-jetson"
  std::optional<std::string> l4t;                 // "R36.4.0" on a Jetson
  std::string flavour;                            // "tensorrt" or "tensorrt-rtx"
  std::string trt_version;
  std::string precision;
  std::string runs_on;
  bool dla_applied = false;
  std::optional<int> dla_core;  // the core to deserialize on (IRuntime::setDLACore), when DLA is applied
  std::vector<Tensor> io;
};

constexpr int kSidecarFormat = 2;

// Reads and checks a sidecar; throws std::runtime_error naming the first problem.
Sidecar read_sidecar(const std::string& path);

// Bytes per element of a TensorRT DataType name; throws for unknown names.
int64_t element_size(const std::string& dtype);

// "10.3.0" or "10.3.0.26" -> {10, 3, 0}; nothing when it does not start with three dot-separated numbers.
std::optional<std::array<int, 3>> parse_version(const std::string& version);

// getInferLibVersion() -> {major, minor, patch}. The encoding changed at 10.0: 8.x NvInferRuntimeCommon.h documents
// "(TENSORRT_MAJOR * 1000) + (TENSORRT_MINOR * 100) + TENSOR_PATCH" (8.6.1 -> 8601), 10.x NvInferRuntimeBase.h
// "(MAJOR * 100 + MINOR) * 100 + PATCH" (10.3.0 -> 100300), so 10.0.0 and later are >= 100000.
std::array<int, 3> decode_lib_version(int32_t encoded);

// Lower-case hex SHA-256 (FIPS 180-4) of a byte range.
std::string sha256_hex(const unsigned char* data, size_t size);

// Reads the sidecar's engine file into `plan` and checks its size and sha256 against the sidecar; returns the
// problem ("" when it matches).
std::string load_engine_file(const Sidecar& s, std::vector<char>& plan);

// This machine as the sidecar names platforms: the compiled architecture, "-jetson" where
// /etc/nv_tegra_release exists.
std::string this_platform();

}  // namespace trtforge
