"""The paper model of data-parallel scaling for every ready model (bench/RESULTS.md, issue 14).

    python bench/scaling_model.py [--seconds-per-step cnn=0.112,gpt=0.56,...]

Nothing is trained and nothing is timed: it counts, from the models themselves
(``glassnet.models.build``), the parameters (the gradient bytes every rank sends per step
are 4 per parameter, float32) and the multiply-adds of one forward pass per example (with
forward hooks on the layers that do the products), and prints the model's estimates:

- compute per step on one rank: 3 x the forward multiply-adds (forward, and the backward
  pass's two products per layer: for the inputs and for the weights) x the per-rank batch,
  at a sustained rate of ``--macs-per-second`` per rank (calibrated on the measured cnn
  step at 1 thread; ``--seconds-per-step`` replaces the estimate by a measurement);
- communication per step: a ring all-reduce of the gradients, 2(N-1)/N of their bytes over
  each rank's link, plus 2(N-1) latencies per bucket (``--latency``, one per ring step);
- efficiency = compute / (compute + communication): glassnet does not overlap the two;
- the per-rank batch that keeps the efficiency at 80%: compute >= 4 x communication.
"""
import argparse
import math

import numpy as np

import glassnet as gn

IMAGE_SHAPE, CLASSES = (1, 28, 28), 10
GPT_VOCAB, GPT_CONTEXT = 96, 128
MODELS = ("mlp", "cnn", "lenet5", "lstm", "gru", "vit", "resnet", "gpt")
BATCH = {"gpt": 32}  # per-rank batch of the estimates: bench/child.py's (windows of 128 tokens for gpt)
DEFAULT_BATCH = 128
RANKS = (8, 64, 512)
NETWORKS = {"10 Gbit/s": (10e9 / 8, 25e-6), "100 Gbit/s": (100e9 / 8, 5e-6)}  # bytes/s, latency per message
BUCKET_BYTES = 25 * 2**20  # DistributedOptimizer's default
TARGET = 0.8


def build(name):
    gn.seed(0)
    if name == "gpt":
        return gn.models.gpt(GPT_VOCAB, context=GPT_CONTEXT)
    return gn.models.build(name, IMAGE_SHAPE, CLASSES)


def example_input(name):
    if name == "gpt":
        return gn.tensor(np.zeros((1, GPT_CONTEXT), dtype=np.int64))
    return gn.tensor(np.zeros((1,) + IMAGE_SHAPE, dtype=np.float32))


def forward_macs(model, inputs):
    """Multiply-adds of one forward pass on ``inputs`` (one example), counted on the layers
    that do products: linear, convolution, attention (its projections and its two
    (T x T) products) and the recurrent layers' input and hidden products."""
    total = [0]

    def count(module, args, output):
        total[0] += layer_macs(module, args[0] if args else None, output)

    handles = [m.register_forward_hook(count) for m in model.modules() if type(m).__name__ in COUNTED]
    try:
        with gn.no_grad():
            model.eval()
            model(inputs)
    finally:
        for handle in handles:
            handle.remove()
    return total[0]


COUNTED = ("Linear", "Conv2d", "MultiheadAttention", "LSTM", "GRU", "RNN")


def layer_macs(module, inputs, output):
    kind = type(module).__name__
    out = output[0] if isinstance(output, tuple) else output
    if kind == "Linear":
        return out.numel() * module.in_features
    if kind == "Conv2d":
        kh, kw = module.kernel_size
        return out.numel() * (module.in_channels // module.groups) * kh * kw
    if kind == "MultiheadAttention":  # the input projections (q, k, v) and the two products; out_proj is a Linear
        tokens = inputs.numel() // module.embed_dim
        length = inputs.shape[0] if getattr(module, "batch_first", False) is False else inputs.shape[1]
        return 3 * tokens * module.embed_dim ** 2 + 2 * tokens * length * module.embed_dim
    if kind in ("LSTM", "GRU", "RNN"):
        gates = {"LSTM": 4, "GRU": 3, "RNN": 1}[kind]
        steps = inputs.numel() // module.input_size
        width, macs, size = module.hidden_size, 0, module.input_size
        for _ in range(module.num_layers):
            macs += steps * gates * width * (size + width)
            size = width * (2 if module.bidirectional else 1)
        return macs * (2 if module.bidirectional else 1)
    return 0


def ring_seconds(gradient_bytes, ranks, bandwidth, latency):
    """A ring all-reduce: 2(N-1)/N of the bytes through each rank's link, 2(N-1) messages per bucket."""
    buckets = max(1, math.ceil(gradient_bytes / BUCKET_BYTES))
    return 2 * (ranks - 1) / ranks * gradient_bytes / bandwidth + 2 * (ranks - 1) * latency * buckets


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calibrate", default="cnn=0.112",
                        help="MODEL=SECONDS: a measured 1-thread step at the per-rank batch, which sets the rate")
    parser.add_argument("--seconds-per-step", default="",
                        help="MODEL=SECONDS,...: measured 1-thread steps that replace the estimate")
    args = parser.parse_args()
    rows = {}
    for name in MODELS:
        model = build(name)
        params = sum(p.numel() for p in model.parameters())
        macs = forward_macs(model, example_input(name))
        rows[name] = {"params": params, "bytes": 4 * params, "macs": macs, "batch": BATCH.get(name, DEFAULT_BATCH)}
    reference, seconds = args.calibrate.split("=")
    rate = 3 * rows[reference]["macs"] * rows[reference]["batch"] / float(seconds)
    measured = dict(item.split("=") for item in args.seconds_per_step.split(",") if item)
    print(f"sustained rate: {rate / 1e9:.2f} G multiply-adds/s per rank (from {reference} at {seconds} s a step)\n")
    print("| model | parameters | gradient MB per step | forward MMAC per example | per-rank batch | "
          "compute per step (1 rank) |")
    print("|---|---|---|---|---|---|")
    for name, row in rows.items():
        step = float(measured[name]) if name in measured else 3 * row["macs"] * row["batch"] / rate
        row["step"], row["per_example"] = step, step / row["batch"]
        source = "measured" if name in measured else "estimated"
        print(f"| {name} | {row['params']:,} | {row['bytes'] / 1e6:.2f} | {row['macs'] / 1e6:.2f} | "
              f"{row['batch']} | {step * 1e3:.1f} ms ({source}) |")
    for network, (bandwidth, latency) in NETWORKS.items():
        print(f"\n{network} (latency {latency * 1e6:.0f} µs a message): efficiency at the per-rank batch above, "
              "and the per-rank batch for 80%")
        print("| model | " + " | ".join(f"{n} ranks" for n in RANKS) + " | " +
              " | ".join(f"batch for 80% at {n}" for n in RANKS) + " |")
        print("|---|" + "---|" * (2 * len(RANKS)))
        for name, row in rows.items():
            comms = [ring_seconds(row["bytes"], n, bandwidth, latency) for n in RANKS]
            efficiency = [row["step"] / (row["step"] + c) for c in comms]
            needed = [math.ceil(TARGET / (1 - TARGET) * c / row["per_example"]) for c in comms]
            print(f"| {name} | " + " | ".join(f"{e:.0%}" for e in efficiency) + " | " +
                  " | ".join(f"{b:,}" for b in needed) + " |")


if __name__ == "__main__":
    main()
