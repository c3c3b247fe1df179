"""``trtforge predict`` and ``trtforge recommend`` (registered by ``placement/cli.py``). Every figure they print
is a prediction of the cost model, labelled with its device and the catalogue version."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from trtforge.errors import TrtforgeError


def register(sub: Any) -> None:
    from trtforge.cli import add_config_args

    predict = sub.add_parser("predict", help="predicted latency and FPS (with a range) of a config or a scenario "
                                             "on a catalogued Jetson (placement/devices.json)")
    which = predict.add_mutually_exclusive_group(required=True)
    which.add_argument("--config", "-c", metavar="NAME|PATH", help="config name in configs/ or a .toml path")
    which.add_argument("--scenario", "-s", metavar="NAME|PATH", help="scenario name in configs/scenarios or a path")
    predict.add_argument("--device", "-d", required=True, help="catalogue device, e.g. xavier-nx, agx-orin")
    predict.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                         help="override a config key (TOML value); repeatable")
    predict.add_argument("--out", type=Path, default=None,
                         help="the config's artifact folder for its export and tagging (default artifacts/<config>)")
    predict.add_argument("--json", action="store_true", help="print the prediction record as JSON")
    predict.add_argument("--results", type=Path, default=None,
                         help="where prediction records are stored (default artifacts/predictions)")
    predict.set_defaults(handler=_predict)

    recommend = sub.add_parser("recommend", help="search device_types over the model's submodules for the best "
                                                 "predicted placement on a device; writes it as a config")
    add_config_args(recommend)
    recommend.add_argument("--device", "-d", required=True, help="catalogue device with DLA, e.g. xavier-nx")
    recommend.add_argument("--objective", choices=("fps", "aggregate"), default="fps",
                           help="fps: one process; aggregate: a GPU-only process plus the placement on every "
                                "DLA core (default fps)")
    recommend.add_argument("--top", type=int, default=5, help="how many placements to print (default 5)")
    recommend.add_argument("--write", type=Path, default=None, metavar="PATH",
                           help="config file for the best placement (default <artifacts>/<config>_rec_<device>.toml)")
    recommend.add_argument("--json", action="store_true", help="print the candidates as JSON")
    recommend.set_defaults(handler=_recommend)


def _predict(args: argparse.Namespace) -> int:
    from trtforge.placement.cost import load_catalogue
    from trtforge.placement.predict import (
        PREDICTIONS_DIR,
        predict_config,
        predict_scenario,
        prediction_lines,
        scenario_lines,
        write_prediction,
    )

    from trtforge.artifacts import json_text
    from trtforge.config import load_config, load_scenario

    catalogue = load_catalogue()
    if args.scenario:
        if args.overrides or args.out:
            raise TrtforgeError.of("--set and --out with --config only", found="them with --scenario",
                                   fix="edit the scenario's configs instead")
        record = predict_scenario(load_scenario(args.scenario), args.device, catalogue)
        lines = scenario_lines(record)
    else:
        overrides = [*args.overrides, *([f"output_dir={str(args.out)!r}"] if args.out else [])]
        record = predict_config(load_config(args.config, overrides), args.device, catalogue)
        lines = prediction_lines(record)
    path = write_prediction(record, args.results or PREDICTIONS_DIR)
    if args.json:
        print(json_text(record), end="")
    else:
        print("\n".join(lines))
        print(f"wrote {path} (a prediction, kept apart from measured results)")
    return 0


def _recommend(args: argparse.Namespace) -> int:
    from trtforge.placement.cost import device_spec, load_catalogue
    from trtforge.placement.recommend import (
        config_toml,
        recommend_for_config,
        recommendation_record,
        write_recommended,
    )

    from trtforge.artifacts import json_text
    from trtforge.cli import config_from_args

    config = config_from_args(args)
    catalogue = load_catalogue()
    scored = recommend_for_config(config, args.device, catalogue, objective=args.objective, keep=max(args.top, 1))
    if not scored:
        raise TrtforgeError.of(f"at least one placement of {config.name} within the DLA rules and the loadable "
                               "budget", found="none", fix="set gpu_fallback = true")
    spec = device_spec(catalogue, args.device)
    best = scored[0]
    path = args.write or config.artifact_dir / f"{config.name}_rec_{args.device}.toml"
    text = config_toml(config, best.device_types, platform=spec["platform"],
                       tensorrt=spec.get("tensorrt") or config.target.tensorrt,
                       description=f"recommended by trtforge recommend for {args.device} (objective "
                                   f"{args.objective}, catalogue {catalogue['version']}): predicted "
                                   f"{best.fps['value']:.1f} FPS, not measured")
    written = write_recommended(text, path)
    record = recommendation_record(scored, config, args.device, args.objective, catalogue, written)
    if args.json:
        print(json_text(record), end="")
        return 0
    print(f"PREDICTED (not measured) placements of {config.name} on {args.device}, objective {args.objective}, "
          f"catalogue {record['catalogue_version']}:")
    print("| rank | device_types | islands | predicted FPS (range) | predicted aggregate FPS |")
    print("|---|---|---|---|---|")
    for c in record["candidates"]:
        types = ", ".join(f"{k}: {v}" for k, v in c["device_types"].items()) or "(all GPU)"
        print(f"| {c['rank']} | {types} | {c['islands']} | {c['fps']:.1f} ({c['fps_low']:.1f} - {c['fps_high']:.1f}) "
              f"| {c['aggregate_fps']:.1f} |")
    print(f"wrote {written} (the best placement as a config)")
    return 0
