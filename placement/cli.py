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
    plan = sub.add_parser("plan", help="tag if needed, then predict the DLA/GPU placement: plan.json + report.md")
    add_config_args(plan)
    plan.set_defaults(handler=_plan)
    from trtforge.placement.predict_cli import register as register_predict

    register_predict(sub)  # trtforge predict, trtforge recommend


def _tag(args: argparse.Namespace) -> int:
    import onnx
    from trtforge.placement import requested_devices
    from trtforge.placement.tagging import folded_from_tagged

    from trtforge.pipeline import tagged_from_config

    config = config_from_args(args)
    result = tagged_from_config(config, force=args.force)
    folded = folded_from_tagged(onnx.load(str(result.tagged_path), load_external_data=False))
    devices = requested_devices(result.owners, config, folded)
    if args.show:
        for node, owner in result.owners.items():
            print(f"{node:<40} {owner or '(root)':<24} {devices[node]}")
    on_dla = sum(d == "DLA" for d in devices.values())
    print(f"{result.tagged_path}: {len(devices)} nodes, {on_dla} requested on DLA")
    return 0


def _plan(args: argparse.Namespace) -> int:
    from trtforge.placement.plan import PLAN_FILE, REPORT_FILE, plan_for_config
    from trtforge.placement.report import plan_text

    config = config_from_args(args)
    plan = plan_for_config(config, force=args.force)
    print(plan_text(plan))
    print(f"wrote {config.artifact_dir / PLAN_FILE} and {config.artifact_dir / REPORT_FILE}")
    return 0
