"""The matrix-product floor of a model: every product one step makes, each timed alone with
NumPy, summed, beside glassnet's whole step.

    python bench/product_floor.py MODEL [--infer] [--threads 2]

The shapes are recorded from a real step (bench/child.py's workload), from the ops that
make the products: Linear (forward, and the input's and weight's gradients), Attention
(its stacked products) and LSTM (the input projection, one recurrent product per step,
and the gradients). Attention and LSTM cut their batch into one block per thread, BLAS on
one thread each, so those products are timed so: a block's share on one thread. Other
ops' products (convolutions, GRU) are not counted, so the figure is a floor for the
models made of the ops above. No framework on NumPy's BLAS runs a step in less time.
"""
import os

os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "20")  # as glassnet sets it (see child.py)

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from child import GlassnetRunner, workload  # noqa: E402


def recording(products, threads):
    """Wrap the ops' forward and backward to append (a shape, b shape, on a thread each)
    for every product they make; returns what restores them."""
    from glassnet.ops import attention, matmul, recurrent

    originals = []

    def wrap(cls, name, shapes):
        original = getattr(cls, name)
        originals.append((cls, name, original))

        def recorded(self, *args, **options):
            products.extend(shapes(self, *args))
            return original(self, *args, **options)
        setattr(cls, name, recorded)

    def linear_backward(fn, grad):
        rows, out, features = int(np.prod(grad.shape[:-1])), grad.shape[-1], fn.weight.shape[1]
        wanted = [((rows, out), (out, features), False), ((out, rows), (rows, features), False)]
        return [p for p, needs in zip(wanted, fn.needs_input_grad) if needs]

    def attention_backward(fn, grad):
        count, length, size, depth = len(fn.weights), *fn.weights.shape[-2:], fn.query.shape[-1]
        heads = count * int(np.prod(fn.weights.shape[1:-2]))
        return [((heads, a, k), (heads, k, b), True) for a, k, b in
                ((size, length, depth), (length, depth, size), (length, size, depth), (size, length, depth))]

    def lstm_forward(fn, x, h0, c0, weight_ih, weight_hh, *rest):
        steps, batch, features = x.shape
        gates, hidden = weight_ih.shape[0], weight_hh.shape[1]
        return ([((steps * batch, features), (features, gates), False)]
                + [((batch // threads, hidden), (hidden, gates), True)] * steps)

    def lstm_backward(fn, grad_output, grad_c):
        steps, batch, gates = fn.gates.shape
        hidden, features = fn.weight_hh.shape[1], fn.x.shape[-1]
        return ([((batch // threads, gates), (gates, hidden), True)] * steps
                + [((steps * batch, gates), (gates, features), False), ((gates, steps * batch), (steps * batch, features), False),
                   ((gates, steps * batch), (steps * batch, hidden), False)])

    wrap(matmul.Linear, "forward", lambda fn, x, w, *rest: [((int(np.prod(x.shape[:-1])), x.shape[-1]), (x.shape[-1], w.shape[0]), False)])
    wrap(matmul.Linear, "backward", linear_backward)
    wrap(attention.Attention, "forward", lambda fn, q, k, v, *rest: [
        ((int(np.prod(q.shape[:-2])), q.shape[-2], q.shape[-1]), (int(np.prod(q.shape[:-2])), q.shape[-1], k.shape[-2]), True),
        ((int(np.prod(q.shape[:-2])), q.shape[-2], k.shape[-2]), (int(np.prod(q.shape[:-2])), k.shape[-2], v.shape[-1]), True)])
    wrap(attention.Attention, "backward", attention_backward)
    wrap(recurrent.LSTM, "forward", lstm_forward)
    wrap(recurrent.LSTM, "backward", lstm_backward)

    def restore():
        for cls, name, original in originals:
            setattr(cls, name, original)
    return restore


def seconds(a_shape, b_shape, one_thread, threads):
    """The best time of a @ b over 5 rounds; a stacked product split over the threads is
    timed as one thread's share of the stack, on one thread."""
    from threadpoolctl import threadpool_limits

    if one_thread and len(a_shape) == 3:
        a_shape, b_shape = (max(1, a_shape[0] // threads), *a_shape[1:]), (max(1, b_shape[0] // threads), *b_shape[1:])
    rng = np.random.default_rng(0)
    a, b = rng.random(a_shape, dtype=np.float32), rng.random(b_shape, dtype=np.float32)
    with threadpool_limits(1 if one_thread else threads):
        np.matmul(a, b)
        best = float("inf")
        for _ in range(5):
            start = time.perf_counter()
            for _ in range(10):
                np.matmul(a, b)
            best = min(best, (time.perf_counter() - start) / 10)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model")
    parser.add_argument("--infer", action="store_true", help="an eval-mode forward pass, not a training step")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    runner = GlassnetRunner(workload(args.model))
    runner.set_threads(args.threads)
    run = (lambda count: runner.infer(count, args.threads, warmup=0)) if args.infer else runner.train_steps
    run(2)
    products = []
    restore = recording(products, args.threads)
    run(1)
    restore()
    count = 50 if args.infer else 5
    start = time.perf_counter()
    run(count)
    whole = (time.perf_counter() - start) / count
    timed = {p: seconds(*p, args.threads) for p in set(products)}  # each shape once
    floor = sum(timed[p] for p in products)
    what = "inference" if args.infer else "training step"
    print(f"{args.model} {what}, {args.threads} threads: {len(products)} products, {1e3 * floor:.2f} ms alone; "
          f"glassnet's whole {what} {1e3 * whole:.2f} ms")


if __name__ == "__main__":
    main()
