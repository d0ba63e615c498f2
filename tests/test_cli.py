"""The glassnet command, as a user runs it."""
import subprocess
import sys

import pytest

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
