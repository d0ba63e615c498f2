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


def run_cli(argv, capsys):
    """The exit code of ``glassnet argv``, its stdout and its stderr (an exception other
    than SystemExit, i.e. a traceback, fails the test)."""
    try:
        code = cli.main(argv)
    except SystemExit as exit:
        code = exit.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_error_line(code, err, expected):
    assert code not in (0, None)
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("glassnet: error: "), err
    assert expected in lines[0], lines[0]
    assert "Traceback" not in err


def test_negative_epochs_is_an_error_before_anything_runs(capsys):
    code, out, err = run_cli(["train", "--epochs", "-1"], capsys)
    assert code == 2 and out == ""
    assert_one_error_line(code, err, "argument --epochs: must be at least 0, got -1")


@pytest.mark.parametrize("where", ["folder", "under a file"])
def test_unwritable_save_path_is_refused_before_training(where, tmp_path, capsys):
    if where == "folder":
        save, expected = tmp_path, "is a folder"
    else:
        (tmp_path / "notes.txt").write_text("a file")
        save, expected = tmp_path / "notes.txt" / "run" / "model.safetensors", "notes.txt is a file, not a folder"
    code, out, err = run_cli(["train", "--epochs", "1", "--save", str(save), "--progress", "off"], capsys)
    assert code == 1 and out == ""  # not even the 'training ...' line: nothing ran
    assert_one_error_line(code, err, expected)


def test_every_error_is_one_line(tmp_path, capsys):
    import pickle

    model = gn.models.mlp((1, 8, 8), 10)
    from_python = tmp_path / "from_python.safetensors"
    gn.save(model.state_dict(), from_python)  # no metadata of 'glassnet train'
    image_model = tmp_path / "mlp.safetensors"
    gn.save(model.state_dict(), image_model, metadata={"model": "mlp", "input_shape": [1, 8, 8], "num_classes": 10})
    pickled = tmp_path / "model.pth"
    pickled.write_bytes(pickle.dumps({"weight": [1.0]}))
    bad = {
        (): ("the following arguments are required: command", 2),
        ("train", "--epochs", "-1"): ("must be at least 0", 2),
        ("train", "--epochs", "ten"): ("'ten' is not a whole number", 2),
        ("train", "--batch-size", "0"): ("--batch-size: must be at least 1", 2),
        ("train", "--model", "resnet1000"): ("invalid choice: 'resnet1000'", 2),
        ("evaluate",): ("the following arguments are required: --load", 2),
        ("generate", "--load", str(image_model), "--tokens", "-5"): ("--tokens: must be at least 0", 2),
        ("evaluate", "--load", str(tmp_path / "absent.safetensors")): ("no checkpoint at", 1),
        ("evaluate", "--load", str(from_python)): ("does not say which model it holds", 1),
        ("evaluate", "--load", str(pickled)): ("is a pickle file; glassnet never unpickles", 1),
        ("evaluate", "--load", str(tmp_path)): ("is a folder, not a checkpoint file", 1),
        ("generate", "--load", str(image_model)): ("does not hold a gpt model (it holds 'mlp')", 1),
        ("generate", "--load", str(from_python)): ("does not hold a gpt model", 1),
        ("train", "--model", "lenet5", "--epochs", "1"): ("lenet5: images need at least 12x12 pixels", 1),
    }
    for argv, (expected, expected_code) in bad.items():
        code, _, err = run_cli(list(argv), capsys)
        assert code == expected_code, (argv, code, err)
        assert_one_error_line(code, err, expected)


def test_an_error_in_the_console_script_is_one_line_without_traceback(tmp_path):
    result = subprocess.run([sys.executable, "-m", "glassnet.cli", "train", "--save", str(tmp_path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.splitlines() == [f"glassnet: error: --save {tmp_path} is a folder; give a file in it, "
                                          f"e.g. {tmp_path / 'model.safetensors'}"]


def test_inspect_offers_every_view_of_the_report_and_checks_the_name(capsys):
    from glassnet.inspect import report

    assert list(cli.ViewNames()) == list(report.VIEWS)
    assert "saliency" in cli.ViewNames() and "nope" not in cli.ViewNames()
    code, _, err = run_cli(["inspect", "runs/x", "--what", "nope"], capsys)
    assert code == 2
    assert_one_error_line(code, err, "argument --what: invalid choice: 'nope' (choose from 'curves', 'health'")


def test_commands_that_do_not_draw_start_without_glassnet_inspect():
    code = ("import sys; from glassnet.cli import main; main(['train', '--epochs', '0', '--progress', 'off']); "
            "print(sorted(m for m in sys.modules if m.startswith(('glassnet.inspect', 'matplotlib'))))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.splitlines()[-1] == "[]"
