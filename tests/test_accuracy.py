"""Published-level accuracy on real data, from a fresh seed, through the CLI a user runs.

These are long (minutes each on 2 cores): marked ``slow``, run with ``make test-slow``.
The figures obtained are recorded in bench/RESULTS.md.
"""
import json

import pytest

import glassnet as gn
from glassnet import cli


def have(dataset):
    try:
        {"mnist": gn.datasets.mnist, "fashion-mnist": gn.datasets.fashion_mnist}[dataset]("test", download=False)
        return True
    except FileNotFoundError:
        return False


def train(tmp_path, *arguments):
    path = tmp_path / "model.safetensors"
    assert cli.main(["train", *arguments, "--save", str(path), "--progress", "off"]) == 0
    return [json.loads(line) for line in (tmp_path / "history.jsonl").read_text().splitlines()]


CASES = [
    # model, dataset, target test accuracy, epochs, extra arguments
    ("cnn", "fashion-mnist", 0.915, 10, ["--batch-size", "128", "--lr", "1e-3"]),
    ("cnn", "digits", 0.98, 30, ["--batch-size", "32", "--lr", "1e-3"]),
    ("lstm", "fashion-mnist", 0.88, 10, ["--batch-size", "128", "--lr", "1e-3"]),
    ("vit", "fashion-mnist", 0.87, 10, ["--batch-size", "128", "--lr", "1e-3"]),
    ("cnn", "mnist", 0.99, 10, ["--batch-size", "128", "--lr", "1e-3"]),
]


@pytest.mark.slow
@pytest.mark.parametrize("model, dataset, target, epochs, extra", CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_reaches_published_accuracy(tmp_path, model, dataset, target, epochs, extra):
    if dataset != "digits" and not have(dataset):
        pytest.skip(f"{dataset} is not on this machine (set GLASSNET_DATA or install it)")
    history = train(tmp_path, "--model", model, "--dataset", dataset, "--epochs", str(epochs), "--seed", "0", *extra)
    assert history[-1]["val_acc"] >= target, f"{model} on {dataset}: {history[-1]['val_acc']:.4f} < {target}"


@pytest.mark.slow
def test_gpt_learns_the_standard_library_within_15_minutes(tmp_path):
    history = train(tmp_path, "--model", "gpt", "--epochs", "100", "--time-budget", "15", "--seed", "0",
                    "--batch-size", "32", "--lr", "2e-3", "--steps-per-epoch", "100")
    assert history[-1]["val_loss"] <= 1.5, f"validation loss {history[-1]['val_loss']:.3f} nats/char"
