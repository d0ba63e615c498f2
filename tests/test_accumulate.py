"""Gradient accumulation and the loop's options from the command line: N batches summed are
one batch N times larger; schedules, clipping and step counts count optimizer steps."""
import io
import math

import numpy as np
import pytest

import glassnet as gn
from glassnet import cli, nn
from glassnet.data import DataLoader, TensorDataset


def train(batch_size, accumulate, optimizer="adam", epochs=3, examples=30, **options):
    """A float64 MLP without batch norm or dropout (so a batch's examples do not interact)
    on random data; returns the final weights and what the callback saw."""
    rng = np.random.default_rng(0)
    data = TensorDataset(rng.normal(size=(examples, 5)), rng.integers(0, 3, size=examples))
    gn.seed(0)
    model = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 3)).double()
    if optimizer == "adam":
        optimizer = gn.optim.Adam(model.parameters(), lr=0.05)
    else:
        optimizer = gn.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    steps = Steps()
    loader = DataLoader(data, batch_size=batch_size, shuffle=True, seed=5)  # the same seed: the same order
    history = gn.train.fit(model, loader, optimizer, epochs=epochs, accumulate=accumulate, callbacks=[steps],
                           out=io.StringIO(), progress=False, **options)
    return model.state_dict(), steps, history


class Steps(gn.train.Callback):
    def __init__(self):
        self.seen = []

    def on_batch_end(self, trainer, step, logs):
        self.seen.append((step, logs["batch"], trainer.optimizer.param_groups[0]["lr"]))


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
@pytest.mark.parametrize("examples", [36, 30, 26])  # whole groups; a last group of 2 batches; of 1 small batch
def test_accumulating_n_batches_is_one_batch_n_times_larger(optimizer, examples):
    accumulated, _, _ = train(batch_size=4, accumulate=3, optimizer=optimizer, examples=examples)
    big, _, _ = train(batch_size=12, accumulate=1, optimizer=optimizer, examples=examples)
    for name in big:
        np.testing.assert_allclose(accumulated[name], big[name], rtol=1e-10, atol=1e-12, err_msg=name)
        assert not np.array_equal(accumulated[name], train(4, 1, optimizer, examples=examples)[0][name])


def test_clipping_applies_to_the_accumulated_gradient():
    accumulated, _, _ = train(batch_size=4, accumulate=3, clip_grad_norm=0.05)
    big, _, _ = train(batch_size=12, accumulate=1, clip_grad_norm=0.05)
    for name in big:
        np.testing.assert_allclose(accumulated[name], big[name], rtol=1e-10, atol=1e-12, err_msg=name)


def test_steps_schedulers_and_history_count_optimizer_steps():
    optimizer_steps_per_epoch = math.ceil(math.ceil(30 / 4) / 3)  # 8 batches, groups of 3: 3 steps
    rng = np.random.default_rng(0)
    data = TensorDataset(rng.normal(size=(30, 5)), rng.integers(0, 3, size=30))
    model = nn.Linear(5, 3)
    optimizer = gn.optim.SGD(model.parameters(), lr=0.1)
    scheduler = gn.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    steps = Steps()
    history = gn.train.fit(model, DataLoader(data, batch_size=4), optimizer, epochs=2, accumulate=3,
                           scheduler=scheduler, scheduler_interval="step", callbacks=[steps], out=io.StringIO(),
                           progress=False)
    assert [step for step, _, _ in steps.seen] == list(range(1, 2 * optimizer_steps_per_epoch + 1))
    assert [batch for _, batch, _ in steps.seen] == [3, 6, 8] * 2  # after the batch that closes each group
    assert scheduler.last_epoch == 2 * optimizer_steps_per_epoch
    assert [lr for _, _, lr in steps.seen] == [0.1 * 0.5 ** k for k in range(1, 7)]
    assert all(len(record["step_losses"]) == optimizer_steps_per_epoch for record in history.epochs)


def test_accumulate_and_checkpoint_every_are_checked():
    model = nn.Linear(2, 2)
    optimizer = gn.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="accumulate must be a whole number"):
        gn.train.Trainer(model, optimizer, accumulate=0)
    with pytest.raises(ValueError, match="checkpoint_every writes the checkpoint to save_path"):
        gn.train.Trainer(model, optimizer, checkpoint_every=10)


# -- the command line ---------------------------------------------------------------------------


@pytest.fixture
def fit_options(monkeypatch):
    """The options ``glassnet train`` hands to fit, without training."""
    seen = {}

    def fake_fit(model, loader, optimizer, **options):
        seen.update(options, loader=loader, optimizer=optimizer)
        return gn.train.History()

    monkeypatch.setattr(cli, "fit", fake_fit)
    return seen


MLP = ["train", "--model", "mlp", "--dataset", "digits", "--train-size", "200", "--batch-size", "20",
       "--progress", "off"]


def test_cli_passes_accumulate_clip_and_checkpoints_to_fit(fit_options, tmp_path):
    assert cli.main([*MLP, "--accumulate", "4", "--clip-grad", "0.5", "--checkpoint-every", "7",
                     "--save", str(tmp_path / "model.safetensors")]) == 0
    assert fit_options["accumulate"] == 4 and fit_options["clip_grad_norm"] == 0.5
    assert fit_options["checkpoint_every"] == 7 and fit_options["scheduler"] is None
    assert fit_options["metadata"]["train_args"]["accumulate"] == 4


def test_checkpoint_every_needs_save(capsys):
    assert cli.main([*MLP, "--checkpoint-every", "7"]) == 1
    assert "--checkpoint-every saves the checkpoint to --save" in capsys.readouterr().err


@pytest.mark.parametrize("schedule, scheduler, interval", [
    ("cosine", "CosineAnnealingLR", "epoch"), ("step", "StepLR", "epoch"),
    ("onecycle", "OneCycleLR", "step"), ("warmup-cosine", "SequentialLR", "step"),
])
def test_cli_builds_each_schedule(fit_options, schedule, scheduler, interval):
    assert cli.main([*MLP, "--schedule", schedule, "--epochs", "3"]) == 0
    assert type(fit_options["scheduler"]).__name__ == scheduler and fit_options["scheduler_interval"] == interval


@pytest.mark.parametrize("extra, first_lr, last_lr", [
    (["--schedule", "step", "--step-size", "1", "--gamma", "0.5"], 1e-2, 1e-2 * 0.5 ** 3),
    (["--schedule", "onecycle", "--accumulate", "3"], 1e-2 / 25, 1e-2 / 25 / 1e4),
    (["--schedule", "warmup-cosine", "--warmup-steps", "3", "--accumulate", "2"], 1e-2 / 3, 0.0),
])
def test_cli_schedules_run_to_their_end(extra, first_lr, last_lr, tmp_path):
    """Stepped per epoch or per optimizer step (accumulation counted), each ends where it should."""
    path = tmp_path / "model.safetensors"
    assert cli.main([*MLP, "--epochs", "3", "--lr", "1e-2", "--save", str(path), *extra]) == 0
    history = gn.train.read_history(tmp_path / "history.jsonl")
    assert history[0]["lr"] == pytest.approx(first_lr)  # epoch 0: before any step
    model = gn.models.mlp((1, 8, 8), 10)
    optimizer = gn.optim.Adam(model.parameters())
    gn.load(str(path), model, optimizer)  # the checkpoint's optimizer holds the lr the schedule set last
    assert optimizer.param_groups[0]["lr"] == pytest.approx(last_lr, abs=1e-12)
