"""The training loop: it learns, it is reproducible, it reports and logs, callbacks act."""
import io
import json
import math

import numpy as np
import pytest

import glassnet as gn
from glassnet import nn
from glassnet.data import DataLoader


@pytest.fixture(scope="module")
def digits():
    return gn.datasets.digits("train"), gn.datasets.digits("test")


def train_mlp(digits, epochs=3, seed=0, out=None, **options):
    train, test = digits
    gn.seed(seed)
    model = gn.models.mlp((1, 8, 8), 10)
    optimizer = gn.optim.Adam(model.parameters(), lr=1e-3)
    loader = DataLoader(train, batch_size=32, shuffle=True, seed=seed)
    history = gn.train.fit(model, loader, optimizer, epochs=epochs, val=test, out=out or io.StringIO(), progress=False, **options)
    return model, optimizer, history


def test_mlp_learns_digits_from_chance_to_above_95_percent(digits):
    out = io.StringIO()
    model, _, history = train_mlp(digits, epochs=20, out=out, initial_eval=True)
    assert history["val_acc"][0] < 0.2  # epoch 0: the untrained network is at chance
    assert history["val_acc"][-1] > 0.95
    assert history["train_loss"][-1] < history["train_loss"][1] / 5
    lines = out.getvalue().splitlines()
    assert lines[0].split() == ["epoch", "train", "loss", "train", "acc", "val", "loss", "val", "acc", "seconds"]
    assert len(lines) == 1 + 21
    assert "\r" not in out.getvalue() and "\x1b" not in out.getvalue()  # no control characters in logs


def test_same_seed_gives_the_identical_loss_curve(digits):
    _, _, first = train_mlp(digits, epochs=2, seed=3)
    _, _, second = train_mlp(digits, epochs=2, seed=3)
    _, _, other = train_mlp(digits, epochs=2, seed=4)
    assert first["step_losses"] == second["step_losses"]
    assert first["step_losses"] != other["step_losses"]


def test_history_is_written_as_json_lines_next_to_the_checkpoint(digits, tmp_path):
    path = tmp_path / "run" / "model.safetensors"
    _, _, history = train_mlp(digits, epochs=2, save_path=str(path), metadata={"model": "mlp"})
    records = [json.loads(line) for line in (tmp_path / "run" / "history.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2]
    assert records[-1]["val_acc"] == pytest.approx(history.last["val_acc"])
    assert len(records[0]["step_losses"]) == math.ceil(len(digits[0]) / 32)
    assert gn.serialization.load_metadata(path) == {"model": "mlp", "epoch": 2}


def test_evaluate_and_predict_agree(digits):
    model, _, _ = train_mlp(digits, epochs=2)
    test = digits[1]
    logits = gn.train.predict(model, test)
    assert logits.shape == (len(test), 10) and logits.dtype == np.float32
    accuracy = (logits.argmax(1) == test.labels).mean()
    assert gn.train.evaluate(model, test)["acc"] == pytest.approx(accuracy)
    # a different batch size changes BLAS summation order: float32 rounding only
    np.testing.assert_allclose(gn.train.predict(model, test.images[:7]), logits[:7], rtol=1e-5, atol=1e-5)


def test_early_stopping_stops_and_restores_the_best_weights(digits):
    stopper = gn.train.EarlyStopping(monitor="val_loss", patience=1, min_delta=10.0, restore_best_weights=True)
    model, _, history = train_mlp(digits, epochs=10, callbacks=[stopper])
    assert len(history) == 2 and stopper.stopped_epoch == 2  # nothing improves by 10 nats


def test_model_checkpoint_keeps_the_best(digits, tmp_path):
    keeper = gn.train.ModelCheckpoint(str(tmp_path / "best.safetensors"), monitor="val_acc")
    model, _, history = train_mlp(digits, epochs=3, callbacks=[keeper])
    best_epoch = int(np.argmax(history["val_acc"])) + 1
    assert keeper.best_epoch == best_epoch
    assert gn.serialization.load_metadata(tmp_path / "best.safetensors")["epoch"] == best_epoch


def test_reduce_lr_on_plateau_lowers_the_learning_rate(digits):
    reducer = gn.train.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=0)
    # a metric that cannot improve by the threshold: val_loss after epoch 1 is the best
    _, optimizer, history = train_mlp(digits, epochs=4, callbacks=[reducer])
    lrs = history["lr"]
    assert lrs[0] == pytest.approx(1e-3)
    assert optimizer.param_groups[0]["lr"] <= 1e-3


def diverging_run(digits):
    """A learning rate of a million: the loss overflows within a few steps."""
    gn.seed(0)
    model = gn.models.mlp((1, 8, 8), 10)
    optimizer = gn.optim.SGD(model.parameters(), lr=1e6)
    return model, DataLoader(digits[0], batch_size=32, shuffle=True, seed=0), optimizer


def test_nan_loss_raises_with_the_step(digits):
    model, loader, optimizer = diverging_run(digits)
    with pytest.raises(FloatingPointError, match=r"loss became (nan|inf) at epoch 1, step \d+"):
        gn.train.fit(model, loader, optimizer, epochs=1, out=io.StringIO(), progress=False)


def test_stop_on_nan_stops_quietly_and_records_where(digits):
    model, loader, optimizer = diverging_run(digits)
    history = gn.train.fit(model, loader, optimizer, epochs=3, callbacks=[gn.train.StopOnNaN()], out=io.StringIO(), progress=False)
    assert len(history) == 1 and "at epoch 1, step" in history.last["stopped"]


class Watchdog(gn.train.Callback):
    """A user's own answer to divergence: note where, and stop only when told to."""

    def __init__(self, stop):
        self.stop, self.seen = stop, []

    def on_divergence(self, trainer, epoch, step, loss):
        self.seen.append((epoch, step, loss))
        trainer.stop_training = self.stop


def test_any_callback_may_stop_a_diverging_run_quietly(digits):
    model, loader, optimizer = diverging_run(digits)
    watchdog = Watchdog(stop=True)
    history = gn.train.fit(model, loader, optimizer, epochs=3, callbacks=[watchdog], out=io.StringIO(), progress=False)
    [(epoch, step, loss)] = watchdog.seen
    assert epoch == 1 and not math.isfinite(loss)
    assert len(history) == 1 and history.last["stopped"] == f"loss became {loss} at epoch 1, step {step}"
    assert len(history.last["step_losses"]) == step - 1  # the steps before the diverged one


def test_a_divergence_hook_that_does_not_stop_lets_the_error_through(digits):
    model, loader, optimizer = diverging_run(digits)
    watchdog = Watchdog(stop=False)
    with pytest.raises(FloatingPointError, match=r"help: lower the learning rate \(now 1e\+06\)") as error:
        gn.train.fit(model, loader, optimizer, epochs=3, callbacks=[watchdog], out=io.StringIO(), progress=False)
    [(epoch, step, loss)] = watchdog.seen
    assert isinstance(error.value, gn.train.TrainingDiverged)
    assert (error.value.epoch, error.value.step) == (epoch, step) and str(loss) in str(error.value)


def test_train_step_is_forward_loss_backward_step():
    gn.seed(0)
    model = nn.Linear(3, 2)
    optimizer = gn.optim.SGD(model.parameters(), lr=0.1)
    trainer = gn.train.Trainer(model, optimizer)
    inputs, targets = gn.tensor(np.ones((4, 3), dtype=np.float32)), np.array([0, 1, 1, 0])
    before = model.weight.numpy().copy()
    expected_loss = gn.nn.functional.cross_entropy(model(inputs), targets)
    expected_loss.backward()
    expected_weight = before - 0.1 * model.weight.grad.numpy()

    loss, logits = trainer.train_step(inputs, targets)
    assert loss == pytest.approx(expected_loss.item()) and logits.shape == (4, 2)
    np.testing.assert_allclose(model.weight.numpy(), expected_weight, rtol=1e-6)


def test_train_step_refuses_a_nonfinite_loss_before_touching_the_weights():
    model = nn.Linear(3, 2)
    optimizer = gn.optim.Adam(model.parameters(), lr=0.1)
    trainer = gn.train.Trainer(model, optimizer)
    before = [p.numpy().copy() for p in model.parameters()]
    inputs = gn.tensor(np.full((4, 3), np.nan, dtype=np.float32))
    with pytest.raises(gn.train.TrainingDiverged, match="the loss became nan"):
        trainer.train_step(inputs, np.array([0, 1, 1, 0]))
    for p, old in zip(model.parameters(), before):
        np.testing.assert_array_equal(p.numpy(), old)
        assert p.grad is None
    assert optimizer.state == {}


def test_step_scheduler_and_gradient_clipping_run(digits):
    train, _ = digits
    gn.seed(0)
    model = gn.models.mlp((1, 8, 8), 10)
    optimizer = gn.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    loader = DataLoader(train, batch_size=64, shuffle=True, seed=0)
    scheduler = gn.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=4 * len(loader))
    history = gn.train.fit(model, loader, optimizer, epochs=4, scheduler=scheduler, scheduler_interval="step",
                           clip_grad_norm=1.0, out=io.StringIO(), progress=False)
    assert history["train_acc"][-1] > 0.8
    assert optimizer.param_groups[0]["lr"] < 0.01  # annealed to the end of the cycle


def test_anomaly_detection_names_the_layer():
    model = nn.Sequential(nn.Linear(3, 3), nn.Sigmoid())
    model[0].weight.data[0, 0] = np.nan
    with gn.detect_anomaly(), pytest.raises(FloatingPointError, match=r"Linear\(in_features=3"):
        model(gn.tensor(np.ones((2, 3), dtype=np.float32)))
