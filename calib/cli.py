"""``trtforge calib``: INT8 ranges, TensorRT cache, dynamic ranges, Q/DQ ONNX and the accuracy preview."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    from trtforge.cli import add_config_args

    parser = sub.add_parser("calib", help="INT8 calibration on the CPU: ranges, TensorRT cache, Q/DQ ONNX, "
                                          "accuracy preview (into artifacts/<config>/calib/)")
    add_config_args(parser)
    parser.add_argument("--trt-version", default=None, metavar="X.Y.Z",
                        help="TensorRT version of the cache header (default: the installed TensorRT, else "
                             "[calibration] trt_version)")
    parser.set_defaults(handler=_calib)
    cache = sub.add_parser("cache", help="read TensorRT calibration caches")
    actions = cache.add_subparsers(dest="cache_command", metavar="<action>", required=True)
    show = actions.add_parser("show", help="header, TensorRT version, algorithm and every tensor's scale of any "
                                           "TensorRT calibration cache (TRT-<N>-<algorithm>)")
    show.add_argument("file", type=Path, help="the cache (calib.trt<N>.<target>.cache, calib.table, ...)")
    show.add_argument("--json", action="store_true",
                      help='print {"header", "version", "algorithm", "scales": {tensor: scale}, "warnings"}')
    show.set_defaults(handler=_cache_show)


def _calib(args: argparse.Namespace) -> int:
    from trtforge.calib.preview import Preview, table_from_preview
    from trtforge.calib.stage import calib_for_config

    from trtforge.cli import config_from_args

    result = calib_for_config(config_from_args(args), force=args.force, trt_version=args.trt_version)
    preview = Preview.from_json(result.preview())
    print(table_from_preview(preview))
    print(f"cache    {result.cache_path}  (TensorRT {result.trt_version}, {result.target})")
    print(f"qdq      {result.qdq_path}")
    print(f"ranges   {result.ranges_path}{'  (up to date)' if result.reused else ''}")
    return 0


def _cache_show(args: argparse.Namespace) -> int:
    import json

    from trtforge.calib.cache import QMAX, read_cache, version_text

    cache = read_cache(args.file)
    if args.json:  # the key order, tensors in file order
        print(json.dumps(cache.to_json(), indent=2, ensure_ascii=False))
        return 0
    print(f"{args.file}: {cache.header} (TensorRT {version_text(cache.version)}, {cache.algorithm}), "
          f"{len(cache.bits)} tensors")
    width = max((len(name) for name in cache.bits), default=6)
    print(f"{'tensor':<{width}}  {'hex':>8}  {'scale':>12}  {'amax':>12}")
    for name, scale in cache.scales.items():
        print(f"{name:<{width}}  {cache.bits[name]:08x}  {scale:>12.6g}  {scale * QMAX:>12.6g}")
    for warning in cache.warnings:
        print(f"warning: {warning}")
    return 0
