"""The capability model scored against what real TensorRT did: ``python -m trtforge.placement.score``.

A ground-truth file (``dla_ground_truth.json``: cases with a target, op/owner/name matchers of what ran on GPU and
on DLA) and a factory module (one factory per case id, in its ``CASES`` dict, and an optional ``OUTPUTS`` dict of
output counts) give, per case, the plan of the rebuilt model with the case's target, scored:

- a **missed fallback** is a node the source puts on GPU (matched by ``expect_gpu``) that is predicted DLA;
- a **false fallback** is a node the source puts on DLA (matched by ``expect_dla``, or with ``complete_dla_list``
  every node ``expect_gpu`` does not match) that is predicted GPU.

A case agrees when it has neither (or, with ``expect_error``, when the config is refused). A factory module may
document a case that contradicts other evidence (``CONTRADICTIONS``: the case it contradicts, why, and the exact
missed and false nodes); such a case is reported as documented while its misses are exactly those. Matchers: ``op`` is a
regular expression the op type fully matches (``*``: any op), ``owner`` and ``name`` are searched in the node's
owner and tagged name. Layerless nodes (ONNX Constants) are not scored.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from trtforge.placement.plan import NodePlan, Plan
from trtforge.placement.report import table_text

from trtforge.artifacts import read_json
from trtforge.config import Config, config_from_dict
from trtforge.errors import TrtforgeError

DEFAULT_TRUTH = Path("tests/placement/ground_truth/dla_ground_truth.json")
DEFAULT_FACTORIES = "tests/placement/dla_cases.py"
HEADER = ["case", "target", "nodes", "DLA", "islands", "expected GPU", "missed", "false", "verdict"]


@dataclass(frozen=True)
class CaseScore:
    case: str
    target: str
    nodes: int = 0
    predicted_dla: int = 0
    islands: int = 0
    expected_gpu: int = 0
    missed: tuple[str, ...] = ()  # expected on GPU, predicted DLA
    false: tuple[str, ...] = ()  # expected on DLA, predicted GPU
    error: str | None = None  # the config or plan was refused (TrtforgeError)
    expect_error: bool = False
    documented: str | None = None  # the case or limit it contradicts, when its misses are exactly the documented

    @property
    def passes(self) -> bool:
        return self.agrees or self.documented is not None

    @property
    def agrees(self) -> bool:
        if self.expect_error:
            return self.error is not None
        return self.error is None and not self.missed and not self.false


def matches(matcher: Mapping[str, str], node: NodePlan) -> bool:
    op = matcher.get("op", "*")
    if op != "*" and not re.fullmatch(op, node.op):
        return False
    if "owner" in matcher and not re.search(matcher["owner"], node.owner):
        return False
    return "name" not in matcher or re.search(matcher["name"], node.name) is not None


def score_plan(case: Mapping[str, Any], plan: Plan) -> CaseScore:
    """Missed and false fallbacks of ``plan`` against ``case`` (pure)."""
    nodes = [n for n in plan.nodes if not n.layerless]
    on_gpu = [n for n in nodes if any(matches(m, n) for m in case["expect_gpu"])]
    gpu_names = {n.name for n in on_gpu}
    if case.get("complete_dla_list"):
        on_dla = [n for n in nodes if n.name not in gpu_names]
    else:
        on_dla = [n for n in nodes if n.name not in gpu_names and any(matches(m, n) for m in case["expect_dla"])]
    return CaseScore(case["id"], target_text(case), len(nodes), sum(n.predicted == "DLA" for n in nodes),
                     len(plan.islands), len(on_gpu), tuple(n.name for n in on_gpu if n.predicted == "DLA"),
                     tuple(n.name for n in on_dla if n.predicted == "GPU"))


def target_text(case: Mapping[str, Any]) -> str:
    return f"{case['platform']} {case['line']} {precision_of(case)}"


def precision_of(case: Mapping[str, Any]) -> str:
    """``"int8 (+fp16)"`` -> ``int8``: the first word names the builder precision."""
    return str(case["precision"]).split()[0]


def config_of_case(case: Mapping[str, Any], factories: str, outputs: int, out_dir: Path) -> Config:
    """The config that exports ``case``: default device DLA, the case's platform, batch and precision, the line
    ``export_line``. Plans are made with GPU fallback on so that a no-fallback recipe is scored node by node (its
    false fallbacks)."""
    batch = case["reproduce"]["batch"]
    dynamic = isinstance(batch, str)
    raw = {"name": case["id"], "model": f"{factories}:{case['id']}", "inputs": {"x": case["reproduce"]["input"]},
           "outputs": ["y"] if outputs == 1 else [f"y{i}" for i in range(outputs)],
           "max_batch_size": int(str(batch).split("..")[-1]), "dynamic_batch": dynamic,
           "precision": precision_of(case), "default_device": "DLA", "gpu_fallback": True,
           "target": {"platform": case["platform"], "tensorrt": export_line(case["line"])},
           "output_dir": str(out_dir)}
    return config_from_dict(raw, source=f"ground-truth case {case['id']}")


def export_line(line: str) -> str:
    """The line the graph is exported for. TensorRT 8.6's parser reads opsets <= 17 and the dynamo exporter writes
    18, which the version converter cannot always lower (ReduceMean); the DLA rules are per op, not per opset, so
    an 8.6 case is exported at opset 18 and planned with the 8.6 rules."""
    return "10.x" if line == "8.6" else line


def score_case(case: Mapping[str, Any], factories: str, outputs: int, out_root: Path) -> CaseScore:
    from trtforge.placement.plan import plan_from_tagged

    from trtforge.pipeline import tagged_from_config

    try:
        exported = config_of_case(case, factories, outputs, out_root / case["id"])
        config = replace(exported, target=replace(exported.target, tensorrt=case["line"]))
        plan = plan_from_tagged(tagged_from_config(exported).tagged_path, config)
    except TrtforgeError as err:
        return CaseScore(case["id"], target_text(case), error=str(err), expect_error=bool(case.get("expect_error")))
    score = score_plan(case, plan)
    if case.get("expect_error"):
        return CaseScore(**{**score.__dict__, "expect_error": True})
    return score


def rows_of(scores: Sequence[CaseScore]) -> list[list[str]]:
    rows = []
    for s in scores:
        verdict = "agree" if s.agrees else ("refused" if s.error else "disagree")
        if s.documented:
            verdict = f"documented: contradicts {s.documented.split(' (')[0]}"
        if s.expect_error:
            verdict += " (config refused)" if s.error else " (expected a refusal)"
        rows.append([s.case, s.target, str(s.nodes), str(s.predicted_dla), str(s.islands), str(s.expected_gpu),
                     _names(s.missed), _names(s.false), verdict])
    return rows


def _names(names: Sequence[str]) -> str:
    return "0" if not names else f"{len(names)} ({', '.join(names[:2])}{', ...' if len(names) > 2 else ''})"


def agreement_line(scores: Sequence[CaseScore]) -> str:
    agreed = sum(s.agrees for s in scores)
    known = sum(s.documented is not None for s in scores)
    return (f"agreement: {agreed}/{len(scores)} cases ({agreed / max(len(scores), 1):.0%}); {known} documented "
            f"contradiction(s); {len(scores) - agreed - known} unexplained")


def factories_module(spec: str) -> tuple[str, Callable[[str], int]]:
    """Import a factory module given as a file path or a module name; returns (module name, outputs of case)."""
    path = Path(spec)
    if spec.endswith(".py"):
        if not path.is_file():
            raise TrtforgeError.of("a factory module file", found=f"no file {spec}",
                                   fix="pass --factories <file.py or module>")
        sys.path.insert(0, str(path.resolve().parent))
        spec = path.stem
    module = importlib.import_module(spec)
    counts: Mapping[str, int] = getattr(module, "OUTPUTS", {})
    return spec, lambda case: int(counts.get(case, 1))


def scores_from_truth(truth: Path, factories: str, out_root: Path, only: Sequence[str] = ()) -> list[CaseScore]:
    record = read_json(truth, what="DLA ground truth")
    module, outputs = factories_module(factories)
    known: Mapping[str, Mapping[str, Any]] = getattr(importlib.import_module(module), "CONTRADICTIONS", {})
    cases = [c for c in record["cases"] if not only or c["id"] in only]
    return [documented(score_case(c, module, outputs(c["id"]), out_root), known.get(c["id"])) for c in cases]


def documented(score: CaseScore, contradiction: Mapping[str, Any] | None) -> CaseScore:
    """Mark a disagreeing score as documented when its missed and false nodes are exactly the documented ones."""
    if contradiction is None or score.agrees or score.error is not None:
        return score
    if set(score.missed) == set(contradiction["missed"]) and set(score.false) == set(contradiction["false"]):
        return replace(score, documented=str(contradiction["contradicts"]))
    return score


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m trtforge.placement.score", description=__doc__.split("\n")[0])
    parser.add_argument("--truth", type=Path, default=DEFAULT_TRUTH, help="the ground-truth JSON")
    parser.add_argument("--factories", default=DEFAULT_FACTORIES, help="factory module (file or module name)")
    parser.add_argument("--out", type=Path, default=Path("artifacts/score-placement"), help="export/plan folder")
    parser.add_argument("cases", nargs="*", help="only these case ids")
    args = parser.parse_args(argv)
    try:
        scores = scores_from_truth(args.truth, args.factories, args.out, args.cases)
    except TrtforgeError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(table_text(rows_of(scores), HEADER))
    for s in scores:
        if not s.agrees:
            print(f"{s.case}: missed {list(s.missed)}; false {list(s.false)}" + (f"; {s.error}" if s.error else ""))
    print(agreement_line(scores))
    return 0 if all(s.passes for s in scores) else 3


if __name__ == "__main__":
    raise SystemExit(main())
