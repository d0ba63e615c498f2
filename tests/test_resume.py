"""Resuming a run: it goes on exactly where it stopped (in a new process, after a kill), a
changed model or data set is refused with what differs, and the history goes on."""
import io
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import glassnet as gn
from glassnet import cli

# The run every test resumes: a small network with batch norm and dropout, a cosine schedule
# over 4 epochs, a shuffling loader, validation and EarlyStopping (whose state must come back).
# It is source text, so that a new process (python -c) runs the very same setup.
SETUP = """
import sys, time
import glassnet as gn
from glassnet import nn


class Pause(gn.train.Callback):  # slows a run down to be killed mid-way; changes no number
    def __init__(self, seconds):
        self.seconds = seconds

    def on_batch_end(self, trainer, step, logs):
        time.sleep(self.seconds)


class Crash(gn.train.Callback):  # a crash at a chosen step, after the checkpoint before it
    def __init__(self, step):
        self.step = step

    def on_batch_end(self, trainer, step, logs):
        if step == self.step:
            raise KeyboardInterrupt(f"crashed at step {step}")


def run(save, epochs, resume=None, hidden=16, first=0, examples=192, checkpoint_every=None, callbacks=()):
    gn.seed(0)
    train = gn.data.load_dataset("digits", "train")
    val = gn.data.Subset(gn.data.load_dataset("digits", "test"), range(64))
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Dropout(0.3), nn.Linear(64, hidden), nn.ReLU(), nn.Dropout(0.3), nn.Linear(hidden, 10))
    optimizer = gn.optim.Adam(model.parameters(), lr=3e-3)
    scheduler = gn.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=4)
    loader = gn.data.DataLoader(gn.data.Subset(train, range(first, first + examples)), batch_size=32, shuffle=True,
                                seed=1)
    callbacks = [gn.train.EarlyStopping(patience=100), *callbacks]
    gn.train.fit(model, loader, optimizer, epochs=epochs, val=val, scheduler=scheduler, save_path=save,
                 resume=resume, checkpoint_every=checkpoint_every, callbacks=callbacks, progress=False,
                 out=sys.stdout)
    return model, callbacks
"""


def run_here(*args, **options):
    namespace = {}
    exec(SETUP, namespace)
    return namespace["run"](*args, **options)


def run_in_new_process(call, **popen):
    """``call`` (e.g. "run('x', 4)") in a new Python process after SETUP."""
    return subprocess.Popen([sys.executable, "-c", SETUP + "\n" + call], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **popen)


def finish(process, timeout=120):
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, err
    return out


def weights(path):
    return gn.load(str(path))


def assert_same_weights(a, b):
    assert sorted(a) == sorted(b)
    for name in a:
        assert np.array_equal(a[name], b[name]), f"{name} differs"


def epochs_of(path):
    return [record["epoch"] for record in gn.train.read_history(path)]


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    """4 epochs without a stop: the weights every resumed run must end with."""
    path = tmp_path_factory.mktemp("straight") / "model.safetensors"
    model, callbacks = run_here(str(path), 4)
    return path, callbacks[0].best


def test_two_epochs_then_two_more_in_a_new_process_give_the_same_weights(straight, tmp_path):
    path = tmp_path / "model.safetensors"
    run_here(str(path), 2)
    first_lines = (tmp_path / "history.jsonl").read_text().splitlines()
    out = finish(run_in_new_process(f"run(None, 4, resume={str(tmp_path)!r})"))
    assert "resuming" in out and "at epoch 3" in out
    assert_same_weights(weights(straight[0]), weights(path))
    # the history goes on: the first two records untouched, epochs numbered on
    lines = (tmp_path / "history.jsonl").read_text().splitlines()
    assert lines[:2] == first_lines and epochs_of(tmp_path / "history.jsonl") == [1, 2, 3, 4]
    assert [r["lr"] for r in gn.train.read_history(tmp_path / "history.jsonl")] == \
        [r["lr"] for r in gn.train.read_history(straight[0].parent / "history.jsonl")]
    csv_rows = (tmp_path / "history.csv").read_text().splitlines()
    assert csv_rows[0].startswith("epoch,train_loss,train_acc,val_loss,val_acc") and len(csv_rows) == 1 + 4
    assert "step_losses" not in csv_rows[0]  # scalar columns only


def test_a_crash_mid_epoch_resumes_from_the_step_checkpoint(straight, tmp_path):
    path = tmp_path / "model.safetensors"
    namespace = {}
    exec(SETUP, namespace)
    with pytest.raises(KeyboardInterrupt):  # 6 steps an epoch: the checkpoint of step 9 is mid-way through epoch 2
        namespace["run"](str(path), 4, checkpoint_every=3, callbacks=[namespace["Crash"](11)])
    assert gn.serialization.load_training(str(path))["global_step"] == 9
    out = finish(run_in_new_process(f"run(None, 4, resume={str(path)!r}, checkpoint_every=3)"))
    assert "at epoch 2, batch 4 (step 9)" in out
    assert_same_weights(weights(straight[0]), weights(path))
    assert epochs_of(tmp_path / "history.jsonl") == [1, 2, 3, 4]


def test_a_run_killed_with_sigkill_resumes_from_its_last_checkpoint_and_completes(straight, tmp_path):
    path = tmp_path / "model.safetensors"
    process = run_in_new_process(f"run({str(path)!r}, 4, checkpoint_every=2, callbacks=[Pause(0.05)])")
    deadline = time.monotonic() + 60
    while not path.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    assert process.poll() is None, "the run ended before it could be killed: " + process.communicate()[1]
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    killed_at = gn.serialization.load_training(str(path))["global_step"]
    assert 2 <= killed_at < 24
    out = finish(run_in_new_process(f"run(None, 4, resume={str(tmp_path)!r}, checkpoint_every=2)"))
    assert "resuming" in out
    assert_same_weights(weights(straight[0]), weights(path))
    assert epochs_of(tmp_path / "history.jsonl") == [1, 2, 3, 4]


def test_callbacks_state_comes_back(straight, tmp_path):
    run_here(str(tmp_path / "model.safetensors"), 2)
    _, callbacks = run_here(None, 4, resume=str(tmp_path))
    assert callbacks[0].best == straight[1]  # EarlyStopping's best val_loss over all four epochs


def test_a_changed_model_is_refused_naming_what_differs(tmp_path):
    run_here(str(tmp_path / "model.safetensors"), 1)
    before = (tmp_path / "model.safetensors").read_bytes()
    differs = r"the model differs.*'6\.weight' is \(16, 64\) in the checkpoint but \(32, 64\) here"
    with pytest.raises(ValueError, match=differs):
        run_here(None, 2, resume=str(tmp_path), hidden=32)
    assert (tmp_path / "model.safetensors").read_bytes() == before  # refused before anything was written


def test_a_changed_data_set_is_refused_naming_what_differs(tmp_path):
    run_here(str(tmp_path / "model.safetensors"), 1)
    with pytest.raises(ValueError, match="the training data differs: it had 192 examples, this has 160"):
        run_here(None, 2, resume=str(tmp_path), examples=160)
    with pytest.raises(ValueError, match="the training data differs: as many examples, but not the same ones"):
        run_here(None, 2, resume=str(tmp_path), first=10)


def test_resuming_what_holds_no_training_state_says_so(tmp_path):
    model = gn.nn.Linear(2, 2)
    gn.save(model.state_dict(), str(tmp_path / "model.safetensors"))
    loader = gn.data.DataLoader(gn.data.TensorDataset(np.zeros((4, 2)), np.zeros(4, dtype=np.int64)), batch_size=2)
    with pytest.raises(ValueError, match="no training state"):
        gn.train.fit(model, loader, gn.optim.SGD(model.parameters(), lr=0.1), resume=str(tmp_path), progress=False)
    with pytest.raises(FileNotFoundError, match="cannot resume"):
        gn.train.fit(model, loader, gn.optim.SGD(model.parameters(), lr=0.1), resume=str(tmp_path / "none"))


def test_the_loader_goes_on_mid_epoch_from_its_state():
    data = gn.data.TensorDataset(np.arange(20.0)[:, None], np.arange(20))
    loader = gn.data.DataLoader(data, batch_size=6, shuffle=True, seed=4)
    batches = iter(loader)
    seen = [next(batches)[1].tolist() for _ in range(2)]
    state = loader.state_dict()
    rest, next_epoch = [y.tolist() for _, y in batches], [y.tolist() for _, y in loader]
    again = gn.data.DataLoader(data, batch_size=6, shuffle=True, seed=99)
    again.load_state_dict(state)
    assert [y.tolist() for _, y in again] == rest and [y.tolist() for _, y in again] == next_epoch
    assert sorted(sum(seen + rest, [])) == list(range(20))


# -- from the command line ---------------------------------------------------------------------

CNN = ["--model", "cnn", "--dataset", "digits", "--train-size", "192", "--batch-size", "32", "--schedule", "cosine",
       "--progress", "off", "--seed", "3"]


def test_cli_two_epochs_then_resume_in_a_new_process_equals_four_straight(tmp_path, capsys):
    straight_path, path = tmp_path / "straight" / "model.safetensors", tmp_path / "run" / "model.safetensors"
    assert cli.main(["train", *CNN, "--epochs", "4", "--save", str(straight_path)]) == 0
    assert cli.main(["train", *CNN, "--epochs", "2", "--schedule-epochs", "4", "--save", str(path)]) == 0
    first_lines = (path.parent / "history.jsonl").read_text().splitlines()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()  # the run's paths are recorded absolute: --resume works from any folder
    result = subprocess.run([sys.executable, "-m", "glassnet.cli", "train", "--resume",
                             os.path.relpath(path.parent, elsewhere)], capture_output=True, text=True, timeout=120,
                            cwd=elsewhere)
    assert result.returncode == 0, result.stderr
    assert "resuming" in result.stdout and "up to epoch 4" in result.stdout
    assert_same_weights(weights(straight_path), weights(path))
    assert (path.parent / "history.jsonl").read_text().splitlines()[:3] == first_lines  # epochs 0 to 2, kept
    assert epochs_of(path.parent / "history.jsonl") == [0, 1, 2, 3, 4]
    assert len((path.parent / "history.csv").read_text().splitlines()) == 1 + 5
    # the run is done: resuming again trains nothing, and says so
    assert cli.main(["train", "--resume", str(path.parent)]) == 0
    assert "nothing to do" in capsys.readouterr().out


def test_cli_resume_refuses_flags_that_would_change_the_run(tmp_path, capsys):
    path = tmp_path / "model.safetensors"
    assert cli.main(["train", *CNN, "--epochs", "1", "--save", str(path)]) == 0
    capsys.readouterr()
    assert cli.main(["train", "--resume", str(tmp_path), "--lr", "0.1", "--epochs", "2"]) == 1
    err = capsys.readouterr().err
    assert "--lr 0.1 (the run's: 0.001)" in err and "--epochs" not in err.split("differ:")[1].split(";")[0]
    # a cosine schedule over 1 epoch has ended: training on past it is refused
    assert cli.main(["train", "--resume", str(tmp_path), "--epochs", "3"]) == 1
    assert "past the end of this run's cosine schedule" in capsys.readouterr().err


def test_cli_resume_of_a_table_whose_file_changed_is_refused(tmp_path, capsys):
    table = tmp_path / "table.csv"
    rng = np.random.default_rng(0)
    rows = ["a,b,label"] + [f"{x:.3f},{y:.3f},{int(x > y)}" for x, y in rng.normal(size=(60, 2))]
    table.write_text("\n".join(rows) + "\n")
    path = tmp_path / "run" / "model.safetensors"
    assert cli.main(["train", "--data", str(table), "--target", "label", "--epochs", "1", "--batch-size", "16",
                     "--progress", "off", "--save", str(path), "--checkpoint-every", "1"]) == 0
    table.write_text("\n".join(rows[:40]) + "\n")
    capsys.readouterr()
    assert cli.main(["train", "--resume", str(path.parent), "--epochs", "2"]) == 1
    assert "the training data differs" in capsys.readouterr().err


def test_a_loader_without_a_state_of_its_own_is_replayed_mid_epoch(tmp_path):
    """Random text windows keep only a generator: the resumed epoch draws again from its
    state at the epoch's start and skips the batches already trained."""
    tokens = np.random.default_rng(0).integers(0, 20, size=500)

    def run(save, resume=None, callbacks=()):
        gn.seed(0)
        model = gn.nn.Sequential(gn.nn.Embedding(20, 8), gn.nn.Dropout(0.2), gn.nn.Linear(8, 20))
        loader = gn.data.text.RandomWindows(tokens, 8, 4, 5, seed=0)
        optimizer = gn.optim.Adam(model.parameters(), lr=1e-2)
        gn.train.fit(model, loader, optimizer, epochs=3, loss=cli.sequence_loss, save_path=save, resume=resume,
                     checkpoint_every=3, callbacks=callbacks, progress=False, out=io.StringIO())
        return model.state_dict()

    class Crash(gn.train.Callback):
        def on_batch_end(self, trainer, step, logs):
            if step == 8:
                raise KeyboardInterrupt

    straight = run(str(tmp_path / "a" / "model.safetensors"))
    with pytest.raises(KeyboardInterrupt):
        run(str(tmp_path / "b" / "model.safetensors"), callbacks=[Crash()])
    assert gn.serialization.load_training(str(tmp_path / "b" / "model.safetensors"))["batches_done"] == 1  # step 6
    assert_same_weights(straight, run(None, resume=str(tmp_path / "b")))
