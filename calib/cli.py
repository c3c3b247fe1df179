"""``trtforge calib``: INT8 ranges, TensorRT cache, dynamic ranges, Q/DQ ONNX and the accuracy preview."""

from __future__ import annotations

import argparse
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
