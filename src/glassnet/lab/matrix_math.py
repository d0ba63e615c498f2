"""Claim ``matrix-math``: the matrix math is what costs; a network's time goes to multiply-adds.

A neuron computes a weighted sum: one multiply-add per input. A layer of them is a matrix
product, and so is a convolution (each output pixel is a weighted sum over a small window
of every input channel). This experiment measures, on this machine:

1. the multiply-adds of one training step of the mlp, the cnn and the gpt, counted from a
   recorded forward pass (:func:`count_multiply_adds`, through
   :func:`glassnet.tensor.observe_ops`, the hook that sees every op), forward and backward;
2. this machine's speed at the one thing it does best, a float32 matrix product with
   NumPy (:func:`measure_peak`: the best of many 512x512 products, in GFLOP/s, two
   floating-point operations per multiply-add);
3. where the time of a training step goes (:func:`profile_step`: every op's forward and
   backward timed, in the fastest of several steps, grouped into kinds: matrix products,
   element-wise ops, normalisation, pooling, ...; plus the optimizer's update and the
   rest, which is Python and autograd's bookkeeping);
4. the achieved GFLOP/s of each step against that peak;
5. a GPU: glassnet has no GPU backend (its array library, ``glassnet.backend.xp``, is
   NumPy), so no GPU figure is measured, and the finding says so (:func:`gpu_backend`).

The claim holds on a run when, for every model profiled, the matrix products (matmul,
linear, convolution) take a larger share of the training step's time than any other
kind. Attention (the gpt's fused op: two batched matrix products and a softmax) is its
own kind and does not count towards it. The models train on random data: the time of a
step does not depend on the values.
"""
import collections
import contextlib
import functools
import importlib.util
import time

import numpy as np

from .. import backend
from .. import random as gn_random
from ..autograd import Function
from ..device import cuda
from ..models import build, gpt
from ..nn import functional as F
from ..optim import Adam
from ..tensor import Tensor, observe_ops
from . import claims

MATRIX_PRODUCTS = "matrix products"
OPTIMIZER = "optimizer update"
OTHER = "other (Python, autograd)"
# the kind of an op, from the module of glassnet.ops that defines it
KIND_OF_MODULE = {
    "matmul": MATRIX_PRODUCTS, "conv": MATRIX_PRODUCTS, "attention": "attention", "recurrent": "recurrent cells",
    "elementwise": "element-wise", "norm": "normalisation", "pool": "pooling", "reduce": "reductions, softmax",
    "loss": "loss", "movement": "reshaping, indexing", "embedding": "reshaping, indexing",
}

# the batch of each model profiled (and the gpt's size); images are (1, 28, 28), the gpt reads
# windows of `context` tokens
FULL_MODELS = {"mlp": {"batch": 128}, "cnn": {"batch": 64},
               "gpt": {"batch": 16, "vocab": 96, "context": 128, "dim": 128, "depth": 4}}
MAX_STEPS = 200  # timed steps of one model, at most
QUICK_MODELS = {"mlp": {"batch": 64}, "cnn": {"batch": 16},
                "gpt": {"batch": 8, "vocab": 96, "context": 64, "dim": 64, "depth": 2}}


def run(quick=False, seed=0, log=None):
    """Measure the peak, count and time a training step of each model, and return the
    :class:`~glassnet.lab.claims.Finding` (figure: time by op kind, and multiply-adds
    against time with the peak's line)."""
    log = claims.quiet(log)
    # 512 rather than larger, many times: large enough for BLAS's full speed, short enough (a few
    # ms) that on a busy machine some run without being interrupted (measured on one: 88 GFLOP/s
    # at 512, 30 at 1024, whose every product was interrupted)
    size, repeats = (512, 10) if quick else (512, 30)
    log(f"matrix-math: this machine's peak, the best of {repeats} NumPy products of two {size}x{size} float32 "
        "matrices...")
    peak = measure_peak(size, repeats)
    log(f"  {peak['gflops']:.1f} GFLOP/s")
    models = {}
    for name, settings in (QUICK_MODELS if quick else FULL_MODELS).items():
        model, inputs, targets = workload(name, settings, seed)
        counted = count_multiply_adds(model, inputs)
        steps, min_seconds = (3, 0.3) if quick else (5, 1.5)
        log(f"{name}: {counted['forward'] / 1e6:,.1f} M multiply-adds forward, {counted['backward'] / 1e6:,.1f} M "
            f"backward; timing training steps op by op, at least {steps} and {min_seconds:g} s...")
        timed = profile_step(model, inputs, targets, steps=steps, min_seconds=min_seconds)
        models[name] = summarize(name, settings, counted, timed, peak)
        result = models[name]
        log(f"  fastest of {timed['steps']} steps: {timed['step_seconds'] * 1e3:.1f} ms (mean "
            f"{timed['mean_step_seconds'] * 1e3:.1f} ms), {result['shares'][MATRIX_PRODUCTS]:.0%} in matrix products, "
            f"{result['gflops']:.2f} GFLOP/s ({_percent(result['fraction_of_peak'])} of the peak)")
    data = {"peak": peak, "models": models, "gpu": gpu_backend(), **judge(models)}
    return claims.Finding(name="matrix-math", held=data["held"], number=headline(data), verdict=verdict(data),
                          figure=plot(data), data=data)


# -- counting multiply-adds ---------------------------------------------------------------------

def _multiply_adds(fn, inputs, options, outputs):
    """``(forward, backward)`` multiply-adds of one op applied in a recorded pass; ``(0, 0)``
    for ops that make no products (element-wise, normalisation, pooling, reshaping: their
    cost is in reading and writing memory, not in multiply-adds).

    The gradient of a product with respect to one operand is itself a product of the same
    size (for ``y = x W^T``: ``dx = dy W`` and ``dW = dy^T x``), so backward costs the
    forward's multiply-adds once for each operand that needs a gradient."""
    name = type(fn).__name__
    shape = [getattr(t, "shape", None) for t in inputs]
    needs = getattr(fn, "needs_input_grad", (False,) * len(inputs))
    out = int(np.prod(outputs[0].shape))
    if name == "Linear":  # x (..., in) @ weight (out, in)^T: each output value sums `in` products
        forward = out * shape[1][1]
        return forward, forward * (needs[0] + needs[1])
    if name == "MatMul":  # a (..., n, k) @ b (..., k, m): each output value sums k products
        forward = out * shape[0][-1]
        return forward, forward * (needs[0] + needs[1])
    if name == "Conv2d":  # weight (out, in / groups, kh, kw): each output value sums in/groups * kh * kw
        forward = out * int(np.prod(shape[1][1:]))
        return forward, forward * (needs[0] + needs[1])
    if name == "ConvTranspose2d":  # weight (in, out / groups, kh, kw): each input value spreads to as many
        forward = int(np.prod(shape[0])) * int(np.prod(shape[1][1:]))
        return forward, forward * (needs[0] + needs[1])
    if name == "Attention":  # q (..., L, d), k (..., S, d), v (..., S, dv): scores q k^T, then weights @ v
        (*batch, length, width), (source, value_width) = shape[0], shape[2][-2:]
        pairs = int(np.prod(batch)) * length * source  # every pair is computed, a causal mask only hides half
        forward = pairs * (width + value_width)
        # backward: d(weights) = dy v^T, then dq = d(scores) k, dk = d(scores)^T q, dv = weights^T dy
        backward = pairs * (value_width * any(needs[:3]) + width * (needs[0] + needs[1]) + value_width * needs[2])
        return forward, backward
    if name in ("RNN", "LSTM", "GRU"):  # x (L, N, in), weight_ih (gates * H, in), weight_hh (gates * H, H)
        index = 3 if name == "LSTM" else 2  # an LSTM also takes its cell state c0
        rows, width = shape[index]
        forward = int(np.prod(shape[0])) // width * rows * (width + shape[index + 1][1])
        return forward, 2 * forward  # about: the gradients of the inputs and of the weights
    if name == "Einsum" and len(shape) == 2:  # the op parsed its subscripts, '...' spelled out
        sizes = {}
        for letters, dims in zip(fn.subscripts, shape):
            sizes.update(zip(letters, dims))
        forward = int(np.prod(list(sizes.values())))  # one multiply-add per combination of the indices
        return forward, forward * (needs[0] + needs[1])
    return 0, 0


def count_multiply_adds(model, inputs):
    """The multiply-adds of one training step of ``model`` on ``inputs`` (a tuple of
    tensors), counted from the shapes of the ops of one recorded forward pass (in training
    mode, with autograd on, as a training step runs it).

    Returns a dict: ``forward`` and ``backward`` (totals), ``by_op`` ({op name: [forward,
    backward]}) and ``ops`` (ops recorded). Backward counts one product of the forward's
    size for each operand that needs a gradient (the input image needs none, so a first
    layer's backward is half its neighbours'); a bias, an activation or a normalisation
    counts no multiply-adds: those ops are cheap in arithmetic, though not in time (nor
    does an einsum of more than two operands).

    >>> from glassnet import nn, tensor
    >>> import numpy as np
    >>> counted = count_multiply_adds(nn.Linear(3, 2), (tensor(np.ones((4, 3), np.float32)),))
    >>> counted["forward"], counted["backward"]  # 4 rows x 2 outputs x 3 inputs; only the weight needs a gradient
    (24, 24)
    """
    by_op = collections.defaultdict(lambda: [0, 0])
    recorded = []

    def observer(fn, op_inputs, options, outputs):
        forward, backward = _multiply_adds(fn, op_inputs, options, outputs)
        recorded.append(type(fn).__name__)
        if forward:
            by_op[type(fn).__name__][0] += forward
            by_op[type(fn).__name__][1] += backward

    model.train()
    previous = observe_ops(observer)
    try:
        model(*inputs)
    finally:
        observe_ops(previous)
    return {"forward": sum(f for f, _ in by_op.values()), "backward": sum(b for _, b in by_op.values()),
            "by_op": dict(by_op), "ops": len(recorded)}


# -- this machine's peak ------------------------------------------------------------------------

def measure_peak(size=512, repeats=30, seed=0):
    """This machine's speed at a large float32 matrix product with NumPy (its BLAS, on every
    core it uses): the best of ``repeats`` products of two ``size`` x ``size`` matrices.
    A product makes ``size**3`` multiply-adds, two floating-point operations each.

    Returns a dict: ``size``, ``repeats``, ``seconds`` (the best), ``gflops``.
    """
    if size < 1 or repeats < 1:
        raise ValueError(f"measure_peak: size and repeats must be at least 1, got size={size}, repeats={repeats}")
    rng = np.random.default_rng(seed)
    a, b = (rng.standard_normal((size, size), dtype=np.float32) for _ in range(2))
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        np.matmul(a, b)
        best = min(best, time.perf_counter() - start)
    return {"size": size, "repeats": repeats, "seconds": best, "gflops": 2 * size ** 3 / best / 1e9}


# -- where a training step's time goes ----------------------------------------------------------

def kind_of(op_class):
    """The kind of an op class of ``glassnet.ops`` ('matrix products', 'element-wise', ...),
    from the module that defines it.

    >>> from glassnet.ops.conv import Conv2d
    >>> kind_of(Conv2d)
    'matrix products'
    """
    return KIND_OF_MODULE.get(op_class.__module__.rsplit(".", 1)[-1], "other ops")


class OpClock:
    """Seconds spent inside each op's ``forward`` and ``backward``, by op name and phase.

    The time is the op's own: when an op runs inside another (none of glassnet's do today),
    it is taken out of the outer one's time, so that nothing is counted twice."""

    def __init__(self):
        self.seconds = collections.defaultdict(float)  # (op name, 'forward' | 'backward') -> seconds
        self.calls = collections.Counter()
        self._inner = [0.0]  # time of the ops running inside the one now timed, one entry per level

    def timed(self, method, phase):
        """``method`` (an op's forward or backward), timed into this clock."""
        @functools.wraps(method)
        def timed_method(op, *args, **kwargs):
            self._inner.append(0.0)
            start = time.perf_counter()
            try:
                return method(op, *args, **kwargs)
            finally:
                elapsed = time.perf_counter() - start
                inner = self._inner.pop()
                key = (type(op).__name__, phase)
                self.seconds[key] += elapsed - inner
                self.calls[key] += 1
                self._inner[-1] += elapsed
        return timed_method


def _op_classes(base=Function):
    """Every subclass of ``base``, at any depth."""
    for subclass in base.__subclasses__():
        yield subclass
        yield from _op_classes(subclass)


@contextlib.contextmanager
def timing_ops(clock):
    """Within the block, every op's ``forward`` and ``backward`` is timed into ``clock`` (an
    :class:`OpClock`). The methods are wrapped on their classes and put back afterwards."""
    wrapped = []
    try:
        for op_class in list(_op_classes()):
            for phase in ("forward", "backward"):
                if phase in vars(op_class):  # where it is defined; subclasses inherit the wrapper
                    original = vars(op_class)[phase]
                    setattr(op_class, phase, clock.timed(original, phase))
                    wrapped.append((op_class, phase, original))
        yield clock
    finally:
        for op_class, phase, original in reversed(wrapped):
            setattr(op_class, phase, original)


def _loss(output, targets):
    """Cross-entropy over classes; a gpt's (N, T, vocab) scores count every position."""
    if output.ndim == 3:
        output, targets = output.reshape(-1, output.shape[-1]), targets.reshape(-1)
    return F.cross_entropy(output, targets)


def profile_step(model, inputs, targets, steps=5, warmup=1, min_seconds=0.0, lr=1e-3):
    """Train ``model`` for ``warmup`` untimed and then at least ``steps`` timed steps
    (forward, cross-entropy, zero_grad, backward, Adam) on one batch, going on until
    ``min_seconds`` have passed (at most ``MAX_STEPS``), and say where the time of the
    fastest step went: the best of several, as for the peak, since on a busy machine the
    slower ones measure the other programs too, and a step of a few milliseconds needs
    many tries to find one that ran undisturbed.

    Returns a dict: ``step_seconds`` (the fastest step's wall time), ``mean_step_seconds``,
    ``seconds`` ({kind: seconds}, forward and backward together, with ``'optimizer
    update'`` and ``'other (Python, autograd)'``, the rest of the step), ``by_op`` ({op
    name: {'kind', 'forward', 'backward' (seconds), 'calls' (forward and backward)}}),
    ``steps`` (the number timed).
    """
    if steps < 1:
        raise ValueError(f"profile_step: steps must be at least 1, got {steps}")
    optimizer = Adam(model.parameters(), lr=lr)
    model.train()

    def step():
        """One training step; returns its wall time and the optimizer's part of it."""
        start = time.perf_counter()
        loss = _loss(model(*inputs), targets)
        optimizer.zero_grad()
        loss.backward()
        update = time.perf_counter()
        optimizer.step()
        end = time.perf_counter()
        return end - start, end - update

    for _ in range(warmup):
        step()
    timed, started = [], time.perf_counter()
    while len(timed) < steps or (time.perf_counter() - started < min_seconds and len(timed) < MAX_STEPS):
        clock = OpClock()
        with timing_ops(clock):
            total, update = step()
        timed.append((total, update, clock))
    total, update, clock = min(timed, key=lambda entry: entry[0])
    kinds = {op.__name__: kind_of(op) for op in _op_classes()}
    by_op, seconds = {}, collections.defaultdict(float)
    for (name, phase), spent in clock.seconds.items():
        entry = by_op.setdefault(name, {"kind": kinds.get(name, "other ops"), "forward": 0.0, "backward": 0.0,
                                        "calls": 0})
        entry[phase] += spent
        entry["calls"] += clock.calls[name, phase]
        seconds[entry["kind"]] += spent
    seconds[OPTIMIZER] = update
    seconds[OTHER] = max(0.0, total - sum(seconds.values()))
    return {"step_seconds": total, "mean_step_seconds": sum(entry[0] for entry in timed) / len(timed),
            "seconds": dict(seconds), "by_op": by_op, "steps": len(timed)}


# -- the models ---------------------------------------------------------------------------------

def workload(name, settings, seed=0):
    """``(model, inputs, targets)``: the model of glassnet.models called ``name`` and one
    random batch for it (``settings``: ``batch``; for the gpt also ``vocab``, ``context``,
    ``dim`` and ``depth``). Images are (1, 28, 28) with 10 classes."""
    gn_random.seed(seed)
    rng = np.random.default_rng(seed)
    batch = settings["batch"]
    if name == "gpt":
        model = gpt(settings["vocab"], context=settings["context"], dim=settings["dim"], depth=settings["depth"])
        tokens = rng.integers(0, settings["vocab"], (batch, settings["context"] + 1))
        return model, (Tensor(tokens[:, :-1]),), tokens[:, 1:]
    model = build(name, (1, 28, 28), 10)
    images = rng.random((batch, 1, 28, 28), dtype=np.float32)
    return model, (Tensor(images),), rng.integers(0, 10, batch)


def summarize(name, settings, counted, timed, peak):
    """One model's numbers: the multiply-adds, the step's time by kind and its shares, and
    the achieved GFLOP/s, of the whole step and of its matrix products alone."""
    multiply_adds = counted["forward"] + counted["backward"]
    step = timed["step_seconds"]
    product_seconds = timed["seconds"].get(MATRIX_PRODUCTS, 0.0) + timed["seconds"].get("attention", 0.0)
    gflops = 2 * multiply_adds / step / 1e9
    return {"settings": settings, "multiply_adds": counted, "step_seconds": step, "seconds": timed["seconds"],
            "shares": {kind: spent / step for kind, spent in timed["seconds"].items()}, "by_op": timed["by_op"],
            "gflops": gflops, "fraction_of_peak": gflops / peak["gflops"],
            "product_gflops": 2 * multiply_adds / product_seconds / 1e9 if product_seconds else None,
            "largest_kind": max(timed["seconds"], key=timed["seconds"].get)}


def gpu_backend():
    """Whether a GPU could run the same step here: glassnet's array library and CuPy's
    presence. glassnet computes with NumPy only, so there is no GPU figure to measure."""
    cupy = importlib.util.find_spec("cupy") is not None
    return {"glassnet_array_library": backend.xp.__name__, "cuda_available": bool(cuda.is_available()),
            "cupy_installed": cupy, "measured": None,
            "why": f"glassnet has no GPU backend: its ops compute with {backend.xp.__name__} "
                   f"(glassnet.backend.xp){'; CuPy is installed but glassnet does not use it' if cupy else ''}, "
                   "so the step was not run on a GPU and no GPU figure is reported"}


# -- the verdict --------------------------------------------------------------------------------

def judge(models):
    """``held`` when the matrix products are the largest kind of every model's step time;
    ``not_largest`` names the models where another kind took more."""
    not_largest = {name: model["largest_kind"] for name, model in models.items()
                   if model["largest_kind"] != MATRIX_PRODUCTS}
    return {"held": not not_largest, "not_largest": not_largest}


def headline(data):
    models = data["models"].items()
    shares = ", ".join(f"{name} {model['shares'].get(MATRIX_PRODUCTS, 0):.0%}" for name, model in models)
    achieved = ", ".join(f"{name} {model['gflops']:.1f}" for name, model in models)
    return (f"step time in matrix products: {shares}; achieved GFLOP/s: {achieved} "
            f"(peak {data['peak']['gflops']:.0f}); no GPU backend")


def _percent(fraction):
    """A fraction as a percentage, with a decimal below 10% so that a small one does not read 0%.

    >>> _percent(0.256), _percent(0.0062)
    ('26%', '0.6%')
    """
    return f"{fraction:.0%}" if fraction >= 0.1 else f"{fraction:.1%}"


def verdict(data):
    """One sentence: where the step's time went, against the multiply-adds, and the GPU."""
    models = data["models"]
    fractions = ", ".join(_percent(model["fraction_of_peak"]) for model in models.values())
    tail = (f"; the steps reach {fractions} of this machine's {data['peak']['gflops']:.0f} GFLOP/s "
            f"({', '.join(models)}), and no GPU figure exists: glassnet has no GPU backend")
    if data["held"]:
        low = min(models.values(), key=lambda model: model["shares"][MATRIX_PRODUCTS])
        return (f"matrix products take the largest share of every model's training step (at least "
                f"{low['shares'][MATRIX_PRODUCTS]:.0%}){tail}")
    others = ", ".join(f"{kind} in the {name}" for name, kind in data["not_largest"].items())
    return f"not everywhere: the largest share went to {others}, not to the matrix products{tail}"


# -- the figure ---------------------------------------------------------------------------------

def plot(data):
    """Left: each model's share of step time by kind of op. Right: multiply-adds of a
    training step against its time (and against the time of its matrix products alone),
    with the line this machine's peak would give."""
    from ..inspect import plots

    fig, (shares_axis, speed_axis) = plots.figure(14, 5, ncols=2, gridspec_kw={"width_ratios": (1.2, 1)})
    models = data["models"]
    kinds = sorted({kind for model in models.values() for kind in model["seconds"]},
                   key=lambda kind: -max(model["shares"].get(kind, 0) for model in models.values()))
    height = 0.8 / len(models)
    for index, (name, model) in enumerate(models.items()):
        positions = np.arange(len(kinds)) + index * height
        shares = [100 * model["shares"].get(kind, 0) for kind in kinds]
        shares_axis.barh(positions, shares, height, label=f"{name} ({model['step_seconds'] * 1e3:.0f} ms a step)")
    shares_axis.set_yticks(np.arange(len(kinds)) + 0.4 - height / 2, kinds)
    shares_axis.invert_yaxis()
    shares_axis.set(xlabel="share of a training step's time (%)", title="Where a training step's time goes")
    shares_axis.grid(True, axis="x", alpha=0.3)
    shares_axis.legend(fontsize=8, loc="lower right")

    peak = data["peak"]["gflops"]
    counts = [model["multiply_adds"]["forward"] + model["multiply_adds"]["backward"] for model in models.values()]
    line = np.geomspace(min(counts) / 2, max(counts) * 2, 10)
    speed_axis.plot(line, 2 * line / (peak * 1e9), "k--", linewidth=1,
                    label=f"at this machine's peak ({peak:.0f} GFLOP/s)")
    for index, (name, model) in enumerate(models.items()):
        count, color = counts[index], f"C{index}"
        product_seconds = model["seconds"].get(MATRIX_PRODUCTS, 0) + model["seconds"].get("attention", 0)
        speed_axis.plot(count, model["step_seconds"], "o", color=color, label=f"{name}: whole step")
        speed_axis.plot(count, product_seconds, "s", color=color, fillstyle="none",
                        label=f"{name}: its matrix products" + (" and attention" if name == "gpt" else ""))
        speed_axis.annotate(f"{_percent(model['fraction_of_peak'])} of peak", (count, model["step_seconds"]),
                            textcoords="offset points", xytext=(6, 4), fontsize=8)
    speed_axis.set(xscale="log", yscale="log", xlabel="multiply-adds in a training step (forward + backward)",
                   ylabel="seconds", title="Multiply-adds against time")
    speed_axis.grid(True, which="both", alpha=0.3)
    speed_axis.legend(fontsize=7, loc="upper left")
    fig.suptitle("The matrix math is what costs? (no GPU figure: glassnet has no GPU backend)")
    return fig
