"""Batched calibration: several of the config's batches per ONNX Runtime run through a dynamic-batch copy, the
same ranges as one batch per run, and a graph whose batch is baked in falls back to one batch per run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from trtforge.config import config_from_dict


def _model(reshape_to: list[int]):
    """x[1, 4] -> Reshape(``reshape_to``) -> Relu -> Reshape([1, 4]) -> y: the torch.flatten pattern."""
    from onnx import TensorProto, helper

    nodes = [helper.make_node("Reshape", ["x", "shape_in"], ["r"]), helper.make_node("Relu", ["r"], ["a"]),
             helper.make_node("Reshape", ["a", "shape_out"], ["y"])]
    graph = helper.make_graph(nodes, "flat", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor("shape_in", TensorProto.INT64, [len(reshape_to)], reshape_to),
                               helper.make_tensor("shape_out", TensorProto.INT64, [2], [1, 4])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _source(tmp_path: Path, batches: int = 6):
    from trtforge.calib.data import source_from_config

    data = tmp_path / "x.npy"
    np.save(data, np.random.default_rng(3).normal(size=(batches + 1, 4)).astype(np.float32))
    config = config_from_dict({"name": "flat", "model": "tiny_models:nested", "inputs": {"x": [4]},
                               "precision": "int8", "output_dir": str(tmp_path),
                               "calibration": {"data": str(data), "batches": batches, "holdout_batches": 1}})
    return source_from_config(config)


def test_a_batchable_graph_runs_several_batches_at_once_with_the_same_ranges(tmp_path: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from trtforge.calib import ranges
    from trtforge.calib.histogram import amax_entropy

    model, source = _model([1, 2, 2]), _source(tmp_path)
    names = ranges.tensors_to_calibrate(model)
    assert ranges.relu_inputs(model, names) == {"a": "r"}  # the ReLU output is derived, never fetched
    batched = ranges.statistics_from_source(model, names, source)
    assert batched.samples_per_run > source.batch_size
    monkeypatch.setattr(ranges, "samples_per_run", lambda model, names, batch: batch)
    single = ranges.statistics_from_source(model, names, source)
    assert single.samples_per_run == source.batch_size
    assert batched.maxima == pytest.approx(single.maxima)
    for name in names:
        assert amax_entropy(batched.histograms[name]) == pytest.approx(amax_entropy(single.histograms[name]))
    assert len(batched.references) == 1 and batched.references[0]["y"].shape == (1, 4)  # held-out FP32 outputs


def test_a_graph_with_the_batch_baked_in_falls_back_to_one_batch_per_run(tmp_path: Path) -> None:
    from trtforge.calib import ranges

    model, source = _model([2, -1]), _source(tmp_path)  # [N, 4] -> [2, 2N]: rows of samples get mixed
    names = ranges.tensors_to_calibrate(model)
    stats = ranges.statistics_from_source(model, names, source)
    assert stats.samples_per_run == source.batch_size
    x = np.load(tmp_path / "x.npy")[:6]
    assert stats.maxima["x"] == pytest.approx(float(np.abs(x).max()))
    assert stats.maxima["a"] == pytest.approx(float(np.maximum(x, 0).max()))
