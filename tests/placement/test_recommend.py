"""``trtforge recommend``: the search on synthetic cost tables whose optimum is known exactly, the cut points
(units, device_types compression, DLA rules, loadable budget), the config it writes, and the search on
resnet18, resnet50, mobilenet_v2 and efficientnet_b0 (random weights)."""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from trtforge.placement.cost import load_catalogue
from trtforge.placement.plan import NodePlan
from trtforge.placement.predict import plan_on_device, predict_config, work_from_tagged
from trtforge.placement.recommend import (
    config_toml,
    contiguous_runs,
    device_types_for,
    recommend_for_config,
    search,
    units_of,
)

from trtforge.config import Config, load_config

CATALOGUE = load_catalogue()


# ---------------------------------------------------------------------------------------------- synthetic tables


def chain_latency(table: dict[str, tuple[float, float]], order: Sequence[str], on_dla: Sequence[str], *,
                  launch: float, transition: float) -> float:
    """A chain of units, each with (GPU time, DLA time): every maximal run on DLA costs one launch, every
    change of device between neighbours (and from the GPU input/output) one transition."""
    chosen = set(on_dla)
    devices = ["DLA" if u in chosen else "GPU" for u in order]
    total = sum(table[u][1] if d == "DLA" else table[u][0] for u, d in zip(order, devices, strict=True))
    edges = ["GPU", *devices, "GPU"]
    switches = sum(a != b for a, b in itertools.pairwise(edges))
    runs = sum(1 for a, b in itertools.pairwise(["GPU", *devices]) if a == "GPU" and b == "DLA")
    return total + switches * transition + runs * launch


def evaluator(table: dict[str, tuple[float, float]], order: Sequence[str], **costs: float) -> Any:
    return lambda chosen: -chain_latency(table, order, chosen, **costs)


def test_search_finds_the_one_profitable_run() -> None:
    """u2..u4 are 3 ms faster each on DLA, the rest 1 ms slower: the best is exactly (u2, u3, u4) with one
    launch and two transitions."""
    order = [f"u{i}" for i in range(7)]
    table = {u: (4.0, 1.0) if u in ("u2", "u3", "u4") else (4.0, 5.0) for u in order}
    (value, best), *_ = search(order, evaluator(table, order, launch=0.5, transition=0.25))
    assert best == ("u2", "u3", "u4")
    assert -value == pytest.approx(7 * 4.0 - 9.0 + 0.5 + 2 * 0.25)


def test_search_keeps_everything_on_the_gpu_when_transitions_eat_the_gain() -> None:
    order = ["a", "b", "c"]
    table = {"a": (2.0, 2.0), "b": (2.0, 1.5), "c": (2.0, 2.0)}
    (_, best), *_ = search(order, evaluator(table, order, launch=0.2, transition=0.2))
    assert best == ()


def test_search_prefers_two_islands_when_a_gpu_only_unit_sits_between_them() -> None:
    order = ["a", "b", "c"]
    table = {"a": (5.0, 1.0), "b": (1.0, 9.0), "c": (5.0, 1.0)}
    (_, best), *_ = search(order, evaluator(table, order, launch=0.1, transition=0.1))
    assert best == ("a", "c")


@pytest.mark.parametrize("seed", range(20))
def test_exhaustive_search_matches_brute_force_on_random_tables(seed: int) -> None:
    rng = random.Random(seed)
    order = [f"u{i}" for i in range(rng.randint(2, 8))]
    table = {u: (rng.uniform(0.1, 3.0), rng.uniform(0.1, 3.0)) for u in order}
    costs = {"launch": rng.uniform(0, 1), "transition": rng.uniform(0, 0.5)}
    brute = min((chain_latency(table, order, subset, **costs), subset)
                for r in range(len(order) + 1) for subset in itertools.combinations(order, r))
    (value, best), *_ = search(order, evaluator(table, order, **costs))
    assert -value == pytest.approx(brute[0])
    assert chain_latency(table, order, best, **costs) == pytest.approx(brute[0])


def test_many_units_are_searched_as_contiguous_runs() -> None:
    """Past the exhaustive limit only contiguous runs are tried; with one profitable run that is exact."""
    order = [f"u{i:02d}" for i in range(30)]
    table = {u: (1.0, 0.2) if 11 <= int(u[1:]) <= 17 else (1.0, 3.0) for u in order}
    tried: list[tuple[str, ...]] = []

    def evaluate(chosen: tuple[str, ...]) -> float:
        tried.append(chosen)
        return -chain_latency(table, order, chosen, launch=0.3, transition=0.1)

    (_, best), *_ = search(order, evaluate)
    assert best == tuple(f"u{i}" for i in range(11, 18))
    assert len(tried) == 1 + len(contiguous_runs(order)) == 1 + 30 * 31 // 2


def test_disallowed_candidates_are_never_returned_and_ties_keep_the_first() -> None:
    order = ["a", "b"]
    results = search(order, lambda chosen: None if "b" in chosen else 1.0, keep=10)
    assert [c for _, c in results] == [(), ("a",)]


# ---------------------------------------------------------------------------------------------- cut points


def _node(name: str, owner: str, layerless: bool = False) -> NodePlan:
    return NodePlan(name, owner, "Conv", "GPU", "GPU", (), 1, layerless, (), ())


def test_units_are_the_owning_submodules_in_graph_order() -> None:
    nodes = [_node("a", "bn1"), _node("b", "layer1.0.conv1"), _node("c", "layer1.1.bn2"), _node("d", ""),
             _node("e", "fc"), _node("k", "fc.x", layerless=True)]
    assert units_of(nodes, 1) == ["bn1", "layer1", "fc"]
    assert units_of(nodes, 2) == ["bn1", "layer1.0", "layer1.1", "fc"]


def test_device_types_name_a_parent_when_all_its_units_are_chosen() -> None:
    units = ["bn1", "layer1.0", "layer1.1", "layer2.0", "layer2.1", "fc"]
    assert device_types_for(["layer1.0", "layer1.1", "layer2.0"], units) == {"layer1": "DLA", "layer2.0": "DLA"}


def test_the_written_config_loads_back_with_the_recommended_placement(tmp_path: Path) -> None:
    base = load_config("resnet18_int8_gpu")
    text = config_toml(base, {"layer1": "DLA", "layer2.0": "DLA"}, platform="xavier", tensorrt="8.6",
                       description="recommended (predicted, not measured)")
    path = tmp_path / "resnet18_rec.toml"
    path.write_text(text)
    loaded = load_config(str(path))
    assert loaded.device_types == {"layer1": "DLA", "layer2.0": "DLA"}
    assert (loaded.model, loaded.precision, loaded.inputs, loaded.outputs) == (base.model, base.precision,
                                                                               base.inputs, base.outputs)
    assert (loaded.target.platform, loaded.target.tensorrt) == ("xavier", "8.6")
    assert loaded.calibration == base.calibration and loaded.gpu_fallback == base.gpu_fallback


def test_a_candidate_with_more_islands_than_loadables_per_core_is_refused() -> None:
    from trtforge.placement.plan import Island, Plan
    from trtforge.placement.recommend import only_budget, within_budget

    def plan(islands: int, weights: int = 0) -> Plan:
        return Plan("x", {"platform": "orin", "tensorrt": "10.x", "precision": "fp16", "dla_core": "0"}, {}, (),
                    tuple(Island(k, (f"n{k}",), ("m",), 1, weights, 0, 0) for k in range(islands)), (), (), 16, "",
                    "", ())

    assert within_budget(plan(16)) and not within_budget(plan(17))
    assert not within_budget(plan(1, weights=512 * 2**20))  # a subgraph's weights must stay under 512 MB
    # in the all-DLA plan that tells which nodes DLA can run, a node moved only by the budget still can
    assert only_budget(("general.loadables: island 16 (graph order) is past the 16 loadables",))
    assert not only_budget(()) and not only_budget(("op.unsupported: Erf", "general.loadables: island 16"))


# ---------------------------------------------------------------------------------------------- real models


def _recommend(config: Config, tagged_path: Path, device: str, objective: str) -> list[Any]:
    return recommend_for_config(config, device, CATALOGUE, objective=objective, tagged_path=tagged_path)


def _check_against_predict(best: Any, config: Config, tagged_path: Path, device: str, tmp_path: Path) -> None:
    """The best candidate's FPS is what `predict` says of the config that `recommend` writes."""
    spec = CATALOGUE["devices"][device]
    path = tmp_path / f"{config.name}_rec.toml"
    path.write_text(config_toml(config, best.device_types, platform=spec["platform"],
                                tensorrt=spec.get("tensorrt") or config.target.tensorrt, description="test"))
    written = load_config(str(path), [f"output_dir={str(tagged_path.parent)!r}"])

    def source(c: Config) -> Any:
        return plan_on_device(tagged_path, c, spec), work_from_tagged(tagged_path, c.precision)

    record = predict_config(written, device, CATALOGUE, source=source)
    assert record["fps"] == pytest.approx(best.fps["value"], rel=1e-9)


def _config_for(name: str, folder: Path) -> Config:
    return load_config(name, [f"output_dir={str(folder)!r}"])


@pytest.mark.torch
@pytest.mark.parametrize("device", ["xavier-nx", "agx-orin"])
@pytest.mark.parametrize("objective", ["fps", "aggregate"])
def test_recommend_on_resnet18(device: str, objective: str, resnet18_tagged, tmp_path: Path) -> None:
    _base, tagged = resnet18_tagged
    config = _config_for("resnet18_int8_gpu", tagged.tagged_path.parent)
    scored = _recommend(config, tagged.tagged_path, device, objective)
    assert scored and all(a.objective >= b.objective for a, b in itertools.pairwise(scored))
    assert all(s.islands <= 16 for s in scored)
    _check_against_predict(scored[0], config, tagged.tagged_path, device, tmp_path)
    for other in ("resnet18_int8_gpu", "resnet18_int8_dla", "resnet18_int8_gpu_dla12"):
        # the search space holds each of the page's placements: none is predicted better than the best
        spec = CATALOGUE["devices"][device]
        record = predict_config(_config_for(other, tagged.tagged_path.parent), device, CATALOGUE,
                                source=lambda c, s=spec: (plan_on_device(tagged.tagged_path, c, s),
                                                          work_from_tagged(tagged.tagged_path, c.precision)))
        if objective == "fps":
            assert record["fps"] <= scored[0].objective * (1 + 1e-9), other


@pytest.mark.torch
def test_the_cli_writes_the_best_placement_as_a_config(resnet18_tagged, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    from trtforge.cli import main

    _base, tagged = resnet18_tagged
    out = tmp_path / "best.toml"
    argv = ["recommend", "-c", "resnet18_fp16_gpu", "--device", "xavier-nx", "--objective", "aggregate",
            "--set", f"output_dir={str(tagged.tagged_path.parent)!r}", "--write", str(out), "--json"]
    assert main(argv) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["predicted"] is True and record["catalogue_version"] == CATALOGUE["version"]
    assert record["written"] == str(out) and record["candidates"][0]["rank"] == 1
    assert load_config(str(out)).device_types == record["candidates"][0]["device_types"]
    assert main([a for a in argv if a != "--json"]) == 0
    assert "PREDICTED (not measured)" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.torch
def test_recommend_on_resnet50(resnet50_tagged, tmp_path: Path) -> None:
    _base, tagged = resnet50_tagged
    config = _config_for("resnet50_int8_gpu", tagged.tagged_path.parent)
    scored = _recommend(config, tagged.tagged_path, "agx-orin", "aggregate")
    assert scored
    _check_against_predict(scored[0], config, tagged.tagged_path, "agx-orin", tmp_path)


@pytest.fixture(scope="session")
def matrix_tagged(artifacts: Path) -> Any:
    """mobilenet_v2 and efficientnet_b0 (torchvision, random weights), exported and tagged once per session."""
    pytest.importorskip("torchvision")
    from trtforge.config import config_from_dict
    from trtforge.pipeline import tagged_from_config

    found = {}
    for model in ("mobilenet_v2", "efficientnet_b0"):
        config = config_from_dict({"name": f"{model}_fp16_gpu", "model": model, "outputs": ["logits"],
                                   "precision": "fp16", "output_dir": str(artifacts / model)})
        found[model] = (config, tagged_from_config(config).tagged_path)
    return found


@pytest.mark.slow
@pytest.mark.torch
@pytest.mark.parametrize("model", ["mobilenet_v2", "efficientnet_b0"])
def test_recommend_on_models_of_the_model_matrix(model: str, matrix_tagged, tmp_path: Path) -> None:
    config, tagged_path = matrix_tagged[model]
    for device, objective in (("orin-nx", "fps"), ("xavier-nx", "aggregate")):
        scored = _recommend(config, tagged_path, device, objective)
        assert scored
        _check_against_predict(scored[0], config, tagged_path, device, tmp_path)
