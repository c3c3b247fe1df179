"""Stage 4: TensorRT engines with per-submodule DLA/GPU placement, plus sidecars for C++ consumers."""
