"""PyTorch's tensor API, checked against PyTorch itself: creation functions, dtypes and
type promotion, devices, and the tensor's attributes and conversions.

Most tests build the same thing with glassnet and with torch (``m`` is either module, so
``m.zeros(2, dtype=m.float64)`` names both) and compare shapes, dtypes (by name) and values.
"""
import itertools
import operator

import numpy as np
import pytest
import torch

import glassnet as gn

torch.set_num_threads(1)


def dtype_name(dtype):
    return str(dtype).removeprefix("torch.")


def assert_same(mine, theirs, rtol=1e-6, atol=1e-7, values=True):
    """Same shape, dtype (by name) and, if ``values``, values."""
    assert isinstance(mine, gn.Tensor)
    assert mine.shape == tuple(theirs.shape)
    assert dtype_name(mine.dtype) == dtype_name(theirs.dtype)
    if values:
        np.testing.assert_allclose(mine.numpy().astype(np.float64), theirs.detach().numpy().astype(np.float64), rtol=rtol, atol=atol)


# -- creation ----------------------------------------------------------------------------------

CREATION = {
    "tensor floats": lambda m: m.tensor([1.5, 2.0]),
    "tensor ints": lambda m: m.tensor([[1, 2], [3, 4]]),
    "tensor bools": lambda m: m.tensor([True, False]),
    "tensor mixed": lambda m: m.tensor([1, 2.5]),
    "tensor number": lambda m: m.tensor(3.5),
    "tensor int": lambda m: m.tensor(3),
    "tensor dtype": lambda m: m.tensor([1, 2], dtype=m.float64),
    "tensor float64 array": lambda m: m.tensor(np.array([1.0, 2.0])),
    "tensor int32 array": lambda m: m.tensor(np.array([1, 2], dtype=np.int32)),
    "tensor uint8 array": lambda m: m.tensor(np.array([[0, 255]], dtype=np.uint8)),
    "tensor 0-d tensors": lambda m: m.tensor([m.tensor(1.0), m.tensor(2.0)]),
    "tensor 0-d float64": lambda m: m.tensor([m.tensor(1.0, dtype=m.float64), m.tensor(2.0, dtype=m.float64)]),
    "tensor 0-d mixed": lambda m: m.tensor([m.tensor(1), m.tensor(2.5)]),
    "as_tensor list": lambda m: m.as_tensor([1, 2]),
    "as_tensor dtype": lambda m: m.as_tensor(np.ones(2, np.float32), dtype=m.float64),
    "zeros varargs": lambda m: m.zeros(2, 3),
    "zeros tuple": lambda m: m.zeros((2, 3)),
    "zeros list": lambda m: m.zeros([2, 3]),
    "zeros size": lambda m: m.zeros(m.ones(4, 1).size()),
    "zeros 0-d": lambda m: m.zeros(()),
    "zeros empty": lambda m: m.zeros(0, 3),
    "zeros int": lambda m: m.zeros(2, dtype=m.int64),
    "ones": lambda m: m.ones(3, 1, dtype=m.float64),
    "ones bool": lambda m: m.ones((2,), dtype=m.bool),
    "full float": lambda m: m.full((2, 2), 1.5),
    "full int": lambda m: m.full((3,), 7),
    "full bool": lambda m: m.full((3,), True),
    "full dtype": lambda m: m.full([2], 7, dtype=m.float16),
    "eye": lambda m: m.eye(3),
    "eye rectangular": lambda m: m.eye(2, 4, dtype=m.int32),
    "arange n": lambda m: m.arange(5),
    "arange float n": lambda m: m.arange(5.0),
    "arange start end step": lambda m: m.arange(1, 10, 3),
    "arange float step": lambda m: m.arange(0, 1, 0.1),
    "arange negative": lambda m: m.arange(10, 0, -3),
    "arange negative float": lambda m: m.arange(1.0, -1.0, -0.3),
    "arange dtype": lambda m: m.arange(4, dtype=m.float64),
    "arange 0-d tensor": lambda m: m.arange(m.tensor(3)),
    "arange empty": lambda m: m.arange(3, 3),
    "linspace": lambda m: m.linspace(0, 1, 5),
    "linspace many": lambda m: m.linspace(-2.0, 3.0, 101),
    "linspace float64": lambda m: m.linspace(-1, 1, 7, dtype=m.float64),
    "linspace one": lambda m: m.linspace(2, 3, 1),
    "zeros_like": lambda m: m.zeros_like(m.ones(2, 3, dtype=m.int32)),
    "ones_like dtype": lambda m: m.ones_like(m.ones(2, 3), dtype=m.float64),
    "full_like": lambda m: m.full_like(m.zeros(2, dtype=m.int64), 4),
    "full_like float on int": lambda m: m.full_like(m.zeros(2, dtype=m.int32), 2.7),
    "new_zeros": lambda m: m.ones(2, dtype=m.float64).new_zeros(2, 3),
    "new_ones tuple": lambda m: m.ones(2, dtype=m.int32).new_ones((2,)),
    "new_full": lambda m: m.ones(1).new_full((2, 2), 3),
    "new_tensor keeps dtype": lambda m: m.ones(1).new_tensor([1, 2]),
    "new_tensor dtype": lambda m: m.ones(1).new_tensor([1, 2], dtype=m.int16),
}


@pytest.mark.parametrize("name", CREATION)
def test_creation_matches_torch(name):
    build = CREATION[name]
    assert_same(build(gn), build(torch), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("build", [
    lambda m: m.empty(2, 3), lambda m: m.empty((4,), dtype=m.int64), lambda m: m.empty_like(m.ones(2, dtype=m.float64)),
    lambda m: m.ones(3, dtype=m.int16).new_empty(2, 2),
])
def test_empty_has_the_shape_and_dtype(build):
    assert_same(build(gn), build(torch), values=False)


def test_arange_refuses_a_step_of_the_wrong_sign():
    for m in (gn, torch):
        with pytest.raises(RuntimeError, match="inconsistent with step sign"):
            m.arange(3, 1)


def test_creation_takes_requires_grad_and_device():
    x = gn.zeros(2, 3, requires_grad=True, device="cpu")
    assert x.requires_grad and x.is_leaf and x.device == gn.device("cpu")
    assert gn.ones(2, device=gn.device("cpu:0")).device == "cpu"
    assert gn.randn(2, requires_grad=True).requires_grad
    assert gn.full_like(x, 2.0, requires_grad=True).requires_grad
    with pytest.raises(TypeError, match="floating-point"):
        gn.zeros(2, dtype=gn.int64, requires_grad=True)
    with pytest.raises(TypeError, match="floating-point"):
        gn.tensor([1, 2], requires_grad=True)


def test_tensor_copies_and_as_tensor_shares():
    a = np.zeros(3, dtype=np.float32)
    copied, shared = gn.tensor(a), gn.as_tensor(a)
    a[0] = 5
    assert copied[0].item() == 0 and shared[0].item() == 5
    assert gn.as_tensor(a).numpy() is a
    assert gn.as_tensor(a, dtype=gn.float64).numpy() is not a  # another dtype: a copy
    t = gn.ones(2)
    assert gn.as_tensor(t) is t and gn.as_tensor(t, dtype=gn.float32) is t
    assert gn.as_tensor(t, dtype=gn.float64).dtype == gn.float64
    assert not np.shares_memory(gn.tensor(t).numpy(), t.numpy())


def test_from_numpy_shares_memory_both_ways():
    a = np.arange(6, dtype=np.float64).reshape(2, 3)
    t = gn.from_numpy(a)
    assert t.dtype == gn.float64 and t.shape == (2, 3)
    a[0, 0] = 10
    assert t[0, 0].item() == 10
    t[1, 2] = -1
    assert a[1, 2] == -1
    assert t.data_ptr() == a.ctypes.data == torch.from_numpy(a).data_ptr()
    assert gn.from_numpy(np.zeros(2, np.uint8)).dtype == gn.uint8
    with pytest.raises(TypeError, match="NumPy array"):
        gn.from_numpy([1.0, 2.0])


# -- random creation --------------------------------------------------------------------------

N = 200_000


def test_rand_is_uniform_float32():
    x = gn.rand(N)
    assert x.dtype == gn.float32 and x.shape == (N,)
    values = x.numpy()
    assert values.min() >= 0 and values.max() < 1
    assert abs(values.mean() - 0.5) < 0.005 and abs(values.std() - 12 ** -0.5) < 0.005
    assert gn.rand(2, 3).shape == gn.rand((2, 3)).shape == gn.rand([2, 3]).shape == (2, 3)
    assert gn.rand(2, dtype=gn.float64).dtype == gn.float64 and gn.rand(2, dtype=gn.float16).dtype == gn.float16
    with pytest.raises(RuntimeError, match="floating point"):
        gn.rand(2, dtype=gn.int64)


def test_randn_is_standard_normal_float32():
    values = gn.randn(N).numpy()
    assert values.dtype == np.float32
    assert abs(values.mean()) < 0.01 and abs(values.std() - 1) < 0.01
    assert abs((np.abs(values) < 1).mean() - 0.6827) < 0.005  # within one standard deviation
    assert gn.randn(4, 5).shape == (4, 5) and gn.randn((3,), dtype=gn.float64).dtype == gn.float64


def test_randint_draws_in_the_half_open_range():
    x = gn.randint(10, (N,))
    assert_same(x, torch.randint(10, (N,)), values=False)
    counts = np.bincount(x.numpy(), minlength=10)
    assert len(counts) == 10 and abs(counts / N - 0.1).max() < 0.005
    y = gn.randint(5, 8, (3, 1000))
    assert y.shape == (3, 1000) and set(np.unique(y.numpy())) == {5, 6, 7}
    assert gn.randint(0, 3, size=(2,)).shape == (2,) and gn.randint(high=3, size=(2,)).shape == (2,)
    assert gn.randint(3, (2,), dtype=gn.float32).dtype == gn.float32
    assert gn.randint(-4, -2, (100,)).numpy().max() == -3


def test_randperm_is_a_permutation():
    p = gn.randperm(50)
    assert_same(p, torch.randperm(50), values=False)
    assert sorted(p.tolist()) == list(range(50)) and p.tolist() != list(range(50))
    assert gn.randperm(4, dtype=gn.int32).dtype == gn.int32


def test_normal_with_numbers_and_with_tensors():
    values = gn.normal(2.0, 3.0, (N,))
    assert values.dtype == gn.float32
    assert abs(values.numpy().mean() - 2) < 0.03 and abs(values.numpy().std() - 3) < 0.03
    means, stds = gn.arange(4.0).reshape(4, 1), gn.tensor([0.5, 1.0, 2.0])
    x = gn.normal(means, stds)
    assert_same(x, torch.normal(torch.arange(4.0).reshape(4, 1), torch.tensor([0.5, 1.0, 2.0])), values=False)
    big = gn.normal(gn.full((N,), -1.0, dtype=gn.float64), 0.5)
    assert big.dtype == gn.float64 and abs(big.numpy().mean() + 1) < 0.01 and abs(big.numpy().std() - 0.5) < 0.01
    assert_same(gn.normal(0.0, gn.ones(3)), torch.normal(0.0, torch.ones(3)), values=False)


def test_normal_is_differentiable_in_mean_and_std():
    mean = gn.tensor([1.0, -1.0, 0.0], requires_grad=True)
    std = gn.tensor([2.0, 0.5, 1.0], requires_grad=True)
    out = gn.normal(mean, std)
    out.sum().backward()
    np.testing.assert_allclose(mean.grad, np.ones(3))
    noise = (out.detach() - mean.detach()) / std.detach()
    np.testing.assert_allclose(std.grad, noise.numpy(), rtol=1e-5)  # PyTorch's rule: the noise drawn


def test_like_functions_follow_the_input():
    x = gn.zeros(3, 4, dtype=gn.float64)
    assert gn.rand_like(x).dtype == gn.float64 and gn.rand_like(x).shape == (3, 4)
    assert gn.randn_like(x, dtype=gn.float32).dtype == gn.float32
    ints = gn.zeros(2, 5, dtype=gn.int32)
    r = gn.randint_like(ints, 5)
    assert r.dtype == gn.int32 and r.shape == (2, 5) and 0 <= r.numpy().min() and r.numpy().max() < 5
    assert 3 <= gn.randint_like(ints, 3, 6).numpy().min()
    assert_same(gn.randint_like(x, 10), torch.randint_like(torch.zeros(3, 4, dtype=torch.float64), 10), values=False)


def test_manual_seed_repeats_every_random_function():
    def draw():
        return [gn.rand(3), gn.randn(3), gn.randint(100, (3,)), gn.randperm(5), gn.normal(0.0, 1.0, (3,))]

    gn.manual_seed(123)
    first = draw()
    gn.manual_seed(123)
    second = draw()
    gn.seed(123)  # the same generator
    third = draw()
    for a, b, c in zip(first, second, third):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
    generator = gn.manual_seed(7)
    assert gn.rand(2, generator=generator).shape == (2,)  # what manual_seed returns may be passed back


# -- dtypes --------------------------------------------------------------------------------------

DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]


def test_dtype_names_at_the_top_level():
    for gn_name, torch_name in [("float32", "float32"), ("float", "float"), ("float64", "float64"),
                                ("double", "double"), ("float16", "float16"), ("half", "half"),
                                ("int64", "int64"), ("long", "long"), ("int32", "int32"), ("int", "int"),
                                ("int16", "int16"), ("short", "short"), ("int8", "int8"), ("uint8", "uint8"),
                                ("bool", "bool")]:
        assert dtype_name(getattr(gn, gn_name)) == dtype_name(getattr(torch, torch_name)), gn_name
    assert gn.get_default_dtype() == gn.float32
    assert gn.tensor([1.0], dtype=gn.float).dtype == gn.float32 and gn.tensor([1], dtype=gn.long).dtype == gn.int64


def test_helpers_about_tensors():
    x = gn.zeros(2, 3)
    assert gn.is_tensor(x) and not gn.is_tensor(np.zeros(2)) and not gn.is_tensor([1])
    assert gn.is_floating_point(x) and not gn.is_floating_point(gn.zeros(2, dtype=gn.int64))
    assert gn.numel(x) == 6
    assert gn.result_type(gn.tensor([1, 2]), 2.5) == gn.float32
    assert gn.result_type(gn.tensor([1.0], dtype=gn.float64), gn.tensor(1.0)) == gn.float64


# -- conversions -----------------------------------------------------------------------------------

CONVERSIONS = ["float", "double", "half", "long", "int", "short", "char", "byte", "bool"]


@pytest.mark.parametrize("source", DTYPES)
def test_conversion_methods_give_torchs_dtypes(source):
    values = np.array([0, 1, 2, 3], dtype=source)
    for method in CONVERSIONS:
        mine, theirs = getattr(gn.tensor(values), method)(), getattr(torch.tensor(values), method)()
        assert_same(mine, theirs), (source, method)


@pytest.mark.parametrize("source", DTYPES)
def test_type_names_and_conversions(source):
    x, t = gn.tensor(np.ones(2, dtype=source)), torch.tensor(np.ones(2, dtype=source))
    assert x.type() == t.type().replace("torch.", "glassnet.")
    for target in DTYPES:
        assert_same(x.type(getattr(gn, target)), t.type(getattr(torch, target)))
        assert_same(x.to(getattr(gn, target)), t.to(getattr(torch, target)))
    assert x.type("torch.DoubleTensor").dtype == gn.float64 and x.type("glassnet.IntTensor").dtype == gn.int32


def test_to_returns_self_when_nothing_changes():
    x, t = gn.zeros(2), torch.zeros(2)
    for call in [lambda v, m: v.to(m.float32), lambda v, m: v.to("cpu"), lambda v, m: v.to(m.device("cpu")),
                 lambda v, m: v.to(v), lambda v, m: v.to(dtype=m.float32), lambda v, m: v.to("cpu", m.float32),
                 lambda v, m: v.to(device="cpu", dtype=m.float32), lambda v, m: v.float(), lambda v, m: v.cpu(),
                 lambda v, m: v.contiguous(), lambda v, m: v.type(m.float32)]:
        assert (call(x, gn) is x) == (call(t, torch) is t)
    assert x.to(gn.float32, copy=True) is not x and x.to("cpu", gn.float64).dtype == gn.float64
    assert x.to(gn.ones(1, dtype=gn.int32)).dtype == gn.int32
    assert x.to(gn.float32, False, True) is not x  # to(dtype, non_blocking, copy) by position


def test_float_conversions_stay_in_the_graph_and_integer_ones_leave_it():
    x = gn.tensor([1.5, -2.0], requires_grad=True)
    t = torch.tensor([1.5, -2.0], requires_grad=True)
    for method in ["double", "half", "float"]:
        mine, theirs = getattr(x, method)(), getattr(t, method)()
        assert mine.requires_grad == theirs.requires_grad
    (x.double() * gn.tensor([3.0, 4.0], dtype=gn.float64)).sum().backward()
    assert x.grad.dtype == gn.float32
    np.testing.assert_array_equal(x.grad, [3.0, 4.0])
    for method in ["long", "int", "bool", "byte"]:
        mine, theirs = getattr(x, method)(), getattr(t, method)()
        assert mine.requires_grad is theirs.requires_grad is False
        assert mine.is_leaf and theirs.is_leaf and mine.grad_fn is None
    assert x.astype("float64").dtype == gn.float64  # NumPy's spelling still works


def test_uint8_image_to_float_scaled():
    image = np.random.default_rng(0).integers(0, 256, (2, 3, 4, 4), dtype=np.uint8)
    mine, theirs = gn.from_numpy(image).float() / 255, torch.from_numpy(image).float() / 255
    assert_same(mine, theirs)
    assert_same(gn.from_numpy(image) / 255, torch.from_numpy(image) / 255)  # straight to float32


def test_attributes_match_torch():
    for source in DTYPES:
        x, t = gn.zeros(2, 3, 4, dtype=getattr(gn, source)), torch.zeros(2, 3, 4, dtype=getattr(torch, source))
        assert x.size() == t.size() and isinstance(x.size(), tuple) and x.size(1) == t.size(1) and x.size(-1) == t.size(-1)
        assert x.dim() == x.ndimension() == t.dim() == 3
        assert x.numel() == x.nelement() == t.nelement() == 24
        assert x.element_size() == t.element_size() and x.itemsize == t.itemsize and x.nbytes == t.nbytes
        assert x.is_floating_point() == t.is_floating_point()
        assert x.shape == tuple(t.shape) and dtype_name(x.dtype) == dtype_name(t.dtype)
    x = gn.zeros(2, requires_grad=True)
    assert x.is_leaf and not (x * 2).is_leaf and x.device == gn.device("cpu") and not x.is_cuda and x.get_device() == -1
    assert repr(x.size()) == "glassnet.Size([2])" and x.size() == (2,) and gn.Size([2, 3]).numel() == 6
    assert isinstance(gn.zeros(2, 3, 4).size()[1:], gn.Size)
    with pytest.raises(IndexError):
        x.size(3)


def test_data_ptr_is_shared_by_views_from_the_start():
    x = gn.arange(6.0)
    assert x.view(2, 3).data_ptr() == x.data_ptr() == x.detach().data_ptr()
    assert gn.tensor(x).data_ptr() != x.data_ptr()  # a copy
    assert x[2:].data_ptr() == x.data_ptr() + 2 * x.element_size()


# -- expand, repeat, narrow, contiguous, view_as --------------------------------------------------

MOVEMENT = {
    "expand": (lambda x: x.expand(2, 3, 4), [(3, 1)]),
    "expand -1": (lambda x: x.expand(-1, 4), [(3, 1)]),
    "expand same": (lambda x: x.expand(3, 2), [(3, 2)]),
    "expand new axes": (lambda x: x.expand((5, 2, 3)), [(3,)]),
    "expand 0-d": (lambda x: x.expand(2, 2), [()]),
    "expand_as": (lambda x, y: x.expand_as(y) * y, [(1, 4), (3, 4)]),
    "repeat": (lambda x: x.repeat(2, 3), [(2, 3)]),
    "repeat more axes": (lambda x: x.repeat(2, 1, 3), [(2, 3)]),
    "repeat 1-d": (lambda x: x.repeat(3), [(4,)]),
    "repeat list": (lambda x: x.repeat([1, 2]), [(2, 2)]),
    "narrow": (lambda x: x.narrow(1, 1, 2), [(3, 5)]),
    "narrow negative start": (lambda x: x.narrow(-1, -3, 2), [(3, 5)]),
    "narrow first": (lambda x: x.narrow(0, 0, 1), [(3, 5)]),
    "contiguous of transpose": (lambda x: x.transpose(0, 1).contiguous() * 2, [(3, 4)]),
    "contiguous of expand": (lambda x: x.expand(3, 4).contiguous(), [(1, 4)]),
    "view_as": (lambda x, y: x.view_as(y) + y, [(2, 6), (3, 4)]),
}


@pytest.mark.parametrize("name", MOVEMENT)
def test_movement_values_and_gradients_match_torch(name, torch_parity):
    fn, shapes = MOVEMENT[name]
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(shape).astype(np.float32) for shape in shapes]
    torch_parity(fn, fn, *arrays)


@pytest.mark.parametrize("name", MOVEMENT)
def test_movement_gradcheck(name):
    fn, shapes = MOVEMENT[name]
    rng = np.random.default_rng(1)
    inputs = [gn.tensor(rng.standard_normal(shape), requires_grad=True) for shape in shapes]
    assert gn.gradcheck(lambda *xs: fn(*xs) * 1.5, inputs)


def test_movement_on_integer_tensors():
    x = np.arange(6).reshape(2, 3)
    assert_same(gn.tensor(x[:1]).expand(4, 3), torch.tensor(x[:1]).expand(4, 3))
    assert_same(gn.tensor(x).repeat(2, 2), torch.tensor(x).repeat(2, 2))
    assert_same(gn.tensor(x).narrow(1, 2, 1), torch.tensor(x).narrow(1, 2, 1))


def test_expand_and_narrow_are_views():
    x = gn.arange(3.0).reshape(3, 1)
    e = x.expand(3, 4)
    assert np.shares_memory(e.numpy(), x.numpy())
    with pytest.raises(RuntimeError):
        e.add_(1)  # torch refuses too: several elements share one memory location
    y, t = gn.zeros(3, 5), torch.zeros(3, 5)
    y.narrow(1, 1, 2).fill_(7)
    t.narrow(1, 1, 2).fill_(7)
    assert_same(y, t)  # writing into the narrowed view changes the tensor


def test_contiguous_copies_only_when_needed():
    x = gn.randn(3, 4, requires_grad=True)
    assert x.contiguous() is x
    y = x.T
    assert not y.numpy().flags.c_contiguous
    c = y.contiguous()
    assert c is not y and c.numpy().flags.c_contiguous and c.grad_fn is not None
    assert torch.randn(3, 4).T.contiguous().is_contiguous()


def test_movement_errors():
    x = gn.zeros(3, 2)
    with pytest.raises(RuntimeError, match="expand"):
        x.expand(3, 4)  # only size-1 axes can grow
    with pytest.raises(RuntimeError, match="number of sizes"):
        x.expand(2)
    with pytest.raises(RuntimeError, match="-1"):
        x.expand(-1, 3, 2)
    with pytest.raises(RuntimeError, match="repeats"):
        x.repeat(2)
    with pytest.raises(RuntimeError, match="exceeds"):
        x.narrow(0, 2, 2)
    for call in [lambda m: m.zeros(3, 2).expand(3, 4), lambda m: m.zeros(3, 2).repeat(2),
                 lambda m: m.zeros(3, 2).narrow(0, 2, 2)]:
        with pytest.raises(RuntimeError):
            call(torch)


# -- devices --------------------------------------------------------------------------------------


def test_the_cpu_device():
    cpu = gn.device("cpu")
    assert cpu.type == "cpu" and cpu.index is None and repr(cpu) == repr(torch.device("cpu")) == "device(type='cpu')"
    assert str(cpu) == "cpu" and cpu == "cpu" and cpu == gn.device("cpu") and cpu != "cuda"
    zero = gn.device("cpu:0")
    assert zero.type == "cpu" and zero.index == 0 and repr(zero) == repr(torch.device("cpu:0")) and str(zero) == "cpu:0"
    assert gn.device("cuda", 1).index == 1 and gn.device("cuda:1") == gn.device("cuda", 1)
    assert gn.zeros(2).device == gn.device("cpu") and {cpu: 1}[gn.device("cpu")] == 1
    with pytest.raises(RuntimeError, match="device type"):
        gn.device("gpu")


def test_availability_checks_say_no_gpu():
    assert gn.cuda.is_available() is torch.cuda.is_available() is False
    assert gn.cuda.device_count() == 0
    assert gn.accelerator.is_available() is False
    assert gn.backends.mps.is_available() is False
    gn.cuda.manual_seed_all(0)  # harmless, as in PyTorch without a GPU
    gn.backends.cudnn.deterministic = True
    from glassnet.backends import cudnn

    assert cudnn is gn.backends.cudnn
    device = "cuda" if gn.cuda.is_available() else "cpu"  # the tutorials' idiom
    assert gn.randn(2, device=device).to(device).device == "cpu"


@pytest.mark.parametrize("call", [
    lambda: gn.zeros(2, device="cuda"),
    lambda: gn.tensor([1.0], device="cuda:0"),
    lambda: gn.randn(2, device=gn.device("mps")),
    lambda: gn.arange(3, device="cuda"),
    lambda: gn.ones(2).to("cuda"),
    lambda: gn.ones(2).to(gn.device("cuda"), gn.float64),
    lambda: gn.ones(2).to(device="mps"),
    lambda: gn.ones(2).cuda(),
    lambda: gn.ones(2).cuda(0),
    lambda: gn.ones(2).new_zeros(2, device="cuda"),
])
def test_other_devices_raise_a_clear_error(call):
    with pytest.raises(RuntimeError, match=r"runs on the CPU \(NumPy\) and has no GPU backend.*help: use device=\"cpu\""
                                             r".*\"cuda\" if glassnet.cuda.is_available\(\) else \"cpu\""):
        call()


# -- type promotion -----------------------------------------------------------------------------------

PROMOTED = ["bool", "uint8", "int8", "int16", "int32", "int64", "float32", "float64"]
OPERATORS = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv, "**": operator.pow}


def _result(op, a, b):
    """The result's dtype name, or "error" when the op raises."""
    try:
        return dtype_name(op(a, b).dtype)
    except (RuntimeError, NotImplementedError, TypeError):
        return "error"


def _operand(m, dtype, form):
    if form == "tensor":
        return m.tensor(np.array([1, 2, 3], dtype=dtype))
    return m.tensor(np.array(1, dtype=dtype))  # a 0-d tensor


@pytest.mark.parametrize("symbol", OPERATORS)
@pytest.mark.parametrize("forms", [("tensor", "tensor"), ("tensor", "0-d"), ("0-d", "tensor"), ("0-d", "0-d")])
def test_type_promotion_between_tensors_matches_torch(symbol, forms):
    op, wrong = OPERATORS[symbol], []
    for a, b in itertools.product(PROMOTED, PROMOTED):
        mine = _result(op, _operand(gn, a, forms[0]), _operand(gn, b, forms[1]))
        theirs = _result(op, _operand(torch, a, forms[0]), _operand(torch, b, forms[1]))
        if mine != theirs:
            wrong.append(f"{a} {forms[0]} {symbol} {b} {forms[1]}: {mine}, torch {theirs}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("symbol", OPERATORS)
@pytest.mark.parametrize("form", ["tensor", "0-d"])
def test_type_promotion_with_python_scalars_matches_torch(symbol, form):
    op, wrong = OPERATORS[symbol], []
    for a, scalar in itertools.product(PROMOTED, [True, 2, 2.5]):
        for left in (True, False):  # tensor ⊕ scalar and scalar ⊕ tensor
            def apply(m):
                x = _operand(m, a, form)
                return _result(op, x, scalar) if left else _result(op, scalar, x)

            mine, theirs = apply(gn), apply(torch)
            if mine != theirs:
                wrong.append(f"{a} {form} {symbol} {scalar!r} ({'left' if left else 'right'}): {mine}, torch {theirs}")
    assert not wrong, "\n".join(wrong)


def test_promotion_examples_with_values():
    x = np.array([0, 51, 255])
    assert_same(gn.tensor(x) / 255, torch.tensor(x) / 255)  # int / 255 is float32
    base, exponent = np.array([1.5, 2.0, 3.0], np.float32), np.array([2, 3, 1])
    assert_same(gn.tensor(base) ** gn.tensor(exponent), torch.tensor(base) ** torch.tensor(exponent))
    assert_same(gn.tensor([1, 2]) * 2.5, torch.tensor([1, 2]) * 2.5)
    assert_same(gn.tensor([1, 2], dtype=gn.int8) + 100, torch.tensor([1, 2], dtype=torch.int8) + 100)
    assert_same(gn.tensor([True, False]) ** True, torch.tensor([True, False]) ** True)
    assert_same(gn.tensor([True, False]) ** False, torch.tensor([True, False]) ** False)
    with pytest.raises(RuntimeError, match="logical_not"):
        gn.tensor([1.0]) - gn.tensor([True])
    with pytest.raises(RuntimeError, match="logical_xor"):
        gn.tensor([True]) - True


def test_set_default_device_accepts_the_cpu_and_refuses_a_gpu():
    gn.set_default_device("cpu")
    gn.set_default_device(None)
    assert gn.get_default_device() == gn.device("cpu")
    with pytest.raises(RuntimeError, match="no GPU backend"):
        gn.set_default_device("cuda")
