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
    from trtforge.placement.rules import CHECKS, GRAPH_CHECKS

    rules = json.loads(RULES_FILE.read_text())
    for op, spec in rules["ops"].items():
        assert spec["source"], op
        for check in spec["checks"]:
            kinds = GRAPH_CHECKS if check.get("graph") else CHECKS
            assert check["source"] and check["check"] in kinds, (op, check)
        assert all(spec[key]["source"] for key in ("ranks_when",) if key in spec), op
    assert all(v["source"] for v in rules["general"].values() if isinstance(v, dict))
    assert all(text for text in rules["not_on_dla"].values())
    ids = {c["id"] for spec in rules["ops"].values() for c in spec["checks"]} | {"op.line", "op.unsupported"}
    ids |= {f"general.{k}" for k in ("rank", "static", "precision", "dtype", "batch", "dims", "loadables")}
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
    assert reasons(exclusive, xavier) == [
        "pool.inclusive_padding: padded (1x1x1x1) with count_include_pad 0 (Xavier: inclusive only)"]
    unpadded = one_op("AveragePool", X4, {"kernel_shape": [2, 2], "strides": [2, 2]})  # ONNX default: exclusive
    assert reasons(unpadded, xavier) == []
    zero = one_op("AveragePool", X4, {"kernel_shape": [3, 3], "pads": [0, 0, 0, 0], "count_include_pad": 0})
    assert reasons(zero, xavier) == []
    same = one_op("AveragePool", X4, {"kernel_shape": [3, 3], "auto_pad": "SAME_UPPER"})
    assert reasons(same, xavier) == [
        "pool.inclusive_padding: padded (SAME_UPPER) with count_include_pad 0 (Xavier: inclusive only)"]


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
    assert reasons(one_op("Relu", [1, 8, 512])) == [
        "general.rank: tensor x0 is 3-D [1, 8, 512], not 4-D", "general.rank: tensor y is 3-D [1, 8, 512], not 4-D"]
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
    for platform in ("orin", "xavier"):  # the guide does not limit comparisons to Orin
        assert reasons(one_op("Equal", X4, inputs=2), RuleTarget(platform, "10.x", "int8")) == []


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
    assert reasons(one_op("Hardmax", X4)) == ["op.unknown: no DLA rule for Hardmax (not in the DLA op lists)"]
    weights = const("w", np.zeros((32, 8)))
    assert reasons(one_op("MatMul", X4, extra=[weights])) == []
    assert reasons(one_op("MatMul", X4, inputs=2)) == ["matmul.weights: B is not a build-time constant"]


def test_loadable_budget_is_16_on_every_platform_and_line() -> None:
    for platform in ("orin", "xavier"):
        for line in ("8.6", "10.x", "11.4+"):
            assert general_value("loadables_per_core", RuleTarget(platform, line, "fp16")) == 16
    assert general_value("loadable_order", ORIN) == "topological"


# ---------------------------------------------------------------------------------------------- rules v2


NO_KERNEL = {  # op -> (activation inputs, constant inputs, attributes) that make a valid node
    "HardSwish": (1, [], {}), "HardSigmoid": (1, [], {}), "Elu": (1, [], {}), "Softplus": (1, [], {}),
    "Mish": (1, [], {}), "Exp": (1, [], {}), "Neg": (1, [], {}), "Sqrt": (1, [], {}),
    "InstanceNormalization": (1, [const("s", np.ones(4)), const("b", np.zeros(4))], {}),
    "Mod": (2, [], {"fmod": 1}), "Where": (1, [const("c", np.ones((1, 4, 32, 32)), np.bool_),
                                               const("o", np.zeros((1, 4, 32, 32)))], {}),
    "Tile": (1, [const("r", [1, 1, 2, 1], np.int64)], {}), "Expand": (1, [const("e", [2, 4, 32, 32], np.int64)], {}),
    "GatherElements": (1, [const("i", np.zeros((1, 4, 32, 32)), np.int64)], {"axis": 1}),
    "ScatterND": (1, [const("i", np.zeros((1, 1)), np.int64), const("u", np.zeros((1, 4, 32, 32)))], {}),
    "ScatterElements": (1, [const("i", np.zeros((1, 4, 32, 32)), np.int64), const("u", np.zeros((1, 4, 32, 32)))],
                        {"axis": 1}),
    "TopK": (1, [const("k", [2], np.int64)], {}), "Cast": (1, [], {"to": onnx.TensorProto.FLOAT16}),
}


@pytest.mark.parametrize("op", sorted(NO_KERNEL))
def test_ops_without_a_dla_kernel_have_an_explicit_sourced_rule(op: str) -> None:
    rules = json.loads(RULES_FILE.read_text())
    assert rules["not_on_dla"][op].strip()
    inputs, extra, attrs = NO_KERNEL[op]
    model = one_op(op, X4, attrs, extra=extra, inputs=inputs)
    if op == "Where":  # the condition comes first
        model.graph.node[0].input[:] = ["c", "x0", "o"]
    if op == "TopK":  # values and indices
        model.graph.node[0].output.append("i")
    for line in ("8.6", "10.x", "11.4+"):
        found = reasons(model, RuleTarget("orin", line, "int8"))
        assert found[-1] == f"op.unsupported: {op} has no DLA implementation", found
        assert not any(r.startswith("op.unknown") for r in found)


def test_gemm_and_matmul_run_2d_with_constant_weights_3d_does_not() -> None:
    gemm = one_op("Gemm", [1, 512], extra=[const("w", np.zeros((1000, 512))), const("b", np.zeros(1000))],
                  attrs={"transB": 1})
    assert reasons(gemm) == []
    assert reasons(one_op("Gemm", [4096, 512], extra=[const("w", np.zeros((512, 8)))])) == []
    assert reasons(one_op("Gemm", [4097, 512], extra=[const("w", np.zeros((512, 8)))])) == [
        "general.batch: tensor x0 batch 4097 > 4096", "general.batch: tensor y batch 4097 > 4096"]
    assert reasons(one_op("Gemm", [1, 8193], extra=[const("w", np.zeros((8193, 8)))])) == [
        "general.dims: tensor x0 dim 8193 > 8192"]  # runs as a 1x1 conv on [N, K, 1, 1]
    assert reasons(one_op("MatMul", [1, 512], extra=[const("w", np.zeros((512, 10)))])) == []
    assert reasons(one_op("MatMul", [1, 8, 512], extra=[const("w", np.zeros((512, 10)))])) == [
        "general.rank: tensor x0 is 3-D [1, 8, 512], not 2-D or 4-D",
        "general.rank: tensor y is 3-D [1, 8, 10], not 2-D or 4-D"]
    assert reasons(one_op("Gemm", [1, 512], {"transB": 1}, inputs=2)) == [
        "matmul.weights: B is not a build-time constant"]


def _graph(nodes: list[onnx.NodeProto], shape: list[int], initializers: list[onnx.TensorProto] = ()) -> onnx.ModelProto:
    from onnx import helper

    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, shape)],
                              [helper.make_empty_tensor_value_info(nodes[-1].output[0])],
                              initializer=list(initializers))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])


def graph_reasons(model: onnx.ModelProto, name: str, target: RuleTarget = ORIN) -> list[str]:
    from trtforge.placement.rules import GraphFacts

    facts = facts_from_onnx(model)
    node = next(f for f in facts if f.name == name)
    return reasons_off_dla(node, target, graph=GraphFacts.of(facts))


def test_a_reshape_to_2d_runs_only_when_it_feeds_a_gemm_with_constant_weights() -> None:
    from onnx import helper

    flat = const("shape", [1, 512], np.int64)
    w = const("w", np.zeros((10, 512)))
    fc = [helper.make_node("Reshape", ["x", "shape"], ["f"], name="/Reshape"),
          helper.make_node("Gemm", ["f", "w"], ["y"], name="fc/Gemm", transB=1)]
    model = _graph(fc, [1, 512, 1, 1], [flat, w])
    assert graph_reasons(model, "/Reshape") == [] and graph_reasons(model, "fc/Gemm") == []
    relu = [helper.make_node("Reshape", ["x", "shape"], ["f"], name="/Reshape"),
            helper.make_node("Relu", ["f"], ["y"], name="r/Relu")]
    assert graph_reasons(_graph(relu, [1, 512, 1, 1], [flat]), "/Reshape") == [
        "general.rank: tensor f is 2-D [1, 512], not 4-D"]
    loose = [helper.make_node("Reshape", ["x", "shape"], ["f"], name="/Reshape"),
             helper.make_node("Gemm", ["f", "f"], ["y"], name="fc/Gemm", transB=1)]
    assert graph_reasons(_graph(loose, [1, 512, 1, 1], [flat]), "/Reshape") == [
        "general.rank: tensor f is 2-D [1, 512], not 4-D"]


@pytest.mark.parametrize("neighbour", ["Split", "Concat", "Relu"])
def test_a_reshape_directly_connected_to_slice_or_concat_does_not_run(neighbour: str) -> None:
    from onnx import helper

    shape = const("shape", [1, 2, 32, 64], np.int64)
    after = {"Split": helper.make_node("Split", ["r"], ["y", "z"], name="m/Split", axis=2, num_outputs=2),
             "Concat": helper.make_node("Concat", ["r", "r"], ["y"], name="m/Concat", axis=1),
             "Relu": helper.make_node("Relu", ["r"], ["y"], name="m/Relu")}[neighbour]
    model = _graph([helper.make_node("Reshape", ["x", "shape"], ["r"], name="m/Reshape"), after],
                   [1, 64, 8, 8], [shape])
    expected = [] if neighbour == "Relu" else [
        f"shuffle.slice_concat: reshape directly connected to {neighbour} m/{neighbour} (not on this DLA version)"]
    for line in ("8.6", "10.x", "11.4+"):
        assert graph_reasons(model, "m/Reshape", RuleTarget("orin", line, "fp16")) == expected
    before = _graph([helper.make_node("Split", ["x"], ["a", "b"], name="m/Split", axis=1, num_outputs=2),
                     helper.make_node("Reshape", ["a", "shape2"], ["y"], name="m/Reshape")],
                    [1, 64, 8, 8], [const("shape2", [1, 2, 16, 32], np.int64)])
    assert graph_reasons(before, "m/Reshape") == [
        "shuffle.slice_concat: reshape directly connected to Split m/Split (not on this DLA version)"]


def test_group_norm_affine_mul_and_add_stay_on_gpu_a_plain_scale_does_not() -> None:
    from onnx import helper

    inits = [const("s1", [1, 8, 32], np.int64), const("s2", [1, 64, 8, 8], np.int64),
             const("g", np.ones(8)), const("bt", np.zeros(8)), const("w", np.ones((64, 1, 1))),
             const("b", np.zeros((64, 1, 1)))]
    nodes = [helper.make_node("Reshape", ["x", "s1"], ["a"], name="gn/Reshape"),
             helper.make_node("InstanceNormalization", ["a", "g", "bt"], ["n"], name="gn/InstanceNormalization"),
             helper.make_node("Reshape", ["n", "s2"], ["r"], name="gn/Reshape.1"),
             helper.make_node("Mul", ["r", "w"], ["m"], name="gn/Mul"),
             helper.make_node("Add", ["m", "b"], ["p"], name="gn/Add"),
             helper.make_node("Relu", ["p"], ["y"], name="act/Relu")]
    model = _graph(nodes, [1, 64, 8, 8], inits)
    assert graph_reasons(model, "gn/Mul") == [
        "norm.affine: GroupNorm affine after gn/Reshape.1 (ran on GPU in a TensorRT 8.4 log; cause undocumented)"]
    assert graph_reasons(model, "gn/Add") == graph_reasons(model, "gn/Mul")
    assert graph_reasons(model, "act/Relu") == []
    frozen_bn = _graph([helper.make_node("Mul", ["x", "w"], ["m"], name="bn/Mul"),
                        helper.make_node("Add", ["m", "b"], ["y"], name="bn/Add")], [1, 64, 8, 8], inits[4:])
    assert graph_reasons(frozen_bn, "bn/Mul") == [] and graph_reasons(frozen_bn, "bn/Add") == []


def test_equal_runs_in_int8_only_when_every_consumer_is_a_cast() -> None:
    from onnx import helper

    int8 = RuleTarget("xavier", "8.6", "int8")
    cast = _graph([helper.make_node("Equal", ["x", "k"], ["e"], name="m/Equal"),
                   helper.make_node("Cast", ["e"], ["y"], name="m/Cast", to=onnx.TensorProto.FLOAT16)],
                  [1, 4, 8, 8], [const("k", np.zeros((1, 4, 8, 8)))])
    assert graph_reasons(cast, "m/Equal", int8) == []
    used = _graph([helper.make_node("Equal", ["x", "k"], ["e"], name="m/Equal"),
                   helper.make_node("Not", ["e"], ["y"], name="m/Not")], [1, 4, 8, 8],
                  [const("k", np.zeros((1, 4, 8, 8)))])
    assert graph_reasons(used, "m/Equal", int8) == ["compare.cast: output read by Not m/Not, not only by Cast"]


def test_prelu_slope_must_broadcast_to_the_input_rank() -> None:
    def prelu(slope_shape: tuple[int, ...]) -> onnx.ModelProto:
        return one_op("PRelu", X4, extra=[const("slope", np.full(slope_shape, 0.25))])

    assert reasons(prelu((1, 4, 1, 1))) == [] and reasons(prelu((4, 1, 1))) == [] and reasons(prelu((1,))) == []
    assert reasons(prelu((1, 1, 4, 1, 1))) == ["prelu.slope_rank: slope rank 5 > input rank 4"]
    assert reasons(prelu((3, 1, 1))) == ["prelu.slope_rank: slope 3x1x1 does not broadcast to 1x4x32x32"]
    assert reasons(one_op("PRelu", X4, inputs=2)) == ["prelu.slope: slope is not a build-time constant"]


def test_slice_softmax_and_friends_run_in_fp16_under_int8() -> None:
    from trtforge.placement.rules import fp16_under_int8

    for op in ("Slice", "Split", "Softmax", "Sigmoid", "Tanh", "LRN"):
        assert fp16_under_int8(op), op
    for op in ("Conv", "Relu", "Add", "Concat", "MaxPool"):
        assert fp16_under_int8(op) is None, op
