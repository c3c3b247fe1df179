"""``trtforge tag`` (and the placement commands): owners and DLA/GPU placement of the ONNX nodes."""

from __future__ import annotations

import argparse
from typing import Any

from trtforge.cli import add_config_args, config_from_args


def register(sub: Any) -> None:
    parser = sub.add_parser("tag", help="export if needed, then tag every ONNX node with its owning submodule")
    add_config_args(parser)
    parser.add_argument("--show", action="store_true", help="print node -> owner -> requested device")
    parser.set_defaults(handler=_tag)


def _tag(args: argparse.Namespace) -> int:
    from trtforge.placement import requested_devices

    from trtforge.pipeline import tagged_from_config

    config = config_from_args(args)
    result = tagged_from_config(config, force=args.force)
    devices = requested_devices(result.owners, config)
    if args.show:
        for node, owner in result.owners.items():
            print(f"{node:<40} {owner or '(root)':<24} {devices[node]}")
    on_dla = sum(d == "DLA" for d in devices.values())
    print(f"{result.tagged_path}: {len(devices)} nodes, {on_dla} requested on DLA")
    return 0
