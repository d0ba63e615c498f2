"""glassnet against PyTorch on the same models, data, batch size and threads.

    python bench/bench_models.py [--threads 2] [--repeats 3] [--models mlp,cnn,lstm,vit,gpt]

For each model it prints seconds per 100 training steps (Adam, cross-entropy) in both
frameworks and their ratio, each the median of ``--repeats`` runs after a warm-up, with
both frameworks interleaved in this one process so that a noisy machine slows both
alike; then the peak memory of each (measured in a fresh child process, as the growth
of the resident set from just before the model is built); and the inference throughput
(images/s) of mlp and cnn. Image models use Fashion-MNIST batches when the data is on
the machine, else random data of the same shape (the time does not depend on values).
The PyTorch twin of each model receives glassnet's initial weights with strict loading,
which proves both run the same architecture.
"""
import argparse
import gc
import json
import statistics
import subprocess
import sys
import time

import numpy as np
from threadpoolctl import threadpool_limits

BATCH = 128
GPT_BATCH, GPT_CONTEXT, GPT_VOCAB = 32, 128, 96


def image_batches(count, seed=0, synthetic=False):
    import glassnet as gn

    rng = np.random.default_rng(seed)
    try:
        if synthetic:
            raise FileNotFoundError
        train = gn.datasets.fashion_mnist("train", download=False)
        images, labels = train.images, train.labels
    except FileNotFoundError:
        images = rng.random((count * BATCH, 1, 28, 28), dtype=np.float32)
        labels = rng.integers(0, 10, count * BATCH)
    starts = rng.integers(0, len(images) - BATCH + 1, count)
    return [(np.array(images[s:s + BATCH]), labels[s:s + BATCH].astype(np.int64)) for s in starts]


def text_batches(count, seed=0):
    rng = np.random.default_rng(seed)
    tokens = rng.integers(0, GPT_VOCAB, (count, GPT_BATCH, GPT_CONTEXT + 1))
    return [(t[:, :-1].copy(), t[:, 1:].copy()) for t in tokens]


def build_glassnet(name):
    import glassnet as gn

    gn.seed(0)
    if name == "gpt":
        return gn.models.gpt(GPT_VOCAB, context=GPT_CONTEXT), (GPT_VOCAB, GPT_CONTEXT)
    return gn.models.build(name, (1, 28, 28), 10), ((1, 28, 28), 10)


def glassnet_stepper(model):
    import glassnet as gn
    from glassnet.nn import functional as F

    optimizer = gn.optim.Adam(model.parameters(), lr=1e-3)
    model.train()

    def step(inputs, targets):
        logits = model(gn.from_numpy(inputs))  # no copy, as torch_stepper
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return step


def torch_stepper(model):
    import torch

    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()

    def step(inputs, targets):
        logits = model(torch.from_numpy(inputs))
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), torch.from_numpy(targets).reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return step


def build_pair(name):
    from torch_twins import twin_of

    gn_model, args = build_glassnet(name)
    return gn_model, twin_of(name, gn_model, *args)


def seconds_per_100(step, batches, repeats):
    for inputs, targets in batches[:5]:  # warm-up
        step(inputs, targets)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for inputs, targets in batches:
            step(inputs, targets)
        times.append((time.perf_counter() - start) * 100 / len(batches))
    return statistics.median(times)


def inference_throughput(gn_model, torch_model, batches):
    import torch

    import glassnet as gn

    gn_model.eval()
    torch_model.eval()
    results = {}
    with gn.no_grad():
        start = time.perf_counter()
        for inputs, _ in batches:
            gn_model(gn.from_numpy(inputs))  # no copy, as torch.from_numpy below
        results["glassnet"] = len(batches) * BATCH / (time.perf_counter() - start)
    with torch.no_grad():
        start = time.perf_counter()
        for inputs, _ in batches:
            torch_model(torch.from_numpy(inputs))
        results["torch"] = len(batches) * BATCH / (time.perf_counter() - start)
    return results


def rss_mb(field="VmRSS"):
    """This process's resident set (VmRSS), or its peak (VmHWM), in MB. Not getrusage:
    its ru_maxrss survives exec, so a child would report its parent's peak."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def measure_memory(framework, name, steps, threads):
    """Run in a child process: peak resident-set growth over ``steps`` training steps."""
    import torch

    torch.set_num_threads(threads)
    # synthetic batches: decoding the data set would leave a peak of its own behind
    batches = text_batches(steps) if name == "gpt" else image_batches(steps, synthetic=True)
    build_pair(name)  # once for the imports and caches it pulls in, which are not the model's
    gc.collect()
    before = rss_mb()
    gn_model, torch_model = build_pair(name)
    if framework == "glassnet":
        del torch_model
        step = glassnet_stepper(gn_model)
    else:
        del gn_model
        step = torch_stepper(torch_model)
    with threadpool_limits(limits=threads):
        for inputs, targets in batches:
            step(inputs, targets)
    print(json.dumps({"peak_mb": rss_mb("VmHWM") - before}))


def memory_in_child(framework, name, threads):
    result = subprocess.run(
        [sys.executable, __file__, "--memory-of", f"{framework}:{name}", "--threads", str(threads)],
        capture_output=True, text=True, check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])["peak_mb"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=30, help="training steps timed per repeat")
    parser.add_argument("--models", default="mlp,cnn,lstm,vit,gpt")
    parser.add_argument("--memory-of", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.path.insert(0, __file__.rsplit("/", 1)[0])

    import torch

    torch.set_num_threads(args.threads)
    if args.memory_of:
        framework, name = args.memory_of.split(":")
        return measure_memory(framework, name, 10, args.threads)

    rows, throughput = [], {}
    with threadpool_limits(limits=args.threads):
        for name in args.models.split(","):
            batches = text_batches(args.steps) if name == "gpt" else image_batches(args.steps)
            gn_model, torch_model = build_pair(name)
            gn_step, torch_step = glassnet_stepper(gn_model), torch_stepper(torch_model)
            gn_times, torch_times = [], []
            for _ in range(args.repeats):  # interleaved, so both see the same machine
                gn_times.append(seconds_per_100(gn_step, batches, 1))
                torch_times.append(seconds_per_100(torch_step, batches, 1))
            rows.append([name, statistics.median(gn_times), statistics.median(torch_times)])
            if name in ("mlp", "cnn"):
                throughput[name] = inference_throughput(gn_model, torch_model, image_batches(20, seed=1))
            print(f"  measured {name}", file=sys.stderr, flush=True)
    for row in rows:
        row += [memory_in_child("glassnet", row[0], args.threads), memory_in_child("torch", row[0], args.threads)]

    print(f"Training: seconds per 100 steps (Adam), batch {BATCH} ({GPT_BATCH}x{GPT_CONTEXT} tokens for gpt), "
          f"{args.threads} threads, median of {args.repeats}; glassnet {_version('glassnet')}, PyTorch {torch.__version__}")
    print(f"{'model':<8}{'glassnet s':>12}{'PyTorch s':>12}{'ratio':>8}{'glassnet MB':>13}{'PyTorch MB':>12}"
          "   (ratio: glassnet time / PyTorch time; MB: peak memory growth while training)")
    for name, gn_s, torch_s, gn_mb, torch_mb in rows:
        print(f"{name:<8}{gn_s:>12.2f}{torch_s:>12.2f}{gn_s / torch_s:>8.2f}{gn_mb:>13.0f}{torch_mb:>12.0f}")
    if throughput:
        print("\nInference: images per second, batch 128")
        print(f"{'model':<8}{'glassnet':>12}{'PyTorch':>12}{'ratio':>8}   (ratio: PyTorch images/s / glassnet images/s)")
        for name, result in throughput.items():
            print(f"{name:<8}{result['glassnet']:>12.0f}{result['torch']:>12.0f}{result['torch'] / result['glassnet']:>8.2f}")


def _version(package):
    from importlib.metadata import version

    return version(package)


if __name__ == "__main__":
    main()
