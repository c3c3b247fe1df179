// trtforge's own declarations of the TensorRT API subset examples/cpp/trt_infer.cpp uses: NOT NVIDIA's headers.
// Signatures follow NVIDIA's NvInferVersion.h / NvInferRuntime.h (8.5 to 11.1); the version is overridable
// (-DNV_TENSORRT_MAJOR=8 ...) so the tests can compile trt_infer as if against 8.x or 10.x headers.
#pragma once

#ifndef NV_TENSORRT_MAJOR
#define NV_TENSORRT_MAJOR 10
#endif
#ifndef NV_TENSORRT_MINOR
#define NV_TENSORRT_MINOR 3
#endif
#ifndef NV_TENSORRT_PATCH
#define NV_TENSORRT_PATCH 0
#endif
#ifndef NV_TENSORRT_BUILD
#define NV_TENSORRT_BUILD 26
#endif
