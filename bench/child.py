"""One process of a concurrent run: ``python -m trtforge.bench.child '<ProcessSpec JSON>'``.

Builds and warms up its workload, prints ``READY``, waits for ``GO <start> <end>`` on stdin, times the
window and prints ``RESULT <json>``. Any error is printed as ``ERROR <message>`` on stderr (exit code 1).
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from pathlib import Path

from trtforge.bench.concurrent import ProcessSpec
from trtforge.bench.timing import Workload, timing_in_window


def workload_from_spec(spec: ProcessSpec) -> Workload:
    from trtforge.bench import workloads

    if spec.runtime == "synthetic":
        synthetic = workloads.Synthetic(seconds=spec.synthetic_s, fail_after=spec.fail_after,
                                        hang=spec.hang)  # type: ignore[arg-type]
        return workloads.synthetic_workload(synthetic)
    if spec.runtime not in ("torch", "onnxruntime", "tensorrt"):
        raise ValueError(f"unknown runtime {spec.runtime!r}")
    from trtforge.config import load_config

    config = load_config(spec.config, list(spec.overrides))
    if spec.runtime == "torch":
        return workloads.torch_workload(config, device=spec.device, precision=spec.precision, threads=spec.threads)
    if spec.runtime == "onnxruntime":
        workload = workloads.onnxruntime_workload(config, Path(spec.onnx), threads=spec.threads,
                                                  precision=spec.precision)
        workload.label["onnx_kind"] = spec.onnx_kind
        return workload
    return workloads.tensorrt_workload(config, Path(spec.engine), dla_core=spec.dla_core)


def main(argv: list[str]) -> int:
    spec = ProcessSpec(**json.loads(argv[0]))
    try:
        workload = workload_from_spec(spec)
        for _ in range(spec.warmup):
            workload.step()
        if workload.sync is not None:
            workload.sync()
        print("READY", flush=True)
        line = sys.stdin.readline().split()
        if len(line) != 3 or line[0] != "GO":
            raise RuntimeError(f"expected 'GO <start> <end>' from the parent, got {' '.join(line)!r}")
        start, end = float(line[1]), float(line[2])
        time.sleep(max(0.0, start - time.time()))
        timing = timing_in_window(workload, until=end)
    except Exception as err:
        traceback.print_exc()
        print(f"ERROR {type(err).__name__}: {err}", file=sys.stderr, flush=True)
        return 1
    print("RESULT " + json.dumps({"timing": timing.to_dict(), "label": workload.label, "spec": json.loads(argv[0])}),
          flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
