"""Specification of attention: scaled_dot_product_attention and MultiheadAttention against
PyTorch (outputs, attention weights, and the gradients of every input and parameter) over
a table of layouts and masks; against calculus; a query masked from every key; dropout;
and the errors a learner meets (shapes, masks, heads). The fused core against its
composition is in test_references.py."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import glassnet as gn
from glassnet import ops
from glassnet.nn.attention import MultiheadAttention
from glassnet.nn.functional import scaled_dot_product_attention

E, H, N, L, S = 8, 2, 2, 3, 4  # embed_dim, heads, batch, query length, key length


def _masks(kind, batched=True):
    """attn_mask and key_padding_mask arrays for ``kind``; no query is masked from every key."""
    rng = np.random.default_rng(5)
    causal = np.triu(np.ones((L, L), dtype=bool), k=1)
    padding = np.zeros((N, S), dtype=bool)
    padding[0, -1] = padding[1, 0] = True
    return {
        "none": (None, None),
        "bool_attn_mask": (np.array([[False, True, False, True], [True, False, False, False], [False, False, True, False]]), None),
        "float_attn_mask": (rng.standard_normal((L, S)).astype(np.float32), None),
        "bool_3d_attn_mask": (rng.random((N * H, L, S)) < 0.3, None),
        "float_3d_attn_mask": (rng.standard_normal((N * H, L, S)).astype(np.float32), None),
        "bool_key_padding_mask": (None, padding if batched else padding[0]),
        "float_key_padding_mask": (None, np.where(padding, -np.inf, 0).astype(np.float32)),
        "both_masks": (rng.random((L, S)) < 0.2, padding),
        "causal": (causal, None),
        "causal_float_and_padding": (np.where(causal, -np.inf, 0).astype(np.float32), np.where(padding[:, :L], -np.inf, 0).astype(np.float32)),
    }[kind]


# (name, constructor options, call options); "cross" uses keys of length S != L
MHA_CASES = [
    ("self", {}, dict(masks="none")),
    ("self_batch_first", dict(batch_first=True), dict(masks="none")),
    ("cross", {}, dict(cross=True, masks="none")),
    ("cross_batch_first", dict(batch_first=True), dict(cross=True, masks="none")),
    ("unbatched_self", {}, dict(batched=False, masks="none")),
    ("unbatched_cross_padding", dict(batch_first=True), dict(batched=False, cross=True, masks="bool_key_padding_mask")),
    ("bool_attn_mask", {}, dict(cross=True, masks="bool_attn_mask")),
    ("float_attn_mask", dict(batch_first=True), dict(cross=True, masks="float_attn_mask")),
    ("bool_3d_attn_mask", {}, dict(cross=True, masks="bool_3d_attn_mask")),
    ("float_3d_attn_mask", dict(batch_first=True), dict(cross=True, masks="float_3d_attn_mask")),
    ("bool_key_padding_mask", dict(batch_first=True), dict(cross=True, masks="bool_key_padding_mask")),
    ("float_key_padding_mask", {}, dict(cross=True, masks="float_key_padding_mask")),
    ("both_masks", dict(batch_first=True), dict(cross=True, masks="both_masks")),
    ("per_head_weights", {}, dict(cross=True, masks="both_masks", average_attn_weights=False)),
    ("no_weights", {}, dict(cross=True, masks="both_masks", need_weights=False)),
    ("no_weights_batch_first", dict(batch_first=True), dict(masks="none", need_weights=False)),
    ("is_causal", dict(batch_first=True), dict(masks="causal", is_causal=True)),
    ("is_causal_no_weights", dict(batch_first=True), dict(masks="causal", is_causal=True, need_weights=False)),
    ("is_causal_with_padding", {}, dict(masks="causal_float_and_padding", is_causal=True, need_weights=False)),
    ("no_bias", dict(bias=False), dict(cross=True, masks="both_masks")),
    ("train_mode_dropout_0", dict(dropout=0.0), dict(cross=True, masks="both_masks", train=True)),
]
MHA_IDS = [case[0] for case in MHA_CASES]


def _inputs(ctor, call, rng):
    """query, key, value arrays in the layer's layout (the same array thrice for self-attention)."""
    source = S if call.get("cross") else L

    def sequence(length):
        shape = (N, length, E) if ctor.get("batch_first") else (length, N, E)
        return rng.standard_normal(shape if call.get("batched", True) else (length, E)).astype(np.float32)

    query = sequence(L)
    if not call.get("cross"):
        return query, query, query
    return query, sequence(source), sequence(source)


def _mha_options(call):
    attn_mask, key_padding_mask = _masks(call["masks"], call.get("batched", True))
    return dict(
        attn_mask=attn_mask, key_padding_mask=key_padding_mask, need_weights=call.get("need_weights", True),
        average_attn_weights=call.get("average_attn_weights", True), is_causal=call.get("is_causal", False),
    )


@pytest.mark.parametrize("name, ctor, call", MHA_CASES, ids=MHA_IDS)
def test_multihead_attention_matches_pytorch(name, ctor, call, load_torch_weights):
    torch.manual_seed(0)
    theirs = torch.nn.MultiheadAttention(E, H, **ctor)
    with torch.no_grad():  # PyTorch initializes the biases to zero, which would hide their gradients' role
        for parameter in theirs.parameters():
            if parameter.ndim == 1:
                parameter.normal_()
    mine = load_torch_weights(MultiheadAttention(E, H, **ctor), theirs)
    mine.train(call.get("train", False)), theirs.train(call.get("train", False))

    arrays = _inputs(ctor, call, np.random.default_rng(0))
    distinct = list({id(a): a for a in arrays}.values())
    gn_inputs = {id(a): gn.tensor(a, requires_grad=True) for a in distinct}
    torch_inputs = {id(a): torch.tensor(a, requires_grad=True) for a in distinct}
    options = _mha_options(call)
    torch_options = {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for k, v in options.items()}

    out, weights = mine(*(gn_inputs[id(a)] for a in arrays), **options)
    expected, expected_weights = theirs(*(torch_inputs[id(a)] for a in arrays), **torch_options)
    assert out.shape == tuple(expected.shape) and out.dtype == np.float32
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-5, atol=2e-6, err_msg="output")
    if expected_weights is None:
        assert weights is None
    else:
        assert weights.shape == tuple(expected_weights.shape)
        np.testing.assert_allclose(weights.numpy(), expected_weights.detach().numpy(), rtol=1e-5, atol=1e-6, err_msg="weights")

    rng = np.random.default_rng(1)
    upstream = rng.standard_normal(out.shape).astype(np.float32)
    loss, their_loss = (out * gn.tensor(upstream)).sum(), (expected * torch.from_numpy(upstream)).sum()
    if weights is not None:  # the weights are part of the graph too
        weight_upstream = rng.standard_normal(weights.shape).astype(np.float32)
        loss = loss + (weights * gn.tensor(weight_upstream)).sum()
        their_loss = their_loss + (expected_weights * torch.from_numpy(weight_upstream)).sum()
    loss.backward()
    their_loss.backward()
    for i, a in enumerate(distinct):
        np.testing.assert_allclose(gn_inputs[id(a)].grad, torch_inputs[id(a)].grad.numpy(), rtol=1e-4, atol=2e-6, err_msg=f"input {i}")
    their_params = dict(theirs.named_parameters())
    assert [n for n, _ in mine.named_parameters()] == list(their_params)
    for param_name, parameter in mine.named_parameters():
        np.testing.assert_allclose(parameter.grad, their_params[param_name].grad.numpy(), rtol=1e-4, atol=2e-6, err_msg=param_name)


GRADCHECK_CASES = [
    ("self_weights", {}, dict(masks="none")),
    ("cross_masks_weights", dict(batch_first=True), dict(cross=True, masks="both_masks", average_attn_weights=False)),
    ("cross_masks_fused", {}, dict(cross=True, masks="float_3d_attn_mask", need_weights=False)),
    ("causal_fused", dict(batch_first=True), dict(masks="causal_float_and_padding", need_weights=False)),
]


@pytest.mark.parametrize("name, ctor, call", GRADCHECK_CASES, ids=[case[0] for case in GRADCHECK_CASES])
def test_multihead_attention_gradcheck(name, ctor, call):
    gn.seed(0)
    layer = MultiheadAttention(E, H, **ctor).double()
    for parameter in layer.parameters():
        if parameter.ndim == 1:
            parameter.data[...] = np.random.default_rng(3).standard_normal(parameter.shape)
    arrays = _inputs(ctor, call, np.random.default_rng(0))
    query, key, value = (gn.tensor(a.astype(np.float64), requires_grad=True) for a in arrays)
    options = _mha_options(call)
    params = list(layer.parameters())

    def attend(query, key, value, *params):
        out, weights = layer(query, key, value, **options)
        return out if weights is None else (out, weights)

    assert gn.gradcheck(attend, [query, key, value, *params])


# -- the core: fused and composed, and the functional form ---------------------------------------


# the fused core equals its composition (attention_reference): tests/test_references.py


@pytest.mark.parametrize("reference", [False, True], ids=["fused", "reference"])
def test_a_query_that_may_attend_nowhere_gets_zero_output(reference):
    # as PyTorch's scaled_dot_product_attention: zero weights and output, not NaN
    q, k, v = (gn.randn(1, 2, 3, 4, requires_grad=True) for _ in range(3))
    mask = np.zeros((3, 3), dtype=np.float32)
    mask[1] = -np.inf  # query 1 may attend to no key
    with gn.reference_ops(reference):
        out = ops.Attention.apply(q, k, v, mask=mask, scale=0.5, dropout_p=0.3)
    out.sum().backward()
    for value in (out, q.grad, k.grad, v.grad):
        assert np.isfinite(value.numpy()).all()
    np.testing.assert_array_equal(out.numpy()[:, :, 1], 0)


def test_the_fused_core_leaves_out_the_scores_a_causal_mask_hides_from_the_first_half():
    causal, blocks = np.triu(np.full((8, 8), -np.inf, np.float32), 1), ops.attention._blocks
    assert blocks(causal, 8, 8) == [(slice(4, None), slice(None)), (slice(0, 4), slice(0, 4))]
    some = np.where(np.eye(8, k=7) > 0, -np.inf, 0).astype(np.float32)  # hides one key of eight: not worth it
    for mask in (None, some, causal[:1], np.zeros((2, 8, 8), np.float32)):
        assert blocks(mask, 8, 8) == [(slice(None), slice(None))]
    assert blocks(np.zeros((2, 3), np.float32), 2, 3) == [(slice(None), slice(None))]  # nothing hidden, short rows
    # the parts of the fused core's result come from both blocks (its values: test_references)
    rng = np.random.default_rng(0)
    q, k, v = (gn.tensor(rng.standard_normal((1, 2, 8, 4)).astype(np.float32), requires_grad=True) for _ in range(3))
    out = ops.Attention.apply(q, k, v, mask=causal, scale=0.5)
    out.sum().backward()
    np.testing.assert_allclose(out.numpy()[:, :, 0], v.numpy()[:, :, 0], rtol=1e-6)  # the first query sees only key 0
    np.testing.assert_allclose(q.grad.numpy()[:, :, 0], 0, atol=1e-6)  # its one weight is 1 whatever its scores
    assert np.abs(q.grad.numpy()[:, :, 1:]).min() > 0 and np.isfinite(k.grad.numpy()).all()


def test_heads_from_a_projection_go_back_into_its_rows_without_a_copy():
    """The fused core's output, and the gradients of q, k and v, are laid out as its inputs
    (rows of tokens), so merging the heads is a view and unbind's gradient is one array."""
    from glassnet.backend import memory_order
    rng = np.random.default_rng(0)
    rows = gn.tensor(rng.standard_normal((2, 5, 24)).astype(np.float32), requires_grad=True)
    upstream = rng.standard_normal((2, 5, 8)).astype(np.float32)

    def heads_merged():
        q, k, v = rows.reshape(2, 5, 3, 2, 4).permute(2, 0, 3, 1, 4).unbind(0)  # (N, heads, L, d) each
        out = ops.Attention.apply(q, k, v, scale=0.5)
        return out, out.transpose(1, 2).reshape(2, 5, 8)
    out, merged = heads_merged()
    assert memory_order(out.numpy()) == [0, 2, 1, 3] and np.shares_memory(merged.numpy(), out.numpy())
    (merged * gn.tensor(upstream)).sum().backward()
    fused, rows.grad = rows.grad.numpy(), None
    with gn.reference_ops():
        (heads_merged()[1] * gn.tensor(upstream)).sum().backward()
    np.testing.assert_allclose(fused, rows.grad.numpy(), rtol=1e-5, atol=1e-6)


# (name, shapes of query, key, value, options for both libraries; "mask" makes an attn_mask)
SDPA_CASES = [
    ("plain", ((2, 2, 3, 4), (2, 2, 5, 4), (2, 2, 5, 6)), {}),
    ("three_dims", ((2, 3, 4), (2, 5, 4), (2, 5, 4)), {}),
    ("bool_mask_true_attends", ((2, 2, 3, 4), (2, 2, 5, 4), (2, 2, 5, 4)), dict(mask="bool")),
    ("float_mask_broadcast", ((2, 2, 3, 4), (2, 2, 5, 4), (2, 2, 5, 4)), dict(mask="float")),
    ("is_causal", ((2, 2, 4, 4), (2, 2, 4, 4), (2, 2, 4, 4)), dict(is_causal=True)),
    ("is_causal_rectangular", ((1, 2, 3, 4), (1, 2, 5, 4), (1, 2, 5, 4)), dict(is_causal=True)),
    ("scale", ((2, 2, 3, 4), (2, 2, 5, 4), (2, 2, 5, 4)), dict(scale=0.7)),
    # long enough for ops.attention's compiled kernels (rows of 128 and more, a causal mask)
    ("is_causal_long", ((2, 3, 150, 32), (2, 3, 150, 32), (2, 3, 150, 24)), dict(is_causal=True)),
    ("bool_long", ((1, 2, 130, 40), (1, 2, 140, 40), (1, 2, 140, 40)), dict(mask="bool_causal")),
]


@pytest.mark.parametrize("name, shapes, options", SDPA_CASES, ids=[case[0] for case in SDPA_CASES])
def test_scaled_dot_product_attention_matches_pytorch(name, shapes, options, torch_parity):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(shape).astype(np.float32) for shape in shapes]
    options = dict(options)
    mask = options.pop("mask", None)
    if mask == "bool":
        mask = rng.random(shapes[0][-2:-1] + shapes[1][-2:-1]) < 0.7
        mask[:, 0] = True  # every query attends somewhere
    elif mask == "bool_causal":  # the later keys hidden, each row seeing one key more, and a few more holes
        mask = (np.arange(shapes[1][-2]) <= np.arange(shapes[0][-2])[:, None] + 5) & (rng.random((shapes[0][-2], shapes[1][-2])) < 0.9)
        mask[:, 0] = True
    elif mask == "float":
        mask = rng.standard_normal((shapes[0][0], 1, shapes[0][-2], shapes[1][-2])).astype(np.float32)
    if mask is not None:  # a constant: masks receive no gradient in glassnet
        options["attn_mask"] = mask
    torch_options = {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for k, v in options.items()}
    torch_parity(
        lambda q, k, v: scaled_dot_product_attention(q, k, v, **options),
        lambda q, k, v: torch.nn.functional.scaled_dot_product_attention(q, k, v, **torch_options),
        *arrays, rtol=1e-5, atol=2e-6,
    )


@pytest.mark.parametrize("mask", [None, "bool", "causal"])
def test_attention_at_inference_on_short_rows_matches_pytorch(mask):
    """A vision transformer's heads (17 tokens) at inference, where the fused core puts
    sixteen queries in the lanes on the pool (ops.attention._short_rows_forward)."""
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((3, 4, 17, 16)).astype(np.float32) for _ in range(3)]
    options = {}
    if mask == "bool":  # the last keys hidden from every query, one query from all of them
        options["attn_mask"] = np.broadcast_to(np.arange(17) < 12, (17, 17)).copy()
        options["attn_mask"][5] = False  # zeros out, in both
    elif mask == "causal":
        options["is_causal"] = True
    with gn.no_grad():
        out = scaled_dot_product_attention(*(gn.tensor(a) for a in arrays), **options)
    torch_options = {k: torch.from_numpy(o) if isinstance(o, np.ndarray) else o for k, o in options.items()}
    with torch.no_grad():
        expected = torch.nn.functional.scaled_dot_product_attention(*(torch.from_numpy(a) for a in arrays), **torch_options)
    np.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=1e-5, atol=2e-6)


@settings(max_examples=30, deadline=None, database=None)
@given(
    batch=st.lists(st.integers(1, 3), min_size=0, max_size=2),
    length=st.integers(1, 5), source_length=st.integers(1, 5), dim=st.integers(1, 4), value_dim=st.integers(1, 4),
    mask=st.sampled_from(["none", "bool", "float", "causal"]), seed=st.integers(0, 2**16),
)
def test_scaled_dot_product_attention_matches_pytorch_for_any_shape(batch, length, source_length, dim, value_dim, mask, seed):
    rng = np.random.default_rng(seed)
    batch = tuple(batch)
    arrays = [rng.standard_normal(batch + shape).astype(np.float32) for shape in [(length, dim), (source_length, dim), (source_length, value_dim)]]
    options = {}
    if mask == "bool":  # broadcast over the batch axes; a row may allow nothing (zeros, as in PyTorch)
        options["attn_mask"] = rng.random((length, source_length)) < 0.6
    elif mask == "float":
        options["attn_mask"] = rng.standard_normal((length, source_length)).astype(np.float32)
    elif mask == "causal":
        options["is_causal"] = True
    q, k, v = (gn.tensor(a, requires_grad=True) for a in arrays)
    tq, tk, tv = (torch.tensor(a, requires_grad=True) for a in arrays)
    out = scaled_dot_product_attention(q, k, v, **options)
    torch_options = {k: torch.from_numpy(o) if isinstance(o, np.ndarray) else o for k, o in options.items()}
    expected = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, **torch_options)
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-5, atol=2e-6)
    upstream = rng.standard_normal(out.shape).astype(np.float32)
    out.backward(upstream)
    expected.backward(torch.from_numpy(upstream))
    for mine, theirs in [(q, tq), (k, tk), (v, tv)]:
        np.testing.assert_allclose(mine.grad, theirs.grad.numpy(), rtol=1e-4, atol=2e-6)


def test_scaled_dot_product_attention_gradcheck():
    rng = np.random.default_rng(0)
    q, k, v = (gn.tensor(rng.standard_normal(shape), requires_grad=True) for shape in [(2, 3, 4), (2, 5, 4), (2, 5, 2)])
    mask = rng.random((3, 5)) < 0.7
    mask[:, 0] = True
    assert gn.gradcheck(lambda q, k, v: scaled_dot_product_attention(q, k, v, attn_mask=mask), [q, k, v])
    assert gn.gradcheck(lambda q, k, v: scaled_dot_product_attention(q, k, v, is_causal=True), [q, k, v])


def test_a_numpy_float64_scale_works_as_the_same_python_float():
    # 1 / np.sqrt(E) is a NumPy float64: under NumPy 2's promotion it would make each block
    # of queries float64 (the result cast back, slower and rounded differently); PyTorch
    # takes it as the Python float it equals
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((2, 3, 16, 8)).astype(np.float32) for _ in range(3)]
    results = []
    for scale in (0.3, np.float64(0.3)):
        q, k, v = (gn.tensor(a, requires_grad=True) for a in arrays)
        out = scaled_dot_product_attention(q, k, v, is_causal=True, scale=scale)
        out.backward(gn.ones(*out.shape))
        assert out.dtype == q.grad.dtype == gn.float32
        results.append([out.numpy(), q.grad.numpy(), k.grad.numpy(), v.grad.numpy()])
    for plain, numpy_scalar in zip(*results):
        np.testing.assert_array_equal(numpy_scalar, plain)


def test_a_query_that_may_attend_nowhere_gets_zeros_as_in_pytorch_sdpa():
    torch.manual_seed(0)
    theirs = torch.nn.MultiheadAttention(E, H, batch_first=True)
    mine = MultiheadAttention(E, H, batch_first=True)
    mine.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((N, L, E)).astype(np.float32)
    padding = np.zeros((N, L), dtype=bool)
    padding[1] = True  # the second sequence is all padding
    gx = gn.tensor(x, requires_grad=True)
    out, _ = mine(gx, gx, gx, key_padding_mask=padding, need_weights=False)
    expected, _ = theirs(*(torch.from_numpy(x),) * 3, key_padding_mask=torch.from_numpy(padding), need_weights=False)
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-5, atol=2e-6)
    out.sum().backward()
    assert np.isfinite(gx.grad).all()
    # with the weights returned glassnet gives zeros too (PyTorch's weights path gives NaN)
    _, weights = mine(gx, gx, gx, key_padding_mask=padding)
    np.testing.assert_array_equal(weights.numpy()[1], 0)


# -- dropout, parameters, initialization ----------------------------------------------------------------


def test_attention_dropout_drops_weights_in_training_only():
    gn.seed(0)  # the share kept is random: not this test's to depend on what ran before
    layer = MultiheadAttention(16, 4, dropout=0.5, batch_first=True)
    x = gn.tensor(np.random.default_rng(0).standard_normal((4, 6, 16)).astype(np.float32))
    layer.eval()
    _, clean = layer(x, x, x, average_attn_weights=False)
    out_eval, _ = layer(x, x, x, need_weights=False)
    layer.train()
    _, dropped = layer(x, x, x, average_attn_weights=False)
    kept = dropped.numpy() != 0
    assert kept.mean() == pytest.approx(0.5, abs=0.05)
    np.testing.assert_allclose(dropped.numpy()[kept], 2 * clean.numpy()[kept], rtol=1e-6)  # kept ones scaled by 1/(1-p)
    out_train, _ = layer(x, x, x, need_weights=False)
    assert not np.allclose(out_train.numpy(), out_eval.numpy())


def test_multihead_attention_parameters_and_init_as_pytorch():
    for bias in (True, False):
        mine, theirs = MultiheadAttention(16, 4, bias=bias), torch.nn.MultiheadAttention(16, 4, bias=bias)
        assert {k: v.shape for k, v in mine.state_dict().items()} == {k: tuple(v.shape) for k, v in theirs.state_dict().items()}
        assert list(mine.state_dict()) == list(theirs.state_dict())
    gn.seed(0)
    layer = MultiheadAttention(64, 4)
    bound = np.sqrt(6 / (64 + 3 * 64))  # Xavier-uniform over the stacked (3E, E) matrix
    weight = layer.in_proj_weight.numpy()
    assert np.abs(weight).max() <= bound and np.abs(weight).max() > 0.9 * bound
    np.testing.assert_array_equal(layer.in_proj_bias.numpy(), 0)
    np.testing.assert_array_equal(layer.out_proj.bias.numpy(), 0)
    assert np.abs(layer.out_proj.weight.numpy()).max() <= 1 / 8  # Linear's default
    assert layer.head_dim == 16 and layer.in_proj_weight.dtype == np.float32


# -- errors -------------------------------------------------------------------------------------


def test_embed_dim_not_divisible_by_heads_says_which_would_work():
    with pytest.raises(ValueError, match=r"embed_dim 10 is not divisible by num_heads 3.*\[1, 2, 5, 10\]"):
        MultiheadAttention(10, 3)
    with pytest.raises(ValueError, match=r"kdim=4"):
        MultiheadAttention(8, 2, kdim=4)


def test_query_of_the_wrong_embedding_size_names_layer_and_shapes():
    layer = MultiheadAttention(8, 2, batch_first=True)
    x = gn.tensor(np.zeros((2, 5, 6), np.float32))
    with pytest.raises(ValueError, match=r"MultiheadAttention\(embed_dim=8, num_heads=2, batch_first=True\): expected query of shape .*\(N, L, 8\), got \(2, 5, 6\)"):
        layer(x, x, x)
    good = gn.tensor(np.zeros((2, 5, 8), np.float32))
    with pytest.raises(ValueError, match=r"key \(2, 5, 8\) and value \(2, 4, 8\) must have the same shape"):
        layer(good, good, gn.tensor(np.zeros((2, 4, 8), np.float32)))
    other_batch = gn.tensor(np.zeros((3, 5, 8), np.float32))
    with pytest.raises(ValueError, match=r"different batch sizes"):
        layer(good, other_batch, other_batch)


def test_masks_of_the_wrong_shape_or_type_name_layer_and_shapes():
    layer = MultiheadAttention(8, 2)  # (L, N, E)
    x = gn.tensor(np.zeros((3, 2, 8), np.float32))
    with pytest.raises(ValueError, match=r"MultiheadAttention\(embed_dim=8.*attn_mask of shape \(4, 4\); expected \(L, S\) = \(3, 3\) or \(N \* num_heads, L, S\) = \(4, 3, 3\)"):
        layer(x, x, x, attn_mask=np.zeros((4, 4), bool))
    with pytest.raises(ValueError, match=r"attn_mask of shape \(2, 3, 3\)"):
        layer(x, x, x, attn_mask=np.zeros((2, 3, 3), bool))
    with pytest.raises(ValueError, match=r"key_padding_mask of shape \(3, 2\); expected \(N, S\) = \(2, 3\)"):
        layer(x, x, x, key_padding_mask=np.zeros((3, 2), bool))
    with pytest.raises(TypeError, match=r"attn_mask must be bool .* or float .*int64"):
        layer(x, x, x, attn_mask=np.zeros((3, 3), np.int64))


def test_scaled_dot_product_attention_errors():
    q = gn.tensor(np.zeros((2, 3, 4), np.float32))
    k = gn.tensor(np.zeros((2, 5, 4), np.float32))
    with pytest.raises(ValueError, match="either attn_mask or is_causal"):
        scaled_dot_product_attention(q, q, q, attn_mask=np.ones((3, 3), bool), is_causal=True)
    with pytest.raises(ValueError, match=r"query \(2, 3, 4\), key \(2, 5, 4\), value \(2, 4, 4\)"):
        scaled_dot_product_attention(q, k, gn.tensor(np.zeros((2, 4, 4), np.float32)))
    with pytest.raises(ValueError, match=r"attn_mask: shapes \(3, 3\) and \(2, 3, 5\)"):
        scaled_dot_product_attention(q, k, k, attn_mask=np.ones((3, 3), bool))
    with pytest.raises(ValueError, match=r"batch dimensions of query and key: shapes \(2,\) and \(3,\)"):
        scaled_dot_product_attention(q, gn.tensor(np.zeros((3, 5, 4), np.float32)), gn.tensor(np.zeros((3, 5, 4), np.float32)))
