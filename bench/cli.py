"""Commands of this stage (registered into ``trtforge``): compare, bench, bench-concurrent, report."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from trtforge.errors import TrtforgeError

RUNTIME_CHOICES = ("torch", "onnxruntime", "tensorrt")


def register(sub: Any) -> None:
    """This stage adds its commands here."""
    from trtforge.cli import add_config_args

    compare = sub.add_parser("compare", help="accuracy of every candidate against FP32 references, one table")
    compare.add_argument("--config", "-c", action="append", default=[], metavar="NAME|PATH",
                         help="a config to compare; repeatable (all in one table)")
    compare.add_argument("--model", action="append", default=[], help="every named config of this model (repeatable)")
    compare.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                         help="override a key of every config (TOML value), e.g. --set compare.atol=0")
    compare.add_argument("--data", choices=("generated", "calibration"), default="generated",
                         help="generated inputs, or the held-out batches of each config's calibration data")
    compare.add_argument("--reference", choices=("onnxruntime", "torch"), default="onnxruntime",
                         help="the FP32 reference the candidates are compared with")
    compare.add_argument("--samples", type=int, default=None, help="batches to compare (default: [compare] samples)")
    compare.add_argument("--results", type=Path, default=None, help="results folder (default artifacts/bench)")
    compare.set_defaults(handler=_compare)

    bench = sub.add_parser("bench", help="throughput: torch FPS and engine FPS (ONNX Runtime where no engine runs)")
    add_config_args(bench)
    bench.add_argument("--runtime", action="append", choices=RUNTIME_CHOICES, default=[],
                       help="measure only these (repeatable; default all that apply)")
    bench.add_argument("--device", default=None, help="torch device (default cuda when present, else cpu)")
    bench.add_argument("--threads", type=int, default=0, help="CPU threads for torch / ONNX Runtime (default theirs)")
    bench.add_argument("--results", type=Path, default=None, help="results folder (default artifacts/bench)")
    bench.set_defaults(handler=_bench)

    concurrent = sub.add_parser("bench-concurrent", help="a scenario's processes at once over one wall-clock window")
    concurrent.add_argument("--scenario", "-s", required=True, help="scenario name in configs/scenarios or a path")
    concurrent.add_argument("--runtime", choices=RUNTIME_CHOICES, default=None,
                            help="default: tensorrt where engines run, else torch on CUDA, else onnxruntime")
    concurrent.add_argument("--window", type=float, default=None, help="seconds (default [bench] window_s)")
    concurrent.add_argument("--threads", type=int, default=1, help="CPU threads per process (default 1)")
    concurrent.add_argument("--results", type=Path, default=None, help="results folder (default artifacts/bench)")
    concurrent.set_defaults(handler=_bench_concurrent)

    report = sub.add_parser("report", help="the benchmark page, accuracy table and plots from stored results")
    report.add_argument("--results", type=Path, action="append", default=[],
                        help="results folder to read (repeatable; default artifacts/bench and bench/results)")
    report.add_argument("--out", type=Path, default=None, help="output folder (default artifacts/report)")
    report.set_defaults(handler=_report)


def _results_dir(args: argparse.Namespace) -> Path:
    from trtforge.bench.sources import RESULTS_DIR

    return args.results or RESULTS_DIR


def _compare(args: argparse.Namespace) -> int:
    from trtforge.bench.compare import record_from_rows, rows_from_configs, table_from_rows

    from trtforge.artifacts import write_json
    from trtforge.config import available_configs, load_config
    from trtforge.log import stage

    names = list(args.config)
    for model in args.model:
        found = [n for n in available_configs() if load_config(n).model == model]
        if not found:
            raise TrtforgeError.of(f"named configs of model {model!r}", found="none", fix="see `trtforge configs`")
        names += [n for n in found if n not in names]
    if not names:
        raise TrtforgeError.of("--config NAME (repeatable) or --model NAME", found="neither")
    configs = [load_config(n, _compare_overrides(n, args.overrides)) for n in names]
    with stage("compare", configs=len(configs), data=args.data) as done:
        rows, notes = rows_from_configs(configs, data=args.data, samples=args.samples, reference=args.reference)
        record = record_from_rows(rows, notes, data=args.data)
        stem = "-".join(args.model) if args.model and not args.config else configs[0].name
        path = write_json(_results_dir(args) / "compare" / f"{stem}.json", record)
        done["artifact"] = path
    print(table_from_rows(record["rows"]), end="")
    print("inputs: " + "; ".join(notes))
    print(f"{record['failed']} FAIL of {len(rows)} rows; written to {path}")
    return 1 if record["failed"] else 0


def _compare_overrides(name: str, overrides: list[str]) -> list[str]:
    """Tolerance overrides (``compare.*``) keep the config's name, and so its artifacts; others derive a config."""
    only_tolerances = all(o.partition("=")[0].strip().startswith("compare.") for o in overrides)
    return [*overrides, f"name={name!r}"] if overrides and only_tolerances and "/" not in name else list(overrides)


def _bench(args: argparse.Namespace) -> int:
    from trtforge.bench.report import bench_lines
    from trtforge.bench.throughput import result_path, throughput_from_config

    from trtforge.artifacts import write_json
    from trtforge.cli import config_from_args
    from trtforge.log import stage

    config = config_from_args(args)
    with stage("bench", config=config.name, runtimes=",".join(args.runtime) or "all") as done:
        record = throughput_from_config(config, runtimes=args.runtime, device=args.device, threads=args.threads)
        done["artifact"] = write_json(result_path("throughput", config.name, _results_dir(args)), record)
    print("\n".join(bench_lines(record)))
    return 0


def _bench_concurrent(args: argparse.Namespace) -> int:
    from trtforge.bench.report import concurrent_lines
    from trtforge.bench.scenarios import concurrent_from_scenario
    from trtforge.bench.throughput import result_path

    from trtforge.artifacts import write_json
    from trtforge.config import load_scenario
    from trtforge.log import stage

    _check_concurrent_args(args)  # before the scenario is loaded: nothing is exported, built or written
    scenario = load_scenario(args.scenario)
    with stage("bench-concurrent", scenario=scenario.name, processes=len(scenario.processes)) as done:
        record = concurrent_from_scenario(scenario, runtime=args.runtime, results_dir=_results_dir(args),
                                          window_s=args.window, threads=args.threads)
        done["artifact"] = write_json(result_path("concurrent", scenario.name, _results_dir(args)), record)
    print("\n".join(concurrent_lines(record)))
    return 0


def _check_concurrent_args(args: argparse.Namespace) -> None:
    from trtforge.bench.concurrent import check_window_and_timeout

    if args.window is not None:
        check_window_and_timeout(args.window, 1.0)
    if args.threads < 0:
        raise TrtforgeError.of("--threads to be 0 (the runtime's default) or more", found=args.threads)


def _report(args: argparse.Namespace) -> int:
    from trtforge.bench.report import report_from_results
    from trtforge.bench.sources import RESULTS_DIR, STORED_RESULTS_DIR

    from trtforge.log import stage

    folders = args.results or [RESULTS_DIR, STORED_RESULTS_DIR]
    out = args.out or Path("artifacts") / "report"
    with stage("report", results=",".join(map(str, folders))) as done:
        written = report_from_results(folders, out)
        done["artifact"] = written[0]
    for path in written:
        print(path)
    return 0
