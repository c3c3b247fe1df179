#!/usr/bin/env bash
# Torch FPS (resnet18 FP32 and FP16, batch 1 and 8) and two processes sharing one GPU, on a machine with
# CUDA but no TensorRT: the eager PyTorch model is the workload. Without CUDA it falls back to the CPU and
# says so in every result. Results: $RESULTS (default artifacts/bench). Run from the repository root.
set -euo pipefail
RESULTS=${RESULTS:-artifacts/bench}
WINDOW=${WINDOW:-10}
PY=${PYTHON:-python3}
tf() { "$PY" -m trtforge "$@"; }

"$PY" -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available(),
  torch.cuda.get_device_name() if torch.cuda.is_available() else "(no GPU: CPU fallback)")'
tf bench --config resnet18_fp16_gpu --runtime torch --results "$RESULTS"
tf bench --config resnet18_fp16_gpu --set max_batch_size=8 --runtime torch --results "$RESULTS"
tf bench --config resnet18_int8_gpu --runtime torch --results "$RESULTS"
tf bench-concurrent --scenario fp16_2gpu --runtime torch --window "$WINDOW" --results "$RESULTS"
tf bench-concurrent --scenario int8_2gpu --runtime torch --window "$WINDOW" --results "$RESULTS"
