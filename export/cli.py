"""``trtforge export``: the config's model to ONNX."""

from __future__ import annotations

import argparse
from typing import Any

from trtforge.cli import add_config_args, config_from_args


def register(sub: Any) -> None:
    parser = sub.add_parser("export", help="export the config's PyTorch model to ONNX (model.onnx, export.json)")
    add_config_args(parser)
    parser.set_defaults(handler=_export)


def _export(args: argparse.Namespace) -> int:
    from trtforge.export import onnx_from_torch

    config = config_from_args(args)
    result = onnx_from_torch(config, force=args.force)
    print(f"{result.onnx_path}{' (up to date)' if result.reused else ''}")
    return 0
