#include "sidecar.hpp"

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
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

std::optional<std::string> optional_string(const json& parent, const char* key, const std::string& where) {
  const json& value = need(parent, key, where);
  if (value.is_null()) return std::nullopt;
  return value.get<std::string>();
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

Sidecar sidecar_from(const json& doc, const std::string& path) {
  Sidecar s;
  s.format = need(doc, "format", "sidecar").get<int>();
  if (s.format != kSidecarFormat) {
    throw std::runtime_error("sidecar format " + std::to_string(s.format) + ", this reader knows " +
                             std::to_string(kSidecarFormat) + " (rebuild the engine with this trtforge)");
  }
  s.config = need(doc, "config", "sidecar").get<std::string>();
  const json& engine = need(doc, "engine", "sidecar");
  const auto folder = std::filesystem::path(path).parent_path();
  s.engine_file = (folder / need(engine, "file", "sidecar.engine").get<std::string>()).string();
  s.engine_bytes = need(engine, "bytes", "sidecar.engine").get<int64_t>();
  s.engine_sha256 = need(engine, "sha256", "sidecar.engine").get<std::string>();
  s.gpu_only = need(engine, "gpu_only", "sidecar.engine").get<bool>();
  s.compute_capability = optional_string(engine, "compute_capability", "sidecar.engine");
  s.platform = need(engine, "platform", "sidecar.engine").get<std::string>();
  s.l4t = optional_string(engine, "l4t", "sidecar.engine");
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
  if (!io.is_array()) throw std::runtime_error("sidecar.io must be a list");
  for (size_t i = 0; i < io.size(); ++i) {
    s.io.push_back(tensor_from(io.at(i), "sidecar.io[" + std::to_string(i) + "]"));
  }
  return s;
}

// SHA-256, FIPS 180-4 section 6.2.
constexpr uint32_t kRound[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

uint32_t rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

void sha256_block(uint32_t h[8], const unsigned char* p) {
  uint32_t w[64];
  for (int t = 0; t < 16; ++t) {
    w[t] = uint32_t(p[4 * t]) << 24 | uint32_t(p[4 * t + 1]) << 16 | uint32_t(p[4 * t + 2]) << 8 | p[4 * t + 3];
  }
  for (int t = 16; t < 64; ++t) {
    const uint32_t s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >> 3);
    const uint32_t s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >> 10);
    w[t] = w[t - 16] + s0 + w[t - 7] + s1;
  }
  uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
  for (int t = 0; t < 64; ++t) {
    const uint32_t t1 = k + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + kRound[t] + w[t];
    const uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
    k = g;
    g = f;
    f = e;
    e = d + t1;
    d = c;
    c = b;
    b = a;
    a = t1 + t2;
  }
  h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += k;
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
  try {
    return sidecar_from(doc, path);
  } catch (const json::exception& err) {  // a value of the wrong type
    throw std::runtime_error("sidecar " + path + " has a value of the wrong type: " + err.what());
  }
}

int64_t element_size(const std::string& dtype) {
  if (dtype == "FLOAT" || dtype == "INT32") return 4;
  if (dtype == "HALF" || dtype == "BF16") return 2;
  if (dtype == "INT8" || dtype == "UINT8" || dtype == "BOOL" || dtype == "FP8") return 1;
  if (dtype == "INT64") return 8;
  throw std::runtime_error("unknown TensorRT data type " + dtype);
}

std::optional<std::array<int, 3>> parse_version(const std::string& version) {
  std::array<int, 3> v{};
  const char* p = version.c_str();
  for (int i = 0; i < 3; ++i) {
    if (*p < '0' || *p > '9') return std::nullopt;
    char* end = nullptr;
    errno = 0;
    const long part = std::strtol(p, &end, 10);
    if (errno != 0 || part > 100000) return std::nullopt;
    v[static_cast<size_t>(i)] = static_cast<int>(part);
    p = end;
    if (i < 2) {
      if (*p != '.') return std::nullopt;
      ++p;
    }
  }
  if (*p != '\0' && *p != '.') return std::nullopt;
  return v;
}

std::array<int, 3> decode_lib_version(int32_t encoded) {
  const int scale = encoded >= 100000 ? 10000 : 1000;  // 10.0.0 is 100000; 9.3.0 was 9300
  return {encoded / scale, (encoded % scale) / 100, encoded % 100};
}

std::string sha256_hex(const unsigned char* data, size_t size) {
  uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  size_t full = size / 64 * 64;
  for (size_t off = 0; off < full; off += 64) sha256_block(h, data + off);
  unsigned char tail[128] = {};
  const size_t rest = size - full;
  for (size_t i = 0; i < rest; ++i) tail[i] = data[full + i];
  tail[rest] = 0x80;
  const size_t tail_len = rest < 56 ? 64 : 128;
  const uint64_t bits = static_cast<uint64_t>(size) * 8;
  for (int i = 0; i < 8; ++i) tail[tail_len - 1 - static_cast<size_t>(i)] = static_cast<unsigned char>(bits >> (8 * i));
  for (size_t off = 0; off < tail_len; off += 64) sha256_block(h, tail + off);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (uint32_t word : h) {
    for (int shift = 28; shift >= 0; shift -= 4) out += hex[(word >> shift) & 0xf];
  }
  return out;
}

std::string load_engine_file(const Sidecar& s, std::vector<char>& plan) {
  std::ifstream file(s.engine_file, std::ios::binary);
  if (!file) return "engine " + s.engine_file + " is missing (the sidecar names it; copy it beside the sidecar)";
  plan.assign(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
  if (file.bad()) return "engine " + s.engine_file + " could not be read";
  if (static_cast<int64_t>(plan.size()) != s.engine_bytes) {
    return "engine " + s.engine_file + " has a different size: " + std::to_string(plan.size()) +
           " bytes, the sidecar says " + std::to_string(s.engine_bytes) + " (a partial copy, or another build)";
  }
  const std::string sha = sha256_hex(reinterpret_cast<const unsigned char*>(plan.data()), plan.size());
  if (sha != s.engine_sha256) {
    return "engine " + s.engine_file + " has a different sha256: " + sha + ", the sidecar says " + s.engine_sha256 +
           " (corrupted, or not the engine this sidecar describes)";
  }
  return "";
}

std::string this_platform() {
#if defined(__aarch64__)
  std::error_code ec;
  return std::filesystem::exists("/etc/nv_tegra_release", ec) ? "aarch64-jetson" : "aarch64";
#elif defined(__x86_64__)
  return "x86_64";
#else
  return "unknown";
#endif
}

}  // namespace trtforge
