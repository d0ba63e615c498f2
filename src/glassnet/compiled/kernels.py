"""The compiled kernels (numba), and the scalar functions they are made of.

Everything numba compiles lives in this one module on purpose: numba's on-disk cache
checks only the file of the function it compiled, so a kernel in another file would keep
running a stale copy of a scalar function changed here.

The scalar functions are written so that LLVM vectorizes the loops that call them: no
library calls, no branches around work (both values are computed and one is chosen, a
select), no Python ints (``np.floor`` rather than ``math.floor``, which returns one and
stops vectorization), and the kernels' loops run over contiguous arrays. The kernels
whose sums must stay in registers across an inner loop, the matrix products of the
recurrences and of the attention's heads and the direct convolution, hold them as
``lanes`` (sixteen floats, one vector register) instead of leaving the vectorizing to
LLVM; so does the attention's softmax, whose rows are too short for LLVM's loops
(``exp_lanes`` is ``exp`` on sixteen lanes, to the bit).

``exp`` is the textbook range reduction: x = k ln 2 + r with |r| <= ln 2 / 2, e^r by its
Taylor polynomial to r^7 (truncation error below 1e-8), and 2^k made by writing k into a
float32's exponent bits (in two halves, so that results down to the subnormals come out
as float32 rounds them). Its error against float64 is float32 rounding (about 1e-7
relative); tests/test_compiled.py measures it, and ties every kernel to its NumPy twin.
"""
import math

import numba
import numpy as np
from llvmlite import binding as llvm_binding, ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic, models, register_model

f32, f64 = np.float32, np.float64
FAST = {"contract", "afn", "arcp"}
# for loops that sum or take a maximum: reassociation lets LLVM keep eight partial sums
# in the lanes (NumPy's own sums are pairwise, so neither order is "the" exact one)
REDUCING = FAST | {"reassoc", "nsz"}


def _compiler(fastmath, **options):
    return numba.njit(fastmath=fastmath, error_model="numpy", nogil=True, cache=True, **options)


jit, jit_reducing = _compiler(FAST), _compiler(REDUCING)
jit_strict = _compiler(False)  # IEEE rounding: the same bits however the code is compiled
# helpers that take arrays: inlined by numba itself, where LLVM leaves them calls (each
# passing its arrays counted in and out of their reference counts)
jit_inline, jit_reducing_inline = _compiler(FAST, inline="always"), _compiler(REDUCING, inline="always")

LOG2_E = f32(1.4426950408889634)
LN2_HIGH = f32(0.693145751953125)  # ln 2 split in two, so that k ln 2 is exact in float32
LN2_LOW = f32(1.4286068203094173e-06)
EXP_MIN, EXP_MAX = f32(-104), f32(89)  # e^x is 0 below, inf above, in float32


@intrinsic
def _bits_as_float32(typingctx, bits):
    """The float32 whose bit pattern is the int32 ``bits`` (a reinterpretation, not a conversion)."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())
    return types.float32(types.int32), codegen


@jit
def exp(x):
    """e^x for float32 x, NaN kept, 0 and inf where float32 has no room (x below -104 or
    above 88.7), subnormals in between as float32 rounds them. 2^k is applied as two
    halves, 2^(k//2) 2^(k - k//2), so that each is a normal float32 for any k here."""
    clamped = min(max(x, EXP_MIN), EXP_MAX)
    k = np.floor(clamped * LOG2_E + f32(0.5))
    r = clamped - k * LN2_HIGH - k * LN2_LOW
    p = f32(1 / 5040)
    p = p * r + f32(1 / 720)
    p = p * r + f32(1 / 120)
    p = p * r + f32(1 / 24)
    p = p * r + f32(1 / 6)
    p = p * r + f32(0.5)
    p = p * r + f32(1)
    p = p * r + f32(1)
    k_low = np.int32(k) >> np.int32(1)
    k_high = np.int32(k) - k_low
    e = p * _bits_as_float32((k_low + np.int32(127)) << np.int32(23))
    e *= _bits_as_float32((k_high + np.int32(127)) << np.int32(23))
    return e if x == x else x


@jit
def expm1_negative(y):
    """e^y - 1 for y <= 0, accurate also near 0, where e^y - 1 would cancel: there its
    Taylor series (to y^9: error below 3e-10 for y > -0.5), else exp(y) - 1."""
    series = f32(1 / 362880)  # Horner's rule, written out: a loop over the coefficients would not vectorize
    series = series * y + f32(1 / 40320)
    series = series * y + f32(1 / 5040)
    series = series * y + f32(1 / 720)
    series = series * y + f32(1 / 120)
    series = series * y + f32(1 / 24)
    series = series * y + f32(1 / 6)
    series = series * y + f32(0.5)
    series = series * y + f32(1)
    series *= y
    direct = exp(y) - f32(1)  # computed always, then chosen: a branch around it would not vectorize
    return series if y > f32(-0.5) else direct


@jit
def sigmoid(x):
    """1 / (1 + e^-x), from e^-|x| so that nothing overflows: for x < 0 it is
    e^x / (1 + e^x). NaN stays NaN."""
    e = exp(-abs(x))
    s = f32(1) / (f32(1) + e)
    s = s if x >= f32(0) else e * s
    return s if x == x else x


@jit
def tanh(x):
    """tanh |x| = (1 - e^-2|x|) / (1 + e^-2|x|), the numerator from expm1 so that small x
    keep their digits, and the sign of x put back; NaN stays NaN."""
    m = expm1_negative(f32(-2) * min(abs(x), f32(10)))  # tanh(10) is 1 in float32
    t = -m / (f32(2) + m)
    t = t if x >= f32(0) else -t
    return t if x == x else x


# -- element-wise activations: out[k] = f(x[k]) over flat, contiguous arrays ---------------------


@jit
def add_to_rows(rows, vector):
    """rows += vector, the same vector added to every row (a layer's bias): rounded as
    NumPy's broadcast add, which runs about 3x slower, its inner loop restarted per row."""
    for r in range(rows.shape[0]):
        for j in range(rows.shape[1]):
            rows[r, j] += vector[j]


@jit
def relu_into(x, out):
    """max(x, 0) as NumPy's maximum gives it: NaN kept, -0.0 made 0.0. A select, which
    LLVM vectorizes; NumPy's float32 maximum runs 3x slower than its add here."""
    for k in range(x.size):
        v = x[k]
        out[k] = v if v > f32(0) or v != v else f32(0)


@jit
def add_into(a, b, out):
    """out = a + b (ops.elementwise.Add's forward, a gradient's sum), as NumPy adds."""
    for k in range(out.size):
        out[k] = a[k] + b[k]


@jit
def add_in_place(total, b):
    """total += b: add_into with out = a, in a loop of its own, since one whose output
    overlaps an input sends LLVM to its scalar version (compiled.kernels' GRU cell)."""
    for k in range(total.size):
        total[k] += b[k]


@jit
def relu_backward(out, grad, grad_x):
    """grad times the mask out > 0, multiplied as NumPy multiplies by a bool array (so a
    NaN gradient where the mask is 0 stays NaN, as on NumPy's path)."""
    for k in range(out.size):
        grad_x[k] = grad[k] * (f32(1) if out[k] > f32(0) else f32(0))


@jit
def sigmoid_into(x, out):
    for k in range(x.size):
        out[k] = sigmoid(x[k])


@jit
def tanh_into(x, out):
    for k in range(x.size):
        out[k] = tanh(x[k])


# -- GELU, exact (erf) form: ops.elementwise._normal_cdf's formula, one pass -------------------

ERF_P = f32(0.3275911 / np.sqrt(2))  # Abramowitz & Stegun 7.1.26, for erfc(|x| / sqrt 2)
ERF_A1, ERF_A2, ERF_A3, ERF_A4, ERF_A5 = (f32(a) for a in (0.254829592, -0.284496736, 1.421413741,
                                                            -1.453152027, 1.061405429))
INV_SQRT_2PI = f32(1 / np.sqrt(2 * np.pi))


@jit
def gauss(x):
    """exp(-x^2 / 2), 0 below e^-80 as in ops.elementwise._gauss."""
    return exp(max(f32(-0.5) * x * x, f32(-80)))


@jit
def normal_cdf(v):
    """Phi(v), the standard normal CDF: 1 - P(Z > |v|) for v >= 0, P(Z > |v|) below."""
    t = f32(1) / (f32(1) + ERF_P * abs(v))
    tail = t * (ERF_A1 + t * (ERF_A2 + t * (ERF_A3 + t * (ERF_A4 + t * ERF_A5))))
    tail *= f32(0.5) * gauss(v)  # P(Z > |v|)
    return f32(0.5) + math.copysign(f32(0.5) - tail, v)


@jit
def gelu_forward(x, out):
    """out[k] = x Phi(x)."""
    for k in range(x.size):
        v = x[k]
        out[k] = v * normal_cdf(v)


@jit
def gelu_backward(x, grad, grad_x):
    """grad_x = grad (Phi(x) + x phi(x)), phi(x) = exp(-x^2 / 2) / sqrt(2 pi); Phi computed
    again, as the forward did, rather than kept: an array the size of x less until backward."""
    for k in range(x.size):
        v = x[k]
        grad_x[k] = grad[k] * (normal_cdf(v) + v * gauss(v) * INV_SQRT_2PI)


@jit_inline
def three_gates(block, row, hidden):
    """The three gates' slices of one row of a (N, 3H) gate block, [r | z | n]."""
    return block[row, :hidden], block[row, hidden:2 * hidden], block[row, 2 * hidden:3 * hidden]


@jit_inline
def four_gates(block, row, hidden):
    """The four gates' slices of one row of a (N, 4H) gate block, [i | f | g | o]."""
    return (block[row, :hidden], block[row, hidden:2 * hidden], block[row, 2 * hidden:3 * hidden],
            block[row, 3 * hidden:4 * hidden])


# -- one LSTM step: ops.recurrent's _lstm_cell and the body of LSTM.backward's loop ------------


@jit
def lstm_cell(gates, recurrent, bias, c, c_next, tanh_c_next, h_next):
    """gates (N, 4H): x W_ih^T on entry, to which ``recurrent`` (h W_hh^T, (N, 4H)) and
    ``bias`` (4H,) are added; the activations i, f, g, o on exit. c' = f c + i g,
    tanh(c') and h' = o tanh(c') into the (N, H) arrays. g = tanh(a) is made as
    2 sigmoid(2a) - 1, as the NumPy step does. Each quantity has its own short loop over
    one row's slices, which LLVM vectorizes (one loop doing all, or a loop over an offset
    range of the row, it does not)."""
    rows, hidden = c.shape
    for n in range(rows):
        row, added = gates[n], recurrent[n]
        for k in range(4 * hidden):
            row[k] += added[k] + bias[k]
        i, f, g, o = four_gates(gates, n, hidden)
        c_row, c_new, tanh_new, h_new = c[n], c_next[n], tanh_c_next[n], h_next[n]
        for j in range(hidden):
            i[j] = sigmoid(i[j])
        for j in range(hidden):
            f[j] = sigmoid(f[j])
        for j in range(hidden):
            g[j] = f32(2) * sigmoid(f32(2) * g[j]) - f32(1)
        for j in range(hidden):
            o[j] = sigmoid(o[j])
        for j in range(hidden):
            c_new[j] = f[j] * c_row[j] + i[j] * g[j]
        for j in range(hidden):
            tanh_new[j] = tanh(c_new[j])
        for j in range(hidden):
            h_new[j] = o[j] * tanh_new[j]


@jit
def lstm_cell_backward(gates, c, tanh_c, dh, dc, d_gates):
    """The gradient of one step's gate pre-activations into d_gates (N, 4H), given the
    gradient dh reaching h_t and dc reaching c_t; dc becomes the gradient reaching c_{t-1}."""
    rows, hidden = c.shape
    for n in range(rows):
        i, f, g, o = four_gates(gates, n, hidden)
        di, df, dg, do = four_gates(d_gates, n, hidden)
        c_row, t, d_h, d_c = c[n], tanh_c[n], dh[n], dc[n]
        for j in range(hidden):  # h = o tanh(c): to o, and to c, joining what c had from step t + 1
            do[j] = d_h[j] * t[j] * o[j] * (f32(1) - o[j])
        for j in range(hidden):
            d_c[j] += d_h[j] * o[j] * (f32(1) - t[j] * t[j])
        for j in range(hidden):  # c = f c_prev + i g: to each gate, and on to c_prev
            di[j] = d_c[j] * g[j] * i[j] * (f32(1) - i[j])
        for j in range(hidden):
            df[j] = d_c[j] * c_row[j] * f[j] * (f32(1) - f[j])
        for j in range(hidden):
            dg[j] = d_c[j] * i[j] * (f32(1) - g[j] * g[j])
        for j in range(hidden):
            d_c[j] *= f[j]


# -- one GRU step: ops.recurrent's _gru_cell and _gru_cell_backward ------------------------------


@jit
def gru_cell(gates, h_gates, bias, h, h_next, h_candidate):
    """With h_rzn = h W_hh^T (``h_gates``) + ``bias`` (b_hh, 3H) and ``gates`` (N, 3H)
    holding x_rzn = x W_ih^T + b_ih: r, z = sigmoid(x_rz + h_rz), n = tanh(x_n + r h_n),
    each written over its x part; h' = n + z (h - n) into ``h_next``; h_n into
    ``h_candidate`` (N, H). The bias is added here, not in a pass of its own. One array read
    and written at each index: two arrays that overlapped would fail LLVM's run-time check
    and run the loops unvectorized (the GRU's inference took twice as long)."""
    rows, hidden = h.shape
    b_r, b_z, b_n = bias[:hidden], bias[hidden:2 * hidden], bias[2 * hidden:]
    for row in range(rows):
        (r, z, n), (h_r, h_z, h_n) = three_gates(gates, row, hidden), three_gates(h_gates, row, hidden)
        h_row, h_new, candidate = h[row], h_next[row], h_candidate[row]
        for j in range(hidden):
            r[j] = sigmoid(r[j] + (h_r[j] + b_r[j]))
        for j in range(hidden):
            z[j] = sigmoid(z[j] + (h_z[j] + b_z[j]))
        for j in range(hidden):
            candidate[j] = h_n[j] + b_n[j]
        for j in range(hidden):
            n[j] = tanh(n[j] + r[j] * candidate[j])
        for j in range(hidden):
            h_new[j] = n[j] + z[j] * (h_row[j] - n[j])


@jit
def gru_cell_backward(gates, h_prev, h_candidate, dh, d_x_gates, d_h_gates):
    """The gate gradients of one GRU step into d_x_gates and d_h_gates (N, 3H), given dh
    reaching h_t; dh becomes z dh, the part of dh_{t-1} that skips the weights."""
    rows, hidden = dh.shape
    for row in range(rows):
        r, z, n = three_gates(gates, row, hidden)
        dx_r, dx_z, dx_n = three_gates(d_x_gates, row, hidden)
        dh_r, dh_z, dh_n = three_gates(d_h_gates, row, hidden)
        d_h, h_row, candidate = dh[row], h_prev[row], h_candidate[row]
        for j in range(hidden):
            dx_n[j] = d_h[j] * (f32(1) - z[j]) * (f32(1) - n[j] * n[j])
        for j in range(hidden):
            dx_z[j] = d_h[j] * (h_row[j] - n[j]) * z[j] * (f32(1) - z[j])
        for j in range(hidden):
            dh_n[j] = dx_n[j] * r[j]
        for j in range(hidden):
            dx_r[j] = dx_n[j] * candidate[j] * r[j] * (f32(1) - r[j])
        for j in range(hidden):
            dh_r[j] = dx_r[j]
        for j in range(hidden):
            dh_z[j] = dx_z[j]
        for j in range(hidden):
            d_h[j] *= z[j]


# -- sixteen float32 lanes: a value numba keeps in one vector register -----------------------
#
# LLVM vectorizes a loop's innermost axis, so the sums a loop adds into live in memory and
# are loaded and stored on every pass. A kernel that wants its sums to stay in registers
# across a long inner loop (the convolution's, over channels and taps) holds them as
# ``lanes`` values instead: sixteen float32 lanes, one AVX-512 register (two AVX2 ones
# elsewhere: LLVM splits the type for the machine it compiles on).

LANES = 16
LANES_TYPE = ir.VectorType(ir.FloatType(), LANES)


class Lanes(types.Type):
    def __init__(self):
        super().__init__(name="lanes")


lanes = Lanes()
register_model(Lanes)(lambda dmm, fe_type: models.PrimitiveModel(dmm, fe_type, LANES_TYPE))


def _takes_lanes(array):
    """Whether ``array`` (a numba type) is 1-D float32: its run of 16 must also be adjacent
    in memory (a row of a C-ordered array), which the callers see to."""
    return isinstance(array, types.Array) and array.ndim == 1 and array.dtype == types.float32


def _lanes_at(context, builder, array_type, array, index):
    data = context.make_array(array_type)(context, builder, array).data
    return builder.bitcast(builder.gep(data, [index]), LANES_TYPE.as_pointer())


def _lanes_below(builder, count):
    """The mask of the lanes i < count."""
    i64 = ir.IntType(64)
    counts = builder.insert_element(ir.Constant(ir.VectorType(i64, LANES), ir.Undefined), count, ir.Constant(i64, 0))
    counts = builder.shuffle_vector(counts, counts, ir.Constant(ir.VectorType(ir.IntType(32), LANES), [0] * LANES))
    return builder.icmp_signed("<", ir.Constant(ir.VectorType(i64, LANES), list(range(LANES))), counts)


def _llvm(builder, name, returns, *arguments):
    kind = ir.FunctionType(returns, [a.type for a in arguments])
    return builder.call(cgutils.get_or_insert_function(builder.module, kind, name), arguments)


def _masked_load(context, builder, signature, args, fill):
    """The 16 floats of array ``args[0]`` from index ``args[1]``, those from ``args[2]`` on
    taken from ``fill`` and not read."""
    return _llvm(builder, "llvm.masked.load.v16f32.p0v16f32", LANES_TYPE,
                 _lanes_at(context, builder, signature.args[0], args[0], args[1]), ir.Constant(ir.IntType(32), 4),
                 _lanes_below(builder, args[2]), fill)


@intrinsic
def load_lanes(typingctx, array, index, count):
    """array[index:index + 16] of a 1-D float32 array, the lanes from ``count`` on zero and
    not read (a row's end)."""
    if not _takes_lanes(array):
        return None

    def codegen(context, builder, signature, args):
        return _masked_load(context, builder, signature, args, ir.Constant(LANES_TYPE, None))
    return lanes(array, types.int64, types.int64), codegen


@intrinsic
def load_lanes_or(typingctx, array, index, count, fill):
    """load_lanes, the lanes from ``count`` on ``fill`` instead of zero (-inf before a maximum)."""
    if not _takes_lanes(array):
        return None

    def codegen(context, builder, signature, args):
        return _masked_load(context, builder, signature, args, _splat(builder, args[3]))
    return lanes(array, types.int64, types.int64, types.float32), codegen


@intrinsic
def store_lanes(typingctx, array, index, value, count):
    """array[index:index + 16] = value, the lanes before ``count`` only."""
    if not _takes_lanes(array):
        return None

    def codegen(context, builder, signature, args):
        _llvm(builder, "llvm.masked.store.v16f32.p0v16f32", ir.VoidType(), args[2],
              _lanes_at(context, builder, signature.args[0], args[0], args[1]), ir.Constant(ir.IntType(32), 4),
              _lanes_below(builder, args[3]))
        return context.get_dummy_value()
    return types.void(array, types.int64, lanes, types.int64), codegen


def _splat(builder, scalar):
    one = builder.insert_element(ir.Constant(LANES_TYPE, ir.Undefined), scalar, ir.Constant(ir.IntType(32), 0))
    return builder.shuffle_vector(one, one, ir.Constant(ir.VectorType(ir.IntType(32), LANES), [0] * LANES))


@intrinsic
def splat(typingctx, scalar):
    """The float32 ``scalar`` in every lane."""
    return lanes(types.float32), lambda context, builder, signature, args: _splat(builder, args[0])


@intrinsic
def multiply_add(typingctx, total, weight, x):
    """total + weight * x in every lane, one rounding (a fused multiply-add), ``weight`` a scalar."""
    def codegen(context, builder, signature, args):
        return _llvm(builder, "llvm.fma.v16f32", LANES_TYPE, _splat(builder, args[1]), args[2], args[0])
    return lanes(lanes, types.float32, lanes), codegen


@intrinsic
def add_lanes(typingctx, a, b):
    """a + b, lane by lane."""
    return lanes(lanes, lanes), lambda context, builder, signature, args: builder.fadd(args[0], args[1])


@intrinsic
def subtract_lanes(typingctx, a, b):
    """a - b, lane by lane."""
    return lanes(lanes, lanes), lambda context, builder, signature, args: builder.fsub(args[0], args[1])


def _larger(builder, a, b):
    """a where a > b, else b (one instruction: NaN in a is passed over, as x86's max does)."""
    return builder.select(builder.fcmp_ordered(">", a, b), a, b)


@intrinsic
def max_lanes(typingctx, a, b):
    """The larger of a and b, lane by lane (a NaN in ``a`` passed over)."""
    return lanes(lanes, lanes), lambda context, builder, signature, args: _larger(builder, args[0], args[1])


def _fold(builder, value, combine):
    """combine(...) of the sixteen lanes, as a tree: each step pairs every lane with the one
    half as far along (four steps), where a chain of fifteen would wait on each other."""
    step = LANES // 2
    while step:
        moved = builder.shuffle_vector(value, value, ir.Constant(ir.VectorType(ir.IntType(32), LANES),
                                                                 [(i + step) % LANES for i in range(LANES)]))
        value, step = combine(builder, value, moved), step // 2
    return builder.extract_element(value, ir.Constant(ir.IntType(32), 0))


@intrinsic
def lanes_total(typingctx, a):
    """The sum of the sixteen lanes."""
    def codegen(context, builder, signature, args):
        return _fold(builder, args[0], lambda builder, a, b: builder.fadd(a, b))
    return types.float32(lanes), codegen


@intrinsic
def lanes_largest(typingctx, a):
    """The largest of the sixteen lanes."""
    def codegen(context, builder, signature, args):
        return _fold(builder, args[0], _larger)
    return types.float32(lanes), codegen


@intrinsic
def multiply_lanes(typingctx, a, b):
    """a * b, lane by lane."""
    return lanes(lanes, lanes), lambda context, builder, signature, args: builder.fmul(args[0], args[1])


@intrinsic
def reciprocal_lanes(typingctx, a):
    """1 / a, lane by lane (a division, rounded once)."""
    return lanes(lanes), lambda context, builder, signature, args: builder.fdiv(_splat(builder, ir.Constant(
        ir.FloatType(), 1.0)), args[0])


@intrinsic
def where_equal(typingctx, a, value, then, otherwise):
    """``then`` (a scalar) in the lanes where a == ``value``, the lanes of ``otherwise`` elsewhere."""
    def codegen(context, builder, signature, args):
        equal = builder.fcmp_ordered("==", args[0], _splat(builder, args[1]))
        return builder.select(equal, _splat(builder, args[2]), args[3])
    return lanes(lanes, types.float32, types.float32, lanes), codegen


@intrinsic
def exp_lanes(typingctx, x, cut):
    """``exp`` above, in every lane; 0 where x < ``cut`` (-inf for none)."""
    def codegen(context, builder, signature, args):
        x, lanes_i32 = args[0], ir.VectorType(ir.IntType(32), LANES)

        def fma(a, b, c):
            return _llvm(builder, "llvm.fma.v16f32", LANES_TYPE, a, b, c)

        def constant(value):
            return ir.Constant(LANES_TYPE, [float(f32(value))] * LANES)

        def integers(value):
            return ir.Constant(lanes_i32, [value] * LANES)

        clamped = _llvm(builder, "llvm.minnum.v16f32", LANES_TYPE,
                        _llvm(builder, "llvm.maxnum.v16f32", LANES_TYPE, x, constant(EXP_MIN)), constant(EXP_MAX))
        k = _llvm(builder, "llvm.floor.v16f32", LANES_TYPE, fma(clamped, constant(LOG2_E), constant(0.5)))
        minus_k = builder.fneg(k)
        r = fma(minus_k, constant(LN2_LOW), fma(minus_k, constant(LN2_HIGH), clamped))
        p = constant(1 / 5040)
        for coefficient in (1 / 720, 1 / 120, 1 / 24, 1 / 6, 0.5, 1, 1):
            p = fma(p, r, constant(coefficient))
        whole = builder.fptosi(k, lanes_i32)
        low = builder.ashr(whole, integers(1))
        for half in (low, builder.sub(whole, low)):  # 2^k in two halves, as exp does
            biased = builder.shl(builder.add(half, integers(127)), integers(23))
            p = builder.fmul(p, builder.bitcast(biased, LANES_TYPE))
        p = builder.select(builder.fcmp_unordered("uno", x, x), x, p)
        return builder.select(builder.fcmp_ordered("<", x, _splat(builder, args[1])), constant(0), p)
    return lanes(lanes, types.float32), codegen


@intrinsic
def multiply_add_lanes(typingctx, total, a, b):
    """total + a * b, lane by lane, one rounding (multiply_add with lanes for its weight)."""
    def codegen(context, builder, signature, args):
        return _llvm(builder, "llvm.fma.v16f32", LANES_TYPE, args[1], args[2], args[0])
    return lanes(lanes, lanes, lanes), codegen


def _row_at(context, builder, array_type, array, start, offsets_type, offsets, row):
    """The address of array's element start + offsets[row] (element counts), as 16 lanes'."""
    data = context.make_array(array_type)(context, builder, array).data
    offset_data = context.make_array(offsets_type)(context, builder, offsets).data
    offset = builder.sext(builder.load(builder.gep(offset_data, [ir.Constant(ir.IntType(64), row)])), ir.IntType(64))
    return builder.bitcast(builder.gep(data, [builder.add(start, offset)]), LANES_TYPE.as_pointer())


@intrinsic
def transpose_lanes(typingctx, source, source_start, source_offsets, target, target_start, target_offsets, rows,
                    columns):
    """A 16 x 16 block transposed, in registers: row r < ``rows`` is the ``columns`` floats
    of ``source`` from element source_start + source_offsets[r]; column c < ``columns``
    of the block, its ``rows`` floats, goes to ``target`` from element target_start +
    target_offsets[c] (the offsets: int32 arrays of 16, in floats; the arrays: float32,
    any shape, the offsets counted from their first element). What lays out sixteen
    attention heads' rows a head in each lane, and back."""
    def codegen(context, builder, signature, args):
        source, source_start, source_offsets, target, target_start, target_offsets, rows, columns = args
        kinds, i64 = signature.args, ir.IntType(64)
        mask_type = ir.VectorType(ir.IntType(1), LANES)
        in_columns, in_rows = _lanes_below(builder, columns), _lanes_below(builder, rows)
        nowhere = builder.bitcast(context.make_array(kinds[0])(context, builder, source).data, LANES_TYPE.as_pointer())
        block = []
        for r in range(LANES):  # a row past ``rows``: zeros, nothing read, no offset looked up
            inside = builder.icmp_signed("<", ir.Constant(i64, r), rows)
            address = cgutils.alloca_once_value(builder, nowhere)
            with builder.if_then(inside):
                row = _row_at(context, builder, kinds[0], source, source_start, kinds[2], source_offsets, r)
                builder.store(row, address)
            mask = builder.and_(in_columns, builder.select(inside, ir.Constant(mask_type, [1] * LANES),
                                                           ir.Constant(mask_type, [0] * LANES)))
            block.append(_llvm(builder, "llvm.masked.load.v16f32.p0v16f32", LANES_TYPE, builder.load(address),
                               ir.Constant(ir.IntType(32), 4), mask, ir.Constant(LANES_TYPE, None)))
        step = LANES // 2
        while step:  # swap the off-diagonal blocks of side ``step`` within each block of twice that
            for r in [r for r in range(LANES) if not r & step]:
                low = [c if not c & step else LANES + c - step for c in range(LANES)]
                high = [c + step if not c & step else LANES + c for c in range(LANES)]
                block[r], block[r + step] = (builder.shuffle_vector(block[r], block[r + step], ir.Constant(
                    ir.VectorType(ir.IntType(32), LANES), order)) for order in (low, high))
            step //= 2
        for c in range(LANES):
            with builder.if_then(builder.icmp_signed("<", ir.Constant(i64, c), columns)):
                _llvm(builder, "llvm.masked.store.v16f32.p0v16f32", ir.VoidType(), block[c],
                      _row_at(context, builder, kinds[3], target, target_start, kinds[5], target_offsets, c),
                      ir.Constant(ir.IntType(32), 4), in_rows)
        return context.get_dummy_value()
    return types.void(source, types.int64, source_offsets, target, types.int64, target_offsets, types.int64,
                      types.int64), codegen


@jit_inline
def _add_times(e0, e1, e2, e3, weight, x0, x1, x2, x3):
    """e_k + weight * x_k for four runs of 16 lanes: one filter's sums over 64 floats."""
    return multiply_add(e0, weight, x0), multiply_add(e1, weight, x1), multiply_add(e2, weight, x2), multiply_add(e3, weight, x3)


@jit_inline
def _load_four(x, start, count):
    """x[start:start + 64] as four vectors, the lanes from ``count`` on zero and not read."""
    return (load_lanes(x, start, count), load_lanes(x, start + LANES, count - LANES),
            load_lanes(x, start + 2 * LANES, count - 2 * LANES), load_lanes(x, start + 3 * LANES, count - 3 * LANES))


@jit_inline
def _store_four(row, start, e0, e1, e2, e3, count):
    """row[start:start + 64] = the four vectors, the lanes before ``count`` only."""
    store_lanes(row, start, e0, count)
    store_lanes(row, start + LANES, e1, count - LANES)
    store_lanes(row, start + 2 * LANES, e2, count - 2 * LANES)
    store_lanes(row, start + 3 * LANES, e3, count - 3 * LANES)


@jit
def multiply_rows(a, b, out, accumulate, bias=None):
    """out = a @ b, or out += a @ b where ``accumulate``, or out = bias + a @ b where a
    ``bias`` (N,) is given: a (M, K), b (K, N) and out (M, N), float32, each row
    contiguous. Four rows of out by 64 columns at a time, their sums in registers over all
    of K (16 vectors); each row of b's block, four loads, feeds sixteen multiply-adds. A
    last group of fewer than four rows repeats its last row and does not store the
    repeats; the last block of columns masks the lanes past N."""
    m, depth = a.shape
    n = b.shape[1]
    for start in range(0, n, 4 * LANES):
        count = n - start
        if bias is None:
            z0 = z1 = z2 = z3 = splat(f32(0))
        else:
            z0, z1, z2, z3 = _load_four(bias, start, count)
        for r in range(0, m, 4):
            r1, r2, r3 = min(r + 1, m - 1), min(r + 2, m - 1), min(r + 3, m - 1)
            if accumulate:
                a0, a1, a2, a3 = _load_four(out[r], start, count)
                b0, b1, b2, b3 = _load_four(out[r1], start, count)
                c0, c1, c2, c3 = _load_four(out[r2], start, count)
                d0, d1, d2, d3 = _load_four(out[r3], start, count)
            else:
                a0, a1, a2, a3 = b0, b1, b2, b3 = c0, c1, c2, c3 = d0, d1, d2, d3 = z0, z1, z2, z3
            u0, u1, u2, u3 = a[r], a[r1], a[r2], a[r3]
            for k in range(depth):
                x0, x1, x2, x3 = _load_four(b[k], start, count)
                a0, a1, a2, a3 = _add_times(a0, a1, a2, a3, u0[k], x0, x1, x2, x3)
                b0, b1, b2, b3 = _add_times(b0, b1, b2, b3, u1[k], x0, x1, x2, x3)
                c0, c1, c2, c3 = _add_times(c0, c1, c2, c3, u2[k], x0, x1, x2, x3)
                d0, d1, d2, d3 = _add_times(d0, d1, d2, d3, u3[k], x0, x1, x2, x3)
            _store_four(out[r], start, a0, a1, a2, a3, count)
            if r + 1 < m:
                _store_four(out[r1], start, b0, b1, b2, b3, count)
            if r + 2 < m:
                _store_four(out[r2], start, c0, c1, c2, c3, count)
            if r + 3 < m:
                _store_four(out[r3], start, d0, d1, d2, d3, count)


@jit
def linear_rows(x, weight, bias, out):
    """out = x @ weight^T + bias, a Linear layer's product with its bias, for the weight
    (N, K) as the layer keeps it: each block of 64 of its rows is first copied transposed
    into a (K, 64) panel, which multiply_rows reads by rows, its sums starting from the
    bias (no pass over out of its own). ``bias`` may be None."""
    depth, n = x.shape[1], weight.shape[0]
    panel = np.empty((depth, 4 * LANES), np.float32)
    for start in range(0, n, 4 * LANES):
        width = min(4 * LANES, n - start)
        _transpose_rows(weight[start:start + width], panel)
        block, target = panel[:, :width], out[:, start:start + width]
        if bias is None:
            multiply_rows(x, block, target, False)
        else:
            multiply_rows(x, block, target, False, bias[start:start + width])


@jit_inline
def _transpose_rows(rows, panel):
    """panel[:, :len(rows)] = rows^T: four rows read along at a time, each step writing
    four adjacent floats of a panel row (2.6 times as fast as one column of 64 rows at a
    time, which reads 64 cache lines for each)."""
    count, depth = rows.shape
    for j in range(0, count - 3, 4):
        r0, r1, r2, r3 = rows[j], rows[j + 1], rows[j + 2], rows[j + 3]
        for k in range(depth):
            p = panel[k]
            p[j], p[j + 1], p[j + 2], p[j + 3] = r0[k], r1[k], r2[k], r3[k]
    for j in range(count - count % 4, count):
        row = rows[j]
        for k in range(depth):
            panel[k, j] = row[k]


@jit_inline
def _two_times(e0, e1, weight, x0, x1):
    return multiply_add(e0, weight, x0), multiply_add(e1, weight, x1)


@jit_inline
def _store_two(out, row, rows, start, e0, e1, count):
    """out[row, start:start + 32] = the two vectors (the lanes before ``count``), if row < rows."""
    if row < rows:
        store_lanes(out[row], start, e0, count)
        store_lanes(out[row], start + LANES, e1, count - LANES)


@jit
def multiply_rows_narrow(a, b, out):
    """out = a @ b as multiply_rows, for b of few columns (an attention head's 32): eight
    rows of out by 32 columns at a time, still sixteen sums in registers, where four rows
    by 64 would leave half the lanes masked. ``a`` may be any 2-D view (a transposed one:
    the eight scalars of a step then lie side by side)."""
    m, depth = a.shape
    n = b.shape[1]
    for start in range(0, n, 2 * LANES):
        c = n - start
        for r in range(0, m, 8):
            i1, i2, i3, i4 = min(r + 1, m - 1), min(r + 2, m - 1), min(r + 3, m - 1), min(r + 4, m - 1)
            i5, i6, i7 = min(r + 5, m - 1), min(r + 6, m - 1), min(r + 7, m - 1)
            a0 = a1 = b0 = b1 = c0 = c1 = d0 = d1 = e0 = e1 = f0 = f1 = g0 = g1 = h0 = h1 = splat(f32(0))
            u0, u1, u2, u3, u4, u5, u6, u7 = a[r], a[i1], a[i2], a[i3], a[i4], a[i5], a[i6], a[i7]
            for k in range(depth):
                x0, x1 = load_lanes(b[k], start, c), load_lanes(b[k], start + LANES, c - LANES)
                a0, a1 = _two_times(a0, a1, u0[k], x0, x1)
                b0, b1 = _two_times(b0, b1, u1[k], x0, x1)
                c0, c1 = _two_times(c0, c1, u2[k], x0, x1)
                d0, d1 = _two_times(d0, d1, u3[k], x0, x1)
                e0, e1 = _two_times(e0, e1, u4[k], x0, x1)
                f0, f1 = _two_times(f0, f1, u5[k], x0, x1)
                g0, g1 = _two_times(g0, g1, u6[k], x0, x1)
                h0, h1 = _two_times(h0, h1, u7[k], x0, x1)
            # written out: a list or a loop over a tuple here allocates or spills (+40%)
            _store_two(out, r, m, start, a0, a1, c)
            _store_two(out, r + 1, m, start, b0, b1, c)
            _store_two(out, r + 2, m, start, c0, c1, c)
            _store_two(out, r + 3, m, start, d0, d1, c)
            _store_two(out, r + 4, m, start, e0, e1, c)
            _store_two(out, r + 5, m, start, f0, f1, c)
            _store_two(out, r + 6, m, start, g0, g1, c)
            _store_two(out, r + 7, m, start, h0, h1, c)


# -- a recurrence's whole loop over time, one call per thread: ops.recurrent's recur loops -----
# In Python, each step of the loop takes the GIL back twice (after the product, after the
# cell); with a thread per block of rows, the two threads then wait on each other's steps.
# Here the loop runs in one call that holds no GIL, each step's product by multiply_rows
# (faster than OpenBLAS at these sizes: 64 x 128 times 128 x 512 on one core, 75 us
# against 101, which packs W afresh for every product).

@jit_inline
def _transposed(weight):
    """W^T as a C-ordered copy, made once for a loop over time: multiply_rows reads the
    matrix on its right by rows."""
    return np.ascontiguousarray(weight.T)


@jit
def rnn_cell(pre, recurrent, h_next, tanh_activation):
    """One Elman step, ops.recurrent.RNN's: h' = tanh(pre + recurrent), or its ReLU (as
    relu_into), where pre is x W_ih^T + both biases and recurrent h W_hh^T, all (N, H)."""
    rows, hidden = h_next.shape
    for n in range(rows):
        a, b, h = pre[n], recurrent[n], h_next[n]
        if tanh_activation:
            for j in range(hidden):
                h[j] = tanh(a[j] + b[j])
        else:
            for j in range(hidden):
                v = a[j] + b[j]
                h[j] = v if v > f32(0) or v != v else f32(0)


@jit
def rnn_steps(pre, weight_hh, hs, tanh_activation, rows):
    """RNN.forward's loop for a block of rows: each step h W_hh^T, then rnn_cell."""
    recurrent, weight_t = np.empty((rows.stop - rows.start, pre.shape[2]), np.float32), _transposed(weight_hh)
    for t in range(pre.shape[0]):
        multiply_rows(hs[t, rows], weight_t, recurrent, False)
        rnn_cell(pre[t, rows], recurrent, hs[t + 1, rows], tanh_activation)


@jit
def rnn_steps_backward(grad, weight_hh, dh, tanh_activation, rows, x, hs, weight_ih, grad_x, grads):
    """RNN.backward's loop for a block of rows, from the last step to the first: the
    activation's derivative from its output h (1 - h^2, or the mask h > 0 multiplied in
    as NumPy multiplies by a bool array) into one step's scratch, then the gradient
    reaching h_{t-1}, and the step's share of the other gradients (add_step_grads)."""
    dh_rows, d = dh[rows], np.empty((rows.stop - rows.start, hs.shape[2]), np.float32)
    for t in range(grad.shape[0] - 1, -1, -1):
        dh_rows += grad[t, rows]
        h = hs[t + 1, rows]
        for n in range(h.shape[0]):
            if tanh_activation:
                for j in range(h.shape[1]):
                    d[n, j] = dh_rows[n, j] * (f32(1) - h[n, j] * h[n, j])
            else:
                for j in range(h.shape[1]):
                    d[n, j] = dh_rows[n, j] * (f32(1) if h[n, j] > f32(0) else f32(0))
        multiply_rows(d, weight_hh, dh_rows, False)
        add_step_grads(d, d, x[t, rows], hs[t, rows], weight_ih, grad_x[t, rows], grads)


@jit
def lstm_steps(gates, weight_hh, bias, hs, cs, tanh_cs, rows):
    """LSTM.forward's loop for a block of the batch's rows: each step h W_hh^T, then lstm_cell."""
    recurrent, weight_t = np.empty((rows.stop - rows.start, gates.shape[2]), np.float32), _transposed(weight_hh)
    for t in range(gates.shape[0]):
        multiply_rows(hs[t, rows], weight_t, recurrent, False)
        lstm_cell(gates[t, rows], recurrent, bias, cs[t, rows], cs[t + 1, rows], tanh_cs[t, rows], hs[t + 1, rows])


@jit
def lstm_steps_backward(gates, cs, tanh_cs, grad_hs, weight_hh, dh, dc, rows, x, hs, weight_ih, grad_x, grads):
    """LSTM.backward's loop for a block of rows, from the last step to the first: each
    step's gate gradients live in a scratch, and go at once into x's gradient and this
    block's sums of the weights' (add_step_grads), while they are in cache."""
    dh_rows, d_gates = dh[rows], np.empty((rows.stop - rows.start, gates.shape[2]), np.float32)
    for t in range(gates.shape[0] - 1, -1, -1):
        dh_rows += grad_hs[t, rows]
        lstm_cell_backward(gates[t, rows], cs[t, rows], tanh_cs[t, rows], dh_rows, dc[rows], d_gates)
        multiply_rows(d_gates, weight_hh, dh_rows, False)
        add_step_grads(d_gates, d_gates, x[t, rows], hs[t, rows], weight_ih, grad_x[t, rows], grads)


@jit
def add_step_grads(d_input, d_hidden, x, h_prev, weight_ih, grad_x, grads):
    """One step's share of a recurrence's gradients, for a block of rows: x's (into
    ``grad_x``, unless it has no columns) and the weights' and biases', added into
    ``grads``: W_hh (G, H), W_ih transposed (in, G), b_ih (G,) and b_hh (G, or none where
    it is b_ih's), from ``d_input`` and ``d_hidden`` (N, G), the gradients of
    x W_ih^T + b_ih and of h W_hh^T + b_hh."""
    grad_hh, grad_ih_t, grad_bias_ih, grad_bias_hh = grads
    if grad_x.shape[1]:
        if weight_ih.shape[1] <= 2 * LANES:  # few columns (an LSTM's first layer: 28 pixels)
            multiply_rows_narrow(d_input, weight_ih, grad_x)
        else:
            multiply_rows(d_input, weight_ih, grad_x, False)
    multiply_rows(d_hidden.T, h_prev, grad_hh, True)
    multiply_rows(x.T, d_input, grad_ih_t, True)
    for row in range(len(d_input)):
        grad_bias_ih += d_input[row]
    if len(grad_bias_hh):
        for row in range(len(d_hidden)):
            grad_bias_hh += d_hidden[row]


@jit
def gru_steps(gates, weight_hh, bias, hs, h_candidates, rows):
    """GRU.forward's loop for a block of rows: each step h W_hh^T, then gru_cell."""
    h_gates, weight_t = np.empty((rows.stop - rows.start, gates.shape[2]), np.float32), _transposed(weight_hh)
    for t in range(gates.shape[0]):
        multiply_rows(hs[t, rows], weight_t, h_gates, False)
        gru_cell(gates[t, rows], h_gates, bias, hs[t, rows], hs[t + 1, rows], h_candidates[t, rows])


@jit
def gru_steps_backward(gates, h_candidates, grad, weight_hh, dh, rows, x, hs, weight_ih, grad_x, grads):
    """GRU.backward's loop for a block of rows, from the last step to the first: one
    step's gradients of x W_ih^T + b_ih and of h W_hh^T + b_hh in scratches, then the
    gradient reaching h_{t-1} and the step's share of the others (add_step_grads)."""
    dh_rows = dh[rows]
    scratch = np.empty((2, rows.stop - rows.start, gates.shape[2]), np.float32)
    d_x_gates, d_h_gates = scratch[0], scratch[1]
    for t in range(gates.shape[0] - 1, -1, -1):
        dh_rows += grad[t, rows]
        gru_cell_backward(gates[t, rows], hs[t, rows], h_candidates[t, rows], dh_rows, d_x_gates, d_h_gates)
        multiply_rows(d_h_gates, weight_hh, dh_rows, True)
        add_step_grads(d_x_gates, d_h_gates, x[t, rows], hs[t, rows], weight_ih, grad_x[t, rows], grads)


# -- softmax along the rows of (B, L, S) scores, in place: ops.attention's -----------------------

# Where a mask is added, e^(x - max) below this is taken as 0: its weight (under 1.6e-28)
# would come out subnormal, after the division if not before, and the CPU takes about a
# hundred times as long over each operation on a subnormal (a causal mask's -inf half made
# the gpt's softmax 1.7x slower). Against the largest weight of its row (at least 1/S),
# such a weight is lost in float32's rounding of any sum. Unmasked scores rarely lie that
# far apart, and there the two operations the cut costs would slow the short rows of a
# vision transformer by a sixth: they keep float32's exact result.
SOFTMAX_CUT = f32(-64)


@jit_reducing_inline
def _exp_into_weights(values, shift, masked):
    """e^(x - shift) for each x of ``values`` (scores less their row's largest), in place,
    and their sum; with a mask, 0 below SOFTMAX_CUT. (``values`` is a view, indexed from 0:
    an index from a computed start might be negative for all numba knows, and its
    wrap-around test keeps LLVM from vectorizing the loop.)"""
    total = f32(0)
    if masked:  # two loops, not a test inside one: LLVM does not always split it, nor vectorize it then
        for i in range(values.size):
            d = values[i] - shift
            e = exp(max(d, SOFTMAX_CUT))  # never a subnormal, even inside exp; then chosen
            e = e if d >= SOFTMAX_CUT else (f32(0) if d < SOFTMAX_CUT else d)  # NaN stays NaN
            values[i] = e
            total += e
    else:
        for i in range(values.size):
            e = exp(values[i] - shift)
            values[i] = e
            total += e
    return total


@jit_reducing
def softmax_rows(scores, mask, masked, rows_from, rows_to, keys):
    """In each matrix of ``scores`` (B, L, S), the rows rows_from <= r < rows_to become
    softmax(row + mask[r % M]) over their first ``keys`` entries, in place, where ``mask``
    (M, S) is added only when ``masked``; entries past ``keys`` are not touched (ops.attention
    leaves them uncomputed where the mask hides them). A row whose every entry is -inf (it
    may attend nowhere) becomes zeros, not NaN; with a mask, weights below e^-64 of the
    row's largest become 0 (SOFTMAX_CUT).

    Where the rows are whole (``keys`` = S), they lie in one run of memory in each matrix,
    and e^x, where the time goes, runs over the run in one loop, each row's largest
    subtracted first: LLVM's vector loop takes 64 floats a turn, so rows of 17 (a vision
    transformer's) would each run it in scalar code (256 x 17 x 17: 92 -> 65 us)."""
    count, length, size = scores.shape
    whole = keys == size
    highest = np.empty((count, rows_to - rows_from), np.float32)
    for b in range(count):
        for r in range(rows_from, rows_to):
            if masked:
                mask_row = r % mask.shape[0]
                for j in range(keys):
                    scores[b, r, j] += mask[mask_row, j]
            most = f32(-np.inf)
            for j in range(keys):
                most = max(most, scores[b, r, j])
            highest[b, r - rows_from] = most
            if whole and most != -np.inf:
                for j in range(keys):
                    scores[b, r, j] -= most
    if whole and rows_from == 0 and rows_to == length:
        _exp_into_weights(scores.reshape(-1), f32(0), masked)
    elif whole:
        for b in range(count):
            _exp_into_weights(scores[b, rows_from:rows_to].reshape(-1), f32(0), masked)
    for b in range(count):
        for r in range(rows_from, rows_to):
            row, most = scores[b, r, :keys], highest[b, r - rows_from]
            if whole:
                total = f32(0)
                for j in range(keys):
                    total += row[j]
            else:
                total = _exp_into_weights(row, most if most != -np.inf else f32(0), masked)
            scale = f32(0) if most == -np.inf else f32(1) / total  # a row of -inf: zeros
            for j in range(keys):
                row[j] *= scale


# -- the attention core, one head at a time: ops.attention.Attention's -------------------------
# The NumPy path takes each step for every head at once: the (N, H, L, S) scores go out to
# memory between the product, the softmax and the next product, and each head's small
# products pass through OpenBLAS's packing. Here each head is done whole while its scores
# (64 KB for 128 x 128) stay in the second-level cache. Queries go four at a time, each
# group only as far along the keys as its mask lets any of them see (``widths``, whole
# lanes): a causal mask's upper triangle is never computed. A batch item's heads are
# first copied out in the order their memory lies: in a transformer they are views of one
# projection, each head's rows 1.5 KB apart, and walking those head by head cost more than
# the maths (a first version's backward at one thread: 9.5 ms from the projection's views,
# 5.7 from contiguous heads).

@jit_inline
def _copy_heads(source, target, positions_outer):
    """target[h, l] = source[h, l] over (H, L, E) views with contiguous rows, positions
    outermost where the heads of a position lie side by side in memory (a projection's
    columns). By lanes: a view's inner stride is not known to be 1 when numba compiles, and
    LLVM would copy it one float at a time."""
    heads, length, depth = target.shape
    for outer in range(length if positions_outer else heads):
        for inner in range(heads if positions_outer else length):
            h, l = (inner, outer) if positions_outer else (outer, inner)
            for e in range(0, depth, LANES):
                store_lanes(target[h, l], e, load_lanes(source[h, l], e, depth - e), depth - e)


@jit_inline
def _heads(x, n):
    """x[n] as contiguous (H, L, E) heads."""
    heads = np.empty(x.shape[1:], f32)
    _copy_heads(x[n], heads, x.strides[1] <= x.strides[2])
    return heads


@jit_inline
def _softmax_lanes(rows, width, mask, first):
    """Each row of ``rows`` becomes softmax(its first ``width`` scores + its mask row), zeros
    after them (below SOFTMAX_CUT too); ``first`` is the first row's query. Three passes of
    16 lanes: the mask and the largest, e^(x - largest) and the sum, the division."""
    for i in range(rows.shape[0]):
        row, mask_row, most, total = rows[i], mask[(first + i) % mask.shape[0]], splat(f32(-np.inf)), splat(f32(0))
        for j in range(0, width, LANES):
            x = add_lanes(load_lanes_or(row, j, width - j, f32(-np.inf)), load_lanes_or(mask_row, j, width - j, f32(0)))
            store_lanes(row, j, x, width - j)
            most = max_lanes(x, most)
        largest = lanes_largest(most)
        shift = splat(f32(0) if largest == -np.inf else -largest)
        for j in range(0, width, LANES):
            e = exp_lanes(add_lanes(load_lanes(row, j, width - j), shift), SOFTMAX_CUT)
            store_lanes(row, j, e, width - j)
            total = add_lanes(total, load_lanes_or(row, j, width - j, f32(0)))
        scale = f32(0) if largest == -np.inf else f32(1) / lanes_total(total)
        for j in range(0, row.size, LANES):
            store_lanes(row, j, multiply_add(splat(f32(0)), scale, load_lanes(row, j, width - j)), row.size - j)


@jit_inline
def _eight_rows_width(widths, r):
    """How far along the keys rows r to r + 7 (two groups) reach."""
    return max(widths[r // 4], widths[min(r // 4 + 1, widths.size - 1)])


@jit_reducing
def attention_forward(q, k, v, mask, scale, widths, weights, keep, out):
    """weights = softmax(q k^T * scale + mask) and out = weights v, for q (B, H, L, E), k
    (B, H, S, E), v (B, H, S, Ev), float32 with contiguous rows, and ``mask`` (1 or L, S);
    ``widths`` from ops.attention._group_widths. The weights, zero past each group's
    width, are kept in ``weights`` (B, H, L, S, C-ordered) where ``keep`` (for the
    backward); else one head's at a time stay in the cache and nothing is written to
    memory but ``out``."""
    count, heads, length, depth = q.shape
    size = k.shape[2]
    outs, one_head = np.empty((heads, length, v.shape[3]), f32), np.empty((length, size), f32)
    keys_t = np.empty((depth, size), f32)
    for n in range(count):
        queries, keys, values = _heads(q, n), _heads(k, n), _heads(v, n)
        for h in range(heads):
            P = weights[n, h] if keep else one_head
            for s in range(size):
                for e in range(depth):
                    keys_t[e, s] = keys[h, s, e] * scale
            for g in range(widths.size):
                r, width, rows = 4 * g, widths[g], min(4, length - 4 * g)
                multiply_rows(queries[h, r:r + rows], keys_t[:, :width], P[r:r + rows, :width], False)
                _softmax_lanes(P[r:r + rows], width, mask, r)
            for r in range(0, length, 8):
                width = _eight_rows_width(widths, r)
                multiply_rows_narrow(P[r:r + 8, :width], values[h, :width], outs[h, r:r + 8])
        _copy_heads(outs, out[n], out.strides[1] <= out.strides[2])


# Rows of scores of a few keys (a vision transformer's 17 tokens) are taken the other way
# round at inference: sixteen heads at once, a head in each lane (a batch of 128 images
# with 4 heads: 32 groups of sixteen), the queries four at a time. No lane idles but in a
# last group, however many queries and keys there are (with sixteen queries in the lanes,
# a 17th cost a whole second block), and each query's softmax runs down its keys in whole
# registers, without folds across the lanes. transpose_lanes turns sixteen heads' rows
# into lanes and back, in registers. The products and sums are attention_forward's, in its
# order: the two agree to the bit (tests/test_compiled.py).

ROWS_OF_LANES = np.arange(0, LANES * LANES, LANES).astype(np.int32)  # a (n, 16) buffer's rows, in floats


@jit_inline
def _times_four(x0, x1, x2, x3, a, b0, b1, b2, b3):
    """x_k + a * b_k, lane by lane, for four sums."""
    return (multiply_add_lanes(x0, a, b0), multiply_add_lanes(x1, a, b1), multiply_add_lanes(x2, a, b2),
            multiply_add_lanes(x3, a, b3))


@jit_inline
def _store_four_rows(rows, r0, r1, r2, r3, x0, x1, x2, x3):
    """rows[r_k] = x_k for four rows of 16 floats."""
    store_lanes(rows[r0], 0, x0, LANES)
    store_lanes(rows[r1], 0, x1, LANES)
    store_lanes(rows[r2], 0, x2, LANES)
    store_lanes(rows[r3], 0, x3, LANES)


@jit_inline
def _scores_of_four(x0, x1, x2, x3, mask_row, s0, s1, s2, s3, scores, most):
    """Four keys' scores of one query, its mask added, into ``scores``; returns the larger
    of ``most`` and those, lane by lane."""
    x0, x1 = add_lanes(x0, splat(mask_row[s0])), add_lanes(x1, splat(mask_row[s1]))
    x2, x3 = add_lanes(x2, splat(mask_row[s2])), add_lanes(x3, splat(mask_row[s3]))
    _store_four_rows(scores, s0, s1, s2, s3, x0, x1, x2, x3)
    return max_lanes(max_lanes(x0, x1), max_lanes(max_lanes(x2, x3), most))


@jit_inline
def _softmax_down_keys(scores, most, parts):
    """scores (S, 16), a head's query in each lane, become softmax weights: each total
    added up as _softmax_lanes's lanes hold it (key s in lane s mod 16, then the halves
    folded), in ``parts`` (16, 16)."""
    shift = where_equal(most, f32(-np.inf), f32(0), most)  # a query that sees no key: weights 0
    parts[:] = f32(0)
    for s in range(scores.shape[0]):
        w = exp_lanes(subtract_lanes(load_lanes(scores[s], 0, LANES), shift), SOFTMAX_CUT)
        store_lanes(scores[s], 0, w, LANES)
        store_lanes(parts[s % LANES], 0, add_lanes(load_lanes(parts[s % LANES], 0, LANES), w), LANES)
    half = LANES // 2
    while half:
        for i in range(half):
            store_lanes(parts[i], 0, add_lanes(load_lanes(parts[i], 0, LANES), load_lanes(parts[i + half], 0, LANES)),
                        LANES)
        half //= 2
    scale = where_equal(most, f32(-np.inf), f32(0), reciprocal_lanes(load_lanes(parts[0], 0, LANES)))
    for s in range(scores.shape[0]):
        store_lanes(scores[s], 0, multiply_lanes(scale, load_lanes(scores[s], 0, LANES)), LANES)


@jit_inline
def _into_lanes(x, start, heads_at, buffer, row, width):
    """buffer rows row to row + width - 1 (16 floats each) = the ``width`` floats of x from
    element start + heads_at[j] for lane j, transposed."""
    for e in range(0, width, LANES):
        transpose_lanes(x, start + e, heads_at, buffer, (row + e) * LANES, ROWS_OF_LANES, LANES, min(LANES, width - e))


@jit_reducing
def attention_short_rows(q, k, v, mask, scale, out):
    """attention_forward's ``out`` at inference (no weights kept) for a few keys: the B x H
    heads sixteen at a time, one in each lane (the last lanes of a last group repeat the
    last head), the queries four at a time (a last query repeated). q (B, H, L, E), k
    (B, H, S, E), v (B, H, S, Ev), out (B, H, L, Ev): float32 views with contiguous rows
    (a projection's heads: no copies), ``mask`` (1 or L, S)."""
    count, heads, length, depth = q.shape
    size, features = k.shape[2], v.shape[3]
    keys, values = np.empty((size, depth, LANES), f32), np.empty((size, features, LANES), f32)
    queries, scores = np.empty((4, depth, LANES), f32), np.empty((4, size, LANES), f32)
    outs, parts, at = np.empty((4, features, LANES), f32), np.empty((LANES, LANES), f32), np.empty((4, LANES), np.int32)
    keys_flat, values_flat, queries_flat = keys.reshape(-1), values.reshape(-1), queries.reshape(-1)
    for first in range(0, count * heads, LANES):
        item, lanes_used = first // heads, min(LANES, count * heads - first)
        for j in range(LANES):  # each lane's head, in floats from the group's first item
            n, h = divmod(min(first + j, count * heads - 1), heads)
            at[0, j] = ((n - item) * q.strides[0] + h * q.strides[1]) // 4
            at[1, j] = ((n - item) * k.strides[0] + h * k.strides[1]) // 4
            at[2, j] = ((n - item) * v.strides[0] + h * v.strides[1]) // 4
            at[3, j] = ((n - item) * out.strides[0] + h * out.strides[1]) // 4
        for s in range(size):
            _into_lanes(k, (item * k.strides[0] + s * k.strides[2]) // 4, at[1], keys_flat, s * depth, depth)
            for e in range(depth):
                store_lanes(keys[s, e], 0, multiply_lanes(load_lanes(keys[s, e], 0, LANES), splat(scale)), LANES)
            _into_lanes(v, (item * v.strides[0] + s * v.strides[2]) // 4, at[2], values_flat, s * features, features)
        for i in range(0, length, 4):
            i1, i2, i3 = min(i + 1, length - 1), min(i + 2, length - 1), min(i + 3, length - 1)
            for a, row in enumerate((i, i1, i2, i3)):
                _into_lanes(q, (item * q.strides[0] + row * q.strides[2]) // 4, at[0], queries_flat, a * depth, depth)
            m0 = m1 = m2 = m3 = splat(f32(-np.inf))
            rows = mask.shape[0]
            for s in range(0, size, 4):  # four queries' scores of four keys (a key past the last: the last again)
                s1, s2, s3 = min(s + 1, size - 1), min(s + 2, size - 1), min(s + 3, size - 1)
                a0 = a1 = a2 = a3 = b0 = b1 = b2 = b3 = c0 = c1 = c2 = c3 = d0 = d1 = d2 = d3 = splat(f32(0))
                for e in range(depth):
                    k0, k1 = load_lanes(keys[s, e], 0, LANES), load_lanes(keys[s1, e], 0, LANES)
                    k2, k3 = load_lanes(keys[s2, e], 0, LANES), load_lanes(keys[s3, e], 0, LANES)
                    a0, a1, a2, a3 = _times_four(a0, a1, a2, a3, load_lanes(queries[0, e], 0, LANES), k0, k1, k2, k3)
                    b0, b1, b2, b3 = _times_four(b0, b1, b2, b3, load_lanes(queries[1, e], 0, LANES), k0, k1, k2, k3)
                    c0, c1, c2, c3 = _times_four(c0, c1, c2, c3, load_lanes(queries[2, e], 0, LANES), k0, k1, k2, k3)
                    d0, d1, d2, d3 = _times_four(d0, d1, d2, d3, load_lanes(queries[3, e], 0, LANES), k0, k1, k2, k3)
                m0 = _scores_of_four(a0, a1, a2, a3, mask[i % rows], s, s1, s2, s3, scores[0], m0)
                m1 = _scores_of_four(b0, b1, b2, b3, mask[i1 % rows], s, s1, s2, s3, scores[1], m1)
                m2 = _scores_of_four(c0, c1, c2, c3, mask[i2 % rows], s, s1, s2, s3, scores[2], m2)
                m3 = _scores_of_four(d0, d1, d2, d3, mask[i3 % rows], s, s1, s2, s3, scores[3], m3)
            _softmax_down_keys(scores[0], m0, parts)
            _softmax_down_keys(scores[1], m1, parts)
            _softmax_down_keys(scores[2], m2, parts)
            _softmax_down_keys(scores[3], m3, parts)
            for f in range(0, features, 4):  # the weights times the values: four queries, four features
                f1, f2, f3 = min(f + 1, features - 1), min(f + 2, features - 1), min(f + 3, features - 1)
                a0 = a1 = a2 = a3 = b0 = b1 = b2 = b3 = c0 = c1 = c2 = c3 = d0 = d1 = d2 = d3 = splat(f32(0))
                for s in range(size):
                    v0, v1 = load_lanes(values[s, f], 0, LANES), load_lanes(values[s, f1], 0, LANES)
                    v2, v3 = load_lanes(values[s, f2], 0, LANES), load_lanes(values[s, f3], 0, LANES)
                    a0, a1, a2, a3 = _times_four(a0, a1, a2, a3, load_lanes(scores[0, s], 0, LANES), v0, v1, v2, v3)
                    b0, b1, b2, b3 = _times_four(b0, b1, b2, b3, load_lanes(scores[1, s], 0, LANES), v0, v1, v2, v3)
                    c0, c1, c2, c3 = _times_four(c0, c1, c2, c3, load_lanes(scores[2, s], 0, LANES), v0, v1, v2, v3)
                    d0, d1, d2, d3 = _times_four(d0, d1, d2, d3, load_lanes(scores[3, s], 0, LANES), v0, v1, v2, v3)
                _store_four_rows(outs[0], f, f1, f2, f3, a0, a1, a2, a3)
                _store_four_rows(outs[1], f, f1, f2, f3, b0, b1, b2, b3)
                _store_four_rows(outs[2], f, f1, f2, f3, c0, c1, c2, c3)
                _store_four_rows(outs[3], f, f1, f2, f3, d0, d1, d2, d3)
            for a, row in enumerate((i, i1, i2, i3)):  # back to the heads' rows: only the lanes that hold a head
                for f in range(0, features, LANES):
                    transpose_lanes(outs[a].reshape(-1), f * LANES, ROWS_OF_LANES, out,
                                    (item * out.strides[0] + row * out.strides[2]) // 4 + f, at[3],
                                    min(LANES, features - f), lanes_used)


@jit_reducing
def attention_backward(q, k, v, weights, out, grad, scale, widths, grad_q, grad_k, grad_v):
    """The gradients of attention_forward's inputs from its output's ``grad``: with P the
    weights, dS = P * (grad v^T - rowsum(grad * out)), then dq = dS k * scale,
    dk = dS^T q * scale and dv = P^T grad. A key's rows of dk and dv sum only over the
    queries of groups that reach it (a causal mask's later queries)."""
    count, heads, length, depth = q.shape
    size = k.shape[2]
    gq, gk, gv = np.empty((heads, length, depth), f32), np.empty((heads, size, depth), f32), np.empty(
        (heads, size, v.shape[3]), f32)
    values_t, d_scores = np.empty((v.shape[3], size), f32), np.empty((length, size), f32)
    for n in range(count):
        queries, keys, values, grads, outs = _heads(q, n), _heads(k, n), _heads(v, n), _heads(grad, n), _heads(out, n)
        queries *= scale
        keys *= scale
        for h in range(heads):
            P, G = weights[n, h], grads[h]
            values_t[:] = values[h].T
            for g in range(widths.size):
                r, width, rows = 4 * g, widths[g], min(4, length - 4 * g)
                multiply_rows(G[r:r + rows], values_t[:, :width], d_scores[r:r + rows, :width], False)
                for i in range(r, r + rows):
                    total = f32(0)
                    for e in range(G.shape[1]):
                        total += G[i, e] * outs[h, i, e]
                    for j in range(width):
                        d_scores[i, j] = P[i, j] * (d_scores[i, j] - total)
                    d_scores[i, width:] = f32(0)
            for r in range(0, length, 8):
                width = _eight_rows_width(widths, r)
                multiply_rows_narrow(d_scores[r:r + 8, :width], keys[h, :width], gq[h, r:r + 8])
            first = 0
            for s in range(0, size, 8):
                while first < widths.size and widths[first] <= s:
                    first += 1
                since = min(4 * first, length)
                multiply_rows_narrow(d_scores.T[s:s + 8, since:], queries[h, since:], gk[h, s:s + 8])
                multiply_rows_narrow(P.T[s:s + 8, since:], G[since:], gv[h, s:s + 8])
        _copy_heads(gq, grad_q[n], grad_q.strides[1] <= grad_q.strides[2])
        _copy_heads(gk, grad_k[n], grad_k.strides[1] <= grad_k.strides[2])
        _copy_heads(gv, grad_v[n], grad_v.strides[1] <= grad_v.strides[2])


# -- layer norm over the rows of a (R, D) array: ops.norm.LayerNorm's ----------------------------


@jit_reducing_inline
def mean_and_variance(rows, r):
    """The mean of row r of ``rows`` and its biased variance, taken around the mean (two
    passes: no cancellation, whatever the mean). The kernels here index rows[r, j] rather
    than take a view rows[r]: each view is counted in and out of the array's reference
    count (two atomic operations), which for rows of 64 floats costs as much as the row."""
    size = rows.shape[1]
    total = f32(0)
    for j in range(size):
        total += rows[r, j]
    centre = total / f32(size)
    squares = f32(0)
    for j in range(size):
        d = rows[r, j] - centre
        squares += d * d
    return centre, squares / f32(size)


@jit_reducing
def layer_norm_rows(rows, weight, bias, has_weight, has_bias, eps, out, mean, rstd):
    """out = (x - mean) / sqrt(var + eps) * weight + bias for each row x of ``rows``, the
    variance biased and taken around the mean (two passes: no cancellation); each row's
    mean and 1 / sqrt(var + eps) into ``mean`` and ``rstd`` (R,). The affine part is in
    the pass that normalizes (one loop per case): a pass each would read the row again."""
    count, size = rows.shape
    for r in range(count):
        centre, variance = mean_and_variance(rows, r)
        scale = f32(1) / np.sqrt(variance + f32(eps))  # float32: a float64 eps would make the row loop float64
        mean[r], rstd[r] = centre, scale
        if has_weight and has_bias:
            for j in range(size):
                out[r, j] = (rows[r, j] - centre) * scale * weight[j] + bias[j]
        elif has_weight:
            for j in range(size):
                out[r, j] = (rows[r, j] - centre) * scale * weight[j]
        elif has_bias:
            for j in range(size):
                out[r, j] = (rows[r, j] - centre) * scale + bias[j]
        else:
            for j in range(size):
                out[r, j] = (rows[r, j] - centre) * scale


@jit_reducing
def layer_norm_backward_rows(rows, grad, mean, rstd, weight, has_weight, grad_x, want_grad_x, sum_grad_xhat,
                             sum_grad):
    """The input's gradient for each row into ``grad_x`` (when ``want_grad_x``):
    (g - xhat mean(g xhat) - mean(g)) / sqrt(var + eps), g = grad * weight; and the
    column sums of grad * xhat and of grad (the weight's and the bias's gradients) added
    into ``sum_grad_xhat`` and ``sum_grad`` (D,). Two passes over a row: the sums, then
    its gradient, xhat and g made afresh in each rather than stored between them."""
    count, size = rows.shape
    for r in range(count):
        centre, scale = mean[r], rstd[r]
        mean_g, mean_g_xhat = f32(0), f32(0)
        for j in range(size):
            dy = grad[r, j]
            xhat = (rows[r, j] - centre) * scale
            sum_grad_xhat[j] += dy * xhat
            sum_grad[j] += dy
            g = dy * weight[j] if has_weight else dy
            mean_g += g
            mean_g_xhat += g * xhat
        if want_grad_x:
            mean_g /= f32(size)
            mean_g_xhat /= f32(size)
            for j in range(size):
                g = grad[r, j] * weight[j] if has_weight else grad[r, j]
                grad_x[r, j] = (g - (rows[r, j] - centre) * scale * mean_g_xhat - mean_g) * scale


# -- batch norm over the rows of a (C, M) array, one row per channel: ops.norm.BatchNorm's -------


@jit_reducing
def batch_norm_rows(rows, training, mean, var, inv_std, weight, bias, affine, eps, x_hat, keep_x_hat, out):
    """For each channel's row x: in training its mean and biased variance (two passes:
    no cancellation) into ``mean`` and ``var``, else those are read from them; then
    1 / sqrt(var + eps) into ``inv_std``, x_hat = (x - mean) inv_std into ``x_hat`` (if
    ``keep_x_hat``: else it lives only on the way) and x_hat weight + bias (or x_hat)
    into ``out``."""
    channels, size = rows.shape
    for c in range(channels):
        x, standard, y = rows[c], x_hat[c], out[c]
        if training:
            mean[c], var[c] = mean_and_variance(rows, c)
        centre = mean[c]
        scale = f32(1) / np.sqrt(var[c] + f32(eps))
        inv_std[c] = scale
        gain, shift = (weight[c], bias[c]) if affine else (f32(1), f32(0))
        # one pass: x_hat, rounded to float32, then x_hat gain + shift (one fused multiply-add)
        if keep_x_hat:
            for j in range(size):
                standard[j] = (x[j] - centre) * scale
                y[j] = standard[j] * gain + shift
        else:  # a loop of its own: under two names for one array, numba's loops do not vectorize
            for j in range(size):
                y[j] = (x[j] - centre) * scale * gain + shift


@jit_reducing
def batch_norm_backward_rows(x_hat, grad, inv_std, weight, affine, training, grad_weight, grad_bias, grad_x,
                             want_grad_x):
    """Per channel: the sums of grad (the bias's gradient) and of grad x_hat (the
    weight's) in one pass, then, when ``want_grad_x``, in training
    (grad - mean(grad) - x_hat mean(grad x_hat)) weight inv_std, in evaluation grad
    weight inv_std, into ``grad_x``."""
    channels, size = grad.shape
    for c in range(channels):
        g, standard = grad[c], x_hat[c]
        sum_g, sum_g_xhat = _sums_with(g, standard)
        grad_bias[c], grad_weight[c] = sum_g, sum_g_xhat
        if want_grad_x:
            scale = inv_std[c] * weight[c] if affine else inv_std[c]
            _batch_norm_grad_x(g, standard, grad_x[c], sum_g / f32(size), sum_g_xhat / f32(size), scale, training)


@jit
def _sums_with(g, x):
    """sum(g) and sum(g x) in one order wherever the code is compiled: four runs of 16
    lanes added up apart, then folded. Where LLVM may reassociate a sum (jit_reducing),
    the order is its choice, and it chose otherwise for the pool's job compiled anew than
    for the job as numba's cache gave it back: the sums moved by an ulp between a process
    that compiled the kernels and one that loaded them, and a training run resumed in a
    new process drifted from a straight one (tests/test_resume.py, from a fresh clone)."""
    s0 = s1 = s2 = s3 = p0 = p1 = p2 = p3 = splat(f32(0))
    size = len(g)
    for j in range(0, size, 4 * LANES):
        g0, g1, g2, g3 = _load_four(g, j, size - j)
        x0, x1, x2, x3 = _load_four(x, j, size - j)
        s0, s1, s2, s3 = add_lanes(s0, g0), add_lanes(s1, g1), add_lanes(s2, g2), add_lanes(s3, g3)
        p0, p1 = add_lanes(p0, multiply_lanes(g0, x0)), add_lanes(p1, multiply_lanes(g1, x1))
        p2, p3 = add_lanes(p2, multiply_lanes(g2, x2)), add_lanes(p3, multiply_lanes(g3, x3))
    sums = lanes_total(add_lanes(add_lanes(s0, s1), add_lanes(s2, s3)))
    return sums, lanes_total(add_lanes(add_lanes(p0, p1), add_lanes(p2, p3)))


@jit_strict
def _batch_norm_grad_x(g, standard, dx, mean_g, mean_g_xhat, scale, training):
    """One channel's input gradient, for batch_norm_backward_rows: a function of its own,
    compiled with IEEE rounding (no reassociation, no fused multiply-add), so that it
    rounds alike wherever and however it is compiled (see _sums_with)."""
    if training:
        for j in range(len(dx)):
            dx[j] = (g[j] - mean_g - standard[j] * mean_g_xhat) * scale
    else:
        for j in range(len(dx)):
            dx[j] = g[j] * scale


# -- cross-entropy of class indices: ops.loss.CrossEntropy's, without class weights -----------


@jit_reducing
def cross_entropy_rows(logits, target, ignore_index, log_probs):
    """log_softmax of each row of ``logits`` (N, C) into ``log_probs``; returns the sum of
    -log_probs[i, target[i]] over the rows whose target is not ``ignore_index``, and how
    many rows that is, or -1 for the count if a target is not a class."""
    n, classes = logits.shape
    total, count = 0.0, 0
    for i in range(n):
        most = f32(-np.inf)
        for j in range(classes):
            most = max(most, logits[i, j])
        total_exp = f32(0)
        for j in range(classes):
            total_exp += exp(logits[i, j] - most)
        log_total = np.log(total_exp)
        for j in range(classes):
            log_probs[i, j] = (logits[i, j] - most) - log_total
        t = target[i]
        if t != ignore_index:
            if t < 0 or t >= classes:
                return 0.0, -1
            total -= log_probs[i, t]
            count += 1
    return total, count


@jit
def cross_entropy_backward_rows(log_probs, target, ignore_index, scale, grad_logits):
    """grad_logits = (softmax - one_hot(target)) * scale, zero in the rows whose target is
    ``ignore_index``."""
    n, classes = log_probs.shape
    for i in range(n):
        t = target[i]
        if t == ignore_index:
            for j in range(classes):
                grad_logits[i, j] = f32(0) * scale  # NaN, as NumPy's, where no row counted (scale 1/0)
            continue
        for j in range(classes):
            grad_logits[i, j] = exp(log_probs[i, j]) * scale
        grad_logits[i, t] = (exp(log_probs[i, t]) - f32(1)) * scale


# -- max pooling: ops.pool.MaxPool2d, with the winner's place kept for the backward ------------


@jit
def max_pool_rows(x, out, argmax, kh, kw, stride_h, stride_w, dilation_h, dilation_w):
    """out[c, y, x_, :] = the largest of the window's pixels, batch-last (C, H, W, N) like
    the convolution's; argmax = the offset i * kw + j of the first largest (a NaN wins, and
    stays: it propagates, as in PyTorch). x is padded with -inf where the window hangs over.
    The places are counted in float32, as wide as the values (bytes in the same loop stop
    it vectorizing: 6x slower), and stored as bytes once per pixel."""
    channels, out_h, out_w, batch = out.shape[0], out.shape[1], out.shape[2], out.shape[3]
    place = np.empty(batch, f32)
    for c in range(channels):
        for y in range(out_h):
            for x_ in range(out_w):
                for n in range(batch):
                    out[c, y, x_, n] = x[c, y * stride_h, x_ * stride_w, n]
                    place[n] = 0
                for i in range(kh):
                    for j in range(kw):
                        if i + j == 0:
                            continue
                        row, col, offset = y * stride_h + i * dilation_h, x_ * stride_w + j * dilation_w, f32(i * kw + j)
                        for n in range(batch):
                            v, b = x[c, row, col, n], out[c, y, x_, n]
                            wins = (v > b) | ((v != v) & (b == b))  # a NaN wins once; strictly larger: the first maximum stays
                            out[c, y, x_, n] = v if wins else b
                            place[n] = offset if wins else place[n]
                for n in range(batch):
                    argmax[c, y, x_, n] = np.uint8(place[n])


@jit
def max_pool_backward_rows(grad, argmax, grad_x, kh, kw, stride_h, stride_w, dilation_h, dilation_w):
    """grad_x (C, H, W, N), zeroed here, gets each window's gradient at its winner's pixel,
    added offset by offset as NumPy's backward adds them (windows that overlap may share a
    winner: the same order, the same rounding)."""
    channels, out_h, out_w, batch = grad.shape[0], grad.shape[1], grad.shape[2], grad.shape[3]
    place = np.empty(batch, f32)
    for c in range(channels):
        grad_x[c] = 0
        for i in range(kh):
            for j in range(kw):
                offset = f32(i * kw + j)
                for y in range(out_h):
                    for x_ in range(out_w):
                        for n in range(batch):
                            place[n] = f32(argmax[c, y, x_, n])
                        row, col = y * stride_h + i * dilation_h, x_ * stride_w + j * dilation_w
                        for n in range(batch):
                            grad_x[c, row, col, n] += grad[c, y, x_, n] if place[n] == offset else f32(0)


# -- the direct convolution: ops.conv.Conv2d without the unfolded columns ---------------------
#
# Arrays are batch-last, as in ops/conv.py: out and grad (O, out_h, out_w, N), weight
# (O, C, kh, kw), and the padded input as ``rows`` (C, H, W' N): each padded row's columns
# dealt into the stride's phases (conv.padded_in_phases), so that the pixels one kernel tap
# reads across a whole output row are one run of out_w * N adjacent floats at any stride;
# ``taps[j]`` is where tap j's run starts in a row.


@jit
def conv2d_rows(rows, weight, bias, out, o_start, o_stop, stride_h, dilation_h, taps):
    """out[o, y, x_, :] = bias[o] + sum over c, i, j of weight[o, c, i, j] * x[c, y*sh + i*dh, x_*sw + j*dw, :]
    for the filters o_start <= o < o_stop (a thread's block), x's row y*sh + i*dh read at
    ``taps[j]`` onwards.

    A block of the output is four filters by 64 floats of a row: sixteen sums of 16 lanes,
    held in registers over every channel and tap, each input load feeding four
    multiply-adds. (Summing into memory instead, a pass per tap, is bound by loading and
    storing the sums.) A last group of fewer than four filters repeats its last filter and
    does not store the repeats; a row's last block masks the lanes past its end."""
    channels, height, width = rows.shape
    kh, kw = weight.shape[2], weight.shape[3]
    x, filters = rows.reshape(-1), weight.reshape(weight.shape[0], -1)
    out_h = out.shape[1]
    out_rows = out.reshape(out.shape[0], out_h, out.shape[2] * out.shape[3])
    total = out_rows.shape[2]
    for y in range(out_h):
        for start in range(0, total, 4 * LANES):
            count = total - start  # floats left in the row: the last block's lanes past it are masked
            for o in range(o_start, o_stop, 4):
                o1, o2, o3 = min(o + 1, o_stop - 1), min(o + 2, o_stop - 1), min(o + 3, o_stop - 1)
                f0, f1, f2, f3 = filters[o], filters[o1], filters[o2], filters[o3]
                a0 = a1 = a2 = a3 = splat(bias[o])
                b0 = b1 = b2 = b3 = splat(bias[o1])
                c0 = c1 = c2 = c3 = splat(bias[o2])
                d0 = d1 = d2 = d3 = splat(bias[o3])
                k = 0  # the tap's index in a flattened filter
                for c in range(channels):
                    for i in range(kh):
                        row = (c * height + y * stride_h + i * dilation_h) * width + start
                        for j in range(kw):
                            x0, x1, x2, x3 = _load_four(x, row + taps[j], count)
                            a0, a1, a2, a3 = _add_times(a0, a1, a2, a3, f0[k], x0, x1, x2, x3)
                            b0, b1, b2, b3 = _add_times(b0, b1, b2, b3, f1[k], x0, x1, x2, x3)
                            c0, c1, c2, c3 = _add_times(c0, c1, c2, c3, f2[k], x0, x1, x2, x3)
                            d0, d1, d2, d3 = _add_times(d0, d1, d2, d3, f3[k], x0, x1, x2, x3)
                            k += 1
                _store_four(out_rows[o, y], start, a0, a1, a2, a3, count)
                if o + 1 < o_stop:
                    _store_four(out_rows[o1, y], start, b0, b1, b2, b3, count)
                if o + 2 < o_stop:
                    _store_four(out_rows[o2, y], start, c0, c1, c2, c3, count)
                if o + 3 < o_stop:
                    _store_four(out_rows[o3, y], start, d0, d1, d2, d3, count)


CONV_PIECE = 1024  # the weight's gradient sums a row's products in pieces of at most this many floats


@jit
def image_tiles(x, kh, kw, out):
    """out[(n, y, z), (c, i, j)] = x[n, c, y kh + i, z kw + j]: the kh x kw tiles of images
    x (N, C, out_h kh, out_w kw), rows contiguous, one tile a row of out, laid out as
    ops.conv.tiles lays them (a patch embedding's columns). Each run of kw pixels moves
    as one load and one store of lanes, where NumPy's copy loops over runs of kw (a vit's 7)."""
    count, channels, out_h, out_w = x.shape[0], x.shape[1], x.shape[2] // kh, x.shape[3] // kw
    for n in range(count):
        for c in range(channels):
            for y in range(out_h):
                for i in range(kh):
                    source, at = x[n, c, y * kh + i], (c * kh + i) * kw
                    for z in range(out_w):
                        target = out[(n * out_h + y) * out_w + z]
                        for j in range(0, kw, LANES):
                            store_lanes(target, at + j, load_lanes(source, z * kw + j, kw - j), kw - j)


@jit_reducing
def conv2d_weight_grad(rows, grad, grad_weight, o_start, o_stop, stride_h, dilation_h, taps):
    """grad_weight[o, c, i, j] = sum over y, x_, n of grad[o, y, x_, n] * x[c, y*sh + i*dh, x_*sw + j*dw, n]
    for the filters o_start <= o < o_stop, the padded input as ``rows`` and ``taps`` as in
    conv2d_rows: four filters and three taps (twelve sums, in registers) at a time. Each
    output row's sums are added up apart, then row by row: shorter sums, less rounding.
    Filters and taps past the edge are summed and dropped."""
    channels = rows.shape[0]
    kh, kw = grad_weight.shape[2], grad_weight.shape[3]
    out_h = grad.shape[1]
    grad_rows = grad.reshape(grad.shape[0], out_h, grad.shape[2] * grad.shape[3])
    total = grad_rows.shape[2]
    run = min(CONV_PIECE, total)
    sums = np.empty((4, 3), f32)
    for o in range(o_start, o_stop, 4):
        o1, o2, o3 = min(o + 1, o_stop - 1), min(o + 2, o_stop - 1), min(o + 3, o_stop - 1)
        for c in range(channels):
            for i in range(kh):
                for j in range(0, kw, 3):
                    j1, j2 = min(j + 1, kw - 1), min(j + 2, kw - 1)
                    sums[:] = 0
                    for y in range(out_h):
                        row = rows[c, y * stride_h + i * dilation_h]
                        g0, g1, g2, g3 = grad_rows[o, y], grad_rows[o1, y], grad_rows[o2, y], grad_rows[o3, y]
                        r00 = r01 = r02 = r10 = r11 = r12 = r20 = r21 = r22 = r30 = r31 = r32 = f32(0)
                        for start in range(0, total, run):
                            length = min(run, total - start)
                            t0 = row[start + taps[j]:start + taps[j] + length]
                            t1 = row[start + taps[j1]:start + taps[j1] + length]
                            t2 = row[start + taps[j2]:start + taps[j2] + length]
                            h0, h1 = g0[start:start + length], g1[start:start + length]
                            h2, h3 = g2[start:start + length], g3[start:start + length]
                            for n in range(length):  # twelve scalars: numba keeps them in registers, an array it would not
                                a, b, d, e0, e1, e2, e3 = t0[n], t1[n], t2[n], h0[n], h1[n], h2[n], h3[n]
                                r00, r01, r02 = r00 + e0 * a, r01 + e0 * b, r02 + e0 * d
                                r10, r11, r12 = r10 + e1 * a, r11 + e1 * b, r12 + e1 * d
                                r20, r21, r22 = r20 + e2 * a, r21 + e2 * b, r22 + e2 * d
                                r30, r31, r32 = r30 + e3 * a, r31 + e3 * b, r32 + e3 * d
                        for k, row_sums in enumerate(((r00, r01, r02), (r10, r11, r12), (r20, r21, r22), (r30, r31, r32))):
                            for m in range(3):
                                sums[k, m] += row_sums[m]
                    for k in range(min(4, o_stop - o)):
                        for m in range(min(3, kw - j)):
                            grad_weight[o + k, c, i, j + m] = sums[k, m]


# -- the 3x3 convolution by Winograd's minimal filtering, F(2x2, 3x3) ------------------------
#
# A 2x2 block of outputs of a 3x3 filter reads a 4x4 tile of the input. Winograd's
# transforms turn the 36 multiplies the block takes directly into 16: the tile becomes
# 16 transformed points (V = B^T d B, sums and differences), the filter 16 transformed
# weights (U = G g G^T, made once per call by winograd_filters), each point is multiplied
# by its weight and summed over the channels, and the 16 products turn back into the 2x2
# block (A^T M A, sums and differences again). The multiplies per output fall from 9 C to
# 4 C; the transforms cost a few additions per channel and per filter. ops.conv's
# ``conv2d_winograd_reference`` is the same algorithm from tensor ops. Arrays are
# batch-last as above, but ``rows`` (C, H, W N) is the input itself, not padded.


@jit_inline
def _tile_in(a, b, c, d):
    """B^T applied to four points of a tile's row or column (16 lanes each): the input's transform."""
    return subtract_lanes(a, c), add_lanes(b, c), subtract_lanes(c, b), subtract_lanes(b, d)


@jit_inline
def _tile_out(a, b, c, d):
    """A^T applied to four sums (16 lanes each): the transform back to two outputs."""
    return add_lanes(add_lanes(a, b), c), subtract_lanes(subtract_lanes(b, c), d)


@jit
def _filter_in(a, b, c):
    """G applied to three weights of a filter's row or column (float64): the filter's transform."""
    return a, (a + b + c) * 0.5, (a - b + c) * 0.5, c


@jit
def winograd_filters(weight, filters):
    """filters[4 i + j, c, o] = (G g G^T)[i, j] for each 3x3 filter g = weight[o, c]:
    the transformed weights U that conv3x3_winograd reads, summed in float64 and rounded
    once. ``weight`` may be any view (the input's gradient reads the filters flipped)."""
    for o in range(weight.shape[0]):
        for c in range(weight.shape[1]):
            g = weight[o, c]
            d0, d1, d2, d3 = _filter_in(f64(g[0, 0]), f64(g[1, 0]), f64(g[2, 0]))  # each column down
            e0, e1, e2, e3 = _filter_in(f64(g[0, 1]), f64(g[1, 1]), f64(g[2, 1]))
            h0, h1, h2, h3 = _filter_in(f64(g[0, 2]), f64(g[1, 2]), f64(g[2, 2]))
            for i, (a, b, d) in enumerate(((d0, e0, h0), (d1, e1, h1), (d2, e2, h2), (d3, e3, h3))):  # then across
                u0, u1, u2, u3 = _filter_in(a, b, d)
                filters[4 * i, c, o], filters[4 * i + 1, c, o] = u0, u1
                filters[4 * i + 2, c, o], filters[4 * i + 3, c, o] = u2, u3


@jit_inline
def _tile_column(x, at, row, count, first, stop):
    """A tile's column of 16 lanes, transformed down (B^T d): four rows ``row`` floats
    apart from ``at`` on, the lanes from ``count`` on zero and not read, and so the rows
    before ``first`` and from ``stop`` on (the padding: nothing is read there)."""
    return _tile_in(load_lanes(x, at, count if first <= 0 < stop else 0),
                    load_lanes(x, at + row, count if first <= 1 < stop else 0),
                    load_lanes(x, at + 2 * row, count if first <= 2 < stop else 0),
                    load_lanes(x, at + 3 * row, count if first <= 3 < stop else 0))


@jit_inline
def _store_tile_row(points, at, step, a, b, c, d):
    """A row of B^T d, transformed across, into ``points``: four points ``step`` apart."""
    v0, v1, v2, v3 = _tile_in(a, b, c, d)
    store_lanes(points, at, v0, LANES)
    store_lanes(points, at + step, v1, LANES)
    store_lanes(points, at + 2 * step, v2, LANES)
    store_lanes(points, at + 3 * step, v3, LANES)


@jit_inline
def _sums_column(sums, at, step):
    """A column of the 4x4 sums (16 lanes), transformed down (A^T M): two rows."""
    return _tile_out(load_lanes(sums, at, LANES), load_lanes(sums, at + 4 * step, LANES),
                     load_lanes(sums, at + 8 * step, LANES), load_lanes(sums, at + 12 * step, LANES))


@jit_inline
def _four_filters_at_points(points, weights, sums, count, channels, filter_count, o, step):
    """The Winograd kernels' products: for filters o to o + 3 and each of the ``count``
    points, the sum over the channels of the transformed tile's point (``points``, each
    channel ``step`` floats after the one before, 64 images a point) times the filter's
    transformed weight there (``weights``, flat (count, C, O)), into ``sums`` (count, 4,
    64); sixteen sums of 16 lanes held in registers, as conv2d_rows holds them."""
    run = 4 * LANES
    o1, o2, o3 = min(o + 1, filter_count - 1), min(o + 2, filter_count - 1), min(o + 3, filter_count - 1)
    for p in range(count):
        a0 = a1 = a2 = a3 = b0 = b1 = b2 = b3 = c0 = c1 = c2 = c3 = d0 = d1 = d2 = d3 = splat(f32(0))
        for c in range(channels):
            x0, x1, x2, x3 = _load_four(points, c * step + p * run, run)
            w = (p * channels + c) * filter_count
            a0, a1, a2, a3 = _add_times(a0, a1, a2, a3, weights[w + o], x0, x1, x2, x3)
            b0, b1, b2, b3 = _add_times(b0, b1, b2, b3, weights[w + o1], x0, x1, x2, x3)
            c0, c1, c2, c3 = _add_times(c0, c1, c2, c3, weights[w + o2], x0, x1, x2, x3)
            d0, d1, d2, d3 = _add_times(d0, d1, d2, d3, weights[w + o3], x0, x1, x2, x3)
        _store_four(sums, 4 * p * run, a0, a1, a2, a3, run)
        _store_four(sums, (4 * p + 1) * run, b0, b1, b2, b3, run)
        _store_four(sums, (4 * p + 2) * run, c0, c1, c2, c3, run)
        _store_four(sums, (4 * p + 3) * run, d0, d1, d2, d3, run)


@jit
def conv3x3_winograd(rows, filters, bias, out, first, last, chunks, top, left):
    """out[o, y, x_, n] = bias[o] + the 3x3 convolution at stride 1 of the input ``rows``
    (C, H, W N) padded by ``top`` rows and ``left`` columns of zeros before (and as many
    after as the output needs), for the items first <= item < last (a thread's share); an
    item is a row of 2x2 blocks and ``chunks`` runs of 64 images (item // chunks: the row,
    item % chunks: the run). ``filters`` (16, C, O) holds the transformed weights U. The
    padding is never made: a tile's pixels in it are masked loads that read nothing.

    For each 2x2 block of 64 images: each channel's 16 transformed points into ``points``,
    then for each four filters and each of the 16 points a sum over the channels (sixteen
    sums of 16 lanes in registers, as conv2d_rows holds them), then each filter's 16 sums
    back into its 2x2 outputs; an odd last row or column of blocks stores only its first.
    Lanes past the batch's end are computed from stale points and not stored. Arrays are
    read flat, by offsets: a view taken inside a loop costs two atomic reference counts.
    NaN spreads as in the direct sum; an infinite input can come out NaN where the direct
    sum gives inf (inf - inf inside the transforms), as in any Winograd convolution."""
    channels, height, width = rows.shape
    filter_count, out_h, out_w, batch = out.shape
    image_width = width // batch
    x, weights, y_flat = rows.reshape(-1), filters.reshape(-1), out.reshape(-1)
    run = 4 * LANES
    step = 16 * run + LANES  # from one channel's points to the next's (not 4 KB apart: those would share cache sets)
    points = np.zeros(channels * step, f32)  # (C, 16, 64): the transformed tile, channel by channel
    sums = np.empty(16 * 4 * run, f32)  # (16, 4, 64): four filters' sums at each point
    for item in range(first, last):
        y, start = 2 * (item // chunks), item % chunks * run
        count, below = min(run, batch - start), y + 1 < out_h
        row_first, row_stop = top - y, height + top - y  # the tile's rows that lie in the image
        for x_ in range(0, out_w, 2):
            right, at = x_ + 1 < out_w, x_ * batch + start
            column = x_ - left  # the image column of the tile's first; which of its four lie in the image:
            in0, in1, in2, in3 = 0 <= column < image_width, 0 <= column + 1 < image_width, 0 <= column + 2 < image_width, \
                0 <= column + 3 < image_width
            for c in range(channels):
                tile = (c * height + y - top) * width + column * batch + start
                for n in range(0, count, LANES):
                    k, lanes_left = tile + n, count - n
                    t00, t10, t20, t30 = _tile_column(x, k, width, lanes_left if in0 else 0, row_first, row_stop)
                    t01, t11, t21, t31 = _tile_column(x, k + batch, width, lanes_left if in1 else 0, row_first, row_stop)
                    t02, t12, t22, t32 = _tile_column(x, k + 2 * batch, width, lanes_left if in2 else 0, row_first, row_stop)
                    t03, t13, t23, t33 = _tile_column(x, k + 3 * batch, width, lanes_left if in3 else 0, row_first, row_stop)
                    place = c * step + n
                    _store_tile_row(points, place, run, t00, t01, t02, t03)  # then each row across
                    _store_tile_row(points, place + 4 * run, run, t10, t11, t12, t13)
                    _store_tile_row(points, place + 8 * run, run, t20, t21, t22, t23)
                    _store_tile_row(points, place + 12 * run, run, t30, t31, t32, t33)
            for o in range(0, filter_count, 4):
                _four_filters_at_points(points, weights, sums, 16, channels, filter_count, o, step)
                for q in range(min(4, filter_count - o)):
                    upper, shift = ((o + q) * out_h + y) * out_w * batch + at, splat(bias[o + q])
                    lower = upper + out_w * batch
                    for n in range(0, count, LANES):
                        k, lanes_left = q * run + n, count - n
                        s00, s10 = _sums_column(sums, k, 4 * run)
                        s01, s11 = _sums_column(sums, k + 4 * run, 4 * run)
                        s02, s12 = _sums_column(sums, k + 8 * run, 4 * run)
                        s03, s13 = _sums_column(sums, k + 12 * run, 4 * run)
                        y00, y01 = _tile_out(s00, s01, s02, s03)
                        y10, y11 = _tile_out(s10, s11, s12, s13)
                        store_lanes(y_flat, upper + n, add_lanes(y00, shift), lanes_left)
                        if right:
                            store_lanes(y_flat, upper + batch + n, add_lanes(y01, shift), lanes_left)
                        if below:
                            store_lanes(y_flat, lower + n, add_lanes(y10, shift), lanes_left)
                        if below and right:
                            store_lanes(y_flat, lower + batch + n, add_lanes(y11, shift), lanes_left)


# -- F(4x4, 3x3): a 4x4 block from a 6x6 tile ------------------------------------------------
#
# The same three steps with larger tiles: a 4x4 block of outputs reads a 6x6 tile, which
# becomes 36 points (interpolation at 0, 1, -1, 2, -2 and infinity): 36 multiplies per
# channel where the direct sum makes 144, 2.25 per output where F(2x2, 3x3) makes 4. The
# transforms' coefficients grow (4, 5, 8, 1/24), and so does the rounding: about 5e-6 of
# the output's largest value, 20 times F(2x2, 3x3)'s and 8 times the direct sum's (float32
# rounding of sums of this size; bench/RESULTS.md, issue 11). ops.conv's
# ``conv2d_winograd_reference(..., block=4)`` is the same from tensor ops.


@jit_inline
def _tile6_in(d0, d1, d2, d3, d4, d5):
    """B^T of F(4x4, 3x3) applied to six points of a tile's row or column (16 lanes each)."""
    e, f = subtract_lanes(d4, d2), subtract_lanes(d3, d1)
    return (multiply_add(multiply_add(d4, f32(4), d0), f32(-5), d2),
            multiply_add(add_lanes(d3, d4), f32(-4), add_lanes(d1, d2)),
            multiply_add(subtract_lanes(d4, d3), f32(4), subtract_lanes(d1, d2)),
            multiply_add(e, f32(2), f), multiply_add(e, f32(-2), f),
            multiply_add(multiply_add(d5, f32(4), d1), f32(-5), d3))


@jit_inline
def _tile6_out(m0, m1, m2, m3, m4, m5):
    """A^T of F(4x4, 3x3) applied to six sums (16 lanes each): four outputs."""
    a, b, c, d = add_lanes(m1, m2), subtract_lanes(m1, m2), add_lanes(m3, m4), subtract_lanes(m3, m4)
    return (add_lanes(add_lanes(m0, a), c), multiply_add(b, f32(2), d), multiply_add(a, f32(4), c),
            add_lanes(multiply_add(b, f32(8), d), m5))


@jit
def _filter6_in(a, b, c):
    """G of F(4x4, 3x3) applied to three weights of a filter's row or column (float64)."""
    return a / 4, -(a + b + c) / 6, -(a - b + c) / 6, a / 24 + b / 12 + c / 6, a / 24 - b / 12 + c / 6, c


@jit
def winograd4_filters(weight, filters):
    """filters[6 i + j, c, o] = (G g G^T)[i, j] for each 3x3 filter g = weight[o, c], G of
    F(4x4, 3x3): as winograd_filters, 36 points."""
    columns = np.empty((6, 3))
    for o in range(weight.shape[0]):
        for c in range(weight.shape[1]):
            g = weight[o, c]
            for j in range(3):  # each column down
                down = _filter6_in(f64(g[0, j]), f64(g[1, j]), f64(g[2, j]))
                for i in range(6):
                    columns[i, j] = down[i]
            for i in range(6):  # then across
                points = _filter6_in(columns[i, 0], columns[i, 1], columns[i, 2])
                for j in range(6):
                    filters[6 * i + j, c, o] = points[j]


@jit_inline
def _tile6_column(x, at, row, count, first, stop):
    """A 6x6 tile's column of 16 lanes, transformed down: as _tile_column, six rows."""
    return _tile6_in(load_lanes(x, at, count if first <= 0 < stop else 0),
                     load_lanes(x, at + row, count if first <= 1 < stop else 0),
                     load_lanes(x, at + 2 * row, count if first <= 2 < stop else 0),
                     load_lanes(x, at + 3 * row, count if first <= 3 < stop else 0),
                     load_lanes(x, at + 4 * row, count if first <= 4 < stop else 0),
                     load_lanes(x, at + 5 * row, count if first <= 5 < stop else 0))


@jit_inline
def _store_six(points, at, step, v0, v1, v2, v3, v4, v5):
    store_lanes(points, at, v0, LANES)
    store_lanes(points, at + step, v1, LANES)
    store_lanes(points, at + 2 * step, v2, LANES)
    store_lanes(points, at + 3 * step, v3, LANES)
    store_lanes(points, at + 4 * step, v4, LANES)
    store_lanes(points, at + 5 * step, v5, LANES)


@jit_inline
def _load_six(points, at, step):
    return (load_lanes(points, at, LANES), load_lanes(points, at + step, LANES), load_lanes(points, at + 2 * step, LANES),
            load_lanes(points, at + 3 * step, LANES), load_lanes(points, at + 4 * step, LANES),
            load_lanes(points, at + 5 * step, LANES))


@jit
def conv3x3_winograd4(rows, filters, bias, out, first, last, chunks, top, left):
    """conv3x3_winograd by F(4x4, 3x3): an item is a row of 4x4 blocks and a run of 64
    images; ``filters`` (36, C, O) from winograd4_filters. Each channel's 6x6 tile is
    transformed down its columns into ``points``, then across its rows there; the sums
    of four filters at the 36 points are made by _four_filters_at_points, as
    conv3x3_winograd makes its 16; each
    filter's sums are transformed down, then across into its 4x4 outputs, of which a
    last row or column of blocks stores only those inside the output."""
    channels, height, width = rows.shape
    filter_count, out_h, out_w, batch = out.shape
    image_width = width // batch
    x, weights, y_flat = rows.reshape(-1), filters.reshape(-1), out.reshape(-1)
    run = 4 * LANES
    step = 36 * run + LANES  # from one channel's points to the next's (not 4 KB apart: those would share cache sets)
    points = np.zeros(channels * step, f32)  # (C, 36, 64): the transformed tile, channel by channel
    sums = np.empty(36 * 4 * run, f32)  # (36, 4, 64): four filters' sums at each point
    for item in range(first, last):
        y, start = 4 * (item // chunks), item % chunks * run
        count, rows_out = min(run, batch - start), min(4, out_h - y)
        row_first, row_stop = top - y, height + top - y  # the tile's rows that lie in the image
        for x_ in range(0, out_w, 4):
            at, columns_out, column = x_ * batch + start, min(4, out_w - x_), x_ - left
            for c in range(channels):
                tile = (c * height + y - top) * width + column * batch + start
                for n in range(0, count, LANES):
                    k, lanes_left, place = tile + n, count - n, c * step + n
                    for j in range(6):  # each column down, into points[i, j]
                        inside = 0 <= column + j < image_width
                        v0, v1, v2, v3, v4, v5 = _tile6_column(x, k + j * batch, width, lanes_left if inside else 0,
                                                               row_first, row_stop)
                        _store_six(points, place + j * run, 6 * run, v0, v1, v2, v3, v4, v5)
                    for i in range(6):  # then each row across, in place
                        v0, v1, v2, v3, v4, v5 = _load_six(points, place + 6 * i * run, run)
                        v0, v1, v2, v3, v4, v5 = _tile6_in(v0, v1, v2, v3, v4, v5)
                        _store_six(points, place + 6 * i * run, run, v0, v1, v2, v3, v4, v5)
            for o in range(0, filter_count, 4):
                _four_filters_at_points(points, weights, sums, 36, channels, filter_count, o, step)
                for q in range(min(4, filter_count - o)):
                    shift = splat(bias[o + q])
                    for n in range(0, count, LANES):
                        k, lanes_left = q * run + n, count - n
                        for j in range(6):  # each column of sums down, into sums' own rows 0-3 of it
                            m0, m1, m2, m3, m4, m5 = _load_six(sums, k + 4 * j * run, 24 * run)
                            r0, r1, r2, r3 = _tile6_out(m0, m1, m2, m3, m4, m5)
                            store_lanes(sums, k + 4 * j * run, r0, LANES)
                            store_lanes(sums, k + 4 * (6 + j) * run, r1, LANES)
                            store_lanes(sums, k + 4 * (12 + j) * run, r2, LANES)
                            store_lanes(sums, k + 4 * (18 + j) * run, r3, LANES)
                        for r in range(rows_out):  # then each output row across
                            m0, m1, m2, m3, m4, m5 = _load_six(sums, k + 4 * 6 * r * run, 4 * run)
                            y0, y1, y2, y3 = _tile6_out(m0, m1, m2, m3, m4, m5)
                            base = ((o + q) * out_h + y + r) * out_w * batch + at + n
                            store_lanes(y_flat, base, add_lanes(y0, shift), lanes_left)
                            if columns_out > 1:
                                store_lanes(y_flat, base + batch, add_lanes(y1, shift), lanes_left)
                            if columns_out > 2:
                                store_lanes(y_flat, base + 2 * batch, add_lanes(y2, shift), lanes_left)
                            if columns_out > 3:
                                store_lanes(y_flat, base + 3 * batch, add_lanes(y3, shift), lanes_left)


# -- the Adam step: optim.adam.Adam.update's arithmetic, one pass -----------------------------


@_compiler(False)  # no fastmath: each operation rounded as NumPy rounds it
def adam_update(param, grad, m, v, one_minus_beta1, beta2, one_minus_beta2, step_size, eps, bias2_root):
    """m <- m + (1 - b1)(g - m), v <- b2 v + (1 - b2) g^2, and
    param <- param - step_size m / (sqrt(v) / bias2_root + eps), with step_size
    lr / (1 - b1^t) and bias2_root sqrt(1 - b2^t): the NumPy update's order of operations,
    without fused multiply-adds, so that a training run follows PyTorch's as closely.
    1 - b1 and 1 - b2 come in float32 as NumPy's update rounds them (from float64), not
    as float32 arithmetic on b1 and b2 would give them."""
    for k in range(param.size):
        g = grad[k]
        m_k = m[k] + one_minus_beta1 * (g - m[k])
        v_k = beta2 * v[k] + one_minus_beta2 * (g * g)
        m[k], v[k] = m_k, v_k
        param[k] -= m_k / (np.sqrt(v_k) / bias2_root + eps) * step_size


# -- one pool: glassnet's helper threads, which OpenBLAS's products run on as well ------------
#
# glassnet.threads explains why: two pools (OpenBLAS's threads and glassnet's) cannot both
# spin on two cores, and a sleeping thread costs a wake-up through the hypervisor at every
# hand-off. So OpenBLAS is given glassnet's helpers for its threads (its caller-managed
# threading, ``openblas_set_threads_callback_function``, OpenBLAS 0.3.27 on): each helper
# spins in the compiled ``serve`` loop without the GIL, runs what it is handed, and sleeps
# (a futex) only after ``POOL[POOL_SPIN]`` cycles idle. Everything here reads and writes ``POOL``,
# an int64 array whose address the compiled code knows by the symbol below.

POOL_BLOCK = 32  # int64 slots per helper: 256 bytes, its own cache lines
# the first block: the whole pool's (POOL_EXTRA_THREAD: extra_blas_thread's address, set
# as the pool starts; POOL_EXTRA_RUNS: how many threads blas_jobs made beyond the helpers)
POOL_HELPERS, POOL_LOCK, POOL_SPIN, POOL_CALLS, POOL_EXTRA_THREAD, POOL_EXTRA_RUNS = range(6)
POSTED, DONE, SLEEPING, JOB_FN, JOB_THREAD, JOB_DATA, JOB_EXTRA, JOB_KIND = 0, 8, 16, 24, 25, 26, 27, 28
BLAS_JOB, KERNEL_JOB = 0, 1
MAX_HELPERS = 63
POOL = np.zeros(POOL_BLOCK * (MAX_HELPERS + 1), np.int64)
POOL[POOL_SPIN] = 1 << 20  # about 0.4 ms at 2.6 GHz: OpenBLAS's own wait as glassnet sets it
# the symbol the compiled code finds POOL by: an address known at run time, not frozen into
# the code, so that the code can be cached on disk
_POOL_SYMBOL = "glassnet_compiled_pool"
llvm_binding.add_symbol(_POOL_SYMBOL, POOL.ctypes.data)
I64, I32 = ir.IntType(64), ir.IntType(32)


def _slot(builder, block, index):
    """The address of slot ``index`` of the pool's block ``block``, as an i64 pointer."""
    pool = builder.module.globals.get(_POOL_SYMBOL)
    if pool is None:
        pool = ir.GlobalVariable(builder.module, I64, _POOL_SYMBOL)
        pool.linkage = "external"
    offset = builder.mul(builder.add(builder.mul(block, ir.Constant(I64, POOL_BLOCK)), index), ir.Constant(I64, 8))
    return builder.inttoptr(builder.add(builder.ptrtoint(pool, I64), offset), I64.as_pointer())


@intrinsic
def pool_load(typingctx, block, index):
    """POOL[block * POOL_BLOCK + index], read atomically (sequentially consistent)."""
    def codegen(context, builder, signature, args):
        return builder.load_atomic(_slot(builder, *args), "seq_cst", 8)
    return types.int64(types.int64, types.int64), codegen


@intrinsic
def pool_store(typingctx, block, index, value):
    """POOL[block * POOL_BLOCK + index] = value, atomically (sequentially consistent)."""
    def codegen(context, builder, signature, args):
        builder.store_atomic(args[2], _slot(builder, args[0], args[1]), "seq_cst", 8)
        return context.get_dummy_value()
    return types.void(types.int64, types.int64, types.int64), codegen


@intrinsic
def pool_swap(typingctx, block, index, expected, value):
    """Compare and swap: whether slot ``index`` held ``expected``, now ``value``."""
    def codegen(context, builder, signature, args):
        pair = builder.cmpxchg(_slot(builder, args[0], args[1]), args[2], args[3], "seq_cst", "seq_cst")
        return builder.extract_value(pair, 1)
    return types.boolean(types.int64, types.int64, types.int64, types.int64), codegen


@intrinsic
def pool_futex(typingctx, block, index, operation, value):
    """Linux's futex on the slot's low 32 bits: wait while it holds ``value``
    (FUTEX_WAIT_PRIVATE), or wake ``value`` waiters (FUTEX_WAKE_PRIVATE)."""
    def codegen(context, builder, signature, args):
        syscall = cgutils.get_or_insert_function(builder.module, ir.FunctionType(I64, [I64], var_arg=True), "syscall")
        null = ir.Constant(I64, 0)
        builder.call(syscall, [ir.Constant(I64, 202), builder.ptrtoint(_slot(builder, args[0], args[1]), I64),
                               args[2], args[3], null, null, null])
        return context.get_dummy_value()
    return types.void(types.int64, types.int64, types.int64, types.int64), codegen


FUTEX_WAIT, FUTEX_WAKE = 128, 129


@intrinsic
def pause(typingctx):
    """x86's ``pause``: a spinning loop's turn that leaves the core's resources to others."""
    def codegen(context, builder, signature, args):
        _llvm(builder, "llvm.x86.sse2.pause", ir.VoidType())
        return context.get_dummy_value()
    return types.void(), codegen


@intrinsic
def yield_core(typingctx):
    """sched_yield: let a thread that waits for this core run (the executor's), if any."""
    def codegen(context, builder, signature, args):
        function = cgutils.get_or_insert_function(builder.module, ir.FunctionType(I32, []), "sched_yield")
        builder.call(function, [])
        return context.get_dummy_value()
    return types.void(), codegen


@intrinsic
def cycles(typingctx):
    """The processor's time-stamp counter."""
    def codegen(context, builder, signature, args):
        return _llvm(builder, "llvm.readcyclecounter", I64)
    return types.int64(), codegen


@intrinsic
def call_address(typingctx, function, kind, first, second, third):
    """Call the C function at address ``function``: OpenBLAS's ``dojob(int thread, void
    *queue, int buffer)`` (kind BLAS_JOB), or a job ``void job(int64 *arguments)``
    (KERNEL_JOB, ``first`` the arguments' address)."""
    def codegen(context, builder, signature, args):
        address, kind, first, second, third = args
        blas, job = ir.FunctionType(ir.VoidType(), [I32, I64, I32]), ir.FunctionType(ir.VoidType(), [I64])
        with builder.if_else(builder.icmp_signed("==", kind, ir.Constant(I64, BLAS_JOB))) as (is_blas, is_job):
            with is_blas:
                builder.call(builder.inttoptr(address, blas.as_pointer()),
                             [builder.trunc(first, I32), second, builder.trunc(third, I32)])
            with is_job:
                builder.call(builder.inttoptr(address, job.as_pointer()), [first])
        return context.get_dummy_value()
    return types.void(*[types.int64] * 5), codegen


@intrinsic
def start_thread(typingctx, function, argument):
    """pthread_create: a new thread running the C function at address ``function``
    (``void *f(void *)``) on ``argument``; its id, or 0 where none could be made."""
    def codegen(context, builder, signature, args):
        create = cgutils.get_or_insert_function(builder.module, ir.FunctionType(I32, [I64.as_pointer(), I64, I64, I64]),
                                                "pthread_create")
        thread = cgutils.alloca_once_value(builder, ir.Constant(I64, 0))
        failed = builder.call(create, [thread, ir.Constant(I64, 0), args[0], args[1]])
        return builder.select(builder.icmp_signed("==", failed, ir.Constant(I32, 0)), builder.load(thread), ir.Constant(I64, 0))
    return types.int64(types.int64, types.int64), codegen


@intrinsic
def join_thread(typingctx, thread):
    """pthread_join: wait until the thread ``thread`` has ended."""
    def codegen(context, builder, signature, args):
        join = cgutils.get_or_insert_function(builder.module, ir.FunctionType(I32, [I64, I64]), "pthread_join")
        builder.call(join, [args[0], ir.Constant(I64, 0)])
        return context.get_dummy_value()
    return types.void(types.int64), codegen


@jit
def serve(helper):
    """Helper ``helper``'s life (1 on): wait for a job, spinning up to the pool's
    ``POOL_SPIN`` cycles and then asleep on a futex until the caller rings; run it; say
    it is done. Returns when the pool posts -1 (stop)."""
    last, spin = pool_load(helper, DONE), pool_load(0, POOL_SPIN)  # read once: callers write that cache line
    while True:
        start, posted = cycles(), pool_load(helper, POSTED)
        turns = 0
        while posted == last and cycles() - start < spin:
            pause()
            turns += 1
            if turns % 64 == 0:  # a spinning thread that never yields keeps a woken one off its core for a tick
                yield_core()
            posted = pool_load(helper, POSTED)
        if posted == last:
            # asleep: the caller posts, then reads SLEEPING; this stores SLEEPING, then
            # reads POSTED (both in one total order): one of the two sees the other's write
            pool_store(helper, SLEEPING, 1)
            if pool_load(helper, POSTED) == last:
                pool_futex(helper, SLEEPING, FUTEX_WAIT, 1)
            pool_store(helper, SLEEPING, 0)
            continue
        if posted < 0:
            return
        call_address(pool_load(helper, JOB_FN), pool_load(helper, JOB_KIND), pool_load(helper, JOB_THREAD),
                     pool_load(helper, JOB_DATA), pool_load(helper, JOB_EXTRA))
        pool_store(helper, DONE, posted)
        last = posted


@jit
def post(helper, function, kind, first, second, third):
    """Hand helper ``helper`` a job (``call_address``'s arguments), waking it if it sleeps."""
    pool_store(helper, JOB_FN, function)
    pool_store(helper, JOB_KIND, kind)
    pool_store(helper, JOB_THREAD, first)
    pool_store(helper, JOB_DATA, second)
    pool_store(helper, JOB_EXTRA, third)
    pool_store(helper, POSTED, pool_load(helper, POSTED) + 1)
    if pool_load(helper, SLEEPING) != 0:
        pool_store(helper, SLEEPING, 0)
        pool_futex(helper, SLEEPING, FUTEX_WAKE, 1)


@jit
def stop(helper):
    """Tell helper ``helper`` to leave ``serve`` (waking it if it sleeps)."""
    pool_store(helper, POSTED, -1)
    pool_store(helper, SLEEPING, 0)
    pool_futex(helper, SLEEPING, FUTEX_WAKE, 1)


@jit
def wait_for(helper):
    """Spin until helper ``helper`` has done the last job posted to it."""
    while pool_load(helper, DONE) != pool_load(helper, POSTED):
        pause()


@jit
def take_pool():
    """One caller at a time hands out jobs: two Python threads may both call BLAS."""
    while not pool_swap(0, POOL_LOCK, 0, 1):
        pause()


@jit
def blas_jobs(dojob, count, size, queue, buffer):
    """OpenBLAS's threads, as glassnet's helpers: its ``count`` jobs (elements of ``size``
    bytes from address ``queue``) run at once, job 0 by the calling thread and job i by
    helper i. They must run at once: a threaded product's jobs wait for each other's
    packed panels. OpenBLAS asks for as many as its thread count, which glassnet.threads
    keeps at most the helpers plus one (``gn.set_num_threads`` starts helpers as it raises
    OpenBLAS's count). Where it was raised past that by other means (threadpoolctl), each
    job beyond gets a thread of its own for this product (extra_blas_thread), made and
    joined here: slow, but the product finishes."""
    take_pool()
    pool_store(0, POOL_CALLS, pool_load(0, POOL_CALLS) + 1)
    helpers = min(count - 1, pool_load(0, POOL_HELPERS))
    for i in range(1, helpers + 1):
        post(i, dojob, BLAS_JOB, i, queue + i * size, buffer)
    if helpers + 1 < count:
        _with_threads_beyond(dojob, helpers + 1, count, size, queue, buffer)
    else:
        call_address(dojob, BLAS_JOB, 0, queue, buffer)
    for i in range(1, helpers + 1):
        wait_for(i)
    pool_store(0, POOL_LOCK, 0)


@jit
def _with_threads_beyond(dojob, first, count, size, queue, buffer):
    """blas_jobs' jobs first..count - 1, which no helper takes: a thread made for each
    (extra_blas_thread) while this one runs job 0, then joined."""
    jobs, threads = np.empty((count - first, 4), np.int64), np.zeros(count - first, np.int64)
    for e in range(count - first):
        i = first + e
        jobs[e, 0], jobs[e, 1], jobs[e, 2], jobs[e, 3] = dojob, i, queue + i * size, buffer
        threads[e] = start_thread(pool_load(0, POOL_EXTRA_THREAD), jobs[e:].ctypes.data)
        pool_store(0, POOL_EXTRA_RUNS, pool_load(0, POOL_EXTRA_RUNS) + 1)
    call_address(dojob, BLAS_JOB, 0, queue, buffer)
    for e in range(count - first):
        if threads[e] == 0:  # no thread could be made: run it here (its panels' waits may then never end)
            call_address(dojob, BLAS_JOB, jobs[e, 1], jobs[e, 2], buffer)
        else:
            join_thread(threads[e])


@numba.cfunc(types.void(types.int32, types.int64, types.int32, types.uint64, types.int64, types.int32),
             nopython=True, cache=True)
def openblas_threads(sync, dojob, count, size, queue, buffer):
    """The callback OpenBLAS's threading calls (``openblas_threads_callback``)."""
    blas_jobs(dojob, np.int64(count), np.int64(size), queue, np.int64(buffer))


# -- the helpers' own jobs: glassnet's kernels split over the pool, without the GIL -----------
#
# A job is a C function ``void job(int64 *arguments)`` (a numba cfunc) that runs one block
# of a kernel; ``run_job`` hands block i to helper i and runs block 0 itself. Its
# arguments, one row of JOB_FIELDS per block: the block's start and stop, which kernel,
# the arrays' addresses, whole numbers, and floats (their bits).

JOB_FIELDS = 16
START, STOP, WHICH, ARRAYS, NUMBERS, FLOATS, COUNT = 0, 1, 2, 3, 11, 13, 15


def _pointer_intrinsic(dtype):
    @intrinsic
    def pointer(typingctx, address):
        def codegen(context, builder, signature, args):
            return builder.inttoptr(args[0], context.get_value_type(dtype).as_pointer())
        return types.CPointer(dtype)(types.int64), codegen
    return pointer


float_pointer, int_pointer, double_pointer = (_pointer_intrinsic(t) for t in (types.float32, types.int64, types.float64))


@numba.cfunc(types.int64(types.int64), nopython=True, cache=True)
def extra_blas_thread(address):
    """The body of a thread blas_jobs makes for a job beyond its helpers: the four int64 at
    ``address`` are the job's dojob, thread number, queue element and buffer."""
    job = numba.carray(int_pointer(address), 4)
    call_address(job[0], BLAS_JOB, job[1], job[2], job[3])
    return 0


@jit
def run_job(job, count, blocks, which, a0, a1, a2, a3, a4, a5, a6, a7, n0, n1, x0, x1):
    """Run ``job`` over range(count) in ``blocks`` blocks at once (as many as the pool has
    helpers, plus this thread): kernel ``which`` on the float32 arrays a0..a7 (C-ordered),
    the numbers n0, n1 and the floats x0, x1."""
    blocks = max(1, min(blocks, pool_load(0, POOL_HELPERS) + 1))
    arguments = np.empty((blocks, JOB_FIELDS), np.int64)
    floats = arguments.view(np.float64)
    for b in range(blocks):
        arguments[b, START], arguments[b, STOP], arguments[b, WHICH] = count * b // blocks, count * (b + 1) // blocks, which
        arguments[b, ARRAYS], arguments[b, ARRAYS + 1] = a0.ctypes.data, a1.ctypes.data
        arguments[b, ARRAYS + 2], arguments[b, ARRAYS + 3] = a2.ctypes.data, a3.ctypes.data
        arguments[b, ARRAYS + 4], arguments[b, ARRAYS + 5] = a4.ctypes.data, a5.ctypes.data
        arguments[b, ARRAYS + 6], arguments[b, ARRAYS + 7], arguments[b, COUNT] = a6.ctypes.data, a7.ctypes.data, count
        arguments[b, NUMBERS], arguments[b, NUMBERS + 1] = n0, n1
        floats[b, FLOATS], floats[b, FLOATS + 1] = x0, x1
    _run_blocks(job, arguments)


@jit
def _run_blocks(job, arguments):
    """Row b of ``arguments`` (the arguments of ``job``'s block b) to helper b, row 0 here."""
    blocks, address, row = len(arguments), arguments.ctypes.data, 8 * arguments.shape[1]
    if blocks > 1:
        take_pool()
        for b in range(1, blocks):
            post(b, job, KERNEL_JOB, address + row * b, 0, 0)
    call_address(job, KERNEL_JOB, address, 0, 0)
    if blocks > 1:
        for b in range(1, blocks):
            wait_for(b)
        pool_store(0, POOL_LOCK, 0)


@jit_inline
def _job_array(arguments, field, shape):
    """The C-ordered float32 array of ``shape`` at the address in field ``field``."""
    return numba.carray(float_pointer(arguments[field]), shape)


@jit_inline
def _job_floats(arguments, field, start, stop):
    """The flat float32 array at the address in field ``field``, elements start:stop."""
    return _job_array(arguments, field, stop)[start:stop]


# the element-wise kernels of flat arrays, by number (``which``)
RELU, SIGMOID, TANH, GELU, RELU_BACKWARD, GELU_BACKWARD, ADD = range(7)


@numba.cfunc(types.void(types.int64), nopython=True, cache=True)
def elementwise_job(address):
    """One block of an element-wise kernel: ``out = f(x)`` (arrays 0 and 1), for a
    backward ``grad_x = f(saved, grad)`` (arrays 0, 1 and 2), or ``out = a + b`` (0, 1, 2)."""
    arguments = numba.carray(int_pointer(address), JOB_FIELDS)
    start, stop, which = arguments[START], arguments[STOP], arguments[WHICH]
    a = _job_floats(arguments, ARRAYS, start, stop)
    b = _job_floats(arguments, ARRAYS + 1, start, stop)
    if which == RELU:
        relu_into(a, b)
    elif which == SIGMOID:
        sigmoid_into(a, b)
    elif which == TANH:
        tanh_into(a, b)
    elif which == GELU:
        gelu_forward(a, b)
    elif which == RELU_BACKWARD:
        relu_backward(a, b, _job_floats(arguments, ARRAYS + 2, start, stop))
    elif which == GELU_BACKWARD:
        gelu_backward(a, b, _job_floats(arguments, ARRAYS + 2, start, stop))
    elif which == ADD:  # out = a + b, or a += b where out is a
        if arguments[ARRAYS + 2] == arguments[ARRAYS]:
            add_in_place(a, b)
        else:
            add_into(a, b, _job_floats(arguments, ARRAYS + 2, start, stop))


@jit_inline
def _job_rows(arguments, field, start, stop):
    """The rows start:stop of the (rows, NUMBERS[0]) float32 array at field ``field``."""
    return _job_array(arguments, field, (stop, arguments[NUMBERS]))[start:stop]


# the kernels of rows, by number: layer_norm_rows, add_to_rows, linear_rows (with a bias or
# without), multiply_rows, batch_norm_rows and its backward (a row: a channel), and
# linear_rows by blocks of the output's columns
LAYER_NORM, ADD_TO_ROWS, LINEAR_BIAS, LINEAR, PRODUCT, BATCH_NORM, BATCH_NORM_BACKWARD, LINEAR_COLUMNS = range(8)


@numba.cfunc(types.void(types.int64), nopython=True, cache=True)
def rows_job(address):
    """One block of rows of a kernel of rows (NUMBERS[0] floats each): layer_norm_rows
    (rows, out, weight, bias, mean, rstd; NUMBERS[1] has_weight + 2 has_bias; FLOATS[0]
    eps), add_to_rows (rows, bias), linear_rows (rows, weight, bias, out; NUMBERS[1] the
    weight's rows), multiply_rows (rows, right, out; NUMBERS[1] the right's columns),
    batch_norm_rows (rows, out, x_hat, mean, var, inv_std, weight, bias; NUMBERS[1]
    training + 2 affine + 4 keep_x_hat; FLOATS[0] eps) or its backward (x_hat, grad,
    grad_x, grad_weight, grad_bias, inv_std, weight; NUMBERS[1] training + 2 affine + 4
    want_grad_x), or linear_rows over the columns start:stop of the output (rows, weight,
    bias, out; NUMBERS[1] the rows, COUNT the weight's rows; FLOATS[0] has_bias)."""
    arguments = numba.carray(int_pointer(address), JOB_FIELDS)
    start, stop, which, size = arguments[START], arguments[STOP], arguments[WHICH], arguments[NUMBERS]
    if which == LINEAR_COLUMNS:  # a block of the output's columns, all rows (COUNT: all the columns)
        height, width = arguments[NUMBERS + 1], arguments[COUNT]
        x, weight = _job_array(arguments, ARRAYS, (height, size)), _job_array(arguments, ARRAYS + 1, (width, size))[start:stop]
        out = _job_array(arguments, ARRAYS + 3, (height, width))[:, start:stop]
        if numba.carray(double_pointer(address), JOB_FIELDS)[FLOATS]:  # with a bias
            linear_rows(x, weight, _job_array(arguments, ARRAYS + 2, (width,))[start:stop], out)
        else:
            linear_rows(x, weight, None, out)
        return
    rows = _job_rows(arguments, ARRAYS, start, stop)
    if which == BATCH_NORM or which == BATCH_NORM_BACKWARD:
        flags, second = arguments[NUMBERS + 1], _job_rows(arguments, ARRAYS + 1, start, stop)
        third, inv_std = _job_rows(arguments, ARRAYS + 2, start, stop), _job_floats(arguments, ARRAYS + 5, start, stop)
        if which == BATCH_NORM:
            eps = f32(numba.carray(double_pointer(address), JOB_FIELDS)[FLOATS])
            batch_norm_rows(rows, flags & 1 != 0, _job_floats(arguments, ARRAYS + 3, start, stop),
                            _job_floats(arguments, ARRAYS + 4, start, stop), inv_std,
                            _job_floats(arguments, ARRAYS + 6, start, stop), _job_floats(arguments, ARRAYS + 7, start, stop),
                            flags & 2 != 0, eps, third, flags & 4 != 0, second)
        else:
            batch_norm_backward_rows(rows, second, inv_std, _job_floats(arguments, ARRAYS + 6, start, stop), flags & 2 != 0,
                                     flags & 1 != 0, _job_floats(arguments, ARRAYS + 3, start, stop),
                                     _job_floats(arguments, ARRAYS + 4, start, stop), third, flags & 4 != 0)
        return
    if which == LINEAR_BIAS or which == LINEAR or which == PRODUCT:
        width, last = arguments[NUMBERS + 1], ARRAYS + (2 if which == PRODUCT else 3)
        out = _job_array(arguments, last, (stop, width))[start:stop]
        if which == PRODUCT:
            multiply_rows(rows, _job_array(arguments, ARRAYS + 1, (size, width)), out, False)
        elif which == LINEAR:
            linear_rows(rows, _job_array(arguments, ARRAYS + 1, (width, size)), None, out)
        else:
            linear_rows(rows, _job_array(arguments, ARRAYS + 1, (width, size)), _job_array(arguments, ARRAYS + 2, (width,)), out)
        return
    if which == LAYER_NORM:
        flags, eps = arguments[NUMBERS + 1], numba.carray(double_pointer(address), JOB_FIELDS)[FLOATS]
        layer_norm_rows(rows, _job_array(arguments, ARRAYS + 2, size), _job_array(arguments, ARRAYS + 3, size),
                        flags & 1 != 0, flags & 2 != 0, f32(eps), _job_rows(arguments, ARRAYS + 1, start, stop),
                        _job_floats(arguments, ARRAYS + 4, start, stop), _job_floats(arguments, ARRAYS + 5, start, stop))
    elif which == ADD_TO_ROWS:
        add_to_rows(rows, _job_array(arguments, ARRAYS + 1, size))


# the attention at inference for short rows (attention_short_rows), by blocks of the batch:
# each 4-D array as its address, shape and strides (in bytes), since the heads are views
Q, K, V, OUT, MASK, SCALE, ATTENTION_FIELDS = 2, 11, 20, 29, 38, 41, 42


@jit_inline
def _describe(arguments, field, array):
    arguments[field] = array.ctypes.data
    for axis in range(4):
        arguments[field + 1 + axis], arguments[field + 5 + axis] = array.shape[axis], array.strides[axis]


@jit_inline
def _described(arguments, field, start, stop):
    """The 4-D float32 array described at ``field``, its first axis start:stop."""
    shape = (arguments[field + 1], arguments[field + 2], arguments[field + 3], arguments[field + 4])
    strides = (arguments[field + 5], arguments[field + 6], arguments[field + 7], arguments[field + 8])
    extent = 1
    for axis in range(4):
        extent += (shape[axis] - 1) * (strides[axis] // 4)
    whole = np.lib.stride_tricks.as_strided(numba.carray(float_pointer(arguments[field]), extent), shape, strides)
    return whole[start:stop]


@jit
def run_attention_short_rows(job, q, k, v, mask, scale, out, blocks):
    """attention_short_rows over the batch in ``blocks`` blocks at once on the pool."""
    count = len(q)
    blocks = max(1, min(blocks, count, pool_load(0, POOL_HELPERS) + 1))
    arguments = np.empty((blocks, ATTENTION_FIELDS), np.int64)
    for b in range(blocks):
        arguments[b, START], arguments[b, STOP] = count * b // blocks, count * (b + 1) // blocks
        _describe(arguments[b], Q, q)
        _describe(arguments[b], K, k)
        _describe(arguments[b], V, v)
        _describe(arguments[b], OUT, out)
        arguments[b, MASK], arguments[b, MASK + 1], arguments[b, MASK + 2] = mask.ctypes.data, mask.shape[0], mask.shape[1]
        arguments[b:b + 1].view(np.float64)[0, SCALE] = scale
    _run_blocks(job, arguments)


@numba.cfunc(types.void(types.int64), nopython=True, cache=True)
def attention_short_rows_job(address):
    arguments = numba.carray(int_pointer(address), ATTENTION_FIELDS)
    start, stop = arguments[START], arguments[STOP]
    mask = numba.carray(float_pointer(arguments[MASK]), (arguments[MASK + 1], arguments[MASK + 2]))
    scale = f32(numba.carray(double_pointer(address), ATTENTION_FIELDS)[SCALE])
    attention_short_rows(_described(arguments, Q, start, stop), _described(arguments, K, start, stop),
                         _described(arguments, V, start, stop), mask, scale,
                         _described(arguments, OUT, start, stop))



# the convolutions' kernels, by number: conv2d_rows and conv2d_weight_grad in blocks of four
# filters, conv3x3_winograd in blocks of its items, image_tiles in blocks of images; each
# array (C-ordered) as its address and shape, the input's rows first
CONV_DIRECT, CONV_WEIGHT_GRAD, CONV_WINOGRAD, CONV_WINOGRAD4, CONV_TILES = range(5)
ROWS, SECOND, THIRD, CONV_OUT, TAPS, CONV_NUMBERS, CONV_FIELDS = 3, 8, 13, 18, 23, 25, 28


@jit_inline
def _put_array(arguments, field, array):
    arguments[field] = array.ctypes.data
    for axis in range(array.ndim):
        arguments[field + 1 + axis] = array.shape[axis]


@jit
def run_conv(job, which, count, blocks, rows, second, third, out, taps, n0, n1, n2):
    """A convolution's kernel ``which`` over range(count) in ``blocks`` blocks at once on the
    pool: rows (C, H, W'N); second, third and out as the kernel takes them (weight, bias;
    grad, grad_weight; filters, bias); taps; the numbers (stride_h, dilation_h; chunks,
    top, left)."""
    blocks = max(1, min(blocks, count, pool_load(0, POOL_HELPERS) + 1))
    arguments = np.zeros((blocks, CONV_FIELDS), np.int64)
    for b in range(blocks):
        arguments[b, START], arguments[b, STOP], arguments[b, WHICH] = count * b // blocks, count * (b + 1) // blocks, which
        _put_array(arguments[b], ROWS, rows)
        _put_array(arguments[b], SECOND, second)
        _put_array(arguments[b], THIRD, third)
        _put_array(arguments[b], CONV_OUT, out)
        arguments[b, TAPS], arguments[b, TAPS + 1] = taps.ctypes.data, len(taps)
        arguments[b, CONV_NUMBERS], arguments[b, CONV_NUMBERS + 1], arguments[b, CONV_NUMBERS + 2] = n0, n1, n2
    _run_blocks(job, arguments)


@jit_inline
def _conv_array3(arguments, field):
    return _job_array(arguments, field, (arguments[field + 1], arguments[field + 2], arguments[field + 3]))


@jit_inline
def _conv_array4(arguments, field):
    return _job_array(arguments, field, (arguments[field + 1], arguments[field + 2], arguments[field + 3],
                                         arguments[field + 4]))


@numba.cfunc(types.void(types.int64), nopython=True, cache=True)
def conv_job(address):
    arguments = numba.carray(int_pointer(address), CONV_FIELDS)
    start, stop, which = arguments[START], arguments[STOP], arguments[WHICH]
    rows, out = _conv_array3(arguments, ROWS), _conv_array4(arguments, CONV_OUT)
    first, second, third = arguments[CONV_NUMBERS], arguments[CONV_NUMBERS + 1], arguments[CONV_NUMBERS + 2]
    if which == CONV_TILES:  # the images start:stop (N, C, H, W) into their tiles' rows (N, out_h, out_w, C kh kw)
        image_tiles(_conv_array4(arguments, ROWS)[start:stop], first, second, out[start:stop].reshape((-1, out.shape[3])))
        return
    if which == CONV_WINOGRAD or which == CONV_WINOGRAD4:
        filters, bias = _conv_array3(arguments, SECOND), _job_array(arguments, THIRD, (arguments[THIRD + 1],))
        if which == CONV_WINOGRAD4:
            conv3x3_winograd4(rows, filters, bias, out, start, stop, first, second, third)
        else:
            conv3x3_winograd(rows, filters, bias, out, start, stop, first, second, third)
        return
    taps = numba.carray(int_pointer(arguments[TAPS]), arguments[TAPS + 1])
    filters = arguments[SECOND + 1] if which == CONV_DIRECT else arguments[THIRD + 1]
    o_start, o_stop = 4 * start, min(4 * stop, filters)
    if which == CONV_DIRECT:
        conv2d_rows(rows, _conv_array4(arguments, SECOND), _job_array(arguments, THIRD, (arguments[THIRD + 1],)), out,
                    o_start, o_stop, first, second, taps)
    else:
        conv2d_weight_grad(rows, _conv_array4(arguments, SECOND), _conv_array4(arguments, THIRD), o_start, o_stop,
                           first, second, taps)


# the recurrences' loops over time, by number: lstm_steps
LSTM_STEPS = 0


@numba.cfunc(types.void(types.int64), nopython=True, cache=True)
def recurrent_job(address):
    """One block of the batch's rows of a recurrence's loop over time (NUMBERS: steps and
    hidden size; COUNT: the batch): the arrays as ops.recurrent passes them to the loop."""
    arguments = numba.carray(int_pointer(address), JOB_FIELDS)
    rows, which = slice(arguments[START], arguments[STOP]), arguments[WHICH]
    steps, hidden, batch = arguments[NUMBERS], arguments[NUMBERS + 1], arguments[COUNT]
    states, gates = (steps + 1, batch, hidden), (steps, batch, 4 * hidden)
    if which == LSTM_STEPS:
        lstm_steps(_job_array(arguments, ARRAYS, gates), _job_array(arguments, ARRAYS + 1, (4 * hidden, hidden)),
                   _job_array(arguments, ARRAYS + 2, (4 * hidden,)), _job_array(arguments, ARRAYS + 3, states),
                   _job_array(arguments, ARRAYS + 4, states), _job_array(arguments, ARRAYS + 5, (steps, batch, hidden)), rows)
