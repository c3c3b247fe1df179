"""The pipeline of one config: export -> tag -> plan -> (calibrate) -> build. ``trtforge engine`` runs it."""

from __future__ import annotations

import argparse
from typing import Any

from trtforge.config import Config
from trtforge.placement.tagging import TAGGED_FILE, TagResult


def register(sub: Any) -> None:
    from trtforge.cli import add_config_args

    parser = sub.add_parser("engine", help="run every stage for a config: export, tag, plan, calibrate, build")
    add_config_args(parser)
    parser.set_defaults(handler=_engine)


def tagged_from_config(config: Config, *, force: bool = False) -> TagResult:
    """Export (if stale) and tag (if stale) into the config's artifact folder."""
    from trtforge.export import onnx_from_torch
    from trtforge.placement import tag_owners

    exported = onnx_from_torch(config, force=force)
    modules = [m["name"] for m in exported.record()["submodules"]]
    return tag_owners(exported.onnx_path, modules, config.artifact_dir / TAGGED_FILE, force=force)


def engine_from_config(config: Config, *, force: bool = False) -> dict[str, Any]:
    """Every stage for ``config``; returns the summary that ``trtforge engine`` prints."""
    from trtforge.placement import plan_for_config
    from trtforge.placement.report import plan_text

    tagged = tagged_from_config(config, force=force)
    summary: dict[str, Any] = {"config": config.name, "tagged": str(tagged.tagged_path), "nodes": len(tagged.owners)}
    plan = plan_for_config(config, force=force)
    print(plan_text(plan))  # the per-submodule placement table, before the long stages
    placed = plan.to_json()["summary"]
    summary.update(plan=str(config.artifact_dir / "plan.json"), dla_node_share=placed["dla_node_share"],
                   dla_flops_share=placed["dla_flops_share"], dla_islands=placed["islands"],
                   predicted_fallbacks=placed["fallbacks"])
    if config.precision == "int8":
        from trtforge.calib import calib_for_config

        calibrated = calib_for_config(config, force=force)
        summary.update(calib_cache=str(calibrated.cache_path), calib_qdq=str(calibrated.qdq_path),
                       calib_synthetic_data=calibrated.synthetic)
    from trtforge.build import engine_for_config

    summary.update(engine_for_config(config, force=force).summary)
    return summary


def _engine(args: argparse.Namespace) -> int:
    from trtforge.cli import config_from_args

    summary = engine_from_config(config_from_args(args), force=args.force)
    width = max(len(k) for k in summary)
    for key, value in summary.items():
        print(f"{key:<{width}}  {value}")
    return 0
