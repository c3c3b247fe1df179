"""The placement report: a per-submodule table, the fallbacks grouped by rule, islands, transitions, warnings
and the trtexec arguments that reproduce the placement."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from trtforge.placement.plan import NodePlan, Plan


def _top(owner: str) -> str:
    return owner.split(".")[0] if owner else "(root)"


def submodule_rows(plan: Plan) -> list[list[str]]:
    """One row per top-level submodule in graph order: nodes, requested, predicted DLA/GPU, fallbacks by
    rule, islands touched, transitions in or out."""
    groups: dict[str, list[NodePlan]] = defaultdict(list)
    for node in plan.nodes:
        if not node.layerless:
            groups[_top(node.owner)].append(node)
    island_of = {name: island.index for island in plan.islands for name in island.nodes}
    owner_of = {n.name: _top(n.owner) for n in plan.nodes}
    rows = []
    for top, nodes in groups.items():
        requested = Counter(n.requested for n in nodes)
        predicted = Counter(n.predicted for n in nodes)
        rules = Counter(r.split(":")[0] for n in nodes if n.requested != n.predicted for r in n.reasons[:1])
        crossing = sum(1 for t in plan.transitions
                       if top in {owner_of[t.producer], *(owner_of[c] for c in t.consumers)})
        rows.append([top, str(len(nodes)), _requested(requested), str(predicted["DLA"]), str(predicted["GPU"]),
                     ", ".join(f"{rule} x{count}" for rule, count in sorted(rules.items())) or "-",
                     str(len({island_of[n.name] for n in nodes if n.name in island_of})), str(crossing)])
    return rows


def _requested(counts: Counter[str]) -> str:
    return " + ".join(f"{counts[d]} {d}" for d in ("DLA", "GPU") if counts[d])


def hints_for(nodes: list[NodePlan]) -> dict[str, str]:
    """The rewrite hints (``dla_rules.json``) for these fallbacks, by op first, then by rule id."""
    from trtforge.placement.rules import load_rules

    table = load_rules()["hints"]
    found: dict[str, str] = {}
    for node in nodes:
        keys = [node.op] + [reason.split(":")[0] for reason in node.reasons]
        key = next((k for k in keys if k in table and k != "about"), None)
        if key is not None:
            found.setdefault(key, table[key])
    return found


HEADER = ["submodule", "nodes", "requested", "DLA", "GPU", "fallbacks (rule x nodes)", "islands", "transitions"]


def table_text(rows: list[list[str]], header: list[str] = HEADER) -> str:
    """A markdown table, padded so it also reads as plain text."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    return "\n".join([line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)])


def summary_line(plan: Plan) -> str:
    s = plan.to_json()["summary"]
    t = plan.target
    return (f"{plan.config} ({t['platform']}, TensorRT {t['tensorrt']}, {t['precision']}): {s['nodes']} nodes, "
            f"{s['requested_dla']} requested on DLA, {s['predicted_dla']} predicted on DLA "
            f"({s['dla_node_share']:.0%} of nodes, {s['dla_flops_share']:.0%} of FLOPs), "
            f"{s['fallbacks']} fallbacks, {s['islands']} DLA island(s) (budget {s['loadable_budget']} per core), "
            f"{s['transitions']} GPU<->DLA transition(s)")


def report_from_plan(plan: Plan) -> str:
    """The whole ``report.md``."""
    parts = [f"# Placement plan: {plan.config}", "", summary_line(plan), "", table_text(submodule_rows(plan)), ""]
    fallbacks = [n for n in plan.nodes if n.requested == "DLA" and n.predicted == "GPU"]
    if fallbacks:
        parts += ["## Predicted fallbacks to GPU", ""]
        parts += [f"- `{n.name}` ({n.op}): {'; '.join(n.reasons)}" for n in fallbacks] + [""]
        hints = hints_for(fallbacks)
        if hints:
            parts += ["Rewrite hints:", ""] + [f"- {key}: {text}" for key, text in hints.items()] + [""]
    if plan.islands:
        parts += ["## DLA islands", ""]
        parts += [f"- island {i.index}: {len(i.nodes)} nodes in {', '.join(i.owners)}, `{i.nodes[0]}` .. "
                  f"`{i.nodes[-1]}`, {i.flops} FLOPs, {i.weight_bytes} weight bytes" for i in plan.islands]
        parts.append("")
    if plan.transitions:
        parts += ["## GPU<->DLA transitions", ""]
        parts += [f"- {t.direction} `{t.tensor}` {list(t.shape)} ({t.bytes} bytes): `{t.producer}` -> "
                  f"{', '.join(f'`{c}`' for c in t.consumers)}" for t in plan.transitions] + [""]
    if plan.io:
        parts += ["## Engine inputs and outputs on DLA", ""]
        parts += [f"- {e['kind']} `{e['tensor']}` at `{e['node']}` (reformatted on the GPU unless its I/O format "
                  "is DLA-native)" for e in plan.io] + [""]
    if plan.warnings:
        parts += ["## Warnings", ""] + [f"- {w}" for w in plan.warnings] + [""]
    parts += ["## Reproduce with trtexec", "", "```", f"trtexec --onnx=tagged.onnx {plan.trtexec}".rstrip(), "```",
              ""]
    return "\n".join(parts)


def plan_text(plan: Plan) -> str:
    """What ``trtforge plan`` and ``trtforge engine`` print: summary, table, warnings, trtexec arguments."""
    lines = [summary_line(plan), table_text(submodule_rows(plan))]
    lines += [f"warning: {w}" for w in plan.warnings]
    lines += [f"trtexec: {plan.trtexec}"] if plan.trtexec else []
    return "\n".join(lines)
