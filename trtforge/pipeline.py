"""The pipeline of one config: export -> tag -> plan -> (calibrate) -> build. ``trtforge engine`` runs it.

Only the pipeline knows the order of the stages and what each needs. A command names the stage it wants;
``run_stages`` runs that stage's upstream stages first, each exactly once, handing each stage the artifacts
of the stages before it. Each stage compares its inputs' hashes with its record and is skipped when they
match (its log says ``start`` then ``skipped``, or ``start`` then ``done``); ``force`` names the stages to
redo regardless (``trtforge <stage> --force`` redoes that stage, ``trtforge engine --force`` every stage).
No freshness check imports torch: the export records what its model identity needs.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trtforge.config import Config
from trtforge.placement.tagging import TAGGED_FILE, TagResult

STAGES = ("export", "tag", "plan", "calib", "build")
# what each stage takes from the stages before it (calib only for int8 configs)
NEEDS = {"export": (), "tag": ("export",), "plan": ("tag",), "calib": ("tag",), "build": ("plan", "tag", "calib")}


@dataclass
class StageRun:
    """The artifacts of one command's stages, filled in order; ``ran`` lists the stages in the order run."""

    config: Config
    export: Any = None
    tagged: TagResult | None = None
    plan: Any = None
    calib: Any = None
    build: Any = None
    ran: list[str] = field(default_factory=list)

    @property
    def tagged_path(self) -> Path:
        assert self.tagged is not None
        return self.tagged.tagged_path


def stages_for(config: Config, until: str) -> list[str]:
    """The stages ``until`` needs, in pipeline order, ``until`` last (calibration only for int8 configs)."""
    if until not in STAGES:
        raise ValueError(f"unknown stage {until!r}")
    wanted: set[str] = set()

    def need(name: str) -> None:
        if name == "calib" and config.precision != "int8" and until != "calib":
            return
        if name not in wanted:
            wanted.add(name)
            for upstream in NEEDS[name]:
                need(upstream)

    need(until)
    return [s for s in STAGES if s in wanted]


def run_stages(config: Config, until: str, *, force: Collection[str] = (), require_dla: bool = False,
               trt_version: str | None = None,
               after: Mapping[str, Callable[[StageRun], None]] | None = None) -> StageRun:
    """Run the stages ``until`` needs, each once and in order; ``force`` names the stages to redo; ``after``
    maps a stage to what to do once it finished (e.g. print the plan before the long stages)."""
    order = stages_for(config, until)
    run = StageRun(config)
    target = None
    if "build" in order:  # refuse what this machine cannot build before any long stage
        from trtforge.build.stage import target_for_config

        target = target_for_config(config, require_dla=require_dla)
    steps: dict[str, Callable[[bool], None]] = {
        "export": lambda f: _export(run, f),
        "tag": lambda f: _tag(run, f),
        "plan": lambda f: _plan(run, f),
        "calib": lambda f: _calib(run, f, trt_version),
        "build": lambda f: _build(run, f, target),
    }
    for name in order:
        steps[name](name in force)
        run.ran.append(name)
        if after and name in after:
            after[name](run)
    return run


def _export(run: StageRun, force: bool) -> None:
    from trtforge.export import onnx_from_torch

    run.export = onnx_from_torch(run.config, force=force)


def _tag(run: StageRun, force: bool) -> None:
    from trtforge.placement import tag_owners

    modules = [m["name"] for m in run.export.record()["submodules"]]
    run.tagged = tag_owners(run.export.onnx_path, modules, run.config.artifact_dir / TAGGED_FILE, force=force)


def _plan(run: StageRun, force: bool) -> None:
    from trtforge.placement.plan import plan_from_artifacts

    run.plan = plan_from_artifacts(run.config, run.tagged_path, force=force)


def _calib(run: StageRun, force: bool, trt_version: str | None) -> None:
    from trtforge.calib.stage import calib_from_tagged

    run.calib = calib_from_tagged(run.config, run.tagged_path, force=force, trt_version=trt_version)


def _build(run: StageRun, force: bool, target: Any) -> None:
    from trtforge.build.stage import engine_from_artifacts

    run.build = engine_from_artifacts(run.config, target, run.plan, run.tagged_path, run.calib, force=force)


# ---------------------------------------------------------------------------------------------- commands


def register(sub: Any) -> None:
    from trtforge.cli import add_config_args

    parser = sub.add_parser("engine", help="run every stage for a config: export, tag, plan, calibrate, build")
    add_config_args(parser)
    parser.set_defaults(handler=_engine)


def tagged_from_config(config: Config, *, force: bool = False) -> TagResult:
    """Export (if stale) and tag (if stale) into the config's artifact folder; ``force`` redoes both."""
    run = run_stages(config, "tag", force=("export", "tag") if force else ())
    assert run.tagged is not None
    return run.tagged


def engine_from_config(config: Config, *, force: bool = False) -> dict[str, Any]:
    """Every stage for ``config``, each once (``force`` redoes each once); returns what ``trtforge engine``
    prints."""
    from trtforge.placement.report import plan_text

    run = run_stages(config, "build", force=STAGES if force else (),
                     after={"plan": lambda done: print(plan_text(done.plan))})  # the table, before long stages
    assert run.build is not None
    summary: dict[str, Any] = {"config": config.name, "tagged": str(run.tagged_path),
                               "nodes": len(run.plan.nodes)}  # one plan node per tagged node
    placed = run.plan.to_json()["summary"]
    summary.update(plan=str(config.artifact_dir / "plan.json"), dla_node_share=placed["dla_node_share"],
                   dla_flops_share=placed["dla_flops_share"], dla_islands=placed["islands"],
                   predicted_fallbacks=placed["fallbacks"])
    if run.calib is not None:
        summary.update(calib_cache=str(run.calib.cache_path), calib_qdq=str(run.calib.qdq_path),
                       calib_synthetic_data=run.calib.synthetic)
    summary.update(run.build.summary)
    return summary


def _engine(args: argparse.Namespace) -> int:
    from trtforge.cli import config_from_args

    summary = engine_from_config(config_from_args(args), force=args.force)
    width = max(len(k) for k in summary)
    for key, value in summary.items():
        print(f"{key:<{width}}  {value}")
    return 0
