"""The lab's matrix-math claim: multiply-adds, this machine's peak, and where a training step's
time goes. Multiply-adds are checked exactly against counts made by hand; timings are
measured but never asserted, only their structure."""
import json

import numpy as np
import pytest

import glassnet as gn
from glassnet import nn
from glassnet.lab import matrix_math as mm
from glassnet.ops.elementwise import ReLU
from glassnet.ops.matmul import Linear


def images(*shape):
    return gn.tensor(np.random.default_rng(0).random(shape, dtype=np.float32))


# -- multiply-adds, counted by hand ------------------------------------------------------------

def test_multiply_adds_of_a_small_mlp():
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    counted = mm.count_multiply_adds(model, (images(4, 1, 8, 8),))
    # forward: 4 images x (32 outputs x 64 inputs + 10 outputs x 32 inputs)
    assert counted["by_op"] == {"Linear": [4 * 32 * 64 + 4 * 10 * 32, 4 * 32 * 64 + 2 * 4 * 10 * 32]}
    assert counted["forward"] == 9472
    # backward: the first layer's input (the images) needs no gradient, only its weight does;
    # the second layer needs both: two products of its forward's size
    assert counted["backward"] == 8192 + 2 * 1280
    assert counted["ops"] == 4  # Reshape (flatten), Linear, ReLU, Linear


def test_multiply_adds_of_a_small_cnn():
    gn.seed(0)
    model = gn.models.cnn((1, 8, 8), 10, channels=(4, 8), hidden=16)
    counted = mm.count_multiply_adds(model, (images(2, 1, 8, 8),))
    conv1 = 2 * 4 * 8 * 8 * (1 * 3 * 3)  # output (2, 4, 8, 8), each a sum over 1 channel x 3 x 3
    conv2 = 2 * 8 * 4 * 4 * (4 * 3 * 3)  # after pooling: output (2, 8, 4, 4) over 4 channels x 3 x 3
    hidden, output = 2 * 16 * (8 * 2 * 2), 2 * 10 * 16
    assert (conv1, conv2, hidden, output) == (4608, 9216, 1024, 320)
    assert counted["by_op"] == {"Conv2d": [conv1 + conv2, conv1 + 2 * conv2], "Linear": [hidden + output,
                                                                                        2 * (hidden + output)]}
    assert counted["forward"] == 15168 and counted["backward"] == 25728


def test_multiply_adds_of_a_tiny_gpt():
    gn.seed(0)
    model = gn.models.gpt(11, context=6, dim=8, depth=1, heads=2)
    tokens = gn.tensor(np.zeros((2, 5), dtype=np.int64))
    counted = mm.count_multiply_adds(model, (tokens,))
    positions = 2 * 5
    projections = 4 * positions * 8 * 8  # query, key, value and output: dim -> dim each
    feed_forward = positions * 32 * 8 + positions * 8 * 32  # dim -> 4 dim -> dim
    head = positions * 11 * 8  # dim -> vocabulary
    pairs = 2 * 2 * 5 * 5  # batch x heads x (query, key) positions
    attention = pairs * (4 + 4)  # q . k over a head's 4 dims, then weights @ v over its 4 dims
    assert counted["by_op"]["Linear"] == [projections + feed_forward + head, 2 * (projections + feed_forward + head)]
    # backward of attention: d(weights) = dy v^T, dq, dk and dv: four products of a forward one's size
    assert counted["by_op"]["Attention"] == [attention, 2 * attention]
    assert counted["forward"] == 8560 + 800 and counted["backward"] == 2 * 9360


def test_multiply_adds_of_strided_grouped_convolutions_and_matmul():
    conv = nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2)
    counted = mm.count_multiply_adds(conv, (images(1, 4, 8, 8),))
    assert counted["forward"] == 6 * 4 * 4 * (2 * 3 * 3)  # output (1, 6, 4, 4); each group sees 2 channels

    class Product(nn.Module):
        def forward(self, a, b):
            return a @ b

    a = gn.tensor(np.ones((3, 2, 4), np.float32), requires_grad=True)
    counted = mm.count_multiply_adds(Product(), (a, gn.tensor(np.ones((4, 5), np.float32))))
    assert counted["by_op"] == {"MatMul": [3 * 2 * 5 * 4, 3 * 2 * 5 * 4]}  # only a needs a gradient


def test_multiply_adds_of_recurrent_layers_and_a_transposed_convolution():
    sequence = images(5, 2, 3)  # 5 steps, 2 sequences, 3 features
    # each step: every gate's H units sum over the 3 inputs and the 4 previous hidden values
    for layer, gates in ((nn.RNN(3, 4), 1), (nn.GRU(3, 4), 3), (nn.LSTM(3, 4), 4)):
        counted = mm.count_multiply_adds(layer, (sequence,))
        assert counted["forward"] == 5 * 2 * gates * 4 * (3 + 4), type(layer).__name__
    # each of the 2 x 4 x 4 input values spreads over 3 output channels x 3 x 3
    counted = mm.count_multiply_adds(nn.ConvTranspose2d(2, 3, 3, stride=2), (images(1, 2, 4, 4),))
    assert counted["forward"] == counted["backward"] == 32 * 27


def test_ops_without_products_count_none():
    counted = mm.count_multiply_adds(nn.Sequential(nn.ReLU(), nn.BatchNorm1d(3)), (images(4, 3),))
    assert counted == {"forward": 0, "backward": 0, "by_op": {}, "ops": 2}


# -- timing --------------------------------------------------------------------------------------

def test_timing_ops_times_forward_and_backward_and_puts_the_methods_back():
    original_forward, original_backward = Linear.forward, Linear.backward
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    clock = mm.OpClock()
    with mm.timing_ops(clock):
        model(images(5, 3)).sum().backward()
    assert Linear.forward is original_forward and Linear.backward is original_backward
    assert "forward" in vars(ReLU) and not hasattr(ReLU.forward, "__wrapped__")
    assert clock.calls["Linear", "forward"] == 2 and clock.calls["Linear", "backward"] == 2
    assert clock.calls["ReLU", "forward"] == 1 and clock.calls["Sum", "forward"] == 1
    assert all(seconds >= 0 for seconds in clock.seconds.values())


def test_timing_ops_puts_the_methods_back_after_an_error():
    original = Linear.forward
    with pytest.raises(ValueError), mm.timing_ops(mm.OpClock()):
        nn.Linear(3, 4)(images(5, 7))  # wrong width: the layer raises
    assert Linear.forward is original


def test_an_op_inside_another_is_not_counted_twice():
    clock = mm.OpClock()

    class Op:
        pass

    inner = clock.timed(lambda op: sum(range(1000)), "forward")
    outer = clock.timed(lambda op: inner(op), "backward")
    outer(Op())
    assert clock.calls["Op", "forward"] == clock.calls["Op", "backward"] == 1
    total = clock.seconds["Op", "forward"] + clock.seconds["Op", "backward"]
    assert clock._inner == [total]  # the outermost level saw each second once


def test_profile_step_accounts_for_the_whole_step():
    model, inputs, targets = mm.workload("mlp", {"batch": 8})
    profile = mm.profile_step(model, inputs, targets, steps=2)
    kinds = profile["seconds"]
    assert {mm.MATRIX_PRODUCTS, "element-wise", "loss", mm.OPTIMIZER, mm.OTHER} <= set(kinds)
    assert sum(kinds.values()) >= profile["step_seconds"] * 0.999  # the rest is 'other'
    assert profile["by_op"]["Linear"]["kind"] == mm.MATRIX_PRODUCTS
    assert profile["by_op"]["Linear"]["calls"] == 6  # three layers, forward and backward
    with pytest.raises(ValueError, match="steps must be at least 1"):
        mm.profile_step(model, inputs, targets, steps=0)


def test_kinds_of_ops():
    from glassnet.ops.attention import Attention
    from glassnet.ops.conv import Conv2d
    from glassnet.ops.norm import LayerNorm

    assert [mm.kind_of(op) for op in (Conv2d, Linear, ReLU, LayerNorm, Attention)] == [
        mm.MATRIX_PRODUCTS, mm.MATRIX_PRODUCTS, "element-wise", "normalisation", "attention"]
    ops = [op for op in mm._op_classes() if op.__module__.startswith("glassnet.ops.")]
    assert len(ops) > 50 and all(mm.kind_of(op) != "other ops" for op in ops)  # every op of glassnet has a kind

    class Custom(gn.autograd.Function):  # one a user writes
        pass

    assert mm.kind_of(Custom) == "other ops"


def test_measure_peak_structure():
    peak = mm.measure_peak(size=64, repeats=2)
    assert peak["size"] == 64 and peak["repeats"] == 2 and peak["seconds"] > 0
    assert peak["gflops"] == pytest.approx(2 * 64 ** 3 / peak["seconds"] / 1e9)
    with pytest.raises(ValueError, match="measure_peak"):
        mm.measure_peak(size=0)


def test_no_gpu_figure_is_made_up():
    gpu = mm.gpu_backend()
    assert gpu["glassnet_array_library"] == "numpy" and gpu["measured"] is None
    assert gpu["cuda_available"] is False and "no GPU backend" in gpu["why"]


def test_judge():
    models = {"mlp": {"largest_kind": mm.MATRIX_PRODUCTS}, "gpt": {"largest_kind": "element-wise"}}
    assert mm.judge(models) == {"held": False, "not_largest": {"gpt": "element-wise"}}
    assert mm.judge({"mlp": models["mlp"]}) == {"held": True, "not_largest": {}}


# -- the quick run ---------------------------------------------------------------------------------

def test_quick_run_counts_and_times_three_models(lab_finding):
    finding = lab_finding("matrix-math")
    data = finding.data
    assert list(data["models"]) == ["mlp", "cnn", "gpt"]
    mlp = data["models"]["mlp"]["multiply_adds"]
    # 64 images through 784 -> 128 -> 128 -> 10; the first layer's backward needs the weight's gradient only
    assert mlp["forward"] == 64 * (784 * 128 + 128 * 128 + 128 * 10)
    assert mlp["backward"] == 64 * 784 * 128 + 2 * 64 * (128 * 128 + 128 * 10)
    for model in data["models"].values():
        assert model["step_seconds"] > 0 and model["gflops"] > 0
        assert sum(model["shares"].values()) >= 0.999  # every part of the step is in some kind
        assert model["largest_kind"] == max(model["seconds"], key=model["seconds"].get)
    assert data["peak"]["gflops"] > 0 and data["gpu"]["measured"] is None
    assert finding.held == all(m["largest_kind"] == mm.MATRIX_PRODUCTS for m in data["models"].values())
    assert "no GPU" in finding.verdict and "GFLOP/s" in finding.number
    json.dumps(data)


def test_quick_figure_has_the_bar_chart_and_the_speed_plot(lab_finding):
    shares, speed = lab_finding("matrix-math").figure.axes
    assert mm.MATRIX_PRODUCTS in [label.get_text() for label in shares.get_yticklabels()]
    assert speed.get_xscale() == "log" and "peak" in speed.get_lines()[0].get_label()
