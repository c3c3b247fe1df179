// sidecar_reader <engine.json>: prints what a consumer needs from the sidecar and checks the engine file beside it.
// Tensor sizes are the dense shape products (trt_infer sizes buffers from the engine's formats).
// Exit status: 0 ok, 1 the engine file is missing or its size or sha256 differs, 2 the sidecar is unreadable.
#include <filesystem>
#include <iostream>
#include <vector>

#include "sidecar.hpp"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: sidecar_reader <engine.json>\n";
    return 2;
  }
  trtforge::Sidecar s;
  try {
    s = trtforge::read_sidecar(argv[1]);
  } catch (const std::exception& err) {
    std::cerr << "sidecar_reader: " << err.what() << "\n";
    return 2;
  }
  std::cout << "config " << s.config << "\n"
            << "engine " << std::filesystem::path(s.engine_file).filename().string() << " " << s.engine_bytes << "\n"
            << "tensorrt " << s.flavour << " " << s.trt_version << "\n"
            << "precision " << s.precision << "\n"
            << "gpu_only " << (s.gpu_only ? "true" : "false") << "\n"
            << "built_on " << s.platform << (s.l4t ? " L4T " + *s.l4t : "") << " compute capability "
            << s.compute_capability.value_or("unknown") << "\n"
            << "dla_core " << (s.dla_core ? std::to_string(*s.dla_core) : "none") << "\n";
  for (const auto& t : s.io) {
    std::cout << t.mode << " " << t.name << " " << t.dtype << " " << t.format;
    int64_t bytes = trtforge::element_size(t.dtype);
    for (size_t i = 0; i < t.shape.size(); ++i) {
      std::cout << (i ? "x" : " ") << t.shape[i];
      bytes *= t.shape[i];
    }
    std::cout << " " << bytes << "\n";
  }
  std::vector<char> plan;
  const std::string problem = trtforge::load_engine_file(s, plan);
  if (!problem.empty()) {
    std::cerr << "sidecar_reader: " << problem << "\n";
    return 1;
  }
  return 0;
}
