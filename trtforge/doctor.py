"""``trtforge doctor``: what this machine can do, and which configs can be built here and why not."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    parser = sub.add_parser("doctor", help="report TensorRT flavour, DLA cores, GPU, JetPack, and what builds here")
    parser.set_defaults(handler=run_doctor)


def doctor_report() -> dict[str, Any]:
    from trtforge import compat
    from trtforge.config import available_configs, load_config

    info = compat.detect()
    cores = compat.dla_cores(info)
    configs = {}
    for name in available_configs():
        config = load_config(name)
        status, reason = compat.build_support(config.uses_dla, config.precision, config.dla_core, info, cores,
                                              require_dla=config.require_dla)
        configs[name] = {"status": status, "reason": reason}
    return {
        "tensorrt": {"flavour": info.flavour, "version": info.version} if info else None,
        "dla_cores": cores,
        "gpus": compat.cuda_gpus(),
        "jetson_l4t": compat.jetson_release(),
        "torch": _version("torch"),
        "onnxruntime": _version("onnxruntime"),
        "configs": configs,
    }


def _version(module: str) -> str | None:
    import importlib

    try:
        return str(importlib.import_module(module).__version__)
    except ImportError:
        return None


def run_doctor(args: argparse.Namespace) -> int:
    report = doctor_report()
    trt = report["tensorrt"]
    print(f"TensorRT:     {trt['flavour'] + ' ' + trt['version'] if trt else 'none'}")
    print(f"DLA cores:    {report['dla_cores']}")
    print(f"GPUs:         {', '.join(report['gpus']) or 'none (nvidia-smi finds no GPU)'}")
    print(f"Jetson (L4T): {report['jetson_l4t'] or 'not a Jetson'}")
    print(f"torch:        {report['torch'] or 'not installed'}")
    print(f"onnxruntime:  {report['onnxruntime'] or 'not installed'}")
    print("\nconfig                       builds here  why")
    for name, entry in report["configs"].items():
        print(f"{name:<28} {entry['status']:<12} {entry['reason']}")
    return 0
