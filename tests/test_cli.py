"""The glassnet command, as a user runs it."""
import subprocess
import sys

import pytest

import glassnet as gn
from glassnet import cli


def test_train_prints_the_table_and_evaluate_reloads(tmp_path, capsys):
    path = tmp_path / "mlp.safetensors"
    assert cli.main(["train", "--model", "mlp", "--dataset", "digits", "--epochs", "3", "--batch-size", "32",
                     "--seed", "0", "--save", str(path), "--progress", "off"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:1] == ["epoch"])
    rows = [line.split() for line in lines[header + 1:header + 5]]
    assert [row[0] for row in rows] == ["0", "1", "2", "3"]
    final = float(lines[-1].split("final test accuracy: ")[1].split("%")[0])
    assert final > 85
    assert (tmp_path / "history.jsonl").exists()

    assert cli.main(["evaluate", "--load", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"accuracy {final:.2f}%" in out


def test_console_script_runs_from_a_pipe_without_control_characters(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "glassnet.cli", "train", "--dataset", "digits", "--epochs", "1"],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "\r" not in result.stdout + result.stderr and "\x1b" not in result.stdout + result.stderr


def test_missing_checkpoint_and_unknown_model_are_clear_errors(tmp_path, capsys):
    assert cli.main(["evaluate", "--load", str(tmp_path / "nothing.safetensors")]) == 1
    assert "no checkpoint at" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["train", "--model", "resnet1000"])


@pytest.mark.parametrize("model", ["mlp", "cnn", "lstm", "gru", "vit"])
def test_every_image_model_trains_from_the_cli(model, tmp_path, capsys):
    path = tmp_path / "model.safetensors"
    assert cli.main(["train", "--model", model, "--dataset", "digits", "--epochs", "1", "--train-size", "256",
                     "--save", str(path), "--progress", "off"]) == 0
    out = capsys.readouterr().out
    assert f"training {model}" in out and "final test accuracy" in out
    assert cli.main(["evaluate", "--load", str(path)]) == 0
    assert f"{model} on digits (test, 359 images)" in capsys.readouterr().out


def test_lenet5_refuses_8x8_digits_with_a_clear_error(capsys):
    assert cli.main(["train", "--model", "lenet5", "--dataset", "digits", "--epochs", "1"]) == 1
    assert "lenet5: images need at least 12x12 pixels" in capsys.readouterr().err


def test_lenet5_trains_on_fashion_mnist_when_present(capsys):
    try:
        gn.datasets.fashion_mnist("test", download=False)
    except FileNotFoundError:
        pytest.skip("Fashion-MNIST is not on this machine")
    assert cli.main(["train", "--model", "lenet5", "--dataset", "fashion-mnist", "--epochs", "1", "--train-size", "512",
                     "--progress", "off"]) == 0
    assert "final test accuracy" in capsys.readouterr().out


TINY_GPT = ["--model", "gpt", "--context", "16", "--dim", "16", "--depth", "1", "--heads", "2",
            "--steps-per-epoch", "5", "--val-batches", "2", "--batch-size", "4", "--progress", "off"]


def test_gpt_trains_on_a_text_file_and_generates(tmp_path, capsys):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("def add(a, b):\n    return a + b\n" * 40)
    path = tmp_path / "gpt.safetensors"
    assert cli.main(["train", *TINY_GPT, "--text", str(corpus), "--epochs", "2", "--save", str(path)]) == 0
    out = capsys.readouterr().out
    assert "final validation loss" in out and "nats/char" in out
    assert cli.main(["generate", "--load", str(path), "--prompt", "def ", "--tokens", "20"]) == 0
    sample = capsys.readouterr().out.rstrip("\n")
    assert sample.startswith("def ") and len(sample) == 24
    assert set(sample) <= set(corpus.read_text())  # only characters of its vocabulary


def test_gpt_trains_on_the_standard_library_by_default(capsys):
    assert cli.main(["train", *TINY_GPT, "--epochs", "1"]) == 0
    assert "the Python standard library's source" in capsys.readouterr().out


def test_empty_text_file_is_a_clear_error(tmp_path, capsys):
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n")
    assert cli.main(["train", *TINY_GPT, "--text", str(empty)]) == 1
    assert "is empty" in capsys.readouterr().err
