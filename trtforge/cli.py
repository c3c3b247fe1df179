"""``trtforge <command> ...`` (also ``python -m trtforge``). The Makefile calls these commands.

Each stage registers its own commands (``<stage>/cli.py``: ``register(subparsers)``). The CLI catches only
``TrtforgeError``: it prints one line and exits 2. Bugs keep their traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from trtforge.config import Config, load_config
from trtforge.errors import TrtforgeError
from trtforge.log import configure

STAGE_CLIS = (
    "trtforge.doctor",
    "trtforge.export.cli",
    "trtforge.placement.cli",
    "trtforge.calib.cli",
    "trtforge.build.cli",
    "trtforge.bench.cli",
    "trtforge.pipeline",
)

Handler = Callable[[argparse.Namespace], int | None]


def add_config_args(parser: argparse.ArgumentParser) -> None:
    """The options every config-driven command takes. Flags default to "not given"; defaults live in the
    config schema."""
    parser.add_argument("--config", "-c", required=True, metavar="NAME|PATH",
                        help="config name in configs/ (see `trtforge configs`) or a .toml path")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key (TOML value), e.g. --set dla_core=1; repeatable")
    parser.add_argument("--dla-core", type=int, default=None, help="shorthand for --set dla_core=N")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default artifacts/<config>)")
    parser.add_argument("--force", action="store_true", help="redo the stage even if its artifacts are fresh")


def config_from_args(args: argparse.Namespace) -> Config:
    overrides = list(args.overrides)
    if args.dla_core is not None:
        overrides.append(f"dla_core={args.dla_core}")
    return load_config(args.config, overrides, output_dir=args.out)  # --out is a path, never parsed as TOML


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="trtforge",
        description="PyTorch -> ONNX -> TensorRT engines split per submodule between GPU and DLA.")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    sub = parser.add_subparsers(dest="command", metavar="<command>", required=True)
    configs = sub.add_parser("configs", help="list the named configs and scenarios, or check one")
    configs.add_argument("name", nargs="?", help="a config to load, validate and print")
    configs.set_defaults(handler=_configs)
    for module_name in STAGE_CLIS:
        importlib.import_module(module_name).register(sub)
    return parser


def _configs(args: argparse.Namespace) -> int:
    from trtforge.artifacts import json_text
    from trtforge.config import available_configs, available_scenarios

    if args.name:
        config = load_config(args.name)
        if config.device_types:
            from trtforge.config import check_device_types
            from trtforge.export.models import model_from_config, submodule_tree

            check_device_types(config, [m["name"] for m in submodule_tree(model_from_config(config))])
        print(json_text(config.to_dict()), end="")
        return 0
    print("configs:   " + " ".join(available_configs()))
    print("scenarios: " + " ".join(available_scenarios()))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure(args.verbose)
    try:
        return int(args.handler(args) or 0)
    except TrtforgeError as err:
        print(f"trtforge: error: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head`
        sys.stderr.close()
        return 0
    except OSError as err:  # a full disk or a read-only folder met outside trtforge's own writes (torch, onnx)
        from trtforge.artifacts import environment_error

        mapped = environment_error(err, f"`trtforge {args.command}` to write its files")
        if mapped is err:
            raise
        print(f"trtforge: error: {mapped}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("trtforge: interrupted", file=sys.stderr)
        return 130


def run() -> None:
    """The ``trtforge`` console script and ``python -m trtforge``: ``main``, then exit with its code.

    Once torch is loaded, the interpreter's own teardown (freeing torch's, dynamo's and sympy's objects) takes
    about 2 s after the work is done (a resnet18 export on 2 cores: 1.9 s, against 0.15 s with ``os._exit``).
    Every artifact is written and closed by then, so such a process flushes its streams and ends with
    ``os._exit``; under a profiler or tracer (``sys.getprofile``/``sys.gettrace``) it exits normally, so that
    their reports get written."""
    code = main()
    if "torch" in sys.modules and sys.getprofile() is None and sys.gettrace() is None:
        logging.shutdown()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):  # a closed or broken pipe: nothing more can reach it
                stream.flush()
        os._exit(code)
    sys.exit(code)
