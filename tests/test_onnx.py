"""ONNX export: every ready model, and every op a forward pass may use, written as an ONNX
file that the checker accepts and onnxruntime runs to glassnet's outputs (within 1e-5),
for the example batch and for another batch size; and clear errors for what cannot be
exported."""
import subprocess
import sys

import numpy as np
import pytest

import glassnet as gn
from glassnet import cli
from glassnet import nn
from glassnet.nn import functional as F

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

rng = np.random.default_rng(0)


def images(n, shape=(1, 8, 8)):
    return rng.standard_normal((n, *shape)).astype(np.float32)


def token_ids(n, length, vocab):
    ids = rng.integers(1, vocab, (n, length))
    ids[0, length // 2:] = 0  # a text padded at its end
    if n > 2:
        ids[2, :] = 0  # and one that is all padding
    return ids


def glassnet_outputs(model, inputs):
    with gn.no_grad():
        output = model(*[gn.tensor(x) for x in inputs])
    outputs = output if isinstance(output, (tuple, list)) else (output,)
    flat = []
    for item in outputs:
        flat += [t.numpy() for t in (item if isinstance(item, (tuple, list)) else (item,))]
    return flat


def onnxruntime_outputs(path, inputs):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {arg.name: x for arg, x in zip(session.get_inputs(), inputs)})


def export_and_compare(model, example, other, tmp_path, atol=1e-5, **options):
    """Export on ``example``; then onnxruntime must give glassnet's outputs for the example
    and for ``other`` (another batch size, other values). Returns the ModelProto."""
    model.eval()
    examples = [x if isinstance(x, tuple) else (x,) for x in (example, other)]
    path = tmp_path / "model.onnx"
    proto = gn.onnx.export(model, examples[0], path, **options)
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    for inputs in examples:
        expected, got = glassnet_outputs(model, inputs), onnxruntime_outputs(path, inputs)
        assert len(got) == len(expected)
        for g, e in zip(got, expected):
            assert g.shape == e.shape and g.dtype == e.dtype
            np.testing.assert_allclose(g, e, atol=atol, rtol=0)
    return proto


def dims(value):
    return [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]


def with_running_statistics(model):
    """Batch norms with other statistics than 0 and 1, so that the export must use them."""
    for name, buffer in model.named_buffers():
        if name.endswith(("running_mean", "running_var")):
            buffer.numpy()[...] = rng.uniform(0.5, 1.5, buffer.shape)
    return model


# -- the ready models ------------------------------------------------------------------------------------

IMAGE_MODELS = {
    "mlp": lambda: gn.models.mlp((1, 8, 8), 3, hidden=(16,)),
    "cnn": lambda: gn.models.cnn((1, 8, 8), 3, channels=(4, 8), hidden=16),
    "lenet5": lambda: gn.models.lenet5((1, 12, 12), 3),
    "lstm": lambda: gn.models.lstm((1, 8, 8), 3, hidden_size=8),
    "gru": lambda: gn.models.gru((1, 8, 8), 3, hidden_size=8),
    "vit": lambda: gn.models.vit((1, 8, 8), 3, patch_size=4, dim=16, depth=2, heads=2, mlp_dim=32),
    "resnet": lambda: gn.models.resnet((1, 8, 8), 3, width=4, blocks=1),
}


@pytest.mark.parametrize("name", sorted(IMAGE_MODELS))
def test_every_image_model_exports_with_a_dynamic_batch(name, tmp_path):
    model = with_running_statistics(IMAGE_MODELS[name]())
    shape = (1, 12, 12) if name == "lenet5" else (1, 8, 8)
    proto = export_and_compare(model, images(2, shape), images(5, shape), tmp_path)
    assert dims(proto.graph.input[0]) == ["batch", *shape]
    assert dims(proto.graph.output[0]) == ["batch", 3]


def test_gpt_exports_its_logits_for_a_token_window(tmp_path):
    model = gn.models.gpt(13, context=8, dim=16, depth=2, heads=2)
    proto = export_and_compare(model, rng.integers(0, 13, (2, 8)), rng.integers(0, 13, (3, 8)), tmp_path)
    assert dims(proto.graph.input[0]) == ["batch", 8]
    assert dims(proto.graph.output[0]) == ["batch", 8, 13]
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.INT64
    # the causal mask is a constant added to the scores; GELU is composed from Erf (no Gelu before opset 20)
    assert {"Erf", "Softmax", "LayerNormalization", "Gather"} <= {node.op_type for node in proto.graph.node}


@pytest.mark.parametrize("kind, options", [
    ("lstm", {}),
    ("gru", {"pooling": "mean", "bidirectional": True, "num_layers": 2}),
    ("transformer", {"dim": 16, "heads": 2, "depth": 1}),
], ids=["lstm-last", "gru-mean-bidirectional", "transformer"])
def test_text_classifiers_export_with_their_padding_masks(kind, options, tmp_path):
    # their masks are NumPy computations on the ids; the export writes them as ONNX nodes,
    # so that texts of other lengths (even all padding) get glassnet's scores
    model = gn.models.text_classifier(kind, 20, 3, max_length=7, **options)
    export_and_compare(model, token_ids(2, 7, 20), token_ids(4, 7, 20), tmp_path)


def test_parameters_are_initializers_named_as_in_the_state_dict(tmp_path):
    model = gn.models.mlp((1, 8, 8), 3, hidden=(16,))
    proto = export_and_compare(model, images(2), images(3), tmp_path)
    assert {i.name for i in proto.graph.initializer} == set(model.state_dict())
    assert [node.op_type for node in proto.graph.node] == ["Flatten", "Gemm", "Relu", "Gemm"]
    model = gn.models.resnet((1, 8, 8), 3, width=4, blocks=1)
    names = {node.name for node in export_and_compare(model, images(2), images(3), tmp_path).graph.node}
    assert "layer2.0.downsample.0/Conv" in names  # each node is named after its layer


# -- the ops, one forward pass each ------------------------------------------------------------------


class Net(nn.Module):
    """A forward pass written as a function of the layers given and the input(s)."""

    def __init__(self, forward, **layers):
        super().__init__()
        for name, layer in layers.items():
            setattr(self, name, layer)
        self.function = forward

    def forward(self, *inputs):
        return self.function(self, *inputs)


def elementwise(m, x):
    return (
        (x.exp() - 1) * 2 + x.abs().log1p() / 3 - x.clamp(-0.5, 0.5), x.sigmoid() + x.tanh() ** 2,
        (x.abs() + 1).rsqrt() + x.sign() + x.floor() + x.ceil() + x.trunc() + x.round(),
        F.leaky_relu(x, 0.1) + F.gelu(x, approximate="tanh") + F.gelu(x) + x.relu(),
        x.maximum(x * 0.5) - x.minimum(-x) + x.sin() * x.cos() + (x.abs() + 0.5).sqrt() + x.abs() ** 1.5,
    )


def reductions(m, x):
    top = x.max(dim=1)
    return (
        x.sum(dim=1), x.mean(dim=-1, keepdim=True), x.amax(dim=(1, 2)), x.amin(dim=-1), x.std(dim=1), x.var(dim=(1, 2)),
        x.norm(dim=-1), x.norm(p=1, dim=1), x.norm(p=3, dim=-1), x.logsumexp(dim=1), x.cumsum(1), x.prod(dim=2),
        x.softmax(-1), x.log_softmax(1), top.values, top.indices, x.topk(2, dim=-1).values,
    )


def indexing(m, x):
    columns = gn.tensor([[[0], [2]]]).expand(len(x), -1, x.shape[2])  # gather's index, one row per example
    return (
        x[:, 1:3], x[..., ::-1], x[:, None, 0], x[:, [2, 0, 2]], x[:, -1, 1:], x[:, :, 1], x.flip(1),
        x.gather(1, columns),
    )


def shapes(m, x):
    pieces = x.split(2, dim=1)
    return (
        x.reshape(len(x), -1), x.reshape(-1, x.shape[-1]), x.transpose(1, 2), x.permute(2, 0, 1),
        x.unsqueeze(1).expand(-1, 3, -1, -1), x.repeat(1, 2, 1), gn.cat([x, x * 2], dim=1), gn.stack([x, -x], dim=1),
        pieces[0] * 2, pieces[1], *x.unbind(2), x.squeeze(), x.chunk(2, dim=2)[1], x @ x.transpose(1, 2),
        gn.einsum("nij,njk->nik", x, x.transpose(1, 2)),
    )


def convolutions(m, x):
    x = m.conv(x)
    return (
        m.transposed(x), m.max_pool(x), m.avg_pool(x), m.avg_pool_override(x), m.adaptive(x),
        m.global_pool(x), m.norm(x), m.dilated(x),
    )


def attention(m, x):
    output, weights = m.attention(x, x, x, attn_mask=nn.transformer.causal_mask(x.shape[1]))
    q = x.reshape(len(x), x.shape[1], 2, 4).transpose(1, 2)
    return output, weights, F.scaled_dot_product_attention(q, q, q, is_causal=True), m.padded(x, x, x)[0]


def recurrent(m, x):
    (lstm, (h, c)), (gru, h_gru), (rnn, h_rnn) = m.lstm(x), m.gru(x.transpose(0, 1)), m.rnn(x)
    return lstm, h, c, gru, h_gru, rnn, h_rnn


def norms(m, x):
    return m.layer_norm(x), m.batch_norm(x.reshape(-1, 8)).reshape(x.shape)


OPS = {
    "elementwise": (lambda: Net(elementwise), (3, 4, 5)),
    "reductions": (lambda: Net(reductions), (3, 4, 5)),
    "indexing": (lambda: Net(indexing), (3, 4, 5)),
    "shapes": (lambda: Net(shapes), (3, 4, 4)),
    "convolutions": (lambda: Net(
        convolutions, conv=nn.Conv2d(2, 4, 3, padding=1, stride=2, groups=2),
        transposed=nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1, output_padding=1),
        max_pool=nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True),
        avg_pool=nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
        avg_pool_override=nn.AvgPool2d(2, divisor_override=3), adaptive=nn.AdaptiveAvgPool2d((2, 3)),
        global_pool=nn.AdaptiveAvgPool2d(1), norm=with_running_statistics(nn.BatchNorm2d(4, affine=False)),
        dilated=nn.Conv2d(4, 3, 2, dilation=2, padding=(1, 0), bias=False)), (3, 2, 9, 11)),
    "attention": (lambda: Net(attention, attention=nn.MultiheadAttention(8, 2, batch_first=True),
                              padded=nn.MultiheadAttention(8, 4, batch_first=True)), (3, 5, 8)),
    "recurrent": (lambda: Net(
        recurrent, lstm=nn.LSTM(4, 5, num_layers=2, bidirectional=True, batch_first=True), gru=nn.GRU(4, 3, bias=False),
        rnn=nn.RNN(4, 5, nonlinearity="relu", batch_first=True)), (3, 6, 4)),
}


@pytest.mark.parametrize("name", sorted(OPS))
def test_each_op_exports_to_glassnets_values(name, tmp_path):
    build, shape = OPS[name]
    export_and_compare(build(), images(shape[0], shape[1:]), images(shape[0] + 2, shape[1:]), tmp_path)


def test_normalization_layers_without_affine_parameters(tmp_path):
    model = Net(norms, layer_norm=nn.LayerNorm(8, elementwise_affine=False),
                batch_norm=with_running_statistics(nn.BatchNorm1d(8, affine=False)))
    export_and_compare(model, images(2, (4, 8)), images(3, (4, 8)), tmp_path)


def test_several_inputs_and_outputs_take_the_names_given(tmp_path):
    model = Net(lambda m, x, h: m.gru(x, h), gru=nn.GRU(4, 3, batch_first=True))
    h0, other_h0 = rng.standard_normal((1, 2, 3), dtype=np.float32), rng.standard_normal((1, 4, 3), dtype=np.float32)
    # h0's batch is its axis 1: that input exports with the example's batch fixed (and a warning)
    with pytest.warns(UserWarning, match="batch size fixed to the example's, 2"):
        proto = export_and_compare(model, (images(2, (5, 4)), h0), (images(2, (5, 4)), other_h0[:, :2]), tmp_path,
                                   input_names=["x", "h0"], output_names=["output", "h_n"])
    assert [i.name for i in proto.graph.input] == ["x", "h0"]
    assert [o.name for o in proto.graph.output] == ["output", "h_n"]


def test_opset_18_writes_the_reduction_axes_as_inputs(tmp_path):
    model = Net(lambda m, x: (m.norm(x).amax(dim=-1), x.mean(dim=1)), norm=nn.LayerNorm(5))
    proto = export_and_compare(model, images(2, (4, 5)), images(3, (4, 5)), tmp_path, opset=18)
    assert proto.opset_import[0].version == 18


# -- the batch axis ---------------------------------------------------------------------------------------


def test_dynamic_batch_false_fixes_the_batch_size(tmp_path):
    proto = gn.onnx.export(IMAGE_MODELS["mlp"](), images(2), tmp_path / "model.onnx", dynamic_batch=False)
    assert dims(proto.graph.input[0]) == [2, 1, 8, 8] and dims(proto.graph.output[0]) == [2, 3]


def test_a_model_made_for_one_batch_size_exports_with_it_and_says_so(tmp_path):
    # one weight per example, made with NumPy: right for a batch of 2 only
    model = Net(lambda m, x: x * gn.tensor(np.arange(1, len(x) + 1, dtype=np.float32)[:, None]))
    with pytest.warns(UserWarning, match="exported with the batch size fixed"):
        proto = export_and_compare(model, images(2, (3,)), images(2, (3,)), tmp_path)
    assert dims(proto.graph.input[0]) == [2, 3]


# -- what cannot be exported, and bad arguments -------------------------------------------------------------


class Sorted(nn.Module):
    def forward(self, x):
        return x.sort(dim=-1).values


def test_an_op_without_translation_is_named_with_its_layer(tmp_path):
    model = nn.Sequential(nn.Linear(4, 4), nn.Sequential(nn.ReLU(), Sorted()))
    with pytest.raises(gn.onnx.ExportError, match=r"op Sort in layer 1\.1 \(Sorted\).*no ONNX translation"):
        gn.onnx.export(model, images(2, (4,)), tmp_path / "model.onnx")
    assert not (tmp_path / "model.onnx").exists()


def test_a_value_computed_from_the_input_with_numpy_is_refused(tmp_path):
    model = Net(lambda m, x: m.linear(x) - gn.tensor(x.numpy().mean(axis=0, keepdims=True)), linear=nn.Linear(4, 4))
    with pytest.raises(gn.onnx.ExportError, match="op Sub in layer Net: input 1 of shape \\(1, 4\\) was computed "
                                                  "outside glassnet's ops"):
        gn.onnx.export(model, images(2, (4,)), tmp_path / "model.onnx")


def test_batch_norm_with_batch_statistics_is_refused(tmp_path):
    model = nn.Sequential(nn.BatchNorm1d(4, track_running_stats=False))
    with pytest.raises(gn.onnx.ExportError, match=r"op BatchNorm in layer 0 \(BatchNorm1d\)"):
        gn.onnx.export(model, images(2, (4,)), tmp_path / "model.onnx")


def test_bad_arguments_are_clear_errors(tmp_path):
    model, path = IMAGE_MODELS["mlp"](), tmp_path / "model.onnx"
    with pytest.raises(ValueError, match="opset must be an int from 17"):
        gn.onnx.export(model, images(2), path, opset=13)
    with pytest.raises(TypeError, match="example_input must be a tensor or an array"):
        gn.onnx.export(model, "images", path)
    with pytest.raises(ValueError, match="input_names must be 1 distinct non-empty names"):
        gn.onnx.export(model, images(2), path, input_names=["a", "b"])
    with pytest.raises(TypeError, match="expected a glassnet.nn.Module"):
        gn.onnx.export(lambda x: x, images(2), path)


def test_export_leaves_the_model_in_its_mode(tmp_path):
    model = IMAGE_MODELS["cnn"]()
    gn.onnx.export(model, images(2), tmp_path / "model.onnx")
    assert model.training
    assert gn.onnx.verify(tmp_path / "model.onnx", model, images(4)) < 1e-5 and model.training


def test_glassnet_onnx_imports_without_the_onnx_package():
    code = "import sys, glassnet as gn; gn.onnx.export; assert 'onnx' not in sys.modules, 'onnx imported'"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


# -- the command ----------------------------------------------------------------------------------------


def test_export_command_writes_and_checks_a_saved_run(tmp_path, capsys):
    model = IMAGE_MODELS["mlp"]()
    gn.save(model, tmp_path / "model.safetensors",
            metadata={"model": "mlp", "input_shape": [1, 8, 8], "num_classes": 3, "options": {"hidden": [16]},
                      "kind": "table"})
    assert cli.main(["export", "--load", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"wrote {tmp_path / 'model.onnx'}" in out and "input [batch, 1, 8, 8] -> output [batch, 3]" in out
    assert "onnxruntime (CPU): the outputs match glassnet's" in out
    gpt = gn.models.gpt(5, context=6, dim=8, depth=1, heads=2)
    gn.save(gpt, tmp_path / "gpt.safetensors", metadata={
        "model": "gpt", "chars": "abcde", "options": {"context": 6, "dim": 8, "depth": 1, "heads": 2}})
    assert cli.main(["export", "--load", str(tmp_path / "gpt.safetensors"), "--out", str(tmp_path / "gpt.onnx"),
                     "--opset", "18"]) == 0
    assert "input [batch, 6] -> output [batch, 6, 5]" in capsys.readouterr().out


def test_export_command_errors_are_one_line(tmp_path, capsys):
    assert cli.main(["export", "--load", str(tmp_path / "absent")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("glassnet: error: --load") and err.count("\n") == 1


def test_a_tensor_changed_in_place_is_refused(tmp_path):
    def forward(m, x):
        h = m.linear(x)
        h += 1  # the record would read h's first value after this
        return h * 2

    with pytest.raises(gn.onnx.ExportError, match="op Mul in layer Net: its input 0 was changed in place"):
        gn.onnx.export(Net(forward, linear=nn.Linear(4, 4)), images(2, (4,)), tmp_path / "model.onnx")
