"""PyTorch's tensor math beyond the differentiable op table (tests/test_ops.py): comparisons
and tests, sorting and selection with their indices, the named tuples, dtypes of integer
math, one_hot, edge cases (zeros, ties, infinities) and bad input. PyTorch is the oracle.
"""
import numpy as np
import pytest
import torch

import glassnet as gn
import glassnet.nn.functional as F

RNG = np.random.default_rng(0)
A = RNG.standard_normal((3, 4)).astype(np.float32)
B = RNG.standard_normal((3, 4)).astype(np.float32)


def same(mine, theirs):
    """Equal values, shape and dtype (``theirs`` a torch tensor)."""
    assert isinstance(mine, gn.Tensor)
    assert mine.dtype == np.dtype(str(theirs.dtype).removeprefix("torch.")), (mine.dtype, theirs.dtype)
    np.testing.assert_array_equal(mine.numpy(), theirs.detach().numpy())


# -- comparisons and tests --------------------------------------------------------------------


@pytest.mark.parametrize("name", ["eq", "ne", "lt", "le", "gt", "ge"])
def test_comparisons_as_methods_and_functions(name):
    a, b = A.copy(), B.copy()
    a[0, :2] = b[0, :2]  # some equal elements
    for other in (b, b[0], 0.0):
        theirs = getattr(torch, name)(torch.tensor(a), torch.tensor(other) if isinstance(other, np.ndarray) else other)
        other_gn = gn.tensor(other) if isinstance(other, np.ndarray) else other
        same(getattr(gn.tensor(a), name)(other_gn), theirs)
        same(getattr(gn, name)(gn.tensor(a), other_gn), theirs)
    x = gn.tensor(a, requires_grad=True)
    assert not x.gt(0).requires_grad


def test_isnan_isinf_isfinite():
    values = np.array([1.0, np.nan, np.inf, -np.inf, 0.0], np.float32)
    for name in ("isnan", "isinf", "isfinite"):
        same(getattr(gn.tensor(values), name)(), getattr(torch.tensor(values), name)())
        same(getattr(gn, name)(gn.tensor(values)), getattr(torch, name)(torch.tensor(values)))
    same(gn.isfinite(gn.tensor([1, 2])), torch.isfinite(torch.tensor([1, 2])))


def test_allclose_and_equal():
    a = gn.tensor([1.0, 2.0, np.nan])
    assert gn.allclose(gn.tensor([1.0, 2.0]), gn.tensor([1.0, 2.0 + 1e-6])) is True
    assert gn.tensor([1.0, 2.0]).allclose(gn.tensor([1.0, 2.1])) is False
    assert gn.allclose(gn.tensor([1.0, 2.0]), gn.tensor([1.0, 2.1]), atol=0.2)
    assert not gn.allclose(a, a) and gn.allclose(a, a, equal_nan=True)
    assert gn.equal(gn.tensor([1, 2]), gn.tensor([1, 2])) is True
    assert gn.equal(gn.tensor([1, 2]), gn.tensor([1, 3])) is False
    assert gn.equal(gn.tensor([1, 2]), gn.tensor([[1, 2]])) is False  # shapes differ: no broadcasting
    assert gn.tensor([[1.0]]).equal(gn.tensor([[1.0]]))


# -- max/min along a dim: PyTorch's named tuple -----------------------------------------------


def test_max_along_dim_is_a_named_tuple():
    x = gn.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 7.0]], requires_grad=True)
    result = x.max(1)
    values, indices = result
    assert isinstance(result, tuple) and isinstance(result, gn.return_types.max)
    assert result.values is values and result.indices is indices and result[0] is values
    assert x.max(1)[1].tolist() == [1, 0]  # the indices, as x.max(1)[1] in PyTorch scripts
    assert values.tolist() == [5.0, 7.0] and indices.dtype == np.int64
    assert values.requires_grad and not indices.requires_grad
    assert "values=" in repr(result) and "indices=" in repr(result)
    kept = x.max(dim=1, keepdim=True)
    assert kept.values.shape == (2, 1) and kept.indices.shape == (2, 1)
    assert x.min(0).indices.tolist() == [0, 1, 0] and type(x.min(0)).__name__ == "min"
    assert x.max(axis=1, keepdims=True).values.shape == (2, 1)  # NumPy's names still work


def test_max_along_dim_matches_pytorch_with_ties(torch_parity):
    # the first maximal index is returned, and the whole gradient goes there
    ties = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0], [0.0, -1.0, 0.0]], np.float32)
    for dim in (0, 1, -1):
        for keepdim in (False, True):
            mine, theirs = gn.tensor(ties).max(dim, keepdim), torch.tensor(ties).max(dim, keepdim)
            same(mine.values, theirs.values)
            same(mine.indices, theirs.indices)
            mine, theirs = gn.min(gn.tensor(ties), dim, keepdim=keepdim), torch.min(torch.tensor(ties), dim, keepdim=keepdim)
            same(mine.indices, theirs.indices)
    torch_parity(lambda t: t.max(0).values, lambda t: t.max(0).values, ties)


def test_max_of_everything_and_of_two_tensors():
    x = gn.tensor(A)
    assert x.max().item() == A.max() and gn.min(x).item() == A.min()
    same(gn.max(x, gn.tensor(B)), torch.max(torch.tensor(A), torch.tensor(B)))
    same(x.min(gn.tensor(B)), torch.tensor(A).min(torch.tensor(B)))
    same(gn.tensor([1, 5, 3]).max(), torch.tensor([1, 5, 3]).max())  # integers too
    same(gn.tensor([[1, 5, 3]]).min(1).values, torch.tensor([[1, 5, 3]]).min(1).values)


def test_max_along_several_dims_points_to_amax():
    with pytest.raises(TypeError, match="max.*amax"):
        gn.tensor(A).max(dim=(0, 1))
    with pytest.raises(IndexError, match="max.*dim 2"):
        gn.tensor(A).max(2)


# -- sort, topk, argsort ------------------------------------------------------------------


@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("descending", [False, True])
def test_sort_values_and_indices(dim, descending):
    mine, theirs = gn.tensor(A).sort(dim, descending), torch.tensor(A).sort(dim, descending)
    assert isinstance(mine, gn.return_types.sort)
    same(mine.values, theirs.values)
    same(mine.indices, theirs.indices)
    mine = gn.sort(gn.tensor(A), dim=dim, descending=descending)
    same(mine[1], theirs[1])


def test_sort_and_argsort_are_stable_with_nan_as_largest():
    data = np.array([[2.0, 1.0, np.nan, 2.0, 1.0, 2.0]], np.float32)
    for descending in (False, True):
        theirs = torch.tensor(data).sort(dim=1, descending=descending, stable=True)
        mine = gn.tensor(data).sort(1, descending=descending, stable=True)
        same(mine.indices, theirs.indices)
        np.testing.assert_array_equal(mine.values.numpy(), theirs.values.numpy())  # NaN in place
        same(gn.tensor(data).argsort(dim=1, descending=descending), torch.tensor(data).argsort(dim=1, descending=descending, stable=True))
    same(gn.argsort(gn.tensor([3, 1, 2])), torch.argsort(torch.tensor([3, 1, 2])))
    same(gn.tensor([True, False]).sort().values, torch.tensor([True, False]).sort().values)


@pytest.mark.parametrize("k, dim, largest", [(1, -1, True), (3, 1, True), (2, 0, False), (4, 1, False), (0, 1, True)])
def test_topk_values_and_indices(k, dim, largest):
    mine, theirs = gn.tensor(A).topk(k, dim, largest), torch.tensor(A).topk(k, dim, largest)
    assert isinstance(mine, gn.return_types.topk)
    same(mine.values, theirs.values)
    same(mine.indices, theirs.indices)
    values, indices = gn.topk(gn.tensor(A), k, dim=dim, largest=largest)
    same(indices, theirs.indices)


def test_topk_and_sort_gradients_go_to_their_sources():
    x = gn.tensor([[3.0, 1.0, 2.0]], requires_grad=True)
    values, indices = x.topk(2)
    (values * gn.tensor([10.0, 1.0])).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[10.0, 0.0, 1.0]])
    x.grad = None
    (x.sort(descending=True).values * gn.tensor([1.0, 2.0, 3.0])).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[1.0, 3.0, 2.0]])


# -- integer math and dtypes ------------------------------------------------------------------


def test_integer_sums_and_float_functions_follow_pytorchs_dtypes():
    ints = np.array([[1, -2, 3], [4, 5, -6]], np.int32)
    g, t = gn.tensor(ints), torch.tensor(ints)
    same(g.sum(), t.sum())
    same(g.sum(1), t.sum(1))
    same(g.prod(0), t.prod(0))
    same(g.cumsum(1), t.cumsum(1))
    same(gn.tensor([True, True, False]).sum(), torch.tensor([True, True, False]).sum())
    same(g.sum(dtype=gn.float64), t.sum(dtype=torch.float64))
    same(g.mean(dtype=gn.float32), t.mean(dtype=torch.float32))
    for name in ("exp", "sin", "cos", "sqrt", "sigmoid", "tanh", "erf"):
        mine, theirs = getattr(g.abs(), name)(), getattr(t.abs(), name)()
        assert mine.dtype == np.float32, name
        np.testing.assert_allclose(mine.numpy(), theirs.numpy(), rtol=2e-6)
    same(g.abs(), t.abs())
    same(g.sign(), t.sign())
    same(g.floor(), t.floor())
    same(g.square(), t.square())
    same(g.neg(), t.neg())
    same(g.maximum(gn.tensor(2, dtype=gn.int32)), t.maximum(torch.tensor(2, dtype=torch.int32)))


@pytest.mark.parametrize("mode", [None, "floor", "trunc"])
def test_div_rounding_modes(mode):
    a, b = np.array([7, -7, 7, -7, 6]), np.array([2, 2, -2, -2, 3])
    same(gn.tensor(a).div(gn.tensor(b), rounding_mode=mode), torch.tensor(a).div(torch.tensor(b), rounding_mode=mode))
    same(gn.div(gn.tensor(a), 2, rounding_mode=mode), torch.div(torch.tensor(a), 2, rounding_mode=mode))
    fa = np.array([7.5, -7.5, 0.5, -0.5], np.float32)
    same(gn.tensor(fa).div(2.0, rounding_mode=mode), torch.tensor(fa).div(2.0, rounding_mode=mode))
    same(gn.tensor(a) // gn.tensor(b), torch.tensor(a) // torch.tensor(b))


def test_div_bad_rounding_mode_and_integer_zero_division():
    with pytest.raises(ValueError, match="div.*rounding_mode"):
        gn.tensor([1.0]).div(2.0, rounding_mode="round")
    with pytest.raises(ZeroDivisionError, match="div"):
        gn.tensor([1, 2]).div(gn.tensor([1, 0]), rounding_mode="floor")


def test_rounding_passes_zero_gradient():
    x = gn.tensor([1.4, -2.6], requires_grad=True)
    (x.floor() + x.ceil() + x.round() + x.trunc() + x.sign()).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0])
    same(gn.tensor([0.5, 1.5, 2.5, -0.5]).round(), torch.tensor([0.5, 1.5, 2.5, -0.5]).round())


# -- edge cases of the reductions ------------------------------------------------------------


@pytest.mark.parametrize("data", [[[2.0, 0.0, 3.0], [0.0, 0.0, 5.0]], [[1.5, -2.0, 0.5], [4.0, 1.0, -1.0]]])
def test_prod_gradient_with_zeros(data, torch_parity):
    data = np.array(data, np.float32)
    torch_parity(lambda t: t.prod(1), lambda t: t.prod(1), data)
    torch_parity(lambda t: t.prod(0, keepdim=True), lambda t: t.prod(0, keepdim=True), data)
    torch_parity(lambda t: t.prod(), lambda t: t.prod(), data)


def test_norm_edge_cases(torch_parity):
    data = np.array([[0.0, 0.0, 0.0], [3.0, 0.0, -4.0]], np.float32)
    torch_parity(lambda t: t.norm(dim=1), lambda t: t.norm(dim=1), data)  # zero norm: zero gradient
    torch_parity(lambda t: t.norm(p=1, dim=1), lambda t: t.norm(p=1, dim=1), data)
    same(gn.norm(gn.tensor(data), p=0, dim=1), torch.norm(torch.tensor(data), p=0, dim=1))
    same(gn.tensor(data).norm(float("-inf"), dim=1), torch.tensor(data).norm(float("-inf"), dim=1))
    with pytest.raises(NotImplementedError, match="norm.*nuc"):
        gn.tensor(data).norm("nuc")


def test_var_and_std_forms():
    x, t = gn.tensor(A), torch.tensor(A)
    for args, kwargs in [((), {}), ((1,), {}), ((1, False), {}), ((False,), {}), ((), {"dim": 0, "correction": 0}),
                         ((), {"dim": (0, 1), "keepdim": True}), ((), {"unbiased": False})]:
        np.testing.assert_allclose(x.var(*args, **kwargs).numpy(), t.var(*args, **kwargs).numpy(), rtol=1e-5)
        np.testing.assert_allclose(gn.std(x, *args, **kwargs).numpy(), torch.std(t, *args, **kwargs).numpy(), rtol=1e-5)
    with pytest.warns(UserWarning):
        expected = torch.tensor([3.0]).var()
    assert np.isnan(gn.tensor([3.0]).var().item()) and np.isnan(expected.item())  # N - 1 = 0
    assert gn.tensor([1.0, 2.0]).var(correction=2).item() == np.inf
    with pytest.raises(TypeError, match="var"):
        x.var(unbiased=True, correction=1)


def test_logsumexp_large_and_infinite():
    data = np.array([[1000.0, 1000.0], [-np.inf, -np.inf], [1.0, 2.0]], np.float32)
    mine, theirs = gn.tensor(data).logsumexp(1), torch.tensor(data).logsumexp(1)
    np.testing.assert_allclose(mine.numpy(), theirs.numpy(), rtol=1e-6)


def test_erf_float32_accuracy():
    x = np.concatenate([np.linspace(-5, 5, 20001), np.logspace(-10, 0, 200), -np.logspace(-10, 0, 200)]).astype(np.float32)
    mine, theirs = gn.erf(gn.tensor(x)), torch.erf(torch.tensor(x))
    assert mine.dtype == np.float32
    np.testing.assert_allclose(mine.numpy(), theirs.numpy(), rtol=1e-6, atol=1e-30)


# -- splitting ---------------------------------------------------------------------------------


@pytest.mark.parametrize("length, chunks", [(5, 4), (6, 4), (10, 3), (3, 5), (4, 2), (0, 2)])
def test_chunk_and_split_pieces_match_pytorch(length, chunks):
    mine, theirs = gn.arange(length).chunk(chunks), torch.arange(length).chunk(chunks)
    assert isinstance(mine, tuple) and [p.tolist() for p in mine] == [p.tolist() for p in theirs]
    mine, theirs = gn.split(gn.arange(length), 2), torch.split(torch.arange(length), 2)
    assert [p.tolist() for p in mine] == [p.tolist() for p in theirs]


def test_split_unbind_and_their_errors():
    x = gn.tensor(A)
    assert [p.shape for p in x.split([1, 3], dim=1)] == [(3, 1), (3, 3)]
    assert len(x.unbind(1)) == 4 and x.unbind(1)[2].tolist() == A[:, 2].tolist()
    assert [p.shape for p in gn.unbind(x, -1)] == [(3,)] * 4
    with pytest.raises(RuntimeError, match=r"split.*sum to 4"):
        x.split([1, 2], dim=1)
    with pytest.raises(RuntimeError, match="chunk"):
        x.chunk(0)


def test_pieces_nothing_used_get_zero_gradients():
    x = gn.tensor(A, requires_grad=True)
    first, second = x.split(2)
    second.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0.0] * 4] * 2 + [[1.0] * 4])


# -- where, gather, triangles, squeeze --------------------------------------------------------


def test_where_with_condition_only_gives_indices():
    mask = np.array([[True, False, True], [False, False, True]])
    mine, theirs = gn.where(gn.tensor(mask)), torch.where(torch.tensor(mask))
    assert len(mine) == 2
    for m, t in zip(mine, theirs):
        same(m, t)


def test_gather_checks_its_index():
    x = gn.tensor(A)
    with pytest.raises(TypeError, match="gather.*integer"):
        x.gather(1, gn.tensor([[0.0]]))
    with pytest.raises(RuntimeError, match=r"gather.*\(3,\)"):
        x.gather(1, gn.tensor([0, 1, 2]))
    for bad in (4, -1):  # no wrapping of negative indices, as in PyTorch
        with pytest.raises(IndexError, match="gather"):
            x.gather(1, gn.tensor([[bad]]))


def test_triangles_and_squeeze():
    same(gn.tril(gn.tensor([[1, 2], [3, 4]])), torch.tril(torch.tensor([[1, 2], [3, 4]])))
    same(gn.tensor(A).triu(-1), torch.tensor(A).triu(-1))
    with pytest.raises(RuntimeError, match="tril.*2 dimensions"):
        gn.tensor([1.0, 2.0]).tril()
    x = gn.zeros(1, 3, 1)
    assert gn.squeeze(x, (0, 1)).shape == (3, 1) and x.squeeze(dim=-1).shape == (1, 3)
    assert x.unsqueeze(dim=0).shape == (1, 1, 3, 1)


# -- products: shape checks name the op ------------------------------------------------------


def test_mm_and_bmm_check_their_dimensions():
    m, b = gn.tensor(np.ones((2, 3), np.float32)), gn.tensor(np.ones((2, 3, 4), np.float32))
    with pytest.raises(RuntimeError, match=r"bmm.*3-D.*\(2, 3\)"):
        gn.bmm(m, m)
    with pytest.raises(RuntimeError, match="bmm.*batch"):
        b.bmm(gn.tensor(np.ones((3, 4, 2), np.float32)))
    with pytest.raises(RuntimeError, match=r"mm.*2-D.*\(2, 3, 4\)"):
        gn.mm(b, m)
    with pytest.raises(ValueError, match=r"matmul.*\(2, 3\).*\(2, 3\)"):
        gn.mm(m, m)  # right dims, wrong sizes: matmul's own message


def test_einsum_bad_input_names_einsum():
    with pytest.raises(ValueError, match="einsum.*2 operands"):
        gn.einsum("ij,jk->ik", gn.tensor(A))
    with pytest.raises(ValueError, match="einsum.*'ijk'"):
        gn.einsum("ijk->i", gn.tensor(A))


def test_topk_k_out_of_range():
    with pytest.raises(RuntimeError, match="topk.*k \\(5\\)"):
        gn.tensor(A).topk(5)


# -- one_hot -----------------------------------------------------------------------------------


def test_one_hot_matches_pytorch():
    labels = np.array([[0, 3], [2, 1]])
    same(F.one_hot(gn.tensor(labels)), torch.nn.functional.one_hot(torch.tensor(labels)))
    same(F.one_hot(gn.tensor(labels), num_classes=6), torch.nn.functional.one_hot(torch.tensor(labels), num_classes=6))
    with pytest.raises(RuntimeError, match="one_hot.*class 3.*num_classes=3"):
        F.one_hot(gn.tensor(labels), 3)
    with pytest.raises(RuntimeError, match="one_hot.*-1"):
        F.one_hot(gn.tensor([-1, 0]), 3)
    with pytest.raises(TypeError, match="one_hot.*integer"):
        F.one_hot(gn.tensor([0.0, 1.0]))


# -- what is exported, and float32 stays float32 ---------------------------------------------

FUNCTIONS = """sin cos exp log log1p sqrt rsqrt abs sign pow clamp clip sigmoid tanh relu softmax log_softmax erf
sum mean std var prod norm logsumexp cumsum max min maximum minimum amax amin argmax argmin topk sort argsort
eq ne lt le gt ge isnan isinf isfinite allclose equal matmul mm bmm einsum where cat concat stack split chunk
unbind flatten tril triu gather masked_fill squeeze unsqueeze transpose permute reshape add sub mul div neg
square floor ceil round trunc""".split()
METHODS = [f for f in FUNCTIONS if f not in ("einsum", "cat", "concat", "stack")]


def test_functions_and_methods_exist_as_in_pytorch():
    for name in FUNCTIONS:
        assert callable(getattr(gn, name)) and hasattr(torch, name), name
    for name in METHODS:
        assert callable(getattr(gn.Tensor, name)) and hasattr(torch.Tensor, name), name


FLOAT32 = {
    "sin": lambda x: x.sin(), "erf": lambda x: x.erf(), "rsqrt": lambda x: x.rsqrt(), "log1p": lambda x: x.log1p(),
    "var": lambda x: x.var(1), "std": lambda x: x.std(), "norm": lambda x: x.norm(), "norm3": lambda x: x.norm(3, 0),
    "prod": lambda x: x.prod(1), "logsumexp": lambda x: x.logsumexp(1), "cumsum": lambda x: x.cumsum(0),
    "max_dim": lambda x: x.max(1).values, "amin": lambda x: x.amin(0), "maximum": lambda x: x.maximum(x.T.T * 0.5),
    "sort": lambda x: x.sort().values, "topk": lambda x: x.topk(2).values, "gather": lambda x: x.gather(1, gn.tensor([[0], [1], [2]])),
    "einsum": lambda x: gn.einsum("ij,kj->ik", x, x), "split": lambda x: x.split(1)[1], "unbind": lambda x: x.unbind(1)[0],
    "tril": lambda x: x.tril(), "clamp_tensor": lambda x: x.clamp(x * 0.5, x * 2 + 1), "div_floor": lambda x: x.div(0.3, rounding_mode="floor"),
}


@pytest.mark.parametrize("name", list(FLOAT32))
def test_new_ops_keep_float32(name):
    x = gn.tensor(np.abs(A) + 0.5, requires_grad=True)
    out = FLOAT32[name](x)
    assert out.dtype == np.float32
    out.sum().backward()
    assert x.grad.dtype == np.float32


def test_out_writes_the_result_into_the_given_tensor_as_pytorch():
    a = gn.tensor([[1.0, 2.0], [3.0, 4.0]])
    out = gn.zeros(2, 2)
    result = gn.matmul(a, a.T, out=out)
    expected = torch.matmul(torch.tensor(a.numpy()), torch.tensor(a.numpy()).T)
    assert result is out
    np.testing.assert_allclose(out.numpy(), expected.numpy())
    gn.mul(a, 2.0, out=out)
    np.testing.assert_array_equal(out.numpy(), [[2.0, 4.0], [6.0, 8.0]])
    with pytest.raises(RuntimeError, match=r"mul\(out=...\): out has shape \(3,\)"):
        gn.mul(a, 2.0, out=gn.zeros(3))
    with pytest.raises(RuntimeError, match="don't support automatic differentiation"):
        gn.mul(gn.tensor([1.0], requires_grad=True), 2.0, out=gn.zeros(1))


@pytest.mark.parametrize("name", ["logical_not", "logical_and", "logical_or", "logical_xor",
                                  "bitwise_not", "bitwise_and", "bitwise_or", "bitwise_xor"])
@pytest.mark.parametrize("dtype", ["bool", "int64"])
def test_logic_and_bitwise_match_pytorch(name, dtype):
    a, b = np.array([0, 1, 1, 3]).astype(dtype), np.array([1, 1, 0, 2]).astype(dtype)
    unary = name.endswith("not")
    ours = getattr(gn, name)(gn.tensor(a), *(() if unary else (gn.tensor(b),)))
    theirs = getattr(torch, name)(torch.tensor(a), *(() if unary else (torch.tensor(b),)))
    assert str(ours.dtype) == str(theirs.dtype).removeprefix("torch.")
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_operators_all_any_and_abs_match_pytorch():
    mask, other = [True, False, True, False], [True, True, False, False]
    m, o = gn.tensor(mask), gn.tensor(other)
    tm, to = torch.tensor(mask), torch.tensor(other)
    for ours, theirs in [(~m, ~tm), (m & o, tm & to), (m | o, tm | to), (m ^ o, tm ^ to), (m & True, tm & True),
                         (gn.tensor([6, 3]) & 2, torch.tensor([6, 3]) & 2)]:
        assert ours.tolist() == theirs.tolist()
    x = np.array([[1.0, 0.0], [2.0, 3.0]], dtype=np.float32)
    for dim in (None, 0, 1):
        kwargs = {} if dim is None else {"dim": dim}
        assert gn.tensor(x).all(**kwargs).tolist() == torch.tensor(x).all(**kwargs).tolist()
        assert gn.tensor(x).any(**kwargs).tolist() == torch.tensor(x).any(**kwargs).tolist()
    assert abs(gn.tensor([-1.5, 2.0])).tolist() == [1.5, 2.0]
    with pytest.raises(TypeError, match="bitwise operators take bool or integer tensors"):
        gn.tensor([1.0]) & gn.tensor([1.0])


def test_flip_is_a_copy_as_in_pytorch():
    x = gn.tensor([1.0, 2.0, 3.0])
    flipped = x.flip(0)
    flipped[0] = 10.0
    assert x.tolist() == [1.0, 2.0, 3.0] and flipped.tolist() == [10.0, 2.0, 1.0]
