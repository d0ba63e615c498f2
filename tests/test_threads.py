"""glassnet.threads: work split over the cores gives exactly the numbers of one thread.

Kernels split their work only when it is large; these tests force the split on small
arrays (a minimum block of one byte, three threads, so blocks are uneven) and compare
with the unsplit run bit for bit: each block computes its own elements the same way.
"""
import numpy as np
import pytest

import glassnet as gn
import glassnet.threads as threads
from glassnet import ops


@pytest.fixture
def split(split_threads):
    split_threads()


def test_in_blocks_covers_the_range_once_in_uneven_blocks(split):
    seen = []
    threads.in_blocks(lambda start, stop: seen.append((start, stop)), 10, bytes_per_item=1)
    assert sorted(seen) == [(0, 3), (3, 6), (6, 10)]


def test_small_work_stays_on_the_calling_thread():
    seen = []
    threads.in_blocks(lambda start, stop: seen.append((start, stop)), 10, bytes_per_item=1)
    assert seen == [(0, 10)]


def test_a_kernel_error_reaches_the_caller(split):
    def kernel(start, stop):
        if start > 0:
            raise ValueError(f"block {start}")

    with pytest.raises(ValueError, match="block"):
        threads.in_blocks(kernel, 9, bytes_per_item=1)


@pytest.mark.parametrize("layout", ["batch-first", "batch-last", "2-d", "0-d"])
def test_map_blocks_splits_along_the_outermost_axis_of_memory(split, layout):
    rng = np.random.default_rng(0)
    x = {"batch-first": rng.standard_normal((4, 3, 5, 5)),
         "batch-last": rng.standard_normal((3, 5, 5, 4)).transpose(3, 0, 1, 2),
         "2-d": rng.standard_normal((7, 2)), "0-d": np.array(-1.5)}[layout]
    out = np.empty_like(x)
    threads.map_blocks(lambda x, out: np.maximum(x, 0, out=out), x, out)
    np.testing.assert_array_equal(out, np.maximum(x, 0))


@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh"])
def test_activations_split_over_threads_give_the_same_numbers(name, monkeypatch):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 5, 5, 4)).transpose(3, 0, 1, 2)  # batch-last, as after a convolution
    upstream = rng.standard_normal(x.shape)
    results = []
    for minimum in (threads.MIN_BLOCK_BYTES, 1):
        monkeypatch.setattr(threads, "MIN_BLOCK_BYTES", minimum)
        monkeypatch.setattr(threads, "_threads", 3)
        t = gn.tensor(x, requires_grad=True)
        y = getattr(t, name)()
        (y * gn.tensor(upstream)).sum().backward()
        results.append((y.numpy(), t.grad.numpy()))
    for one, split in zip(*results):
        np.testing.assert_array_equal(split, one)


def test_set_num_threads():
    before = gn.get_num_threads()
    try:
        gn.set_num_threads(1)
        assert gn.get_num_threads() == 1
        with pytest.raises(ValueError, match="set_num_threads: count must be a whole number of at least 1, got 0"):
            gn.set_num_threads(0)
    finally:
        gn.set_num_threads(before)


def test_an_op_after_flatten_gets_its_gradient_in_the_activations_layout():
    """A gradient arriving batch-first beside batch-last activations is aligned first
    (for speed); the numbers are those of the plain computation."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 4, 4, 2)).transpose(3, 0, 1, 2)  # batch-last, as a convolution leaves it
    options = dict(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0), dilation=(1, 1), out_size=(2, 2))
    pooled = ops.MaxPool2d.apply(gn.tensor(x, requires_grad=True), **options)
    assert pooled.numpy().strides[0] < pooled.numpy().strides[1]  # still batch-last
    grad = rng.standard_normal((2, 3 * 2 * 2))  # batch-first, as Flatten hands it back
    fn = pooled.grad_fn
    mine = fn.backward(grad.reshape(2, 3, 2, 2))
    want = fn.backward(np.ascontiguousarray(grad.reshape(2, 3, 2, 2).transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2))
    np.testing.assert_array_equal(mine, want)


def _in_fresh_python(code, **env):
    import os
    import subprocess
    import sys

    environment = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_THREAD_TIMEOUT", "GLASSNET_KEEP_MEMORY")}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**environment, **env},
                            timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_importing_glassnet_shortens_openblas_idle_spin_unless_the_user_set_it():
    code = "import os, glassnet; print(os.environ['OPENBLAS_THREAD_TIMEOUT'])"
    assert _in_fresh_python(code) == "20"
    assert _in_fresh_python(code, OPENBLAS_THREAD_TIMEOUT="28") == "28"


def test_freed_memory_is_kept_for_the_next_arrays_unless_turned_off():
    code = "from glassnet import backend; print(backend.keep_freed_memory())"
    assert _in_fresh_python(code) == "True"  # Linux with glibc, as this machine
    assert _in_fresh_python(code, GLASSNET_KEEP_MEMORY="0") == "False"


# -- one pool: OpenBLAS's threaded products run on glassnet's helper threads -----------------

def _pool_kernels():
    """The compiled kernels' module where the pool runs (numba, x86-64 Linux, OpenBLAS's
    pthreads build with caller-managed threads), else the test is skipped."""
    from glassnet import compiled
    kernels = compiled.load() if compiled.enabled() else None
    if kernels is None or threads._pool_kernels is None:
        pytest.skip("the pool needs numba, x86-64 Linux and OpenBLAS's pthreads build (0.3.27 on)")
    return kernels


def _product_calls(kernels, a, b):
    before = int(kernels.POOL[kernels.POOL_CALLS])
    out = a @ b
    return out, int(kernels.POOL[kernels.POOL_CALLS]) - before


def test_openblas_hands_its_threaded_products_to_glassnets_helpers():
    kernels = _pool_kernels()
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((512, 300), dtype=np.float32), rng.standard_normal((300, 256), dtype=np.float32)
    before = gn.get_num_threads()
    try:
        gn.set_num_threads(2)
        out, calls = _product_calls(kernels, a, b)
        assert calls == 1 and kernels.POOL[kernels.POOL_HELPERS] >= 1
        gn.set_num_threads(1)
        alone, calls = _product_calls(kernels, a, b)
        assert calls == 0  # one thread: OpenBLAS never asks for helpers
    finally:
        gn.set_num_threads(before)
    # the two threads split the output, not the sums: the same numbers to the bit
    np.testing.assert_array_equal(out, alone)


def test_a_sleeping_helper_wakes_for_the_next_product():
    import time
    kernels = _pool_kernels()
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((400, 500), dtype=np.float32), rng.standard_normal((500, 300), dtype=np.float32)
    expected = a.astype(np.float64) @ b
    for _ in range(3):
        time.sleep(0.005)  # past the helper's spin (about 0.4 ms): it sleeps on its futex
        out, calls = _product_calls(kernels, a, b)
        assert calls == 1
        np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-3)


def test_products_from_two_python_threads_at_once_take_turns_on_the_helpers():
    from concurrent.futures import ThreadPoolExecutor
    _pool_kernels()
    rng = np.random.default_rng(2)
    pairs = [(rng.standard_normal((300, 400), dtype=np.float32), rng.standard_normal((400, 300), dtype=np.float32))
             for _ in range(4)]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda pair: [pair[0] @ pair[1] for _ in range(20)][-1], pairs))
    for (a, b), out in zip(pairs, results):
        np.testing.assert_allclose(out, a.astype(np.float64) @ b, rtol=1e-4, atol=1e-3)


def test_a_forked_child_runs_its_products_without_the_parents_helpers():
    import multiprocessing
    _pool_kernels()
    context = multiprocessing.get_context("fork")
    with context.Pool(1) as pool:  # a job handed to a helper the child lacks would never end
        total = pool.apply_async(_product_sum, (700,)).get(timeout=60)
    assert total == pytest.approx(_product_sum(700), rel=1e-5)


def _product_sum(n):
    a = np.arange(n * n, dtype=np.float32).reshape(n, n) / (n * n)
    return float((a @ a).sum())


def test_openblas_raised_past_the_helpers_by_threadpoolctl_still_finishes_its_products():
    """OpenBLAS set to six threads behind glassnet's back (threadpoolctl) asks for six
    jobs, which must run at once: those beyond the helpers get a thread each for the
    product. Run in a child process with a timeout, so that a hang fails the test."""
    import subprocess
    import sys
    _pool_kernels()
    code = ("import numpy as np, glassnet as gn; from glassnet import compiled; from threadpoolctl import threadpool_limits; "
            "k = compiled.load(); gn.set_num_threads(2); "
            "a = np.random.default_rng(0).standard_normal((700, 700)).astype(np.float32); "
            "c, e = int(k.POOL[k.POOL_CALLS]), int(k.POOL[k.POOL_EXTRA_RUNS]); helpers = int(k.POOL[k.POOL_HELPERS])\n"
            "with threadpool_limits(6):\n    out = a @ a\n"
            "calls, extra = int(k.POOL[k.POOL_CALLS]) - c, int(k.POOL[k.POOL_EXTRA_RUNS]) - e\n"
            "error = float(np.abs(out - a.astype(np.float64) @ a).max()); after = float(np.abs(a @ a - out).max())\n"
            "print(calls, extra, 5 - helpers, error < 1e-3, after < 1e-3)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    calls, extra, expected_extra, *close = result.stdout.split()
    assert (calls, close) == ("1", ["True", "True"]) and extra == expected_extra != "0", result.stdout + result.stderr


def test_a_fresh_processs_first_question_to_the_pool_starts_it():
    """An op asks pool_blocks before it calls a kernel; in a fresh process nothing has loaded
    the kernels yet, and the answer must still be the pool's. Else a process's first op takes
    another path than every later one, with other bits where a kernel's sums may reassociate
    (batch norm's), and a training run resumed in a new process drifts from a straight one."""
    import subprocess
    import sys
    _pool_kernels()
    code = ("import os; from glassnet import threads; before = threads._pool_kernels is None; "
            "print(before, threads.pool_blocks(1 << 20), min(len(os.sched_getaffinity(0)), 25))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    before, blocks, cores = result.stdout.split()
    assert before == "True" and blocks == cores, result.stdout + result.stderr


def test_glassnet_pool_0_keeps_openblas_own_threads():
    import subprocess
    import sys
    _pool_kernels()
    code = ("import glassnet, numpy as np; from glassnet import compiled, threads; k = compiled.load(); "
            "a = np.ones((512, 300), np.float32); b = np.ones((300, 256), np.float32); c = int(k.POOL[k.POOL_CALLS]); "
            "out = a @ b; print(threads._pool_kernels is None, int(k.POOL[k.POOL_CALLS]) - c, float(out[0, 0]))")
    env = dict(__import__("os").environ, GLASSNET_POOL="0")
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert result.stdout.split() == ["True", "0", "300.0"], result.stderr


def test_a_process_with_the_pool_exits_cleanly_and_products_after_the_pool_still_run():
    import subprocess
    import sys
    _pool_kernels()
    code = ("import atexit, numpy as np, glassnet as gn; from glassnet import compiled, threads; "
            "a = np.ones((400, 400), np.float32); "
            "atexit.register(lambda: print(float((a @ a)[0, 0]), threads._pool_kernels, flush=True)); "
            "compiled.load(); "  # the pool's own exit handler, registered after, runs first
            "print(float((a @ a)[0, 0]), threads._pool_kernels is not None, flush=True)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.split() == ["400.0", "True", "400.0", "None"], result.stderr
