"""The DLA capability model at every boundary, on tiny generated ONNX graphs (no torch, no TensorRT)."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from onnx_builders import const, conv, one_op
from trtforge.placement.facts import facts_from_onnx
from trtforge.placement.rules import RULES_FILE, RuleTarget, general_value, reasons_off_dla

ORIN = RuleTarget("orin", "10.x", "fp16")
X4 = [1, 4, 32, 32]


def reasons(model: onnx.ModelProto, target: RuleTarget = ORIN) -> list[str]:
    (node,) = facts_from_onnx(model)
    return reasons_off_dla(node, target)


def test_every_rule_carries_a_source_and_a_known_check() -> None:
    from trtforge.placement.rules import CHECKS

    rules = json.loads(RULES_FILE.read_text())
    for op, spec in rules["ops"].items():
        assert spec["source"], op
        for check in spec["checks"]:
            assert check["source"] and check["check"] in CHECKS, (op, check)
    assert all(v["source"] for v in rules["general"].values() if isinstance(v, dict))
    assert all(text for text in rules["not_on_dla"].values())
    ids = {c["id"] for spec in rules["ops"].values() for c in spec["checks"]} | {"op.line", "op.unsupported"}
    ids |= {f"general.{k}" for k in ("rank", "static", "precision", "dtype", "batch", "dims")}
    ops = set(rules["ops"]) | set(rules["not_on_dla"]) | {"Gelu"}
    for key in rules["hints"]:
        assert key == "about" or key in ids or key in ops, key


@pytest.mark.parametrize(("kernel", "expected"), [(32, []), (33, ["conv.kernel: kernel 33x33 > 32"])])
def test_conv_kernel_32_runs_33_does_not(kernel: int, expected: list[str]) -> None:
    assert reasons(conv([1, 4, 40, 40], 4, [kernel, kernel])) == expected


@pytest.mark.parametrize(("stride", "expected"), [(8, []), (9, ["conv.stride: stride 9x9 > 8"])])
def test_conv_stride_8_runs_9_does_not(stride: int, expected: list[str]) -> None:
    assert reasons(conv(X4, 4, [3, 3], strides=[stride, stride])) == expected


def test_conv_padding_dilation_groups_and_channels() -> None:
    assert reasons(conv(X4, 4, [3, 3], pads=[2, 2, 2, 2])) == []
    assert reasons(conv(X4, 4, [3, 3], pads=[3, 3, 3, 3])) == [
        "conv.padding_below_kernel: padding 3 >= kernel 3 (dim 0)"]
    assert reasons(conv([1, 4, 40, 40], 4, [32, 32], pads=[31, 31, 31, 31])) == []
    assert reasons(conv([1, 4, 40, 40], 4, [33, 33], pads=[32, 32, 32, 32])) == [
        "conv.kernel: kernel 33x33 > 32", "conv.padding: padding 32x32x32x32 > 31"]
    assert reasons(conv([1, 4, 80, 80], 4, [3, 3], dilations=[32, 32])) == []
    assert reasons(conv([1, 4, 80, 80], 4, [3, 3], dilations=[33, 33])) == ["conv.dilation: dilation 33x33 > 32"]
    assert reasons(conv([1, 4, 8, 8], 8192, [1, 1])) == []
    assert reasons(conv([1, 4, 8, 8], 8193, [1, 1])) == [
        "general.dims: tensor y dim 8193 > 8192", "conv.channels: output channels 8193 not in [1, 8192]"]
    assert reasons(conv([1, 8, 8, 8], 8, [3, 3], group=8, pads=[1, 1, 1, 1])) == []
    assert reasons(conv([1, 4, 8, 8, 8], 4, [3, 3, 3])) == [
        "general.rank: tensor x0 is 5-D [1, 4, 8, 8, 8], not 4-D",
        "general.rank: tensor y is 5-D [1, 4, 6, 6, 6], not 4-D",
        "conv.spatial: kernel dims 3, not 2 (2D only)"]


def test_conv_cbuf_rule_at_16_banks() -> None:
    # 32 input channels, 3x3, FP16: 1 weight bank; ceil(ceil(64/32) * W/4 * 3/256) data banks: 15 at W=2560
    assert reasons(conv([1, 32, 1, 2560], 8, [3, 3], pads=[1, 1, 1, 1])) == []
    assert reasons(conv([1, 32, 1, 2564], 8, [3, 3], pads=[1, 1, 1, 1])) == ["conv.cbuf: CBUF banks 1+16 > 16"]


@pytest.mark.parametrize(("window", "expected"), [(8, []), (9, ["pool.window: window 9x9 > 8"])])
def test_pool_window_8_runs_9_does_not(window: int, expected: list[str]) -> None:
    for op in ("MaxPool", "AveragePool"):
        assert reasons(one_op(op, X4, {"kernel_shape": [window, window]})) == expected


def test_pool_padding_stride_and_xavier_inclusive_average() -> None:
    assert reasons(one_op("MaxPool", X4, {"kernel_shape": [8, 8], "pads": [7, 7, 7, 7]})) == []
    assert reasons(one_op("MaxPool", X4, {"kernel_shape": [8, 8], "pads": [8, 8, 8, 8]})) == \
        ["pool.padding: padding 8x8x8x8 > 7"]
    assert reasons(one_op("MaxPool", X4, {"kernel_shape": [2, 2], "strides": [17, 17]})) == \
        ["pool.stride: stride 17x17 > 16"]
    exclusive = one_op("AveragePool", X4, {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]})
    inclusive = one_op("AveragePool", X4, {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1], "count_include_pad": 1})
    xavier = RuleTarget("xavier", "8.6", "fp16")
    assert reasons(exclusive) == [] and reasons(inclusive, xavier) == []
    assert reasons(exclusive, xavier) == ["pool.inclusive_padding: count_include_pad 0 < 1"]


@pytest.mark.parametrize(("axis", "expected"), [
    (1, []), (-3, []), (2, ["concat.axis: concat axis 2 (H), not the channel axis"]),
    (0, ["concat.axis: concat axis 0 (N), not the channel axis"])])
def test_concat_only_on_the_channel_axis(axis: int, expected: list[str]) -> None:
    assert reasons(one_op("Concat", X4, {"axis": axis}, inputs=2)) == expected


@pytest.mark.parametrize(("platform", "expected"), [
    ("orin", []), ("xavier", ["op.platform: Softmax is not on DLA with platform xavier (only orin)"])])
def test_softmax_on_orin_not_on_xavier(platform: str, expected: list[str]) -> None:
    assert reasons(one_op("Softmax", [1, 16, 4, 4], {"axis": 1}), RuleTarget(platform, "8.6", "fp16")) == expected


def test_softmax_axis_limits() -> None:
    assert reasons(one_op("Softmax", [1, 8192, 1, 1], {"axis": 1})) == []
    assert reasons(one_op("Softmax", [1, 1025, 2, 1], {"axis": 1})) == ["softmax.axis: softmax axis size 1025 > 1024"]
    assert reasons(one_op("Softmax", [1, 4, 4, 4], {"axis": 0})) == ["softmax.axis: softmax axis is the batch dim"]


def test_dynamic_shapes_never_run_on_dla() -> None:
    assert reasons(one_op("Relu", [1, 4, 8, 8])) == []
    assert reasons(one_op("Relu", ["N", 4, 8, 8])) == [
        "general.static: tensor x0 has dynamic shape [N, 4, 8, 8]",
        "general.static: tensor y has dynamic shape [N, 4, 8, 8]"]


@pytest.mark.parametrize(("precision", "expected"), [
    ("fp16", []), ("int8", []), ("fp32", ["general.precision: precision FP32 (DLA runs FP16/INT8 only)"])])
def test_fp32_never_runs_on_dla(precision: str, expected: list[str]) -> None:
    assert reasons(one_op("Relu", X4), RuleTarget("orin", "10.x", precision)) == expected


def test_general_limits_rank_batch_and_dims() -> None:
    assert reasons(one_op("Relu", [4096, 1, 1, 8])) == []
    assert reasons(one_op("Relu", [4097, 1, 1, 8])) == [
        "general.batch: tensor x0 batch 4097 > 4096", "general.batch: tensor y batch 4097 > 4096"]
    assert reasons(one_op("Relu", [1, 512])) == [
        "general.rank: tensor x0 is 2-D [1, 512], not 4-D", "general.rank: tensor y is 2-D [1, 512], not 4-D"]
    assert reasons(one_op("Relu", [1, 4, 8, 8], dtype=onnx.TensorProto.INT64)) == [
        "general.dtype: tensor x0 is INT64", "general.dtype: tensor y is INT64"]


def test_activations_and_elementwise_per_version_line() -> None:
    for op in ("Relu", "Sigmoid", "Tanh", "LeakyRelu", "Abs"):
        assert reasons(one_op(op, X4)) == [], op
    for op in ("Add", "Sub", "Mul", "Max", "Min"):
        assert reasons(one_op(op, X4, inputs=2)) == [], op
    for line, expected in (("10.x", ["op.line: Div is not on DLA with TensorRT 10.x (only 11.4+)"]),
                           ("11.4+", [])):
        assert reasons(one_op("Div", X4, inputs=2), RuleTarget("orin", line, "fp16")) == expected
    assert reasons(one_op("GlobalMaxPool", X4), RuleTarget("orin", "8.6", "fp16")) == [
        "op.line: GlobalMaxPool is not on DLA with TensorRT 8.6 (only 10.x, 11.4+)"]
    assert reasons(one_op("Equal", X4, inputs=2)) == [
        "op.precision: Equal is not on DLA with precision fp16 (only int8)"]
    assert reasons(one_op("Equal", X4, inputs=2), RuleTarget("orin", "10.x", "int8")) == []


def test_clip_is_a_clipped_relu_only_from_0_to_at_most_127() -> None:
    def clip(low: float, high: float) -> onnx.ModelProto:
        return one_op("Clip", X4, extra=[const("lo", low), const("hi", high)])

    assert reasons(clip(0, 6)) == [] and reasons(clip(0, 127)) == []
    assert reasons(clip(0, 128)) == ["clip.range: clip [0, 128] (DLA: min 0, max in [1,127])"]
    assert reasons(clip(-1, 1)) == ["clip.range: clip [-1, 1] (DLA: min 0, max in [1,127])"]


def test_resize_scales_modes_and_sizes() -> None:
    def resize(scales: list[float], **attrs: object) -> onnx.ModelProto:
        return one_op("Resize", X4, {"mode": "nearest", "coordinate_transformation_mode": "asymmetric",
                                     "nearest_mode": "floor", **attrs}, extra=[None, const("s", scales)])

    assert reasons(resize([1, 1, 2, 2])) == [] and reasons(resize([1, 1, 32, 32])) == []
    assert reasons(resize([1, 1, 1.5, 1.5])) == [
        "resize.scales: scales 1.0x1.0x1.5x1.5 (need 1x1xAxB, A and B integers in [1,32] for nearest)"]
    assert reasons(resize([1, 1, 8, 8], mode="linear", coordinate_transformation_mode="half_pixel")) == [
        "resize.scales: scales 1.0x1.0x8.0x8.0 (need 1x1xAxB, A and B integers in [1,4] for linear)"]
    assert reasons(resize([1, 1, 2, 2], coordinate_transformation_mode="align_corners")) == [
        "resize.scales: nearest with align_corners/floor (not a DLA combination)"]
    sizes = one_op("Resize", X4, extra=[None, None, const("sz", [1, 4, 64, 64], np.int64)])
    assert reasons(sizes) == ["resize.scales: output sizes given (setOutputDimensions is not supported on DLA)"]


def test_slice_constant_unit_steps_not_on_the_first_dim() -> None:
    def slice_(starts: list[int], ends: list[int], axes: list[int], steps: list[int]) -> onnx.ModelProto:
        return one_op("Slice", X4, extra=[const(n, v, np.int64) for n, v in
                                          (("st", starts), ("en", ends), ("ax", axes), ("sp", steps))])

    assert reasons(slice_([0], [2], [1], [1])) == []
    assert reasons(slice_([0], [16], [2], [2])) == ["slice.shape: steps 2 (all must be 1)"]
    assert reasons(slice_([0], [1], [0], [1])) == []  # the whole batch of 1: not a slice of the first dim
    assert reasons(one_op("Slice", [2, 4, 8, 8], extra=[const(n, v, np.int64) for n, v in
                                                        (("st", [0]), ("en", [1]), ("ax", [0]))])) == [
        "slice.shape: slices the first dim"]


def test_deconvolution_limits() -> None:
    def deconv(kernel: int, **attrs: object) -> onnx.ModelProto:
        weight = const("w", np.zeros((4, 4, kernel, kernel)))
        return one_op("ConvTranspose", [1, 4, 8, 8], {"kernel_shape": [kernel, kernel], **attrs}, extra=[weight])

    assert reasons(deconv(4, strides=[2, 2])) == []
    assert reasons(deconv(23)) == ["deconv.kernel: kernel 23x23 square in [23,32] (disabled on DLA)"]
    assert reasons(deconv(4, pads=[1, 1, 1, 1])) == ["deconv.padding: padding 1x1x1x1 > 0"]


def test_ops_dla_cannot_run_and_gemm_needs_constant_weights() -> None:
    assert reasons(one_op("Erf", X4)) == ["op.unsupported: Erf has no DLA implementation"]
    assert reasons(one_op("HardSwish", X4)) == ["op.unknown: no DLA rule for HardSwish (not in the DLA op lists)"]
    weights = const("w", np.zeros((32, 8)))
    assert reasons(one_op("MatMul", X4, extra=[weights])) == []
    assert reasons(one_op("MatMul", X4, inputs=2)) == ["matmul.weights: B is not a build-time constant"]


def test_loadable_budget_per_platform() -> None:
    assert general_value("loadables_per_core", ORIN) == 16
    assert general_value("loadables_per_core", RuleTarget("xavier", "8.6", "fp16")) == 8
