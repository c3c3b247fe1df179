#include "sidecar.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

namespace trtforge {
namespace {

using nlohmann::json;

const json& need(const json& parent, const char* key, const std::string& where) {
  if (!parent.is_object() || !parent.contains(key)) {
    throw std::runtime_error(where + "." + key + " is missing");
  }
  return parent.at(key);
}

Tensor tensor_from(const json& item, const std::string& where) {
  Tensor tensor;
  tensor.name = need(item, "name", where).get<std::string>();
  tensor.mode = need(item, "mode", where).get<std::string>();
  tensor.shape = need(item, "shape", where).get<std::vector<int64_t>>();
  tensor.dtype = need(item, "dtype", where).get<std::string>();
  tensor.format = need(item, "format", where).get<std::string>();
  if (tensor.mode != "input" && tensor.mode != "output") {
    throw std::runtime_error(where + ".mode must be input or output, found " + tensor.mode);
  }
  element_size(tensor.dtype);
  return tensor;
}

}  // namespace

Sidecar read_sidecar(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open sidecar " + path);
  json doc;
  try {
    in >> doc;
  } catch (const json::parse_error& err) {
    throw std::runtime_error("sidecar " + path + " is not JSON: " + err.what());
  }
  Sidecar s;
  s.format = need(doc, "format", "sidecar").get<int>();
  if (s.format != kSidecarFormat) {
    throw std::runtime_error("sidecar format " + std::to_string(s.format) + ", this reader knows " +
                             std::to_string(kSidecarFormat));
  }
  s.config = need(doc, "config", "sidecar").get<std::string>();
  const json& engine = need(doc, "engine", "sidecar");
  const auto folder = std::filesystem::path(path).parent_path();
  s.engine_file = (folder / need(engine, "file", "sidecar.engine").get<std::string>()).string();
  s.engine_bytes = need(engine, "bytes", "sidecar.engine").get<int64_t>();
  s.engine_sha256 = need(engine, "sha256", "sidecar.engine").get<std::string>();
  s.gpu_only = need(engine, "gpu_only", "sidecar.engine").get<bool>();
  const json& trt = need(doc, "tensorrt", "sidecar");
  s.flavour = need(trt, "flavour", "sidecar.tensorrt").get<std::string>();
  s.trt_version = need(trt, "version", "sidecar.tensorrt").get<std::string>();
  s.precision = need(doc, "precision", "sidecar").get<std::string>();
  s.runs_on = need(doc, "runs_on", "sidecar").get<std::string>();
  const json& dla = need(doc, "dla", "sidecar");
  s.dla_applied = need(dla, "applied", "sidecar.dla").get<bool>();
  const json& core = need(dla, "core", "sidecar.dla");
  if (!core.is_null()) s.dla_core = core.get<int>();
  if (s.dla_applied && !s.dla_core) throw std::runtime_error("sidecar.dla.applied without a core");
  const json& io = need(doc, "io", "sidecar");
  for (size_t i = 0; i < io.size(); ++i) {
    s.io.push_back(tensor_from(io.at(i), "sidecar.io[" + std::to_string(i) + "]"));
  }
  return s;
}

int64_t element_size(const std::string& dtype) {
  if (dtype == "FLOAT" || dtype == "INT32") return 4;
  if (dtype == "HALF" || dtype == "BF16") return 2;
  if (dtype == "INT8" || dtype == "UINT8" || dtype == "BOOL" || dtype == "FP8") return 1;
  if (dtype == "INT64") return 8;
  throw std::runtime_error("unknown TensorRT data type " + dtype);
}

bool version_matches(const std::string& version, int major, int minor, int patch) {
  std::istringstream in(version);
  int v[3] = {-1, -1, -1};
  char dot = 0;
  in >> v[0] >> dot >> v[1] >> dot >> v[2];
  return v[0] == major && v[1] == minor && v[2] == patch;
}

}  // namespace trtforge
