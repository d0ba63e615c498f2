"""Could glassnet keep both cores busy with one pool of its own? What a hand-off costs, and
whether OpenBLAS's products can be split by glassnet instead of by OpenBLAS's threads.

    python bench/one_pool.py [--repeats 200]

glassnet has two thread pools: OpenBLAS's (the products) and its own executor (the
element-wise kernels). Only one can spin while idle without taking the core the other
needs, so glassnet's sleeps, and every hand-off to it is a wake-up through this VM's
hypervisor. This measures, on this machine:

1. the round trip of a no-op through glassnet's executor (``threads.in_blocks``) and
   through a helper thread that waits spinning in compiled code with the GIL released,
   its jobs given as an array of integers (pointers and sizes), so that neither side
   waits for the GIL;
2. the products of the models' shapes three ways: OpenBLAS on two threads; on one; and
   split in two halves of rows, one computed by the calling thread and one by the
   spinning helper, each by OpenBLAS on one thread (``cblas_sgemm`` called from the
   compiled code).

If (2)'s halves match OpenBLAS's two threads, OpenBLAS could run on one thread and every
split, products and element-wise alike, go through the one spinning helper. x86 only
(the ``pause`` instruction) and NumPy's scipy-openblas build (its ``cblas_sgemm`` name).
"""
import os

os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "20")  # as glassnet sets it (see child.py)

import argparse  # noqa: E402
import ctypes  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

import numba  # noqa: E402
import numpy as np  # noqa: E402
from llvmlite import ir  # noqa: E402
from numba import types  # noqa: E402
from numba.core import cgutils  # noqa: E402
from numba.extending import intrinsic  # noqa: E402
from threadpoolctl import threadpool_info, threadpool_limits  # noqa: E402

import glassnet as gn  # noqa: E402
from glassnet.threads import in_blocks  # noqa: E402

# the job array: what the caller writes and what the helper writes on cache lines of their own
POSTED, DONE, ARGS = 0, 8, 16


@intrinsic
def _load_acquire(typingctx, array, index):
    def codegen(context, builder, signature, args):
        data = context.make_array(signature.args[0])(context, builder, args[0]).data
        return builder.load_atomic(builder.gep(data, [args[1]]), "acquire", 8)
    return types.int64(array, types.int64), codegen


@intrinsic
def _store_release(typingctx, array, index, value):
    def codegen(context, builder, signature, args):
        data = context.make_array(signature.args[0])(context, builder, args[0]).data
        builder.store_atomic(args[2], builder.gep(data, [args[1]]), "release", 8)
        return context.get_dummy_value()
    return types.void(array, types.int64, types.int64), codegen


@intrinsic
def _pause(typingctx):
    def codegen(context, builder, signature, args):
        kind = ir.FunctionType(ir.VoidType(), [])
        builder.call(cgutils.get_or_insert_function(builder.module, kind, "llvm.x86.sse2.pause"), [])
        return context.get_dummy_value()
    return types.void(), codegen


def _cblas_sgemm():
    path = next(info["filepath"] for info in threadpool_info() if info["internal_api"] == "openblas")
    sgemm = ctypes.CDLL(path).scipy_cblas_sgemm64_
    sgemm.restype = None
    i64, pointer = ctypes.c_int64, ctypes.c_void_p
    sgemm.argtypes = [ctypes.c_int] * 3 + [i64] * 3 + [ctypes.c_float, pointer, i64, pointer, i64, ctypes.c_float, pointer, i64]
    return sgemm


sgemm = _cblas_sgemm()
ROW_MAJOR, NO_TRANSPOSE, TRANSPOSE = 101, 111, 112


@numba.njit(nogil=True)
def _rows_of_product(job):
    """C[r0:r1] = A[r0:r1] B^T, float32, row-major: the arguments a, b, c (addresses), n, k,
    r0, r1 at job[ARGS:]. A row count of 0 is a no-op."""
    a, b, c, n, k, first, stop = job[ARGS:ARGS + 7]
    if stop > first:
        sgemm(ROW_MAJOR, NO_TRANSPOSE, TRANSPOSE, stop - first, n, k, 1.0, a + 4 * first * k, k, b, k, 0.0,
              c + 4 * first * n, n)


@numba.njit(nogil=True)
def _serve(job, last, spins):
    """The helper's wait: spin until a job is posted past ``last``, run it, say it is done
    and return its number; -1 after ``spins`` idle turns."""
    for _ in range(spins):
        posted = _load_acquire(job, POSTED)
        if posted != last:
            _rows_of_product(job)
            _store_release(job, DONE, posted)
            return posted
        _pause()
    return -1


@numba.njit(nogil=True)
def _post_run_wait(job, mine, number):
    """Post job ``number``, run the caller's own part (``mine``), wait for the helper's."""
    _store_release(job, POSTED, number)
    _rows_of_product(mine)
    while _load_acquire(job, DONE) != number:
        _pause()


class SpinningHelper:
    """One helper thread that spins between jobs (here it never sleeps: a measurement)."""

    def __init__(self):
        self.job, self.mine, self.number = np.zeros(64, np.int64), np.zeros(64, np.int64), 0
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self):
        last = 0
        while True:
            last = max(last, _serve(self.job, last, 1 << 20))

    def product(self, a, b, out, share=0.5):
        """out = a b^T, the rows from ``share`` of them on by the helper."""
        cut = int(len(a) * share)
        common = [a.ctypes.data, b.ctypes.data, out.ctypes.data, len(b), a.shape[1]]
        self.job[ARGS:ARGS + 7], self.mine[ARGS:ARGS + 7] = common + [cut, len(a)], common + [0, cut]
        self.number += 1
        _post_run_wait(self.job, self.mine, self.number)
        return out


def microseconds(work, repeats, rounds=7):
    """The best over ``rounds`` of the mean over ``repeats`` calls."""
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(repeats):
            work()
        best = min(best, (time.perf_counter() - start) / repeats)
    return best * 1e6


SHAPES = [  # (what, rows, inputs, outputs): x (rows, inputs) times a weight (outputs, inputs) transposed
    ("mlp, first layer", 128, 784, 128),
    ("vit, attention's projection", 2176, 64, 192),
    ("vit, feed-forward in", 2176, 64, 128),
    ("vit, feed-forward out", 2176, 128, 64),
    ("gpt, feed-forward in", 4096, 128, 512),
    ("lstm, W_hh's gradient", 512, 3584, 128),
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()
    gn.set_num_threads(2)
    rng = np.random.default_rng(0)
    cases = []
    for what, rows, inputs, outputs in SHAPES:
        x = rng.standard_normal((rows, inputs), dtype=np.float32)
        weight = rng.standard_normal((outputs, inputs), dtype=np.float32)
        cases.append((what, x, weight, max(10, args.repeats * 2_000_000 // (rows * inputs * outputs))))
    # OpenBLAS's own threads and glassnet's executor first: the helper, once started, spins for good
    executor = microseconds(lambda: in_blocks(lambda start, stop: None, 2, 1 << 30), 2000)
    two = [microseconds(lambda: x @ weight.T, repeats) for _, x, weight, repeats in cases]
    with threadpool_limits(1, "blas"):
        one = [microseconds(lambda: x @ weight.T, repeats) for _, x, weight, repeats in cases]
        helper, no_rows, weight_1x1 = SpinningHelper(), np.zeros((0, 1), np.float32), np.zeros((1, 1), np.float32)
        spinning = microseconds(lambda: helper.product(no_rows, weight_1x1, no_rows), 2000)  # both parts empty: a no-op
        halves, differences = [], []
        for _, x, weight, repeats in cases:
            out = np.empty((len(x), len(weight)), np.float32)
            halves.append(microseconds(lambda: helper.product(x, weight, out), repeats))
            differences.append(np.abs(out - x @ weight.T).max())
    print(f"A no-op handed to the other thread and back: glassnet's executor (threads.in_blocks) {executor:.1f} us, "
          f"the spinning helper {spinning:.1f} us")
    print("Products x W^T, us: OpenBLAS on 2 threads, on 1, and two halves of rows on 1 thread each (the caller's "
          "and the helper's)")
    for (what, x, weight, _), *times, difference in zip(cases, two, one, halves, differences):
        print(f"  {what:28s} {len(x):5d} x {x.shape[1]:4d} -> {len(weight):3d}: {times[0]:8.1f} {times[1]:8.1f} "
              f"{times[2]:8.1f}  (halves / 2 threads {times[2] / times[0]:.2f}; largest difference from one call "
              f"{difference:.1e})")


if __name__ == "__main__":
    main()
