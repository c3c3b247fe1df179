"""Commands of this stage (registered into ``trtforge``)."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    from trtforge.cli import add_config_args

    parser = sub.add_parser("build", help="build the TensorRT engine, its sidecar and consumer snippets")
    add_config_args(parser)
    parser.add_argument("--require-dla", action="store_true",
                        help="fail instead of building a GPU-only engine where there are no DLA cores")
    parser.set_defaults(handler=_build)


def _build(args: argparse.Namespace) -> int:
    from trtforge.build import engine_for_config

    from trtforge.cli import config_from_args

    result = engine_for_config(config_from_args(args), force=args.force, require_dla=args.require_dla)
    print_summary(result.summary)
    return 0


def print_summary(summary: dict[str, Any]) -> None:
    width = max(len(k) for k in summary)
    for key, value in summary.items():
        print(f"{key:<{width}}  {value}")
