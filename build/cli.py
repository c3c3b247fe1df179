"""Commands of this stage (registered into ``trtforge``)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    from trtforge.cli import add_config_args

    parser = sub.add_parser("build", help="build the TensorRT engine, its sidecar and consumer snippets")
    add_config_args(parser)
    parser.add_argument("--require-dla", action="store_true",
                        help="fail instead of building a GPU-only engine where there are no DLA cores")
    parser.set_defaults(handler=_build)
    register_realized(sub)
    register_device_route(sub)


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


def register_device_route(sub: Any) -> None:
    """``bundle`` (prepare on a workstation) and ``adopt`` (bring a device-built engine back)."""
    from trtforge.cli import add_config_args

    bundle = sub.add_parser("bundle", help="a folder + .tar.gz to build the config's engine on a Jetson with trtexec")
    add_config_args(bundle)
    bundle.set_defaults(handler=_bundle)
    adopt = sub.add_parser("adopt", help="turn an engine built on the device from a bundle into a sidecar")
    adopt.add_argument("--bundle", type=Path, required=True, help="the bundle folder (with MANIFEST.json)")
    adopt.add_argument("--engine", type=Path, required=True, help="the engine trtexec wrote on the device")
    adopt.add_argument("--log", type=Path, required=True, help="build.sh's build.log (trtexec --verbose)")
    adopt.add_argument("--layer-info", type=Path, default=None, help="layers.json (trtexec --exportLayerInfo)")
    adopt.set_defaults(handler=_adopt)


def _bundle(args: argparse.Namespace) -> int:
    from trtforge.build.bundle import bundle_from_config

    from trtforge.cli import config_from_args

    out, args.out = args.out, None  # --out is the bundle folder here, not the config's artifact folder
    made = bundle_from_config(config_from_args(args), out)
    print_summary({"bundle": str(made.folder), "archive": str(made.archive),
                   "files": " ".join(sorted(made.manifest["files"])),
                   "target": f"TensorRT {made.manifest['target']['tensorrt']} on {made.manifest['target']['platform']}",
                   "bring_back": " ".join(made.manifest["bring_back"])})
    return 0


def _adopt(args: argparse.Namespace) -> int:
    from trtforge.build.adopt import sidecar_from_device

    path, record = sidecar_from_device(args.bundle, args.engine, args.log, args.layer_info)
    table = record["placement"]["by_submodule"]
    realized = [row["realized_dla"] for row in table.values()]
    print_summary({"sidecar": str(path), "built_with": record["tensorrt"]["label"], "runs_on": record["runs_on"],
                   "dla_layers_realized": "unknown (log had no summary)" if None in realized
                   else f"{sum(realized)}/{sum(row['layers'] for row in table.values())}",
                   "realized_source": record["placement"]["realized_source"],
                   "fallbacks_in_log": len(record["placement"]["realized_fallbacks"]),
                   "drift": "; ".join(record["placement"]["drift"]) or "none",
                   "gates": "; ".join(record["placement"]["gates"]) or "pass"})
    return 0


def register_realized(sub: Any) -> None:
    """``realized``: the placement a TensorRT builder log (from any machine) reports."""
    parser = sub.add_parser("realized", help="the DLA/GPU placement and fallbacks a TensorRT builder log reports "
                                             "(trtexec, DeepStream, Polygraphy, Python logger, trtforge build)")
    parser.add_argument("--log", type=Path, required=True, help="the builder log (e.g. trtexec --verbose output)")
    layers = parser.add_mutually_exclusive_group()
    layers.add_argument("--layers", type=Path, default=None,
                        help="one TensorRT layer name per line in network order (expands ForeignNode[a...b])")
    layers.add_argument("--plan", type=Path, default=None,
                        help="plan.json (or its folder): layers from the plan, table per submodule")
    parser.add_argument("--inspector", type=Path, default=None,
                        help="engine inspector JSON (trtexec --exportLayerInfo) to compare with the log")
    parser.add_argument("--json", action="store_true",
                        help='print {"summary_found", "devices", "fallbacks": [{"layer", "reason"}], '
                             '"unparsed_lines"}')
    parser.set_defaults(handler=_realized)


def _realized(args: argparse.Namespace) -> int:
    import json
    import sys

    from trtforge.build.realized import layer_names_from_text, realized_from_log_text, text_from_realized

    rows: list[tuple[str, str, str, str]] = []
    names: list[str] = []
    if args.plan is not None:
        from trtforge.placement.plan import load_plan

        rows = [(n["name"], n["owner"], n["requested"], n["predicted"]) for n in load_plan(args.plan)["nodes"]
                if not n.get("layerless")]
        names = [row[0] for row in rows]
    elif args.layers is not None:
        names = layer_names_from_text(_read(args.layers, "layer list"))
    realized = realized_from_log_text(_read(args.log, "builder log"), names)
    if args.json:
        print(json.dumps(realized.to_json(), indent=2, ensure_ascii=False))
    else:
        print(text_from_realized(realized, rows), end="")
        if not names and realized.summary_found:
            print("note: without --layers or --plan a ForeignNode[first...last] range names its two ends only")
    if args.inspector is not None:
        from trtforge.build.inspector import layers_from_inspector, merge_realized

        merged = merge_realized(realized, layers_from_inspector(_read(args.inspector, "inspector JSON")), names)
        out = sys.stderr if args.json else sys.stdout  # --json prints exactly the log's four keys
        print(f"engine inspector: {len(merged.disagreements)} disagreement(s) with the log, "
              f"{len(merged.unconfirmed)} layer(s) it cannot place", file=out)
        for line in merged.disagreements:
            print(f"  {line}", file=out)
    return 0


def _read(path: Path, what: str) -> str:
    from trtforge.errors import TrtforgeError

    try:
        return path.read_bytes().decode("utf-8", errors="replace")
    except OSError as err:
        raise TrtforgeError.of(f"a {what} at {path}", found=err.strerror or "unreadable",
                               fix="give the path of the file") from None
