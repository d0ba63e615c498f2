"""glassnet against PyTorch on every ready model: what a user of each would see.

    python bench/bench_models.py [--models mlp,cnn,...] [--threads 1,2] [--repeats 7] [--infer-repeats 15] [--steps N] [--pause 0.5]

Each framework runs in a child process of its own (bench/child.py): the glassnet child
never imports torch, the PyTorch child never imports glassnet, and the PyTorch twin of
each model (bench/torch_twins.py) is loaded strictly with glassnet's initial weights.
The two children of a model are interleaved block by block, with ``--pause`` seconds
before each block so that neither framework's idle, spinning threads take time from the
other. Inputs are random data of the real shapes: batch 128 of 1x28x28 images with 10
classes; gpt 32 windows of 128 tokens from a vocabulary of 96.

It prints one table per topic:

1. Training: seconds per 100 steps (forward, cross-entropy, backward, Adam) at each thread
   count of ``--threads``, the median of ``--repeats`` blocks of ``--steps`` steps (by
   default a number per model, so that a block takes a second or more), and the ratio
   glassnet time / PyTorch time (below 1: glassnet is faster). Beside each ratio, the
   lowest and highest of the rounds' own ratios (each round times both frameworks, one
   block each, seconds apart): how far the machine's drift moved it.
2. Peak memory while training, read by each child of itself: after one warm-up step the
   peak counter is reset (VmHWM set to the current resident set), then it trains; the
   growth is VmHWM minus the resident set at the reset, the peak is the absolute VmHWM.
3. Inference: milliseconds per batch in eval mode without autograd, same batches, and the
   ratio glassnet time / PyTorch time, with the rounds' range: the median of
   ``--infer-repeats`` blocks of INFER_BLOCK times the training block's steps in batches.
   Many short rounds, not a few long blocks: this machine has slow spells of 5 to 30
   seconds in which either framework's batches take up to twice as long (glassnet's
   single-threaded ones too), so five rounds of a model's inference could all fall in
   one spell or outside every spell; fifteen rounds span a minute (bench/RESULTS.md).
4. Matrix products: NumPy's float32 GEMM peak, the matrix-product FLOPs of a cnn training
   step counted from its shapes, and the GFLOP/s each framework achieves in that step.
5. The time-to-accuracy command (printed, not run: it takes about 10 minutes).

Memory, inference and the GEMM peak are measured at the largest thread count of ``--threads``.
"""
import argparse
import statistics
import sys
import time

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from child import NAMES, describe_batch, interleaved, pair, workload  # noqa: E402

MODELS = ("mlp", "cnn", "lenet5", "lstm", "gru", "vit", "resnet", "gpt")
# training steps per timed block: each block takes about a second or more on two cores
STEPS = {"mlp": 400, "cnn": 20, "lenet5": 50, "lstm": 30, "gru": 30, "vit": 30, "resnet": 8, "gpt": 10}
GEMM_SIZE = 2048
CNN_GOAL = 0.25  # the share of the GEMM peak a glassnet cnn step should reach
INFER_BLOCK = 2  # inference batches per block, per training step of a block (a batch: a third of a step)

# The recipe behind the time-to-accuracy figure: past 93% test accuracy on Fashion-MNIST at
# epoch 15 (7 min 11 s of training), 93.19% after epoch 18, 9 min 17 s of wall time on the 2
# cores; in the latest reruns at epoch 13 or 16 (4 or 5 min of training), 5 min 39 s and
# 5 min 46 s of wall time (bench/RESULTS.md, issue 11). The time budget stops a slow machine's run after the first
# epoch to end past 9 minutes of training, so that the run ends near 10 minutes.
TIME_TO_ACCURACY = ("glassnet train --model cnn --dataset fashion-mnist --epochs 18 --batch-size 128 "
                    "--lr 1e-3 --schedule cosine --time-budget 9 --seed 0")


# -- measurements --------------------------------------------------------------------------------


def measure_model(name, threads, repeats, steps, pause, infer_repeats):
    """Training time at each thread count, memory and inference time of one model, both
    frameworks, each in its own child process. Returns {"versions": {framework: info},
    "batch": the batch in words, "steps": steps per block, "memory": {framework: reply},
    "train": {threads: {framework: seconds per step}}, "infer": {framework: seconds per batch}}, and
    under "rounds" each round's ratio, glassnet's block's time over PyTorch's: {"train": {threads:
    [ratio, ...]}, "infer": [ratio, ...]}."""
    work = workload(name)
    most = max(threads)
    with pair(work) as children:
        result = {"versions": {child.framework: child.info for child in children}, "batch": describe_batch(work),
                  "steps": steps}
        # memory first: the children have done nothing yet but build the model and the batches
        result["memory"] = {fw: replies[0] for fw, replies in
                            interleaved(children, "memory", 1, pause, steps=steps, threads=most).items()}
        result["train"], result["rounds"] = {}, {"train": {}}
        for count in threads:
            replies = interleaved(children, "train", repeats, pause, steps=steps, threads=count)
            result["train"][count] = {fw: statistics.median(r["seconds"] for r in rs) for fw, rs in replies.items()}
            result["rounds"]["train"][count] = round_ratios(replies)
        replies = interleaved(children, "infer", infer_repeats, pause, batches=INFER_BLOCK * steps, threads=most)
        result["infer"] = {fw: statistics.median(r["seconds"] for r in rs) for fw, rs in replies.items()}
        result["rounds"]["infer"] = round_ratios(replies)
    return result


def round_ratios(replies):
    """glassnet's time over PyTorch's in each round (the two blocks of a round run seconds apart)."""
    return [mine["seconds"] / theirs["seconds"] for mine, theirs in zip(replies["glassnet"], replies["torch"])]


def spread(ratios):
    """The lowest and highest of the rounds' ratios, as 'low-high'."""
    return f"{min(ratios):.2f}-{max(ratios):.2f}"


def gemm_peak(threads, size=GEMM_SIZE, repeats=5):
    """NumPy's float32 matrix-product speed in GFLOP/s: the best of ``repeats`` products
    (size x size) @ (size x size), 2 * size**3 FLOPs each, at ``threads`` BLAS threads,
    after one untimed product."""
    rng = np.random.default_rng(0)
    a, b = (rng.random((size, size), dtype=np.float32) for _ in range(2))
    out = np.empty_like(a)
    with threadpool_limits(limits=threads):
        np.matmul(a, b, out=out)
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            np.matmul(a, b, out=out)
            best = min(best, time.perf_counter() - start)
    return 2 * size ** 3 / best / 1e9


def cnn_gemm_flops(batch=128, input_shape=(1, 28, 28), num_classes=10, channels=(32, 64), hidden=128, kernel=3):
    """FLOPs of the matrix products in one training step of ``glassnet.models.cnn(input_shape,
    num_classes)``, counted from the shapes. A product (M, K) @ (K, N) costs 2 * M * K * N.

    - A 3x3 convolution with padding 1, C -> O channels on H x W images, is one product
      (O, C*3*3) @ (C*3*3, N*H*W) (im2col; the direct kernel makes the same multiply-adds
      without the unfolding); each block then halves H and W (max-pool).
    - A linear layer in -> out is one product (N, in) @ (in, out).
    - Backward repeats each product twice with the same M*K*N: the weight gradient and
      the input gradient. The first convolution has no input gradient (the images need
      none, and neither framework computes it), so it counts 2 products, the others 3.

    Batch norm, ReLU, pooling, dropout, the loss and Adam are not matrix products and are
    not counted. Returns a list of (layer, M, K, N, products) and the total FLOPs."""
    layers = []
    in_channels, height, width = input_shape
    for index, out_channels in enumerate(channels):
        k = in_channels * kernel * kernel
        layers.append((f"conv {in_channels}->{out_channels} on {height}x{width}", out_channels, k,
                       batch * height * width, 2 if index == 0 else 3))
        in_channels, height, width = out_channels, height // 2, width // 2
    features = in_channels * height * width
    for out_features in (hidden, num_classes):
        layers.append((f"linear {features}->{out_features}", batch, features, out_features, 3))
        features = out_features
    return layers, sum(2 * m * k * n * products for _, m, k, n, products in layers)


# -- tables --------------------------------------------------------------------------------------


def ratio(a, b):
    return a / b if b else float("nan")


def print_training(results, threads, repeats):
    glassnet = next(iter(results.values()))["versions"]["glassnet"]
    pool = "glassnet.set_num_threads" if glassnet.get("set_num_threads") else "threadpoolctl on NumPy's BLAS"
    print(f"Training: seconds per 100 steps (Adam, cross-entropy), batch 128 images (gpt: 32 x 128 tokens), "
          f"median of {repeats} interleaved blocks of 'steps' steps")
    print(f"threads: {pool}; torch.set_num_threads. "
          "ratio = glassnet time / PyTorch time (< 1: glassnet faster); rounds: the lowest and highest round's ratio")
    groups = "".join(f"{f'-- {n} thread' + ('s' if n > 1 else '') + ' --':^41}" for n in threads)
    print(f"{'':<14}{groups}")
    print(f"{'model':<8}{'steps':>6}" + f"{'glassnet':>10}{'PyTorch':>10}{'ratio':>8}{'rounds':>13}" * len(threads))
    for name, result in results.items():
        cells = ""
        for n in threads:
            gn_s, pt_s = result["train"][n]["glassnet"] * 100, result["train"][n]["torch"] * 100
            cells += f"{gn_s:>10.2f}{pt_s:>10.2f}{ratio(gn_s, pt_s):>8.2f}{spread(result['rounds']['train'][n]):>13}"
        print(f"{name:<8}{result['steps']:>6}{cells}")


def print_memory(results, most):
    print(f"\nPeak memory while training, MB, {most} threads, each framework alone in its own process")
    print("growth = VmHWM - VmRSS, the peak counter reset once the model and batches are built, before the first step; peak = VmHWM (the whole process); "
          "ratio = glassnet / PyTorch")
    print(f"{'':<8}{'-- growth while training --':^30}{'-- peak of the process --':^30}")
    print(f"{'model':<8}" + f"{'glassnet':>10}{'PyTorch':>10}{'ratio':>10}" * 2)
    for name, result in results.items():
        gn_mem, pt_mem = result["memory"]["glassnet"], result["memory"]["torch"]
        cells = ""
        for key in ("growth_mb", "peak_mb"):
            cells += f"{gn_mem[key]:>10.1f}{pt_mem[key]:>10.1f}{ratio(gn_mem[key], pt_mem[key]):>10.2f}"
        print(f"{name:<8}{cells}")


def print_inference(results, most, repeats):
    print(f"\nInference: milliseconds per batch (eval mode, no autograd), {most} threads, median of {repeats} "
          f"interleaved blocks of {INFER_BLOCK} x 'steps' batches")
    print("ratio = glassnet time / PyTorch time (< 1: glassnet faster); rounds: the lowest and highest round's ratio")
    print(f"{'model':<8}{'batch':>18}{'glassnet':>10}{'PyTorch':>10}{'ratio':>8}{'rounds':>13}")
    for name, result in results.items():
        gn_s, pt_s = result["infer"]["glassnet"] * 1e3, result["infer"]["torch"] * 1e3
        print(f"{name:<8}{result['batch']:>18}{gn_s:>10.2f}{pt_s:>10.2f}{ratio(gn_s, pt_s):>8.2f}"
              f"{spread(result['rounds']['infer']):>13}")


def print_gemm(peak, cnn_result, threads):
    print(f"\nMatrix products: NumPy float32 ({GEMM_SIZE} x {GEMM_SIZE}) @ ({GEMM_SIZE} x {GEMM_SIZE}), "
          f"best of 5, {threads} threads: {peak:.1f} GFLOP/s (the peak below)")
    if cnn_result is None:
        print("(cnn not measured: no achieved GFLOP/s)")
        return
    layers, flops = cnn_gemm_flops()
    print(f"cnn training step, batch 128: {flops / 1e9:.3f} GFLOP in matrix products, counted from the shapes "
          "(forward, weight and input gradients):")
    for layer, m, k, n, products in layers:
        print(f"    {layer:<24} ({m} x {k}) @ ({k} x {n}) x {products}: {2 * m * k * n * products / 1e9:.3f} GFLOP")
    print(f"{'framework':<10}{'s/step':>10}{'GFLOP/s':>10}{'% of peak':>11}   (goal for glassnet: {CNN_GOAL:.0%})")
    for framework, seconds in cnn_result["train"][threads].items():
        achieved = flops / seconds / 1e9
        print(f"{NAMES[framework]:<10}{seconds:>10.4f}{achieved:>10.1f}{achieved / peak:>11.1%}")


def print_time_to_accuracy():
    print("\nTime to accuracy (not run here: it takes about 10 minutes):")
    print(f"    {TIME_TO_ACCURACY}")


# -- main ----------------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--threads", default="1,2", help="thread counts of the training table, e.g. 1,2")
    parser.add_argument("--repeats", type=int, default=7, help="timed training blocks per framework, model and thread count")
    parser.add_argument("--infer-repeats", type=int, default=15, help="timed inference blocks per framework and model")
    parser.add_argument("--steps", type=int, default=None, help="steps per block (default: a number per model)")
    parser.add_argument("--pause", type=float, default=0.5,
                        help="seconds of rest before every block (either framework's idle threads spin for a few ms)")
    args = parser.parse_args()
    threads = sorted({int(n) for n in args.threads.split(",")})
    most = max(threads)
    names = args.models.split(",")

    time.sleep(args.pause)
    peak = gemm_peak(most)
    results = {}
    for name in names:
        steps = args.steps or STEPS.get(name, 20)
        results[name] = measure_model(name, threads, args.repeats, steps, args.pause, args.infer_repeats)
        print(f"  measured {name} ({steps} steps per block)", file=sys.stderr, flush=True)

    versions = next(iter(results.values()))["versions"]
    print(f"glassnet {versions['glassnet']['version']} and PyTorch {versions['torch']['version']}, "
          "each in its own process, interleaved block by block\n")
    print_training(results, threads, args.repeats)
    print_memory(results, most)
    print_inference(results, most, args.infer_repeats)
    print_gemm(peak, results.get("cnn"), most)
    print_time_to_accuracy()
    missing = sorted(set(versions["glassnet"]["available"]) - set(MODELS))
    if missing:
        print(f"\nnote: glassnet has models this benchmark does not know: {', '.join(missing)}")


if __name__ == "__main__":
    main()
