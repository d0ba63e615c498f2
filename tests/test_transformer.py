"""Specification of the transformer: TransformerEncoderLayer, TransformerEncoder,
TransformerDecoderLayer, TransformerDecoder and Transformer against PyTorch (outputs and
the gradients of the inputs and every parameter, with the same state_dict keys) and
against calculus; what the masks promise (no position sees the future, padding is
invisible); and the positional embeddings."""
import numpy as np
import pytest
import torch

import glassnet as gn
from glassnet.nn.normalization import LayerNorm
from glassnet.nn.transformer import (
    LearnedPositionalEmbedding, SinusoidalPositionalEncoding, Transformer, TransformerDecoder, TransformerDecoderLayer,
    TransformerEncoder, TransformerEncoderLayer, causal_mask, generate_square_subsequent_mask,
)

D, HEADS, FF, N, S = 8, 2, 16, 2, 5  # d_model, nhead, dim_feedforward, batch, sequence length

# PyTorch's advice about its own fast paths, which these tests do not take
pytestmark = [
    pytest.mark.filterwarnings("ignore:enable_nested_tensor is True"),
    pytest.mark.filterwarnings("ignore:Support for mismatched key_padding_mask and attn_mask is deprecated"),
]


def _masks(kind, mask_name="mask"):
    """Keyword arguments for ``kind``; the encoder calls its mask ``mask``, a layer ``src_mask``."""
    padding = np.zeros((N, S), dtype=bool)
    padding[0, -2:] = True
    causal = generate_square_subsequent_mask(S).numpy()
    return {
        "none": {},
        "causal": {mask_name: causal, "is_causal": True},
        "padding": dict(src_key_padding_mask=padding),
        "causal_bool_and_padding": {mask_name: causal == -np.inf, "src_key_padding_mask": padding},
    }[kind]


# (name, constructor options, masks, mode); "tanh" is a callable activation, the same
# lambda in both libraries
LAYER_CASES = [
    ("post_norm_relu", dict(), "none", "eval"),
    ("post_norm_relu_batch_first", dict(batch_first=True), "padding", "eval"),
    ("pre_norm_relu", dict(norm_first=True), "causal", "eval"),
    ("post_norm_gelu", dict(activation="gelu", batch_first=True), "causal", "eval"),
    ("pre_norm_gelu_batch_first", dict(activation="gelu", norm_first=True, batch_first=True), "causal_bool_and_padding", "eval"),
    ("callable_activation", dict(activation="tanh", norm_first=True), "none", "eval"),
    ("no_bias", dict(bias=False, norm_first=True, batch_first=True), "padding", "eval"),
    ("layer_norm_eps", dict(layer_norm_eps=0.1), "none", "eval"),
    ("unbatched", dict(batch_first=True), "unbatched", "eval"),
    ("train_mode_dropout_0", dict(dropout=0.0, norm_first=True, activation="gelu"), "causal_bool_and_padding", "train"),
    ("train_mode_dropout_0_post_norm", dict(dropout=0.0, batch_first=True), "padding", "train"),
]


def _build(library, options):
    options = dict(options)
    if options.get("activation") == "tanh":
        options["activation"] = lambda x: x.tanh()
    return library(D, HEADS, FF, **options)


def _randomize(torch_module):
    with torch.no_grad():  # LayerNorm's ones and zeros, and zero attention biases, would hide mix-ups
        for parameter in torch_module.parameters():
            if parameter.ndim == 1:
                parameter.copy_(torch.randn(parameter.shape) * 0.5 + (1 if parameter.shape == (D,) else 0))


def _compare(mine, theirs, data, options, mode="eval"):
    mine.train(mode == "train"), theirs.train(mode == "train")
    x, tx = gn.tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)
    torch_options = {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for k, v in options.items()}
    out, expected = mine(x, **options), theirs(tx, **torch_options)
    assert out.shape == tuple(expected.shape) and out.dtype == np.float32
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-4, atol=1e-5, err_msg="output")

    upstream = np.random.default_rng(1).standard_normal(out.shape).astype(np.float32)
    out.backward(upstream)
    expected.backward(torch.from_numpy(upstream))
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-4, atol=1e-5, err_msg="input")
    their_params = dict(theirs.named_parameters())
    assert [n for n, _ in mine.named_parameters()] == list(their_params)
    for name, parameter in mine.named_parameters():
        np.testing.assert_allclose(parameter.grad, their_params[name].grad.numpy(), rtol=1e-4, atol=1e-5, err_msg=name)


@pytest.mark.parametrize("name, options, masks, mode", LAYER_CASES, ids=[case[0] for case in LAYER_CASES])
def test_encoder_layer_matches_pytorch(name, options, masks, mode, load_torch_weights):
    torch.manual_seed(0)
    theirs = _build(torch.nn.TransformerEncoderLayer, options)
    _randomize(theirs)
    mine = load_torch_weights(_build(TransformerEncoderLayer, options), theirs)
    assert list(mine.state_dict()) == list(theirs.state_dict())
    shape = (S, D) if masks == "unbatched" else (N, S, D) if options.get("batch_first") else (S, N, D)
    data = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    _compare(mine, theirs, data, _masks("none" if masks == "unbatched" else masks, "src_mask"), mode)


def test_encoder_with_two_layers_and_a_final_norm_matches_pytorch(load_torch_weights):
    torch.manual_seed(0)
    their_layer = torch.nn.TransformerEncoderLayer(D, HEADS, FF, activation="gelu", batch_first=True, norm_first=True)
    theirs = torch.nn.TransformerEncoder(their_layer, 2, norm=torch.nn.LayerNorm(D), enable_nested_tensor=False)
    _randomize(theirs)
    my_layer = TransformerEncoderLayer(D, HEADS, FF, activation="gelu", batch_first=True, norm_first=True)
    mine = load_torch_weights(TransformerEncoder(my_layer, 2, norm=LayerNorm(D)), theirs)
    assert list(mine.state_dict()) == list(theirs.state_dict())
    data = np.random.default_rng(0).standard_normal((N, S, D)).astype(np.float32)
    _compare(mine, theirs, data, _masks("causal_bool_and_padding"))


def test_encoder_without_norm_matches_pytorch(load_torch_weights):
    torch.manual_seed(0)
    theirs = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(D, HEADS, FF), 2, enable_nested_tensor=False)
    _randomize(theirs)
    mine = load_torch_weights(TransformerEncoder(TransformerEncoderLayer(D, HEADS, FF), 2), theirs)
    data = np.random.default_rng(0).standard_normal((S, N, D)).astype(np.float32)
    _compare(mine, theirs, data, _masks("padding"))


@pytest.mark.parametrize("options", [dict(norm_first=False), dict(norm_first=True, activation="gelu", batch_first=True)], ids=["post_norm", "pre_norm"])
def test_encoder_layer_gradcheck(options):
    gn.seed(0)
    layer = TransformerEncoderLayer(4, 2, dim_feedforward=6, **options).double().eval()
    rng = np.random.default_rng(3)
    for parameter in layer.parameters():
        if parameter.ndim == 1:
            parameter.data[...] = rng.standard_normal(parameter.shape) * 0.5 + 1
    x = gn.tensor(rng.standard_normal((2, 3, 4) if options.get("batch_first") else (3, 2, 4)), requires_grad=True)
    padding = np.array([[False, False, True], [False, False, False]])
    params = list(layer.parameters())
    assert gn.gradcheck(
        lambda x, *params: layer(x, src_mask=generate_square_subsequent_mask(3), src_key_padding_mask=padding), [x, *params]
    )


def test_encoder_gradcheck_through_two_layers():
    gn.seed(0)
    encoder = TransformerEncoder(TransformerEncoderLayer(4, 2, 4, batch_first=True, norm_first=True), 2, norm=LayerNorm(4)).double().eval()
    x = gn.tensor(np.random.default_rng(0).standard_normal((1, 3, 4)), requires_grad=True)
    params = list(encoder.parameters())
    assert gn.gradcheck(lambda x, *params: encoder(x, mask=generate_square_subsequent_mask(3), is_causal=True), [x, *params])


# -- the decoder and the whole Transformer -------------------------------------------------------------

T = 4  # target length; the source (memory) has length S


def _decoder_masks(kind, batched=True):
    """Keyword arguments for a decoder (or a Transformer, whose extra src_* masks come with
    ``kind="full"``): causal target masks, padding, and a memory mask that leaves every
    query some key."""
    tgt_padding = np.zeros((N, T), dtype=bool)
    tgt_padding[1, -1] = True
    memory_padding = np.zeros((N, S), dtype=bool)
    memory_padding[0, -2:] = True
    memory_mask = np.zeros((T, S), dtype=bool)
    memory_mask[0, 1:3] = True
    causal = generate_square_subsequent_mask(T).numpy()
    return {
        "none": {},
        "causal": dict(tgt_mask=causal, tgt_is_causal=True),
        "float_causal_and_padding": dict(tgt_mask=causal, tgt_key_padding_mask=tgt_padding,
                                         memory_key_padding_mask=memory_padding),
        "bool_masks": dict(tgt_mask=causal == -np.inf, memory_mask=memory_mask, memory_key_padding_mask=memory_padding),
        "unbatched": dict(tgt_mask=causal, memory_mask=memory_mask),
    }[kind]


def _compare_two_inputs(mine, theirs, arrays, options):
    """Outputs, and the gradients of both inputs and every parameter, in eval mode (no dropout)."""
    mine.eval(), theirs.eval()
    ours = [gn.tensor(a, requires_grad=True) for a in arrays]
    their_inputs = [torch.tensor(a, requires_grad=True) for a in arrays]
    torch_options = {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for k, v in options.items()}
    out, expected = mine(*ours, **options), theirs(*their_inputs, **torch_options)
    assert out.shape == tuple(expected.shape) and out.dtype == np.float32
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-4, atol=1e-5, err_msg="output")

    upstream = np.random.default_rng(1).standard_normal(out.shape).astype(np.float32)
    out.backward(upstream)
    expected.backward(torch.from_numpy(upstream))
    for i, (x, tx) in enumerate(zip(ours, their_inputs)):
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-4, atol=1e-5, err_msg=f"input {i}")
    their_params = dict(theirs.named_parameters())
    assert [n for n, _ in mine.named_parameters()] == list(their_params)
    for name, parameter in mine.named_parameters():
        np.testing.assert_allclose(parameter.grad.numpy(), their_params[name].grad.numpy(), rtol=1e-4, atol=1e-5, err_msg=name)


def _sequences(batch_first, batched=True, source=S, target=T):
    rng = np.random.default_rng(0)
    shape = (lambda length: (N, length, D) if batch_first else (length, N, D)) if batched else (lambda length: (length, D))
    return [rng.standard_normal(shape(length)).astype(np.float32) for length in (source, target)]


DECODER_LAYER_CASES = [
    ("post_norm", dict(), "none"),
    ("post_norm_causal", dict(), "causal"),
    ("post_norm_batch_first", dict(batch_first=True), "float_causal_and_padding"),
    ("pre_norm", dict(norm_first=True), "bool_masks"),
    ("pre_norm_batch_first_gelu", dict(norm_first=True, batch_first=True, activation="gelu"), "float_causal_and_padding"),
    ("callable_activation_no_bias", dict(activation="tanh", bias=False, layer_norm_eps=0.1), "bool_masks"),
    ("unbatched", dict(batch_first=True), "unbatched"),
]


@pytest.mark.parametrize("name, options, masks", DECODER_LAYER_CASES, ids=[case[0] for case in DECODER_LAYER_CASES])
def test_decoder_layer_matches_pytorch(name, options, masks, load_torch_weights):
    torch.manual_seed(0)
    theirs = _build(torch.nn.TransformerDecoderLayer, options)
    _randomize(theirs)
    mine = load_torch_weights(_build(TransformerDecoderLayer, options), theirs)
    assert list(mine.state_dict()) == list(theirs.state_dict())
    memory, tgt = _sequences(options.get("batch_first", False), batched=masks != "unbatched")
    _compare_two_inputs(mine, theirs, [tgt, memory], _decoder_masks(masks))


@pytest.mark.parametrize("norm", [True, False], ids=["final_norm", "no_norm"])
def test_decoder_with_two_layers_matches_pytorch(norm, load_torch_weights):
    torch.manual_seed(0)
    their_layer = torch.nn.TransformerDecoderLayer(D, HEADS, FF, batch_first=True, norm_first=norm)
    theirs = torch.nn.TransformerDecoder(their_layer, 2, norm=torch.nn.LayerNorm(D) if norm else None)
    _randomize(theirs)
    my_layer = TransformerDecoderLayer(D, HEADS, FF, batch_first=True, norm_first=norm)
    mine = load_torch_weights(TransformerDecoder(my_layer, 2, norm=LayerNorm(D) if norm else None), theirs)
    assert list(mine.state_dict()) == list(theirs.state_dict())
    memory, tgt = _sequences(batch_first=True)
    _compare_two_inputs(mine, theirs, [tgt, memory], _decoder_masks("float_causal_and_padding"))


def _transformer(library, **options):
    options = dict(options)
    if options.get("activation") == "tanh":
        options["activation"] = lambda x: x.tanh()
    return library.Transformer(d_model=D, nhead=HEADS, num_encoder_layers=2, num_decoder_layers=2, dim_feedforward=FF,
                               **options)


def _transformer_masks(kind):
    masks = _decoder_masks("float_causal_and_padding" if kind == "full" else kind)
    if kind == "full":
        src_padding = np.zeros((N, S), dtype=bool)
        src_padding[0, -2:] = True
        masks.update(src_key_padding_mask=src_padding, src_mask=np.triu(np.ones((S, S), bool), k=2))
    return masks


TRANSFORMER_CASES = [
    ("post_norm", dict(), "full"),
    ("post_norm_batch_first", dict(batch_first=True), "full"),
    ("pre_norm", dict(norm_first=True), "full"),
    ("pre_norm_batch_first", dict(norm_first=True, batch_first=True), "full"),
    ("bool_masks_gelu", dict(batch_first=True, activation="gelu"), "bool_masks"),
    ("no_masks_no_bias", dict(bias=False, layer_norm_eps=1e-3), "none"),
    ("callable_activation", dict(activation="tanh", norm_first=True), "causal"),
    ("unbatched", dict(), "unbatched"),
]


@pytest.mark.parametrize("name, options, masks", TRANSFORMER_CASES, ids=[case[0] for case in TRANSFORMER_CASES])
def test_transformer_matches_pytorch(name, options, masks, load_torch_weights):
    torch.manual_seed(0)
    theirs = _transformer(torch.nn, **options)
    _randomize(theirs)
    mine = _transformer(gn.nn, **options)
    assert list(mine.state_dict()) == list(theirs.state_dict())
    load_torch_weights(mine, theirs)
    src, tgt = _sequences(options.get("batch_first", False), batched=masks != "unbatched")
    _compare_two_inputs(mine, theirs, [src, tgt], _transformer_masks(masks))


def test_transformer_state_dict_is_pytorchs_key_for_key_and_shape_for_shape():
    options = dict(d_model=16, nhead=4, num_encoder_layers=2, num_decoder_layers=3, dim_feedforward=24)
    mine, theirs = gn.nn.Transformer(**options), torch.nn.Transformer(**options)
    assert {k: v.shape for k, v in mine.state_dict().items()} == {k: tuple(v.shape) for k, v in theirs.state_dict().items()}
    assert list(mine.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in mine.named_children()] == ["encoder", "decoder"]
    assert [n for n, _ in mine.decoder.layers[0].named_children()] == [n for n, _ in theirs.decoder.layers[0].named_children()]


def test_transformer_signatures_are_pytorchs():
    import inspect

    def parameters(function, drop=("device", "dtype")):
        return [name for name in inspect.signature(function).parameters if name not in drop]

    for mine, theirs in [(Transformer, torch.nn.Transformer), (TransformerDecoderLayer, torch.nn.TransformerDecoderLayer),
                         (TransformerDecoder, torch.nn.TransformerDecoder), (TransformerEncoder, torch.nn.TransformerEncoder)]:
        assert parameters(mine.__init__) == parameters(theirs.__init__), mine.__name__
        assert parameters(mine.forward) == parameters(theirs.forward), mine.__name__


def test_transformer_matrices_start_xavier_uniform_and_follow_the_seed():
    gn.seed(0)
    model = Transformer(d_model=32, nhead=4, num_encoder_layers=1, num_decoder_layers=1, dim_feedforward=64)
    for name, parameter in model.named_parameters():
        values = parameter.numpy()
        if values.ndim > 1:
            bound = np.sqrt(6 / sum(values.shape))
            assert np.abs(values).max() <= bound and values.std() == pytest.approx(bound / np.sqrt(3), rel=0.15), name
    gn.seed(0)
    again = Transformer(d_model=32, nhead=4, num_encoder_layers=1, num_decoder_layers=1, dim_feedforward=64)
    for (name, a), b in zip(model.state_dict().items(), again.state_dict().values()):
        np.testing.assert_array_equal(a, b, err_msg=name)


def test_transformer_takes_a_custom_encoder_and_decoder(load_torch_weights):
    torch.manual_seed(0)

    def build(m):
        encoder = m.TransformerEncoder(m.TransformerEncoderLayer(D, HEADS, FF, norm_first=True), 1)
        decoder = m.TransformerDecoder(m.TransformerDecoderLayer(D, HEADS, FF), 3, norm=m.LayerNorm(D))
        return m.Transformer(d_model=D, nhead=HEADS, custom_encoder=encoder, custom_decoder=decoder)

    theirs, mine = build(torch.nn), build(gn.nn)
    assert mine.encoder.num_layers == 1 and mine.encoder.norm is None and mine.decoder.num_layers == 3
    _randomize(theirs)
    load_torch_weights(mine, theirs)
    src, tgt = _sequences(batch_first=False)
    _compare_two_inputs(mine, theirs, [src, tgt], _transformer_masks("causal"))


def test_square_subsequent_mask_is_a_static_method_as_in_pytorch():
    for size in (1, 4):
        expected = torch.nn.Transformer.generate_square_subsequent_mask(size).numpy()
        np.testing.assert_array_equal(Transformer.generate_square_subsequent_mask(size).numpy(), expected)
    model = Transformer(d_model=D, nhead=HEADS, num_encoder_layers=1, num_decoder_layers=1, dim_feedforward=FF)
    assert model.generate_square_subsequent_mask(3, device="cpu").dtype == np.float32
    assert Transformer.generate_square_subsequent_mask(3, dtype=np.float64).dtype == np.float64
    with pytest.raises(RuntimeError, match="no GPU backend"):
        Transformer.generate_square_subsequent_mask(3, device="cuda")


def test_the_target_sees_no_future_position_through_the_whole_transformer():
    gn.seed(0)
    model = Transformer(d_model=D, nhead=HEADS, num_encoder_layers=1, num_decoder_layers=2, dim_feedforward=FF,
                        batch_first=True).eval()
    src, tgt = _sequences(batch_first=True)
    changed = tgt.copy()
    changed[:, 2] += 1.0
    mask = model.generate_square_subsequent_mask(T)
    before = model(gn.tensor(src), gn.tensor(tgt), tgt_mask=mask).numpy()
    after = model(gn.tensor(src), gn.tensor(changed), tgt_mask=mask).numpy()
    np.testing.assert_array_equal(before[:, :2], after[:, :2])
    assert not np.allclose(before[:, 2:], after[:, 2:])


def test_decoder_layer_gradcheck():
    gn.seed(0)
    layer = TransformerDecoderLayer(4, 2, dim_feedforward=6, norm_first=True, activation="gelu").double().eval()
    rng = np.random.default_rng(3)
    tgt = gn.tensor(rng.standard_normal((3, 2, 4)), requires_grad=True)
    memory = gn.tensor(rng.standard_normal((5, 2, 4)), requires_grad=True)
    padding = np.array([[False, False, False, True, True], [False] * 5])
    params = list(layer.parameters())
    assert gn.gradcheck(
        lambda tgt, memory, *params: layer(tgt, memory, tgt_mask=generate_square_subsequent_mask(3),
                                           memory_key_padding_mask=padding),
        [tgt, memory, *params],
    )


def test_transformer_errors_name_the_module_and_the_shapes():
    model = Transformer(d_model=D, nhead=HEADS, num_encoder_layers=1, num_decoder_layers=1, dim_feedforward=FF,
                        batch_first=True)
    with pytest.raises(RuntimeError, match=r"batch number of src and tgt must be equal.*\(2, 5, 8\).*\(3, 4, 8\)"):
        model(gn.tensor(np.zeros((2, 5, D), np.float32)), gn.tensor(np.zeros((3, 4, D), np.float32)))
    with pytest.raises(RuntimeError, match=r"feature number of src and tgt must be equal to d_model=8"):
        model(gn.tensor(np.zeros((2, 5, D), np.float32)), gn.tensor(np.zeros((2, 4, 6), np.float32)))
    layer = TransformerDecoderLayer(D, HEADS, FF)
    with pytest.raises(ValueError, match=r"TransformerDecoderLayer\(d_model=8, nhead=2.*memory of shape \(S, N, 8\)"):
        layer(gn.tensor(np.zeros((4, 2, D), np.float32)), gn.tensor(np.zeros((5, 2, 3), np.float32)))
    with pytest.raises(ValueError, match="both be batched or both unbatched"):
        layer(gn.tensor(np.zeros((4, 2, D), np.float32)), gn.tensor(np.zeros((5, D), np.float32)))
    with pytest.raises(ValueError, match="activation should be 'relu', 'gelu' or a callable, not 'swish'"):
        TransformerDecoderLayer(D, HEADS, activation="swish")
    with pytest.raises(ValueError, match="TransformerDecoder: num_layers must be positive"):
        TransformerDecoder(layer, 0)


# -- structure ----------------------------------------------------------------------------------------


def test_encoder_layers_are_independent_copies():
    layer = TransformerEncoderLayer(D, HEADS, FF)
    encoder = TransformerEncoder(layer, 3)
    assert [name for name, _ in encoder.named_children()] == ["layers"]
    first, second = encoder.layers[0], encoder.layers[1]
    assert first is not layer and first.linear1.weight is not second.linear1.weight
    np.testing.assert_array_equal(first.linear1.weight.numpy(), layer.linear1.weight.numpy())
    first.linear1.weight.data[...] = 0
    assert second.linear1.weight.numpy().any() and layer.linear1.weight.numpy().any()
    assert len(list(encoder.parameters())) == 3 * len(list(layer.parameters()))


def test_encoder_layer_submodule_names_and_state_dict_keys_as_pytorch():
    mine = TransformerEncoderLayer(D, HEADS, FF, bias=False)
    theirs = torch.nn.TransformerEncoderLayer(D, HEADS, FF, bias=False)
    assert [name for name, _ in mine.named_children()] == [
        "self_attn", "linear1", "dropout", "linear2", "norm1", "norm2", "dropout1", "dropout2"
    ]
    assert {k: v.shape for k, v in mine.state_dict().items()} == {k: tuple(v.shape) for k, v in theirs.state_dict().items()}


def test_dropout_reaches_every_sublayer_in_training():
    gn.seed(0)
    layer = TransformerEncoderLayer(D, HEADS, FF, dropout=0.3, batch_first=True)
    assert layer.self_attn.dropout == layer.dropout.p == layer.dropout1.p == layer.dropout2.p == 0.3
    x = gn.tensor(np.random.default_rng(0).standard_normal((N, S, D)).astype(np.float32))
    layer.eval()
    np.testing.assert_array_equal(layer(x).numpy(), layer(x).numpy())
    layer.train()
    assert not np.allclose(layer(x).numpy(), layer(x).numpy())


# -- masks --------------------------------------------------------------------------------------------


def test_square_subsequent_mask_as_pytorch():
    mask = generate_square_subsequent_mask(5)
    assert mask.dtype == np.float32
    np.testing.assert_array_equal(mask.numpy(), torch.nn.Transformer.generate_square_subsequent_mask(5).numpy())
    np.testing.assert_array_equal(causal_mask(5).numpy(), mask.numpy() == -np.inf)
    assert causal_mask(5).dtype == bool


@pytest.mark.parametrize("mask", ["float", "bool", "is_causal_only"])
def test_with_a_causal_mask_no_position_sees_the_future(mask):
    gn.seed(0)
    encoder = TransformerEncoder(TransformerEncoderLayer(D, HEADS, FF, batch_first=True), 2).eval()
    options = {
        "float": dict(mask=generate_square_subsequent_mask(S)),
        "bool": dict(mask=causal_mask(S)),
        "is_causal_only": dict(is_causal=True),
    }[mask]
    data = np.random.default_rng(0).standard_normal((N, S, D)).astype(np.float32)
    changed = data.copy()
    changed[:, 3] += 1.0
    before, after = encoder(gn.tensor(data), **options).numpy(), encoder(gn.tensor(changed), **options).numpy()
    np.testing.assert_array_equal(before[:, :3], after[:, :3])
    assert not np.allclose(before[:, 3:], after[:, 3:])


def test_padded_positions_are_invisible_to_the_others():
    gn.seed(0)
    layer = TransformerEncoderLayer(D, HEADS, FF, batch_first=True).eval()
    padding = np.zeros((N, S), dtype=bool)
    padding[:, -2:] = True
    data = np.random.default_rng(0).standard_normal((N, S, D)).astype(np.float32)
    changed = data.copy()
    changed[:, -2:] = 100.0
    before = layer(gn.tensor(data), src_key_padding_mask=padding).numpy()
    after = layer(gn.tensor(changed), src_key_padding_mask=padding).numpy()
    np.testing.assert_allclose(before[:, :-2], after[:, :-2], rtol=1e-6, atol=1e-6)


# -- positional embeddings ------------------------------------------------------------------------------


@pytest.mark.parametrize("d_model", [6, 7])
def test_sinusoidal_table_is_the_attention_paper_formula(d_model):
    encoding = SinusoidalPositionalEncoding(d_model, max_len=20)
    expected = np.zeros((20, d_model))
    for position in range(20):
        for i in range(d_model):
            angle = position / 10000 ** (2 * (i // 2) / d_model)
            expected[position, i] = np.sin(angle) if i % 2 == 0 else np.cos(angle)
    assert encoding.pe.shape == (20, d_model) and encoding.pe.dtype == np.float32
    np.testing.assert_allclose(encoding.pe.numpy(), expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("batch_first, shape", [(True, (2, 5, 6)), (False, (5, 2, 6)), (True, (5, 6)), (False, (5, 6))])
def test_sinusoidal_encoding_adds_the_table_along_the_sequence_axis(batch_first, shape):
    encoding = SinusoidalPositionalEncoding(6, max_len=50, batch_first=batch_first)
    data = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    x = gn.tensor(data, requires_grad=True)
    out = encoding(x)
    table = encoding.pe.numpy()[:5]
    expected = data + (table[:, None] if len(shape) == 3 and not batch_first else table)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-6)
    out.backward(np.ones(shape, np.float32))
    np.testing.assert_array_equal(x.grad, 1)


def test_sinusoidal_table_is_a_buffer_outside_state_dict():
    encoding = SinusoidalPositionalEncoding(8, max_len=10)
    assert list(encoding.parameters()) == [] and list(encoding.state_dict()) == []
    assert [name for name, _ in encoding.named_buffers()] == ["pe"]
    assert encoding.double().pe.dtype == np.float64


def test_learned_positional_embedding_is_a_trained_table():
    gn.seed(0)
    positions = LearnedPositionalEmbedding(300, 64)
    assert list(positions.state_dict()) == ["weight"] and positions.weight.shape == (300, 64)
    assert positions.weight.numpy().std() == pytest.approx(0.02, rel=0.05)
    data = np.random.default_rng(0).standard_normal((3, 10, 64)).astype(np.float32)
    out = positions(gn.tensor(data))
    np.testing.assert_allclose(out.numpy(), data + positions.weight.numpy()[:10], rtol=1e-6)
    upstream = np.random.default_rng(1).standard_normal((3, 10, 64)).astype(np.float32)
    out.backward(upstream)
    np.testing.assert_allclose(positions.weight.grad[:10], upstream.sum(axis=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(positions.weight.grad[10:], 0)


def test_learned_positional_embedding_gradcheck():
    positions = LearnedPositionalEmbedding(6, 3, batch_first=False).double()
    x = gn.tensor(np.random.default_rng(0).standard_normal((4, 2, 3)), requires_grad=True)
    assert gn.gradcheck(lambda x, weight: positions(x) * positions(x), [x, positions.weight])


# -- errors -------------------------------------------------------------------------------------------


def test_encoder_layer_errors_name_the_layer_and_shapes():
    layer = TransformerEncoderLayer(D, HEADS, FF, batch_first=True)
    with pytest.raises(ValueError, match=r"TransformerEncoderLayer\(d_model=8, nhead=2.*\(N, S, 8\).*got \(2, 5, 6\)"):
        layer(gn.tensor(np.zeros((2, 5, 6), np.float32)))
    with pytest.raises(ValueError, match=r"attn_mask of shape \(4, 4\); expected \(L, S\) = \(5, 5\)"):
        layer(gn.tensor(np.zeros((2, 5, 8), np.float32)), src_mask=generate_square_subsequent_mask(4))
    with pytest.raises(ValueError, match="not divisible"):
        TransformerEncoderLayer(10, 3)
    with pytest.raises(ValueError, match="activation should be 'relu', 'gelu' or a callable, not 'swish'"):
        TransformerEncoderLayer(D, HEADS, activation="swish")


def test_positional_embeddings_refuse_sequences_longer_than_max_len():
    x = gn.tensor(np.zeros((2, 12, 8), np.float32))
    with pytest.raises(ValueError, match=r"LearnedPositionalEmbedding\(d_model=8, max_len=10.*12 positions .* max_len >= 12"):
        LearnedPositionalEmbedding(10, 8)(x)
    with pytest.raises(ValueError, match=r"SinusoidalPositionalEncoding\(d_model=8, max_len=10.*12 positions"):
        SinusoidalPositionalEncoding(8, max_len=10)(x)
    with pytest.raises(ValueError, match=r"expected input of shape \(N, L, 6\) or \(L, 6\), got \(2, 12, 8\)"):
        SinusoidalPositionalEncoding(6)(x)
