"""Stage 3: INT8 calibration on the CPU (ranges, TensorRT calibration caches, Q/DQ ONNX)."""
