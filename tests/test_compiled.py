"""The compiled kernels (glassnet.compiled, numba) against the NumPy code they stand beside.

Each op runs twice on the same float32 data, once on the compiled path and once with
the kernels switched off (NumPy's passes, as with ``GLASSNET_COMPILED=0``), and the
outputs and gradients must agree to float32 rounding. The first run must really have
used a compiled kernel (a spy counts). The scalar functions the kernels are made of are
checked against float64 here too.
"""
import math

import numpy as np
import pytest

import glassnet as gn
from glassnet import compiled

TOLERANCE = dict(rtol=2e-5, atol=2e-6)


@pytest.fixture
def spy(monkeypatch):
    """The names of the compiled kernels the ops fetched (ops call ``compiled.load()``
    once per kernel use, after ``compiled.fits`` said yes)."""
    names = []
    load = compiled.load

    class Recording:
        def __getattr__(self, name):
            names.append(name)
            return getattr(load(), name)
    monkeypatch.setattr(compiled, "load", Recording)
    return names


def use_compiled(monkeypatch, on):
    """Switch the kernels on or off until the test ends (as ``compiled.set_enabled``)."""
    monkeypatch.setattr(compiled, "_switched_on", on)


def both_paths(monkeypatch, spy, compute):
    """compute() on the compiled path, then on NumPy's; the arrays of each."""
    use_compiled(monkeypatch, True)
    fast = compute()
    assert spy, "the compiled path did not run"
    spy.clear()
    use_compiled(monkeypatch, False)
    plain = compute()
    assert not spy, "with the kernels off, a compiled kernel still ran"
    return fast, plain


def assert_same(fast, plain, atol=TOLERANCE["atol"]):
    """Equal to float32 rounding: relative to each element, and absolutely relative to the
    array's largest value (a gradient summed over many steps carries rounding of that size)."""
    for i, (a, b) in enumerate(zip(fast, plain)):
        assert a.dtype == b.dtype == np.float32 and a.shape == b.shape, f"array {i}"
        scale = max(1.0, float(np.abs(b).max()))
        np.testing.assert_allclose(a, b, rtol=TOLERANCE["rtol"], atol=atol * scale, err_msg=f"array {i}")


# F(4x4, 3x3)'s transforms multiply by up to 8 and 1/24: its rounding, relative to the
# output's largest value, is about 5e-6 where the direct sum's and F(2x2, 3x3)'s stay below
# TOLERANCE's 2e-6 (bench/RESULTS.md, issue 11)
WINOGRAD4_ATOL = 1e-5


def _summed_to(x, shape):
    """x summed over the axes where ``shape`` (a broadcast input's) has 1."""
    return x.sum(axis=tuple(i for i, n in enumerate(shape) if n == 1), keepdims=True)


def attention_magnitudes(query, key, value, mask, upstream, scale):
    """For the attention's output and its three gradients, the same sums over the absolute
    values of their terms (float64), with each weight w widened by how far rounding its
    score can move it: w (|s| + sum(w |s|)), |s| the score's own magnitude. Rounding moves
    each result by at most a small multiple of float32's epsilon times this, and where the
    scores are large (a saturated softmax) that can be far above the result itself: a
    gradient w * (g - sum(g w)) with w near 1 is a difference of near-equal numbers. A
    bound float32 cannot beat, where a relative tolerance would ask for digits that
    neither path has."""
    q, k, v, g = (a.astype(np.float64) for a in (query, key, value, upstream))
    scores = q @ np.swapaxes(k, -1, -2) * scale + (0 if mask is None else mask)
    with np.errstate(invalid="ignore"):
        w = np.nan_to_num(np.exp(scores - scores.max(axis=-1, keepdims=True)))
    w /= np.maximum(w.sum(axis=-1, keepdims=True), 1e-300)
    size = np.abs(q) @ np.abs(np.swapaxes(k, -1, -2)) * scale + (0 if mask is None else np.abs(np.where(
        np.isneginf(mask), 0, mask)))
    w = w + w * (size + (w * size).sum(axis=-1, keepdims=True))
    out = w @ np.abs(v)
    terms = w * (np.abs(g) @ np.abs(np.swapaxes(v, -1, -2)) + (np.abs(g) * out).sum(axis=-1, keepdims=True))
    return [out, terms @ np.abs(k) * scale, _summed_to(np.swapaxes(terms, -1, -2) @ np.abs(q) * scale, key.shape),
            _summed_to(np.swapaxes(w, -1, -2) @ np.abs(g), value.shape)]


def assert_within_rounding(fast, exact, magnitudes):
    """Each element of each result within 64 float32 epsilons of its magnitude (above) of
    the exact (float64) value, and no NaN: a wrong formula is off by the values themselves."""
    for i, (a, c, m) in enumerate(zip(fast, exact, magnitudes)):
        assert a.dtype == np.float32 and a.shape == c.shape, f"array {i}"
        # and the softmax's cut: weights below e^-64 of their row's largest are 0 (SOFTMAX_CUT)
        error, allowed = np.abs(a - c), 64 * np.finfo(np.float32).eps * m + 1e-12 * m.max()
        assert (error <= allowed).all(), f"array {i}: off by {error.max()}, {(error / allowed).max():.2f} times what rounding allows"


def test_the_environment_switches_the_kernels_off_at_import():
    """``GLASSNET_COMPILED=0`` is read when glassnet is imported; ``set_enabled`` switches
    at run time."""
    import os
    import subprocess
    import sys
    code = ("import glassnet.compiled as c; off = c.enabled(); c.set_enabled(True); "
            "print(off, c.enabled())")
    result = subprocess.run([sys.executable, "-c", code], env={**os.environ, "GLASSNET_COMPILED": "0"},
                            capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "True"]


@pytest.mark.parametrize("value", ["0", 0, None])
def test_set_enabled_refuses_what_is_not_a_bool(value):
    """``set_enabled("0")`` would switch the kernels on if taken for its truth: refused,
    and the setting left as it was."""
    before = compiled.enabled()
    with pytest.raises(TypeError, match="set_enabled: on must be True or False"):
        compiled.set_enabled(value)
    assert compiled.enabled() == before


def test_numba_is_installed_where_the_tests_run():
    """make test installs the ``fast`` extra: without numba, this file would only compare
    NumPy with itself."""
    assert compiled.enabled()


# -- the scalar functions ----------------------------------------------------------------------


def _mapped(name):
    """A compiled loop applying kernels.<name> to every element of a float32 array."""
    kernels = compiled.load()
    function = getattr(kernels, name)

    @kernels.numba.njit
    def apply(x, out):
        for k in range(x.size):
            out[k] = function(x[k])

    def run(x):
        out = np.empty_like(x)
        apply(x, out)
        return out
    return run


def test_exp_is_float32_rounding_of_the_true_value_over_its_whole_range():
    x = np.concatenate([np.linspace(-110, 89, 200_001), [0.0, -0.0, 1e-30, -1e-30]]).astype(np.float32)
    got, want = _mapped("exp")(x), np.exp(x.astype(np.float64))
    normal = (want > np.finfo(np.float32).tiny) & (want < np.finfo(np.float32).max)
    assert np.max(np.abs(got[normal] / want[normal] - 1)) < 3e-7
    # below the normal range float32 keeps fewer digits: the error is a few of its smallest steps
    subnormal = (want > 0) & ~normal & (want < 1)
    assert np.max(np.abs(got[subnormal] - want[subnormal])) <= 4 * 1.5e-45
    assert (got[x < -104] == 0).all() and np.isposinf(got[x > 88.73]).all()
    special = _mapped("exp")(np.array([np.nan, np.inf, -np.inf], np.float32))
    assert np.isnan(special[0]) and special[1] == np.inf and special[2] == 0


@pytest.mark.parametrize("name, exact", [("tanh", np.tanh), ("sigmoid", lambda x: 1 / (1 + np.exp(-x)))])
def test_activations_keep_their_digits_near_zero_and_saturate_cleanly(name, exact):
    x = np.concatenate([np.linspace(-120, 120, 100_001), np.geomspace(1e-30, 1, 1001)]).astype(np.float32)
    x = np.concatenate([x, -x])
    with np.errstate(over="ignore"):
        want = exact(x.astype(np.float64))
    got = _mapped(name)(x)
    relative = np.abs(got - want) / np.maximum(np.abs(want), np.finfo(np.float32).tiny)
    assert relative.max() < 5e-7, f"at x = {x[relative.argmax()]}"
    special = _mapped(name)(np.array([np.nan, np.inf, -np.inf], np.float32))
    assert np.isnan(special[0]) and special[1] == 1 and special[2] == (-1 if name == "tanh" else 0)


# -- the ops: compiled against NumPy -------------------------------------------------------------


def _data(*shape, scale=3.0, seed=0):
    x = (scale * np.random.default_rng(seed).standard_normal(shape)).astype(np.float32)
    x.reshape(-1)[:8] = [-60, -12, -0.0, 0, 1e-6, 12, 60, -1e-6]  # the tails and the middle
    return x


@pytest.mark.parametrize("activation", ["gelu", "sigmoid", "tanh", "relu"])
def test_activation_and_its_gradient_match_numpys(monkeypatch, spy, activation):
    x, upstream = _data(37, 129), _data(37, 129, seed=1)

    def compute():
        t = gn.tensor(x, requires_grad=True)
        y = getattr(gn.nn.functional, activation)(t)
        (y * gn.tensor(upstream)).sum().backward()
        return [y.numpy(), t.grad.numpy()]
    assert_same(*both_paths(monkeypatch, spy, compute))


def test_relu_is_numpys_to_the_last_bit(monkeypatch, spy):
    """max(x, 0) and its masked gradient, NaN, infinities and signed zeros included: the
    select of the kernel gives what NumPy's maximum and bool product give, bit for bit."""
    x = np.array([np.nan, -np.inf, np.inf, -0.0, 0.0, -1e-45, 1e-45, -2.5, 3.5] * 3, np.float32)
    upstream = np.roll(np.array([1, 2, np.nan, np.inf, -1, 5, -0.0, np.nan, -np.inf] * 3, np.float32), 4)

    def compute():
        t = gn.tensor(x, requires_grad=True)
        y = t.relu()
        with np.errstate(invalid="ignore"):  # NumPy says so of inf * 0
            y.backward(gn.tensor(upstream))
        return [y.numpy(), t.grad.numpy()]
    for fast, plain in zip(*both_paths(monkeypatch, spy, compute)):
        assert fast.tobytes() == plain.tobytes()


def test_large_sums_on_the_pool_are_numpys_to_the_last_bit(monkeypatch, spy, split_threads):
    """A residual sum past SPLIT_ADD_BYTES, and a gradient summed into in place, go to the
    pool's ADD job in uneven blocks: NaN, infinities, signed zeros and subnormals as
    NumPy's add gives them, with the kernels on and off."""
    from glassnet import threads
    if not compiled.enabled() or threads._pool_kernels is None:
        pytest.skip("the pool needs numba, x86-64 Linux and OpenBLAS's pthreads build (0.3.27 on)")
    split_threads()
    x, y, upstream = _data(40, 90, 33), _data(40, 90, 33, seed=1), _data(40, 90, 33, seed=2)  # 475 KB each
    x.reshape(-1)[8:16] = [np.nan, np.inf, -np.inf, -0.0, 0.0, np.inf, 1e-45, -1e-45]
    y.reshape(-1)[8:16] = [1.0, -np.inf, -np.inf, -0.0, -0.0, np.nan, -1e-45, 1e-45]

    def compute():
        a, b = gn.tensor(x, requires_grad=True), gn.tensor(y, requires_grad=True)
        with np.errstate(invalid="ignore"):  # NumPy says so of inf - inf
            h = a * 1.0
            out = h + b  # the ADD job; in backward h's two gradients, the second added in place
            (out * h).backward(gn.tensor(upstream))
        jobs.append(spy.count("ADD"))
        return [out.numpy(), a.grad.numpy(), b.grad.numpy()]
    jobs = []
    fast, plain = both_paths(monkeypatch, spy, compute)
    assert jobs == [2, 0]
    for a, b in zip(fast, plain):
        assert a.tobytes() == b.tobytes()


@pytest.mark.parametrize("split", [False, True], ids=["whole", "rows over threads"])
def test_linear_adds_its_bias_as_numpy_does(monkeypatch, spy, split_threads, split):
    """The bias added to every row of the product, to the last bit, in blocks of rows
    (after OpenBLAS's product: the pool's compiled product, which sums the bias in, kept out)."""
    from glassnet.ops import matmul
    monkeypatch.setattr(matmul, "POOL_MIN_WORK", 2 ** 62)
    if split:
        split_threads()
    x, weight, bias = _data(40, 90, 33), _data(19, 33, seed=1), _data(19, seed=2)  # 68,400 values: compiled

    def compute():
        leaves = [gn.tensor(a, requires_grad=True) for a in (x, weight, bias)]
        out = gn.nn.functional.linear(*leaves)
        out.backward(gn.tensor(np.ones(out.shape, np.float32)))
        return [out.numpy()] + [t.grad.numpy() for t in leaves]
    for fast, plain in zip(*both_paths(monkeypatch, spy, compute)):
        assert fast.tobytes() == plain.tobytes()


def test_gelu_splits_over_threads_like_numpys(monkeypatch, spy, split_threads):
    """Large arrays run in one block per thread; every block goes through the kernel."""
    split_threads()
    test_activation_and_its_gradient_match_numpys(monkeypatch, spy, "gelu")


def test_float64_and_scattered_arrays_take_numpys_path(monkeypatch, spy):
    use_compiled(monkeypatch, True)
    x = _data(16, 32)
    gn.tensor(x.astype(np.float64)).sigmoid()
    gn.tensor(x[:, ::2]).tanh()  # a strided view: its own contiguous copy is not what the kernel writes
    assert not compiled.fits(x.astype(np.float64)) and not compiled.fits(x[:, ::2]) and compiled.fits(x)
    use_compiled(monkeypatch, False)
    assert not compiled.fits(x)


@pytest.mark.parametrize("activation", ["gelu", "sigmoid", "tanh", "relu"])
def test_activations_of_batch_last_memory_take_the_kernels(monkeypatch, spy, split_threads, activation):
    """A convolution hands on (N, C, H, W) views of (C, H, W, N) memory: not C-contiguous,
    but dense, so the element-wise kernels run over its memory in order, in blocks."""
    split_threads()
    x = _data(4, 3, 5, 6).transpose(3, 0, 1, 2)  # (N, C, H, W) = (6, 4, 3, 5), batch-last
    upstream = np.ascontiguousarray(_data(6, 4, 3, 5, seed=1).transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)
    assert compiled.fits_flat(x) and not compiled.fits(x) and not compiled.fits_flat(x, x[:, :, :, ::-1])

    def compute():
        t = gn.tensor(x, requires_grad=True)
        y = getattr(gn.nn.functional, activation)(t)
        (y * gn.tensor(upstream)).sum().backward()
        assert y.numpy().transpose(1, 2, 3, 0).flags.c_contiguous  # the layout is kept
        return [y.numpy(), t.grad.numpy()]
    assert_same(*both_paths(monkeypatch, spy, compute))


def _recurrence_on_both_paths(monkeypatch, spy, layer, input_grad=True, **options):
    """A bidirectional recurrence (``layer``: "LSTM", "GRU", "RNN" or "RNN relu") over 40
    sequences of 9 steps, forward and backward, compiled and with NumPy: its output, the
    input's gradient (where it asks for one), the final states and every parameter's
    gradient compared; the names of the kernels the compiled run fetched."""
    gn.seed(0)
    layer, *relu = layer.split()
    recurrent = getattr(gn.nn, layer)(20, 32, bidirectional=True, **options, **({"nonlinearity": "relu"} if relu else {}))
    x, upstream = _data(9, 40, 20, scale=1.0), _data(9, 40, 64, seed=1)
    kernels = []

    def compute():
        recurrent.zero_grad()
        inputs = gn.tensor(x, requires_grad=input_grad)
        out, state = recurrent(inputs)
        states = state if layer == "LSTM" else (state,)
        ((out * gn.tensor(upstream)).sum() + sum((k + 1) * s.sum() for k, s in enumerate(states))).backward()
        assert (inputs.grad is not None) == input_grad
        kernels.append({name.lower() for name in spy})
        return ([out.numpy()] + ([inputs.grad.numpy()] if input_grad else []) + [s.numpy() for s in states]
                + [p.grad.numpy() for p in recurrent.parameters()])
    assert_same(*both_paths(monkeypatch, spy, compute))
    return kernels[0]


@pytest.mark.parametrize("split", [False, True], ids=["whole batch", "rows over threads"])
@pytest.mark.parametrize("layer", ["LSTM", "GRU", "RNN", "RNN relu"])
def test_recurrence_matches_numpys_forward_and_backward(monkeypatch, spy, split_threads, layer, split):
    if split:  # every thread runs the recurrence over its own rows of the batch
        split_threads()
    kernels = _recurrence_on_both_paths(monkeypatch, spy, layer)
    # the whole loop over time ran compiled, forward and backward (the cells inside it),
    # called as it is or as the pool's job of the same name (LSTM_STEPS)
    name = layer.split()[0].lower()
    assert {f"{name}_steps", f"{name}_steps_backward"} <= kernels


@pytest.mark.parametrize("input_grad", [True, False])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("layer", ["LSTM", "GRU", "RNN", "RNN relu"])
def test_recurrent_backward_adds_the_weights_gradients_step_by_step(monkeypatch, spy, split_threads, layer, bias,
                                                                    input_grad):
    """A recurrence's compiled backward loop takes x's gradient and adds each step's share
    of the weights' as it goes (kernels.add_step_grads), each block of rows its own sums,
    the blocks' sums added after: NumPy's values for two layers (the second's input of 64
    columns, past the narrow product's 32), with and without biases; an input that needs
    no gradient gets none."""
    split_threads()
    kernels = _recurrence_on_both_paths(monkeypatch, spy, layer, input_grad, num_layers=2, bias=bias)
    assert f"{layer.split()[0].lower()}_steps_backward" in kernels


@pytest.mark.parametrize("start_from", ["zero", "out", "bias"])
@pytest.mark.parametrize("m, k, n", [(1, 1, 1), (6, 33, 70), (64, 128, 512), (9, 512, 128)])
def test_multiply_rows_is_a_matrix_product(m, k, n, start_from):
    """kernels.multiply_rows, the recurrences' product, against NumPy's in float64: rows
    short of a group of four, columns short of a block of 64, and a's rows inside a larger
    array (as a block of a batch is); the sums start from zero, from out (``accumulate``)
    or from a bias. Only out's own rows and columns are written."""
    kernels, rng = compiled.load(), np.random.default_rng(0)
    a = rng.standard_normal((3, m + 2, k), dtype=np.float32)[1, 1:m + 1]
    b = rng.standard_normal((k, n), dtype=np.float32)
    out = np.full((m + 1, n + 5), np.nan, np.float32)
    out[:m, :n] = start = rng.standard_normal((m, n), dtype=np.float32) if start_from == "out" else 0
    if start_from == "bias":
        start = rng.standard_normal(n + 3, dtype=np.float32)[2:-1]  # a view inside a larger array
        kernels.multiply_rows(a, b, out[:m, :n], False, start)
    else:
        kernels.multiply_rows(a, b, out[:m, :n], start_from == "out")
    expected = start + a.astype(np.float64) @ b
    np.testing.assert_allclose(out[:m, :n], expected, rtol=1e-5, atol=1e-5 * np.sqrt(k))
    assert np.isnan(out[m:]).all() and np.isnan(out[:, n:]).all()


@pytest.mark.parametrize("with_bias", [True, False])
@pytest.mark.parametrize("m, k, n", [(1, 1, 1), (7, 33, 70), (130, 128, 512), (9, 512, 128), (5, 3, 64), (6, 601, 99)])
def test_linear_rows_is_a_linear_layer(m, k, n, with_bias):
    """kernels.linear_rows, Linear's compiled product: x W^T + b from the weight as the
    layer keeps it (N, K), against float64: rows short of four, a last block of fewer
    than 64 of W's rows, out's rows inside a larger array, and a long K (the panel of
    601 x 64)."""
    kernels, rng = compiled.load(), np.random.default_rng(1)
    x, weight = rng.standard_normal((m, k), dtype=np.float32), rng.standard_normal((n, k), dtype=np.float32)
    bias = rng.standard_normal(n, dtype=np.float32) if with_bias else None
    out = np.full((m + 2, n + 3), np.nan, np.float32)
    kernels.linear_rows(x, weight, bias, out[1:m + 1, :n])
    expected = x.astype(np.float64) @ weight.T.astype(np.float64) + (bias if with_bias else 0)
    np.testing.assert_allclose(out[1:m + 1, :n], expected, rtol=1e-5, atol=1e-5 * np.sqrt(k))
    assert np.isnan(out[[0, m + 1]]).all() and np.isnan(out[:, n:]).all()


def _linear_and_grads(x, weight, bias, upstream):
    """Linear's output and the gradients of x, the weight and the bias (if given) for ``upstream``."""
    t, w = gn.tensor(x, requires_grad=True), gn.tensor(weight, requires_grad=True)
    b = None if bias is None else gn.tensor(bias, requires_grad=True)
    y = gn.nn.functional.linear(t, w, b)
    y.backward(gn.tensor(upstream))
    return [y.numpy(), t.grad.numpy(), w.grad.numpy()] + ([] if b is None else [b.grad.numpy()])


@pytest.mark.parametrize("threads", [1, 3])
@pytest.mark.parametrize("with_bias", [True, False])
def test_linear_products_take_the_kernels_above_their_threshold(monkeypatch, spy, threads, with_bias):
    """Linear's forward (kernels.linear_rows) and its input's gradient (multiply_rows) run
    compiled for products of at least ops.matmul.COMPILED_MIN_WORK multiply-adds, of at
    least COMPILED_MIN_ROWS rows and a weight of at most COMPILED_MAX_WEIGHT floats, split
    into blocks of rows, and give NumPy's results; one short of any, NumPy's product runs."""
    from glassnet.ops import matmul
    x, weight, bias, upstream = _data(3, 41, 24), _data(70, 24, seed=1), _data(70, seed=2), _data(3, 41, 70, seed=3)
    limits = {"COMPILED_MIN_WORK": x.size * len(weight), "COMPILED_MIN_ROWS": 3 * 41, "COMPILED_MAX_WEIGHT": weight.size}
    for name, value in limits.items():  # exactly this product's
        monkeypatch.setattr(matmul, name, value)

    def compute():
        return _linear_and_grads(x, weight, bias if with_bias else None, upstream)
    previous = gn.get_num_threads()
    gn.set_num_threads(threads)
    try:
        fast, plain = both_paths(monkeypatch, spy, compute)
        assert_same(fast, plain)
        use_compiled(monkeypatch, True)
        compute()
        assert {"linear_rows", "multiply_rows"} <= set(spy)
        for name, short in (("COMPILED_MIN_WORK", 1), ("COMPILED_MIN_ROWS", 1), ("COMPILED_MAX_WEIGHT", -1)):
            spy.clear()
            monkeypatch.setattr(matmul, name, limits[name] + short)  # one short of this limit alone
            compute()
            assert not {"linear_rows", "multiply_rows"} & set(spy), name
            monkeypatch.setattr(matmul, name, limits[name])
    finally:
        gn.set_num_threads(previous)


@pytest.mark.parametrize("with_bias", [True, False])
def test_linear_products_run_on_the_pools_helpers(monkeypatch, spy, split_threads, with_bias):
    """Where the pool's helpers run, Linear's forward (kernels.linear_rows) and its input's
    gradient (multiply_rows) go to them as jobs of rows (rows_job: LINEAR_BIAS or LINEAR,
    PRODUCT) from ops.matmul.POOL_MIN_WORK multiply-adds and COMPILED_MIN_ROWS rows, far
    below the executor's COMPILED_MIN_WORK, split in uneven blocks, with NumPy's results
    and a weight's gradient untouched; one row short, not as jobs of rows."""
    from glassnet import threads
    from glassnet.ops import matmul
    if not compiled.enabled() or threads._pool_kernels is None:  # enabled() loads the kernels, which start the pool
        pytest.skip("the pool needs numba, x86-64 Linux and OpenBLAS's pthreads build (0.3.27 on)")
    split_threads()
    x, weight, bias, upstream = _data(5, 41, 24), _data(70, 24, seed=1), _data(70, seed=2), _data(5, 41, 70, seed=3)
    monkeypatch.setattr(matmul, "POOL_MIN_WORK", x.size * len(weight))
    monkeypatch.setattr(matmul, "COMPILED_MIN_ROWS", 5 * 41)

    def compute():
        return _linear_and_grads(x, weight, bias if with_bias else None, upstream)
    assert_same(*both_paths(monkeypatch, spy, compute))
    use_compiled(monkeypatch, True)
    spy.clear()
    compute()
    assert {"LINEAR_BIAS" if with_bias else "LINEAR", "PRODUCT"} <= set(spy)
    monkeypatch.setattr(matmul, "COMPILED_MIN_ROWS", 5 * 41 + 1)
    spy.clear()
    compute()
    assert not {"LINEAR_BIAS", "LINEAR", "PRODUCT", "LINEAR_COLUMNS"} & set(spy)  # 70 columns: too few for three blocks


@pytest.mark.parametrize("with_bias", [True, False])
def test_linear_forward_of_few_rows_runs_in_blocks_of_columns(monkeypatch, spy, split_threads, with_bias):
    """Below COMPILED_MIN_ROWS rows (an mlp's batch), Linear's forward goes to the pool's
    helpers as jobs of the output's columns (rows_job: LINEAR_COLUMNS, each helper's part
    of the weight transposed by itself) from ops.matmul.COLUMNS_MIN_WORK multiply-adds,
    where each block has COLUMNS_MIN_WIDTH columns: uneven blocks, NumPy's results and
    gradients. A column fewer than three blocks need, NumPy's product runs."""
    from glassnet import threads
    from glassnet.ops import matmul
    if not compiled.enabled() or threads._pool_kernels is None:
        pytest.skip("the pool needs numba, x86-64 Linux and OpenBLAS's pthreads build (0.3.27 on)")
    split_threads()  # three blocks
    for columns, expected in ((3 * matmul.COLUMNS_MIN_WIDTH + 4, True), (3 * matmul.COLUMNS_MIN_WIDTH - 1, False)):
        x, weight, bias = _data(7, 45, seed=columns), _data(columns, 45, seed=1), _data(columns, seed=2)
        upstream = _data(7, columns, seed=3)
        monkeypatch.setattr(matmul, "COLUMNS_MIN_WORK", x.size * columns)

        def compute():
            return _linear_and_grads(x, weight, bias if with_bias else None, upstream)
        if expected:
            assert_same(*both_paths(monkeypatch, spy, compute))
        use_compiled(monkeypatch, True)
        spy.clear()
        compute()
        assert ("LINEAR_COLUMNS" in spy) == expected, columns
        if expected:
            monkeypatch.setattr(matmul, "COLUMNS_MIN_WORK", x.size * columns + 1)  # one multiply-add short
            spy.clear()
            compute()
            assert "LINEAR_COLUMNS" not in spy


@pytest.mark.parametrize("layer", ["LSTM", "GRU"])
def test_recurrent_input_projections_take_linears_compiled_product(monkeypatch, spy, layer):
    """The input projection of a recurrent layer (every step's x_t W_ih^T at once) goes
    through Linear's choice: compiled at its limits (here this projection's own), with
    NumPy's results for the output and every gradient."""
    from glassnet.ops import matmul
    rng = np.random.default_rng(0)
    x, upstream = rng.standard_normal((7, 20, 5)).astype(np.float32), rng.standard_normal((7, 20, 6)).astype(np.float32)
    monkeypatch.setattr(matmul, "COMPILED_MIN_WORK", 7 * 20 * 5 * 6 * (4 if layer == "LSTM" else 3))
    monkeypatch.setattr(matmul, "COMPILED_MIN_ROWS", 7 * 20)

    def compute():
        gn.seed(0)
        recurrent, inputs = getattr(gn.nn, layer)(5, 6), gn.tensor(x, requires_grad=True)
        recurrent(inputs)[0].backward(gn.tensor(upstream))
        took.append("linear_rows" in spy)
        return [inputs.grad.numpy()] + [p.grad.numpy() for p in recurrent.parameters()]
    took = []
    assert_same(*both_paths(monkeypatch, spy, compute))
    assert took == [True, False]


@pytest.mark.parametrize("count", [-3, 0, 1, 7, 16, 40])
def test_lanes_read_and_write_only_the_lanes_before_count(count):
    """kernels.load_lanes and store_lanes, the convolution's vector loads and stores: lanes
    from ``count`` on load as zero and are neither read nor written. Run at an array's
    last float, where reading them would step past its end; the floats after the target
    keep their NaN."""
    from numba import njit
    kernels = compiled.load()
    fma = njit(lambda x, weight, out, count: kernels.store_lanes(out, 0, kernels.multiply_add(
        kernels.splat(np.float32(1)), weight, kernels.load_lanes(x, x.size - min(max(count, 1), 16), count)), count))
    x = _data(50)
    out = np.full(kernels.LANES + 4, np.nan, np.float32)
    fma(x, np.float32(2), out, count)
    taken = min(max(count, 0), kernels.LANES)
    np.testing.assert_array_equal(out[:taken], 1 + 2 * x[x.size - min(max(count, 1), 16):][:taken])
    assert np.isnan(out[taken:]).all()


@pytest.mark.parametrize("mask", ["none", "causal", "one row for all", "per batch"])
@pytest.mark.parametrize("split", [False, True], ids=["whole", "rows over threads"])
def test_attention_softmax_matches_numpys(monkeypatch, spy, split_threads, mask, split):
    """Masked rows, a row that may attend nowhere (zeros, not NaN), a 4-D mask (NumPy adds
    it, the kernel normalizes), and the batch in blocks on three threads."""
    if split:
        split_threads()
    query, key, value = _data(2, 3, 5, 4, scale=1.0), _data(2, 3, 6, 4, scale=1.0, seed=1), _data(2, 3, 6, 4, seed=2)
    masks = {"none": None, "causal": np.triu(np.full((5, 6), -np.inf, np.float32), 1),
             "one row for all": np.where(np.arange(6) == 2, -np.inf, 0).astype(np.float32)[None],
             "per batch": np.where(np.arange(6) < 2 * np.arange(2)[:, None, None, None], -np.inf, 0).astype(np.float32)}
    additive = masks[mask]
    if mask == "causal":
        additive[3] = -np.inf  # query 3 may attend nowhere
    upstream = _data(2, 3, 5, 4, seed=3)

    def compute(dtype=np.float32):
        tensors = [gn.tensor(a.astype(dtype), requires_grad=True) for a in (query, key, value)]
        out = gn.ops.Attention.apply(*tensors, mask=None if additive is None else additive.astype(dtype), scale=0.5)
        (out * gn.tensor(upstream.astype(dtype))).sum().backward()
        return [out.numpy()] + [t.grad.numpy() for t in tensors]
    fast, plain = both_paths(monkeypatch, spy, compute)
    magnitudes = attention_magnitudes(query, key, value, additive, upstream, 0.5)
    assert_within_rounding(fast, compute(np.float64), magnitudes)
    assert_within_rounding(plain, compute(np.float64), magnitudes)
    if mask == "causal":
        assert (fast[0][:, :, 3] == 0).all()


def _attention_mask(kind, length, size):
    """An additive (rows, keys) mask of each kind the head-by-head kernels take."""
    if kind == "zeros":  # every key seen
        return np.zeros((1, size), np.float32)
    if kind == "causal":
        return np.triu(np.full((length, size), -np.inf, np.float32), 1)
    if kind == "padding":  # one row for every query: the last keys hidden
        return np.where(np.arange(size) >= size - max(1, size // 3), -np.inf, 0).astype(np.float32)[None]
    mask = np.where(np.random.default_rng(5).random((length, size)) < 0.4, -np.inf, 0).astype(np.float32)
    mask[0] = -np.inf  # the first query may attend nowhere
    mask[-1, :-1] = -np.inf  # the last one sees only the last key: the groups' reach goes down and up
    mask[1, 0] = -3.0  # a finite entry: added, not a wall
    return mask


def _heads(layout, lead, rows, width, seed):
    """A (batch, [heads,] rows, width) array: C-ordered, or the view of one of q, k and v
    in a projection's rows (the three interleaved, as a transformer makes them)."""
    if layout == "C order":
        return _data(*lead, rows, width, scale=1.0, seed=seed)
    projection = _data(lead[0], rows, 3, *lead[1:], width, scale=1.0, seed=seed)
    return np.moveaxis(projection[:, :, 1], 1, -2)  # rows 3x apart


@pytest.fixture
def any_attention_compiled(monkeypatch):
    """ops.attention takes the compiled kernels for any length and mask (not only where
    they are faster), so that small cases test them."""
    monkeypatch.setattr(gn.ops.attention, "COMPILED_MIN_ROWS", 1)
    monkeypatch.setattr(gn.ops.attention, "COMPILED_MAX_SHARE", float("inf"))


@pytest.mark.parametrize("mask", ["causal", "padding", "random", "zeros"])
@pytest.mark.parametrize("batch, heads, length, size, depth, value_depth", [
    (2, 3, 5, 6, 4, 4), (1, 2, 37, 21, 40, 24), (2, 1, 130, 130, 32, 32), (3, None, 9, 18, 8, 33)],
    ids=["small", "odd sizes, E over 32", "rows past 128", "three axes"])
@pytest.mark.parametrize("layout", ["C order", "views of a projection"])
def test_attention_head_by_head_matches_numpys(monkeypatch, spy, split_threads, any_attention_compiled, mask, batch,
                                               heads, length, size, depth, value_depth, layout):
    """The compiled attention (kernels.attention_forward and attention_backward, one head
    at a time, each group of four queries only as far along the keys as it may see)
    against NumPy's path: output and the three gradients, for groups cut short by a mask
    and groups whose reach goes down again, queries that may attend nowhere (zeros), sizes
    short of a group, a lane or a block of eight, and heads that are views of one
    projection (rows of the three interleaved, as a transformer makes them), on three
    threads. Without a gradient wanted the weights are not kept; the output is the same."""
    split_threads()
    lead = (batch,) if heads is None else (batch, heads)
    query, key, value = (_heads(layout, lead, rows, width, seed)
                         for seed, (rows, width) in enumerate([(length, depth), (size, depth), (size, value_depth)]))
    additive, upstream = _attention_mask(mask, length, size), _data(*lead, length, value_depth, seed=3)

    def compute(dtype=np.float32):
        arrays, mask = [a.astype(dtype) for a in (query, key, value)], None if additive is None else additive.astype(dtype)
        tensors = [gn.tensor(a, requires_grad=True) for a in arrays]
        out = gn.ops.Attention.apply(*tensors, mask=mask, scale=0.3)
        (out * gn.tensor(upstream.astype(dtype))).sum().backward()
        if dtype == np.float32 and compiled.enabled():
            assert {"attention_forward", "attention_backward"} <= set(spy)
        with gn.no_grad():
            inferred = gn.ops.Attention.apply(*(gn.tensor(a) for a in arrays), mask=mask, scale=0.3)
        return [out.numpy(), inferred.numpy()] + [t.grad.numpy() for t in tensors]
    fast, plain = both_paths(monkeypatch, spy, compute)
    exact, magnitudes = compute(np.float64), attention_magnitudes(query, key, value, additive, upstream, 0.3)
    for results in (fast, plain):
        assert_within_rounding(results[:1] + results[2:], exact[:1] + exact[2:], magnitudes)
        assert_within_rounding(results[1:2], exact[1:2], magnitudes[:1])
    if mask == "random":
        assert (fast[0][..., 0, :] == 0).all() and (fast[2][..., 0, :] == 0).all()


@pytest.mark.parametrize("shape, kernel", [((128, 1, 28, 28), (7, 7)), ((5, 3, 21, 37), (4, 17)), ((3, 2, 9, 9), (3, 3))],
                         ids=["a vit's patches", "a run past sixteen lanes, pixels left over", "small"])
@pytest.mark.parametrize("layout", ["C order", "a view"])
@pytest.mark.parametrize("split", [False, True], ids=["as the pool splits it", "three uneven blocks"])
def test_image_tiles_match_numpys(monkeypatch, spy, split_threads, shape, kernel, layout, split):
    """ops.conv.tiles compiled (kernels.image_tiles: each run of pixels as lanes, masked
    past the run, in blocks of images on the pool, or on the executor for a view) gives
    NumPy's tiles bit for bit: the rows a tiled convolution multiplies."""
    from glassnet.ops import conv
    if split:
        split_threads()
    data = _data(*shape[:3], shape[3] + 3)
    x = data[..., 3:] if layout == "a view" else np.ascontiguousarray(data[..., 3:])
    out_size = (shape[2] // kernel[0], shape[3] // kernel[1])
    fast, plain = both_paths(monkeypatch, spy, lambda: conv.tiles(x, kernel, out_size))
    assert "image_tiles" in spy or not compiled.enabled()
    assert fast.shape == plain.shape and np.array_equal(fast, plain)


@pytest.mark.parametrize("mask", [None, "zeros", "causal", "padding", "random"])
@pytest.mark.parametrize("batch, heads, length, size, depth, value_depth", [
    (3, 4, 17, 17, 16, 16), (2, 3, 37, 21, 40, 24), (3, None, 16, 5, 8, 33), (37, 2, 3, 7, 16, 16),
    (2, 5, 2, 9, 24, 8)], ids=["a vit's heads", "odd sizes", "three axes", "many groups", "two queries"])
@pytest.mark.parametrize("layout", ["C order", "views of a projection"])
def test_attention_at_inference_with_heads_in_lanes_matches_numpys(monkeypatch, spy, split_threads, mask, batch,
                                                                   heads, length, size, depth, value_depth, layout):
    """Rows of a few keys at inference (kernels.attention_short_rows: sixteen heads in the
    lanes, a last group short of sixteen; four queries at a time, a last four short; rows
    of more than sixteen floats, or fewer, turned into lanes and back), in blocks of the
    batch on the pool, against NumPy's path and float64: masks that hide keys, a query
    that may attend nowhere (zeros), heads that are views of one projection."""
    from glassnet import threads
    if threads.pool_blocks(1) == 0:
        pytest.skip("the pool does not run here")
    split_threads()
    lead = (batch,) if heads is None else (batch, heads)
    query, key, value = (_heads(layout, lead, rows, width, seed)
                         for seed, (rows, width) in enumerate([(length, depth), (size, depth), (size, value_depth)]))
    additive = None if mask is None else _attention_mask(mask, length, size)

    def compute(dtype=np.float32):
        with gn.no_grad():
            out = gn.ops.Attention.apply(*(gn.tensor(a.astype(dtype)) for a in (query, key, value)),
                                         mask=None if additive is None else additive.astype(dtype), scale=0.3)
        if dtype == np.float32 and compiled.enabled():
            assert "run_attention_short_rows" in spy
        return [out.numpy()]
    fast, plain = both_paths(monkeypatch, spy, compute)
    exact = compute(np.float64)
    zeros = np.zeros(lead + (length, value_depth), np.float32)
    magnitudes = attention_magnitudes(query, key, value, additive, zeros, 0.3)[:1]
    assert_within_rounding(fast, exact, magnitudes)
    assert_within_rounding(plain, exact, magnitudes)
    if mask == "random":
        assert (fast[0][..., 0, :] == 0).all()


def test_attention_with_heads_in_lanes_leaves_items_too_far_apart_to_numpy():
    """The kernel finds a group's sixteen heads by int32 offsets from its first item's: an
    item 2^27 bytes or more from the next (a view; nothing is read here) goes to NumPy's path."""
    from glassnet.ops.attention import _short_rows
    near = np.zeros((2, 4, 17, 16), np.float32)
    far = np.lib.stride_tricks.as_strided(near, near.shape, (1 << 27,) + near.strides[1:])
    assert _short_rows(near, near, near, None) == (compiled.enabled() and gn.threads.pool_blocks(1) > 0)
    assert not _short_rows(far, near, near, None) and not _short_rows(near, near, far, None)


@pytest.mark.parametrize("batch, heads, length, size, depth, value_depth", [
    (8, 4, 17, 17, 16, 16), (3, 2, 37, 21, 40, 24), (2, 3, 20, 32, 16, 16)], ids=["a vit's heads", "odd sizes", "32 keys"])
def test_attention_with_heads_in_lanes_agrees_to_the_bit_with_head_by_head(batch, heads, length, size, depth, value_depth):
    """attention_short_rows makes attention_forward's products and sums in its order (each
    query's total as the lanes of _softmax_lanes hold it): the same bits, masked keys and
    a query that sees none included."""
    if not compiled.enabled():
        pytest.skip("the compiled kernels do not run here")
    kernels = compiled.load()
    query, key, value = (_data(batch, heads, rows, width, scale=1.0, seed=seed)
                         for seed, (rows, width) in enumerate([(length, depth), (size, depth), (size, value_depth)]))
    mask = _attention_mask("random", length, size)
    head_by_head, in_lanes = (np.empty((batch, heads, length, value_depth), np.float32) for _ in range(2))
    kernels.attention_forward(query, key, value, mask, np.float32(0.3), gn.ops.attention._group_widths(mask, length, size),
                              np.empty((batch, heads, length, size), np.float32), False, head_by_head)
    kernels.attention_short_rows(query, key, value, mask, np.float32(0.3), in_lanes)
    assert np.array_equal(in_lanes, head_by_head) and (in_lanes[:, :, 0] == 0).all()


def test_attention_kernels_take_a_key_shared_by_every_head(monkeypatch, spy, any_attention_compiled):
    """A key and value of one head broadcast over three (stride 0): their gradients are the
    sums over the heads, as NumPy's path gives them."""
    query, key, value = _data(2, 3, 7, 8, scale=1.0), _data(2, 1, 9, 8, scale=1.0, seed=1), _data(2, 1, 9, 8, seed=2)

    def compute(dtype=np.float32):
        tensors = [gn.tensor(a.astype(dtype), requires_grad=True) for a in (query, key, value)]
        out = gn.ops.Attention.apply(*tensors, mask=_attention_mask("causal", 7, 9).astype(dtype), scale=0.5)
        out.sum().backward()
        if dtype == np.float32 and compiled.enabled():
            assert {"attention_forward", "attention_backward"} <= set(spy)
        return [out.numpy()] + [t.grad.numpy() for t in tensors]
    fast, plain = both_paths(monkeypatch, spy, compute)
    magnitudes = attention_magnitudes(query, key, value, _attention_mask("causal", 7, 9), np.ones((2, 3, 7, 8)), 0.5)
    assert_within_rounding(fast, compute(np.float64), magnitudes)
    assert_within_rounding(plain, compute(np.float64), magnitudes)


@pytest.mark.parametrize("length, mask, compiled_path", [
    (128, "causal", True), (128, "zeros", False), (127, "causal", False), (17, "causal", False)],
    ids=["a gpt's causal rows", "every score computed", "rows short of 128", "a vision transformer's rows"])
def test_attention_takes_the_compiled_kernels_where_they_pay(spy, length, mask, compiled_path):
    """The head-by-head kernels run where a mask hides a quarter of the scores or more from
    rows of 128 or longer (COMPILED_MIN_ROWS, COMPILED_MAX_SHARE); elsewhere NumPy's
    stacked products, faster there (bench/RESULTS.md), and its softmax kernel."""
    query = gn.tensor(_data(1, 2, length, 8, scale=1.0), requires_grad=True)
    out = gn.ops.Attention.apply(query, query, query, mask=_attention_mask(mask, length, length), scale=0.3)
    out.sum().backward()
    assert ({"attention_forward", "attention_backward"} <= set(spy)) == compiled_path
    assert ("softmax_rows" in spy) != compiled_path


@pytest.mark.parametrize("m, k, n", [(1, 1, 1), (7, 5, 3), (8, 128, 32), (13, 77, 40), (9, 0, 64)])
@pytest.mark.parametrize("transposed", [False, True], ids=["rows", "a transposed view"])
def test_multiply_rows_narrow_is_a_matrix_product(m, k, n, transposed):
    """kernels.multiply_rows_narrow (eight rows by 32 columns a step) against NumPy's in
    float64: rows short of eight, columns short of or past 32, no depth at all (zeros),
    ``a`` as a transposed view (the attention's dS^T); out's neighbours untouched."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((m, k), dtype=np.float32)
    a = np.ascontiguousarray(a.T).T if transposed else a
    b = rng.standard_normal((k, n), dtype=np.float32)
    out = np.full((m + 1, n + 5), np.nan, np.float32)
    compiled.load().multiply_rows_narrow(a, b, out[:m, :n])
    np.testing.assert_allclose(out[:m, :n], a.astype(np.float64) @ b, rtol=1e-5, atol=1e-5 * np.sqrt(max(k, 1)))
    assert np.isnan(out[m:]).all() and np.isnan(out[:, n:]).all()


def test_lanes_arithmetic_matches_the_scalar_functions():
    """The lanes operations of the attention's softmax: exp_lanes gives ``exp``'s very bits
    (and 0 below its cut), load_lanes_or fills the lanes past ``count``, the sums and
    maxima over lanes are those of the sixteen values."""
    from numba import njit
    kernels = compiled.load()
    lanes_exp = njit(lambda x, out, cut: [kernels.store_lanes(out, j, kernels.exp_lanes(
        kernels.load_lanes(x, j, x.size - j), cut), x.size - j) for j in range(0, x.size, kernels.LANES)])
    scalar_exp = njit(lambda x: [kernels.exp(x[j]) for j in range(x.size)])
    x = np.concatenate([np.linspace(-110, 92, 4001, dtype=np.float32),
                        np.array([np.nan, -np.inf, np.inf, 0, -0.0, 1e-8, -87.3, -103.9], np.float32)])
    lanes_out = np.empty_like(x)
    lanes_exp(x, lanes_out, np.float32(-np.inf))
    scalar_out = np.array(scalar_exp(x), np.float32)
    np.testing.assert_array_equal(lanes_out, scalar_out)
    lanes_exp(x, lanes_out, np.float32(-64))
    assert (lanes_out[x < -64] == 0).all() and (lanes_out[x >= -64] == scalar_out[x >= -64]).all()
    reduce = njit(lambda x, count: (kernels.lanes_total(kernels.load_lanes_or(x, 0, count, np.float32(0))),
                                    kernels.lanes_largest(kernels.max_lanes(kernels.load_lanes_or(
                                        x, 0, count, np.float32(-np.inf)), kernels.add_lanes(
                                        kernels.splat(np.float32(-50)), kernels.splat(np.float32(0)))))))
    values = _data(16, scale=1.0)
    for count in (1, 5, 16):
        total, largest = reduce(values, count)
        np.testing.assert_allclose(total, values[:count].sum(dtype=np.float64), rtol=1e-6)
        assert largest == max(values[:count].max(), -50)


@pytest.mark.parametrize("masked", [False, True], ids=["unmasked", "masked"])
@pytest.mark.parametrize("rows, keys", [((0, 17), 17), ((6, 17), 17), ((0, 9), 11)],
                         ids=["every row, one loop", "later rows, a run per matrix", "first keys, a loop per row"])
def test_softmax_kernel_paths_match_numpy(masked, rows, keys):
    """Each of the kernel's three ways to take e^x (over the whole array, over each matrix's
    run of rows, row by row) gives NumPy's softmax of the block, with a row that may attend
    nowhere (zeros) and a row holding NaN (NaN), and leaves the rest untouched."""
    scores = _data(3, 17, 17, scale=3.0)
    scores[1, 10, :] = -np.inf
    scores[2, 7, 4] = np.nan
    mask = np.where(np.arange(17) % 5 == 1, -np.inf, 0).astype(np.float32)[None] if masked else np.zeros((1, 1), np.float32)
    block = (scores + (mask if masked else 0))[:, rows[0]:rows[1], :keys].astype(np.float64)
    with np.errstate(invalid="ignore"):
        expected = np.exp(block - block.max(axis=-1, keepdims=True))
        expected /= expected.sum(axis=-1, keepdims=True)
    expected[np.isneginf(block).all(axis=-1)] = 0
    out = scores.copy()
    compiled.load().softmax_rows(out, mask, masked, rows[0], rows[1], keys)
    np.testing.assert_allclose(out[:, rows[0]:rows[1], :keys], expected, rtol=2e-6, atol=1e-9)
    untouched = np.ones(scores.shape, bool)
    untouched[:, rows[0]:rows[1], :keys] = False
    np.testing.assert_array_equal(out[untouched], scores[untouched])


def test_attention_softmax_makes_no_subnormals():
    """With a mask, a weight below e^-64 of its row's largest is 0, not the subnormal float32
    that exact rounding would give (the CPU computes with subnormals about a hundred times
    slower); against the row's largest weight it is far below float32's rounding. Without
    a mask, the kernel keeps float32's exact result."""
    scores = np.array([[[0, -10, -63.9, -64.1, -90, -200, -np.inf]]], np.float32)
    exact = np.exp(scores[0, 0].astype(np.float64))
    unmasked = scores.copy()
    compiled.load().softmax_rows(scores, np.zeros((1, 7), np.float32), True, 0, 1, 7)
    np.testing.assert_allclose(scores[0, 0, :3], exact[:3] / exact.sum(), rtol=1e-6)
    assert (scores[0, 0, 3:] == 0).all()
    compiled.load().softmax_rows(unmasked, np.zeros((1, 1), np.float32), False, 0, 1, 7)
    np.testing.assert_allclose(unmasked[0, 0, :5], (exact / exact.sum())[:5].astype(np.float32), rtol=1e-5)
    assert unmasked[0, 0, 4] > 0 and unmasked[0, 0, 6] == 0  # e^-90 a subnormal, e^-inf 0


@pytest.mark.parametrize("affine", ["weight and bias", "weight", "none"])
@pytest.mark.parametrize("split", [False, True], ids=["whole", "rows over threads"])
def test_layer_norm_matches_numpys(monkeypatch, spy, split_threads, affine, split):
    if split:
        split_threads()
    x = _data(4, 7, 48) + 5  # a mean far from 0, where a one-pass variance would lose digits
    upstream = _data(4, 7, 48, seed=1)
    norm = gn.nn.LayerNorm(48, elementwise_affine=affine != "none", bias=affine == "weight and bias")
    if affine != "none":
        norm.weight.data[...] = _data(48, seed=2)

    def compute():
        norm.zero_grad()
        t = gn.tensor(x, requires_grad=True)
        y = norm(t)
        (y * gn.tensor(upstream)).sum().backward()
        return [y.numpy(), t.grad.numpy()] + [p.grad.numpy() for p in norm.parameters()]
    assert_same(*both_paths(monkeypatch, spy, compute))


@pytest.mark.parametrize("options", [{}, dict(reduction="sum"), dict(ignore_index=2)])
def test_cross_entropy_of_class_indices_matches_numpys(monkeypatch, spy, options):
    logits = _data(64, 7) * 20  # rows where exp of the unshifted scores would overflow
    target = np.random.default_rng(3).integers(0, 7, 64)
    target[::5] = options.get("ignore_index", -100)  # rows left out of the loss and the count

    def compute():
        t = gn.tensor(logits, requires_grad=True)
        loss = gn.nn.functional.cross_entropy(t, gn.tensor(target), **options)
        (loss * 3).backward()
        return [loss.numpy(), t.grad.numpy()]
    fast, plain = both_paths(monkeypatch, spy, compute)
    assert fast[0].shape == () and np.isfinite(fast[0])
    assert_same(fast, plain)
    assert (fast[1][::5] == 0).all()


def test_cross_entropy_kernel_checks_targets_and_counts_as_numpy(monkeypatch, spy):
    logits = _data(8, 3)
    with pytest.raises(ValueError, match="target contains class 3, but the scores have 3 classes"):
        gn.nn.functional.cross_entropy(gn.tensor(logits), gn.tensor([0, 1, 2, 3, 0, 1, 2, 0]))
    assert spy  # the kernel found the bad target; NumPy's check named it

    def every_row_ignored():
        t = gn.tensor(logits, requires_grad=True)
        with np.errstate(all="ignore"):
            loss = gn.nn.functional.cross_entropy(t, gn.tensor(np.full(8, -100)))
            loss.backward()
        return [loss.numpy(), t.grad.numpy()]
    fast, plain = both_paths(monkeypatch, spy, every_row_ignored)
    assert np.isnan(fast[0]) and np.isnan(plain[0])  # 0 / 0, as PyTorch's mean over no targets
    assert np.isnan(fast[1]).all() and np.isnan(plain[1]).all()


@pytest.mark.parametrize("split", [False, True], ids=["whole", "channels over threads"])
@pytest.mark.parametrize("options", [dict(kernel_size=2), dict(kernel_size=3, stride=1, padding=1),
                                     dict(kernel_size=(2, 3), stride=(2, 1), dilation=2, ceil_mode=True)],
                         ids=["2x2", "overlapping, padded", "dilated, ceil mode"])
def test_max_pool_matches_numpys(monkeypatch, spy, split_threads, options, split):
    """The compiled max pooling keeps where each maximum was; NumPy's finds it again. Both
    send a window's gradient to its first maximum (whole windows of zeros after a ReLU
    tie), and add where overlapping windows share one. Batch-last input, as after a
    convolution."""
    if split:
        split_threads()
    x = np.maximum(_data(5, 6, 9, 10, scale=1.0), 0)  # ties: the ReLU's zeros
    x = np.ascontiguousarray(x.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)

    def compute():
        inputs = gn.tensor(x, requires_grad=True)
        out = gn.nn.functional.max_pool2d(inputs, **options)
        (out * gn.tensor(_data(*out.shape, seed=1))).sum().backward()
        return [out.numpy(), inputs.grad.numpy()]
    assert_same(*both_paths(monkeypatch, spy, compute))


def test_compiled_max_pool_propagates_nan_as_pytorch():
    """A NaN in a window is its maximum, and the window's gradient goes to it."""
    x = np.zeros((8, 1, 2, 2), np.float32)
    x[:, 0, 1, 0] = np.nan
    x[:, 0, 0, 1] = 5
    inputs = gn.tensor(np.ascontiguousarray(x.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2), requires_grad=True)
    out = gn.nn.functional.max_pool2d(inputs, 2)
    out.sum().backward()
    assert np.isnan(out.numpy()).all()
    assert (inputs.grad.numpy()[:, 0] == [[0, 0], [1, 0]]).all()


# (x shape, weight shape, stride, padding, dilation): the stem and blocks of the resnet, 3x3
# kernels (one dilated down the rows), LeNet's 5x5, a 3x4 kernel, two filters past a group of
# four (the kernel's last group repeats a filter and stores it once), output rows that end
# inside a block of 64 floats (the masked lanes; one row past a whole block), strides that
# skip pixels (the input dealt into the stride's phases; with dilation, a kernel's taps fall
# in every phase), padding wider than the kernel's reach (the input's gradient then goes
# through col2im) and padding on one side only
CONVOLUTIONS = {
    "3x3 stride 1": ((4, 3, 9, 11), (6, 3, 3, 3), (1, 1), 1, 1),
    "5x5": ((3, 2, 12, 10), (5, 2, 5, 5), (1, 1), 2, 1),
    "3x4, dilated": ((2, 3, 14, 15), (7, 3, 3, 4), (1, 1), (1, 2), (2, 1)),
    "stride 2": ((9, 4, 13, 12), (10, 4, 3, 3), (2, 2), 1, 1),
    "stride (1, 2)": ((8, 3, 10, 11), (4, 3, 3, 2), (1, 2), (0, 1), 1),
    "stride 3, dilated, batch 2": ((2, 3, 13, 14), (5, 3, 3, 3), (3, 3), 1, (1, 2)),
    "3x3, dilated 2 down": ((3, 2, 11, 12), (6, 2, 3, 3), (1, 1), (2, 1), (2, 1)),
    "wide padding": ((3, 2, 8, 8), (5, 2, 3, 3), (1, 1), 3, 1),
    "rows of 108 floats: a block of 64 and one masked": ((9, 3, 10, 12), (5, 3, 3, 3), (1, 1), 1, 1),
}


def _batch_last(a):
    """The same (N, C, H, W) values in (C, H, W, N) memory, as a convolution hands them on."""
    return np.ascontiguousarray(a.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)


@pytest.mark.parametrize("layout", ["C order", "batch-last"])
@pytest.mark.parametrize("split", [False, True], ids=["whole", "filters over threads"])
@pytest.mark.parametrize("case", list(CONVOLUTIONS))
def test_direct_convolution_matches_numpys_im2col(monkeypatch, spy, split_threads, case, split, layout):
    """Output, input and weight gradients and the bias's, on both paths; in blocks of
    filters on three threads, the last block short of four. Inputs and output gradients
    in both memory layouts (C order, and batch-last as a convolution hands them on), for
    every geometry."""
    if split:
        split_threads()
    x_shape, weight_shape, stride, padding, dilation = CONVOLUTIONS[case]
    x, weight = _data(*x_shape, scale=1.0), _data(*weight_shape, scale=1.0, seed=1)
    bias = np.random.default_rng(2).standard_normal(weight_shape[0]).astype(np.float32)
    in_layout = _batch_last if layout == "batch-last" else np.ascontiguousarray

    def compute():
        inputs, w, b = (gn.tensor(a, requires_grad=True) for a in (in_layout(x), weight, bias))
        out = gn.nn.functional.conv2d(inputs, w, b, stride=stride, padding=padding, dilation=dilation)
        out.backward(gn.tensor(in_layout(_data(*out.shape, seed=3))))
        return [out.numpy(), inputs.grad.numpy(), w.grad.numpy(), b.grad.numpy()]
    assert_same(*both_paths(monkeypatch, spy, compute))


def test_direct_convolution_on_random_geometries(monkeypatch, spy):
    """Twenty seeded geometries beyond the named ones: batches of 1 to 17, kernels up to 7
    wide, strides up to 3, dilation, padding, and inputs in either memory layout; output and
    all three gradients as NumPy's."""
    rng = np.random.default_rng(1)
    direct = 0
    for _ in range(20):
        n, c, o = int(rng.choice([1, 2, 8, 17])), int(rng.integers(1, 6)), int(rng.integers(1, 11))
        (kh, kw), (dh, dw) = (int(k) for k in rng.integers(1, 8, 2)), (int(d) for d in rng.integers(1, 3, 2))
        options = dict(stride=tuple(int(s) for s in rng.integers(1, 4, 2)),
                       padding=tuple(int(p) for p in rng.integers(0, 4, 2)), dilation=(dh, dw))
        x = _data(n, c, int(rng.integers(dh * (kh - 1) + 1, 20)), int(rng.integers(dw * (kw - 1) + 1, 20)), scale=1.0)
        if rng.random() < 0.5:
            x = _batch_last(x)
        weight, bias = rng.standard_normal((o, c, kh, kw)).astype(np.float32), rng.standard_normal(o).astype(np.float32)

        def compute():
            inputs, w, b = (gn.tensor(a, requires_grad=True) for a in (x, weight, bias))
            out = gn.nn.functional.conv2d(inputs, w, b, **options)
            upstream = np.random.default_rng(5).standard_normal(out.shape).astype(np.float32)
            out.backward(gn.tensor(_batch_last(upstream) if x.flags.c_contiguous else upstream))  # the other layout
            return [out.numpy(), inputs.grad.numpy(), w.grad.numpy(), b.grad.numpy()]
        use_compiled(monkeypatch, True)
        fast = compute()
        direct += bool(spy)  # a 1x1 kernel takes NumPy's path
        spy.clear()
        use_compiled(monkeypatch, False)
        assert_same(fast, compute())
        assert not spy
    assert direct >= 12, direct


# (x shape, weight shape, padding) on Winograd's path (3x3, stride 1, at least 8 channels
# and 48 images): one run of 64 images with an odd output (the last blocks' second row and
# column not stored), two runs the last of which is masked (100 images) with filters past
# a group of four, no padding, and padding wider than the kernel on one side only; then
# F(4x4, 3x3)'s (outputs whose sides 4x4 blocks cover as 2x2 blocks do): whole blocks, and
# 7x11 (the last blocks store three rows and three columns) with 70 images and 10 filters
WINOGRAD_CONVOLUTIONS = {
    "64 images, 7x5 output": ((64, 8, 7, 5), (8, 8, 3, 3), 1),
    "100 images, 6 filters": ((100, 9, 6, 7), (6, 9, 3, 3), 1),
    "no padding": ((48, 8, 9, 8), (9, 8, 3, 3), 0),
    "one-sided wide padding": ((50, 10, 5, 6), (3, 10, 3, 3), ((2, 0), (1, 3))),
    "4x4 blocks, 8x12 output": ((64, 8, 8, 12), (8, 8, 3, 3), 1),
    "4x4 blocks, 7x11 output": ((70, 9, 7, 11), (10, 9, 3, 3), 1),
}


@pytest.mark.parametrize("layout", ["C order", "batch-last"])
@pytest.mark.parametrize("split", [False, True], ids=["whole", "rows over threads"])
@pytest.mark.parametrize("case", list(WINOGRAD_CONVOLUTIONS))
def test_winograd_convolution_matches_numpys_im2col(monkeypatch, spy, split_threads, case, split, layout):
    """Output and the three gradients against NumPy's im2col, the input in either memory
    layout (the kernel reads batch-last memory; C order is copied into it); the input's
    gradient (a 3x3 convolution of the output's gradient at stride 1) takes Winograd's
    path too where the filters are at least eight."""
    if split:
        split_threads()
    x_shape, weight_shape, padding = WINOGRAD_CONVOLUTIONS[case]
    in_layout = _batch_last if layout == "batch-last" else np.ascontiguousarray
    x, weight = in_layout(_data(*x_shape, scale=1.0)), _data(*weight_shape, scale=1.0, seed=1)
    bias = np.random.default_rng(2).standard_normal(weight_shape[0]).astype(np.float32)

    def compute():
        inputs, w, b = (gn.tensor(a, requires_grad=True) for a in (x, weight, bias))
        out = gn.nn.functional.conv2d(inputs, w, b, padding=padding)
        out.backward(gn.tensor(_batch_last(_data(*out.shape, seed=3))))
        took.append(spy.count("winograd_filters") + spy.count("winograd4_filters"))
        return [out.numpy(), inputs.grad.numpy(), w.grad.numpy(), b.grad.numpy()]
    took = []
    assert_same(*both_paths(monkeypatch, spy, compute), atol=WINOGRAD4_ATOL if "4x4" in case else TOLERANCE["atol"])
    assert took == [2 if weight_shape[0] >= 8 else 1, 0]
    if "4x4" in case:
        assert spy.count("winograd4_filters") == 0  # the NumPy run is last; the compiled one took F(4x4, 3x3):
        use_compiled(monkeypatch, True)
        spy.clear()
        compute()
        assert spy.count("winograd4_filters") == 2 and "winograd_filters" not in spy


_TRAIN_A_LITTLE = """
import sys, numpy as np, glassnet as gn
gn.seed(0)
rng = np.random.default_rng(0)
images, labels = gn.tensor(rng.standard_normal((64, 1, 28, 28)).astype("float32")), gn.tensor(rng.integers(0, 10, 64))
outputs = []
for name in ("cnn", "vit"):
    model = gn.models.build(name, (1, 28, 28), 10)
    optimizer = gn.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(2):
        optimizer.zero_grad()
        gn.nn.functional.cross_entropy(model(images), labels).backward()
        optimizer.step()
    outputs += [p.detach().numpy() for p in model.parameters()]
np.savez(sys.argv[1], *outputs)
"""


def test_kernels_compiled_anew_and_loaded_from_numbas_cache_give_the_same_bits(tmp_path):
    """Two short training runs (a cnn: batch norm and convolutions; a vit: layer norm,
    attention, GELU), in a process that compiles the kernels into an empty numba cache and
    in one that loads them from it: the same weights to the bit. A sum the compiler may
    reorder came out otherwise in the two (batch norm's backward, in the pool's job), and a
    training run resumed in a new process then drifted from a straight one."""
    import os
    import subprocess
    import sys
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    for run in ("anew", "cached"):
        result = subprocess.run([sys.executable, "-c", _TRAIN_A_LITTLE, str(tmp_path / f"{run}.npz")], env=env,
                                capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stderr
    anew, cached = np.load(tmp_path / "anew.npz"), np.load(tmp_path / "cached.npz")
    assert [k for k in anew.files if anew[k].tobytes() != cached[k].tobytes()] == []


def _took_winograd(spy):
    """Whether Winograd's kernel (either) ran: called in blocks on the executor, or the pool's job."""
    return bool({"conv3x3_winograd", "CONV_WINOGRAD", "conv3x3_winograd4", "CONV_WINOGRAD4"} & set(spy))


def test_convolutions_on_the_pools_helpers_give_the_executors_bits(monkeypatch, spy, split_threads):
    """Where the pool runs, the direct convolution, its filters' gradient and Winograd's go
    to the helpers as jobs (kernels.conv_job) in uneven blocks: the same bits as the
    executor's blocks of the same kernels (each block writes only its own outputs)."""
    from glassnet import threads
    if not compiled.enabled() or threads._pool_kernels is None:  # enabled() loads the kernels, which start the pool
        pytest.skip("the pool needs numba, x86-64 Linux and OpenBLAS's pthreads build (0.3.27 on)")
    split_threads()
    cases = [((64, 8, 9, 10), (10, 8, 3, 3), 1), ((9, 4, 13, 12), (10, 4, 3, 3), 2)]  # Winograd's, the direct

    def compute():
        results = []
        for x_shape, weight_shape, stride in cases:
            x = gn.tensor(_batch_last(_data(*x_shape, scale=1.0)), requires_grad=True)
            w, b = gn.tensor(_data(*weight_shape, scale=1.0, seed=1), requires_grad=True), gn.tensor(
                _data(weight_shape[0], seed=2), requires_grad=True)
            out = gn.nn.functional.conv2d(x, w, b, stride=stride, padding=1)
            out.backward(gn.tensor(_batch_last(_data(*out.shape, seed=3))))
            results += [out.numpy(), x.grad.numpy(), w.grad.numpy(), b.grad.numpy()]
        return results
    on_pool = compute()
    assert {"CONV_DIRECT", "CONV_WEIGHT_GRAD", "CONV_WINOGRAD"} <= set(spy)
    monkeypatch.setattr(threads, "_pool_kernels", None)
    spy.clear()
    on_executor = compute()
    assert "run_conv" not in spy
    for i, (a, b) in enumerate(zip(on_pool, on_executor)):
        assert a.tobytes() == b.tobytes(), f"array {i}"


def test_winograd_on_random_geometries(monkeypatch, spy):
    """Twelve seeded geometries on Winograd's path: 48 to 130 images, 8 to 20 channels, 1
    to 20 filters, images from 1x1 up, any padding on each side (up to 3, wider than the
    kernel's reach); output and all three gradients as NumPy's."""
    rng = np.random.default_rng(7)
    for _ in range(12):
        n, c, o = int(rng.integers(48, 131)), int(rng.integers(8, 21)), int(rng.integers(1, 21))
        top, bottom, left, right = (int(p) for p in rng.integers(0, 4, 4))
        h, w = int(rng.integers(max(1, 3 - top - bottom), 13)), int(rng.integers(max(1, 3 - left - right), 13))
        x = _batch_last(rng.standard_normal((n, c, h, w)).astype(np.float32))
        weight, bias = rng.standard_normal((o, c, 3, 3)).astype(np.float32), rng.standard_normal(o).astype(np.float32)

        def compute():
            inputs, wt, b = (gn.tensor(a, requires_grad=True) for a in (x, weight, bias))
            out = gn.nn.functional.conv2d(inputs, wt, b, padding=((top, bottom), (left, right)))
            out.backward(gn.tensor(_batch_last(np.random.default_rng(5).standard_normal(out.shape).astype(np.float32))))
            took.append(_took_winograd(spy))
            return [out.numpy(), inputs.grad.numpy(), wt.grad.numpy(), b.grad.numpy()]
        took = []
        assert_same(*both_paths(monkeypatch, spy, compute), atol=WINOGRAD4_ATOL)
        assert took == [True, False], (n, c, o, h, w, top, bottom, left, right)


def test_winograd_4x4_blocks_on_random_geometries(monkeypatch, spy):
    """Eight seeded geometries whose sides 4x4 blocks fit as 2x2 blocks do (3, 4, 7, 8,
    11, 12), padding 1: F(4x4, 3x3) forward and for the input's gradient; 48 to 130 images,
    8 to 20 channels and filters; output and all three gradients as NumPy's."""
    rng = np.random.default_rng(11)
    for _ in range(8):
        n, c, o = int(rng.integers(48, 131)), int(rng.integers(8, 21)), int(rng.integers(8, 21))
        h, w = (int(rng.choice([3, 4, 7, 8, 11, 12])) for _ in range(2))
        x = _batch_last(rng.standard_normal((n, c, h, w)).astype(np.float32))
        weight, bias = rng.standard_normal((o, c, 3, 3)).astype(np.float32), rng.standard_normal(o).astype(np.float32)

        def compute():
            inputs, wt, b = (gn.tensor(a, requires_grad=True) for a in (x, weight, bias))
            out = gn.nn.functional.conv2d(inputs, wt, b, padding=1)
            out.backward(gn.tensor(_batch_last(np.random.default_rng(5).standard_normal(out.shape).astype(np.float32))))
            took.append(spy.count("winograd4_filters"))
            return [out.numpy(), inputs.grad.numpy(), wt.grad.numpy(), b.grad.numpy()]
        took = []
        assert_same(*both_paths(monkeypatch, spy, compute), atol=WINOGRAD4_ATOL)
        assert took == [2, 0], (n, c, o, h, w)


def test_winograd_takes_only_what_pays(monkeypatch, spy):
    """Fewer than 8 channels or 48 images, a stride, a dilation or a 5x5 kernel: the direct
    kernel; at the limits, Winograd's."""
    use_compiled(monkeypatch, True)
    cases = [((48, 8, 6, 6), (4, 8, 3, 3), {}, True), ((47, 8, 6, 6), (4, 8, 3, 3), {}, False),
             ((48, 7, 6, 6), (4, 7, 3, 3), {}, False), ((48, 8, 6, 6), (4, 8, 3, 3), {"stride": 2}, False),
             ((48, 8, 6, 6), (4, 8, 3, 3), {"dilation": 2}, False), ((48, 8, 6, 6), (4, 8, 5, 5), {}, False)]
    for x_shape, weight_shape, options, winograd in cases:
        gn.nn.functional.conv2d(gn.tensor(_data(*x_shape)), gn.tensor(_data(*weight_shape)), **options)
        assert _took_winograd(spy) == winograd and ("conv2d_rows" in spy) != winograd, (x_shape, weight_shape, options)
        spy.clear()


@pytest.mark.parametrize("block", [2, 4])
def test_winograd_kernel_matches_its_reference(monkeypatch, spy, block):
    """The kernel's float32 output against ``conv2d_winograd_reference`` in float64, and the
    reference against the plain convolution (``conv2d_reference``), values and gradients;
    the filters' transform against G g G^T, from a flipped view as the input's gradient
    reads them. F(2x2, 3x3) on a 6x8 output, F(4x4, 3x3) on 7x8."""
    from glassnet.ops import conv

    x, weight = _data(66, 8, 6 + block // 4, 6, scale=1.0), _data(5, 8, 3, 3, scale=1.0, seed=1)
    bias = np.random.default_rng(2).standard_normal(5).astype(np.float32)
    use_compiled(monkeypatch, True)
    out = gn.nn.functional.conv2d(gn.tensor(x), gn.tensor(weight), gn.tensor(bias), padding=(1, 2)).numpy()
    four = "4" if block == 4 else ""
    assert f"conv3x3_winograd{four}" in spy or f"CONV_WINOGRAD{four}" in spy
    leaves = [gn.tensor(a.astype(np.float64), requires_grad=True) for a in (x, weight, bias)]
    winograd = conv.conv2d_winograd_reference(*leaves, padding=((1, 1), (2, 2)), block=block)
    np.testing.assert_allclose(out, winograd.numpy(), rtol=1e-5, atol=1e-5 * np.abs(winograd.numpy()).max())
    upstream = gn.tensor(np.random.default_rng(3).standard_normal(winograd.shape))
    grads = gn.autograd.grad((winograd * upstream).sum(), leaves)
    plain = conv.conv2d_reference(*leaves, padding=((1, 1), (2, 2)))
    np.testing.assert_allclose(winograd.numpy(), plain.numpy(), rtol=1e-12, atol=1e-12)
    for mine, theirs in zip(grads, gn.autograd.grad((plain * upstream).sum(), leaves)):
        np.testing.assert_allclose(mine.numpy(), theirs.numpy(), rtol=1e-12, atol=1e-12)
    small = [gn.tensor(a.astype(np.float64), requires_grad=True) for a in (x[:2, :3, :5, :4], weight[:, :3], bias)]
    assert gn.gradcheck(lambda *t: conv.conv2d_winograd_reference(*t, padding=((1, 0), (2, 1)), block=block), small)
    with pytest.raises(ValueError, match="3x3 filters and block 2 or 4, got a weight of shape"):
        conv.conv2d_winograd_reference(leaves[0], gn.ones(5, 8, 5, 5, dtype=gn.float64), block=block)
    flipped = weight[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)
    points = (block + 2) ** 2
    filters = np.empty((points, 5, 8), np.float32)
    getattr(compiled.load(), f"winograd{four}_filters")(flipped, filters)
    g = np.array(conv.WINOGRAD_MATRICES[block][1])
    expected = np.einsum("ai,ocij,bj->abco", g, flipped.astype(np.float64), g).reshape(points, 5, 8)
    np.testing.assert_allclose(filters, expected.astype(np.float32), rtol=1e-7 if block == 4 else 0, atol=0)


def test_direct_convolution_leaves_what_it_does_not_take_to_numpy(monkeypatch, spy):
    """Groups, 1x1 kernels and float64 take the im2col path; and a model built of the
    direct convolution (a stride of 2 among its layers) trains as with NumPy's."""
    use_compiled(monkeypatch, True)
    x = gn.tensor(_data(2, 4, 6, 6, scale=1.0))
    gn.nn.functional.conv2d(x, gn.tensor(_data(4, 2, 3, 3)), groups=2)
    gn.nn.functional.conv2d(x, gn.tensor(_data(3, 4, 1, 1)))
    gn.nn.functional.conv2d(x.double(), gn.tensor(_data(3, 4, 3, 3).astype(np.float64)))
    assert not spy

    def compute():
        gn.seed(0)
        model = gn.nn.Sequential(gn.nn.Conv2d(1, 4, 3, padding=1), gn.nn.ReLU(), gn.nn.Conv2d(4, 2, 3, stride=2),
                                 gn.nn.Flatten(), gn.nn.Linear(2 * 3 * 3, 3))
        optimizer = gn.optim.SGD(model.parameters(), lr=0.1)
        images, labels = gn.tensor(_data(8, 1, 7, 7, scale=1.0)), gn.tensor(np.arange(8) % 3)
        for _ in range(3):
            optimizer.zero_grad()
            gn.nn.functional.cross_entropy(model(images), labels).backward()
            optimizer.step()
        return [p.detach().numpy() for p in model.parameters()]
    assert_same(*both_paths(monkeypatch, spy, compute))


@pytest.mark.parametrize("split", [False, True], ids=["whole", "channels over threads"])
@pytest.mark.parametrize("training", [True, False], ids=["training", "evaluation"])
@pytest.mark.parametrize("affine", [True, False], ids=["affine", "plain"])
def test_batch_norm_matches_numpys(monkeypatch, spy, split_threads, training, affine, split):
    """After a convolution (its output lies batch-last in memory), as in every CNN here;
    in training the running statistics must move alike too. Split, each thread's block of
    channels must meet its own channels' weights."""
    if split:
        split_threads()
    gn.seed(0)
    # no conv bias: batch norm cancels it, so its gradient is 0 plus each path's own rounding
    conv, norm = gn.nn.Conv2d(3, 6, 3, padding=1, bias=False), gn.nn.BatchNorm2d(6, affine=affine)
    norm.train(training)
    rng = np.random.default_rng(3)
    if affine:  # weights and biases that differ by channel
        norm.weight.numpy()[...], norm.bias.numpy()[...] = rng.uniform(0.5, 2, 6), rng.normal(size=6)
    start_mean, start_var = rng.normal(size=6).astype(np.float32), rng.uniform(0.5, 2, 6).astype(np.float32)
    x, upstream = _data(5, 3, 7, 9, scale=1.0) + 2, _data(5, 6, 7, 9, seed=1)

    def compute():
        conv.zero_grad()
        norm.zero_grad()
        norm.running_mean.numpy()[...], norm.running_var.numpy()[...] = start_mean, start_var
        t = gn.tensor(x, requires_grad=True)
        y = norm(conv(t))
        (y * gn.tensor(upstream)).sum().backward()
        return ([y.numpy(), t.grad.numpy(), norm.running_mean.numpy().copy(), norm.running_var.numpy().copy()]
                + [p.grad.numpy() for p in (*conv.parameters(), *norm.parameters())])
    assert_same(*both_paths(monkeypatch, spy, compute))


@pytest.mark.parametrize("training", [True, False], ids=["training", "evaluation"])
@pytest.mark.parametrize("affine", [True, False], ids=["affine", "plain"])
def test_batch_norm_on_the_pools_helpers_gives_the_executors_bits(monkeypatch, spy, split_threads, training, affine):
    """Where the pool runs, batch norm's forward and backward go to the helpers as jobs of
    channels (rows_job: BATCH_NORM, BATCH_NORM_BACKWARD): the executor's results from the
    same kernels, output, running statistics and every gradient, to float32 rounding (a
    sum compiled into the job may run in another order: reassociation is allowed); with no
    gradient to come (inference), x_hat lives only on the way."""
    from glassnet import threads
    if not compiled.enabled() or threads._pool_kernels is None:  # enabled() loads the kernels, which start the pool
        pytest.skip("the pool needs numba, x86-64 Linux and OpenBLAS's pthreads build (0.3.27 on)")
    split_threads()
    x, upstream = _batch_last(_data(6, 5, 7, 9, scale=1.0) + 2), _data(6, 5, 7, 9, seed=1)
    weight, bias = np.linspace(0.5, 2, 5, dtype=np.float32), np.linspace(-1, 1, 5, dtype=np.float32)

    def compute():
        norm = gn.nn.BatchNorm2d(5, affine=affine).train(training)
        if affine:
            norm.weight.numpy()[...], norm.bias.numpy()[...] = weight, bias
        t = gn.tensor(x, requires_grad=True)
        (norm(t) * gn.tensor(upstream)).sum().backward()
        with gn.no_grad():
            inference = norm(gn.tensor(x))
        return ([norm(gn.tensor(x)).detach().numpy(), t.grad.numpy(), inference.numpy(), norm.running_mean.numpy(),
                 norm.running_var.numpy()] + [p.grad.numpy() for p in norm.parameters()])
    on_pool = compute()
    assert {"BATCH_NORM", "BATCH_NORM_BACKWARD"} <= set(spy)
    monkeypatch.setattr(threads, "_pool_kernels", None)
    spy.clear()
    on_executor = compute()
    assert "run_job" not in spy and "batch_norm_rows" in spy
    assert_same(on_pool, on_executor)


@pytest.mark.parametrize("optimizer, options", [
    ("Adam", {}), ("Adam", {"weight_decay": 0.1}), ("AdamW", {"weight_decay": 0.1}), ("Adam", {"maximize": True})])
def test_adam_matches_numpys(monkeypatch, spy, optimizer, options):
    start, gradients = _data(40, 30, scale=1.0), [_data(40, 30, seed=k) for k in range(1, 6)]

    def compute():
        weight = gn.nn.Parameter(start.copy())
        adam = getattr(gn.optim, optimizer)([weight], lr=0.01, **options)
        for gradient in gradients:  # five steps, the bias corrections changing each time
            weight.grad = gn.tensor(gradient)
            adam.step()
        state = adam.state[weight]
        return [weight.numpy(), state["exp_avg"], state["exp_avg_sq"]]
    assert_same(*both_paths(monkeypatch, spy, compute))


def test_lstm_cell_kernel_equals_the_numpy_cell_on_saturated_gates():
    """Pre-activations of +-60 saturate every gate: both cells must give exactly 0 and 1
    where float32 does, not NaN or overflow."""
    from glassnet.ops.recurrent import _lstm_cell
    gates = _data(5, 4 * 8, scale=30.0)
    c = _data(5, 8, seed=2)
    results = []
    recurrent, bias = _data(5, 4 * 8, scale=30.0, seed=3), _data(4 * 8, seed=4)
    for cell in (compiled.load().lstm_cell, _lstm_cell):
        arrays = [gates.copy()] + [np.empty_like(c) for _ in range(3)]
        cell(arrays[0], recurrent, bias, c, *arrays[1:])
        results.append(arrays)
    assert_same(*results)
    assert all(np.isfinite(a).all() for a in results[0])


def _import_failing_with(error):
    def failing(name, *args):
        raise error
    return failing


def test_without_numba_the_kernels_are_off_quietly(monkeypatch, recwarn):
    monkeypatch.setattr(compiled, "_modules", {})
    missing = ModuleNotFoundError("No module named 'numba'", name="numba")
    monkeypatch.setattr(compiled.importlib, "import_module", _import_failing_with(missing))
    assert not compiled.enabled() and not compiled.fits(np.zeros(3, np.float32))
    assert not recwarn.list


def test_a_numba_that_does_not_load_is_said_once_and_numpy_runs(monkeypatch):
    monkeypatch.setattr(compiled, "_modules", {})
    broken = ImportError("Numba needs NumPy 2.3 or less. Got NumPy 2.9.")
    monkeypatch.setattr(compiled.importlib, "import_module", _import_failing_with(broken))
    with pytest.warns(RuntimeWarning, match="numba is installed but does not load .*Numba needs NumPy"):
        assert not compiled.enabled()
    use_compiled(monkeypatch, True)
    out = gn.tensor(np.linspace(-2, 2, 5, dtype=np.float32)).sigmoid()  # no second warning: it would fail here
    np.testing.assert_allclose(out.numpy(), 1 / (1 + np.exp(-np.linspace(-2, 2, 5))), rtol=1e-6)


def test_compiled_kernels_are_off_for_other_array_libraries(monkeypatch):
    monkeypatch.setattr(compiled, "xp", type("OtherLibrary", (), {"__name__": "cupy"}))
    assert not compiled.enabled()
    assert math.isfinite(1.0)  # the NumPy path needs nothing from numba


@pytest.mark.parametrize("layer", ["LSTM", "GRU", "RNN"])
def test_a_batch_of_no_sequences_runs_and_says_nothing(layer):
    """An empty batch gives empty outputs and gradients, as PyTorch's do, and no BLAS
    complaint (BLAS's error message, from a product outside the loops, C's stdio would
    print at exit: hence a process of its own)."""
    import subprocess
    import sys
    code = f"""
import numpy as np, glassnet as gn
recurrent = gn.nn.{layer}(3, 4, bidirectional=True)
x = gn.tensor(np.ones((5, 0, 3), np.float32), requires_grad=True)
out = recurrent(x)[0]
out.sum().backward()
print(out.shape, x.grad.shape, recurrent.weight_hh_l0.grad.numpy().any())
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "(5, 0, 8) (5, 0, 3) False" and result.stderr == ""


def test_a_resnet_sized_convolution_matches_pytorch_on_winograds_path(spy):
    """The resnet's first stage (128 images of 28x28, 16 channels to 16) on Winograd's
    path: values and the three gradients as PyTorch gives them."""
    torch = pytest.importorskip("torch")
    x, weight, bias, upstream = (_data(128, 16, 28, 28, scale=1.0), _data(16, 16, 3, 3, scale=0.2, seed=1),
                                 _data(16, seed=2), _data(128, 16, 28, 28, scale=1.0, seed=3))
    leaves = [gn.tensor(a, requires_grad=True) for a in (x, weight, bias)]
    out = gn.nn.functional.conv2d(*leaves, padding=1)
    out.backward(gn.tensor(upstream))
    assert spy.count("winograd4_filters") == 2  # forward and the input's gradient, by F(4x4, 3x3)
    theirs = [torch.tensor(a, requires_grad=True) for a in (x, weight, bias)]
    expected = torch.nn.functional.conv2d(*theirs, padding=1)
    expected.backward(torch.from_numpy(upstream))
    for mine, their in zip([out] + [t.grad for t in leaves], [expected] + [t.grad for t in theirs]):
        scale = float(their.detach().abs().max())
        np.testing.assert_allclose(mine.numpy(), their.detach().numpy(), rtol=1e-4, atol=1e-5 * scale)


def test_a_gpt_sized_linear_layer_matches_pytorch_on_the_compiled_path(spy):
    """A gpt block's widest Linear (4096 rows, 128 -> 512), large enough for the compiled
    product at its real threshold: values and all three gradients as PyTorch gives them."""
    torch = pytest.importorskip("torch")
    x, weight, bias, upstream = _data(32, 128, 128, scale=1.0), _data(512, 128, scale=0.1, seed=1), _data(
        512, seed=2), _data(32, 128, 512, scale=1.0, seed=3)
    leaves = [gn.tensor(a, requires_grad=True) for a in (x, weight, bias)]
    out = gn.nn.functional.linear(*leaves)
    out.backward(gn.tensor(upstream))
    assert {"linear_rows", "multiply_rows"} <= set(spy) or {"LINEAR_BIAS", "PRODUCT"} <= set(spy)  # the pool's jobs
    theirs = [torch.tensor(a, requires_grad=True) for a in (x, weight, bias)]
    expected = torch.nn.functional.linear(*theirs)
    expected.backward(torch.from_numpy(upstream))
    for mine, their in zip([out] + [t.grad for t in leaves], [expected] + [t.grad for t in theirs]):
        scale = float(their.detach().abs().max())
        np.testing.assert_allclose(mine.numpy(), their.detach().numpy(), rtol=1e-4, atol=1e-5 * scale)
