"""inspect.curves and inspect.hints: learning curves drawn from a real run's history, and
diagnoses that fire on histories built to show each failure, and stay quiet on a healthy run."""
import io
import math

import matplotlib.image
import numpy as np
import pytest

from glassnet.inspect import load_run, plots, read_history
from glassnet.inspect.curves import epoch_points, history_records, plot_curves, step_points
from glassnet.inspect.hints import Hint, diagnose, format_hints


def decode(fig):
    return matplotlib.image.imread(io.BytesIO(plots.to_png(fig)))


def curve(train_loss, val_loss=None, train_acc=None, val_acc=None, steps=4, lr=0.1):
    """Epoch records 1..E as training writes them, each epoch's steps at its mean loss."""
    records = []
    for i, loss in enumerate(train_loss):
        record = {"epoch": i + 1, "train_loss": loss, "step_losses": [loss] * steps, "lr": lr}
        for key, values in (("val_loss", val_loss), ("train_acc", train_acc), ("val_acc", val_acc)):
            if values is not None:
                record[key] = values[i]
        records.append(record)
    return records


@pytest.fixture(scope="module")
def cnn_history(digits_cnn_run):
    return read_history(str(digits_cnn_run / "history.jsonl"))


# -- curves ---------------------------------------------------------------------------------

def test_points_sit_where_they_were_measured(cnn_history):
    x, y = epoch_points(cnn_history, "val_loss")
    assert x.tolist() == list(range(0, 11))  # epoch 0 is the untrained network
    assert y.tolist() == [record["val_loss"] for record in cnn_history]
    x, _ = epoch_points(cnn_history, "train_loss")
    assert x.tolist() == [0] + [epoch - 0.5 for epoch in range(1, 11)]  # epoch means sit mid-epoch
    x, y = step_points(cnn_history)
    per_epoch = len(cnn_history[1]["step_losses"])
    assert len(x) == len(y) == 10 * per_epoch
    assert x[0] == pytest.approx(1 / per_epoch) and x[-1] == pytest.approx(10.0)
    assert np.all(np.diff(x) > 0)


def test_curves_of_a_trained_cnn(digits_cnn_run, cnn_history):
    fig = plot_curves(cnn_history, val_label="test")
    loss, accuracy = fig.axes
    assert (loss.get_title(), accuracy.get_title()) == ("Loss", "Accuracy")
    assert loss.get_xlabel() == accuracy.get_xlabel() == "epoch"
    assert [line.get_label() for line in loss.get_lines()] == ["train (each step)", "train (epoch mean)", "test"]
    assert [line.get_label() for line in accuracy.get_lines()] == ["train (epoch mean)", "test"]
    assert accuracy.get_lines()[1].get_ydata()[-1] == pytest.approx(100 * cnn_history[-1]["val_acc"])
    image = decode(fig)
    assert image.shape[0] > 300 and image.shape[1] > 800 and image.shape[2] in (3, 4)
    assert len(plot_curves(load_run(digits_cnn_run)).axes) == 2  # a Run will do


def test_curves_without_validation_or_accuracy():
    loss_only = [{"epoch": e, "train_loss": 3.0 / e, "step_losses": [3.0 / e] * 5, "lr": 1e-3} for e in range(1, 4)]
    fig = plot_curves(loss_only)
    assert len(fig.axes) == 1
    assert [line.get_label() for line in fig.axes[0].get_lines()] == ["train (each step)", "train (epoch mean)"]
    assert decode(fig).shape[1] > 400
    # a language model's history: validation loss, no accuracy
    fig = plot_curves([dict(record, val_loss=record["train_loss"] + 0.1) for record in loss_only])
    assert len(fig.axes) == 1 and len(fig.axes[0].get_lines()) == 3


def test_history_records_accepts_a_path_a_run_and_a_list(digits_cnn_run, cnn_history):
    assert history_records(str(digits_cnn_run / "history.jsonl")) == cnn_history
    assert history_records(load_run(digits_cnn_run)) == cnn_history
    assert history_records(tuple(cnn_history)) == cnn_history


# -- hints on histories ------------------------------------------------------------------------

def names(hints):
    return [hint.name for hint in hints]


def test_a_healthy_run_gets_no_hints(cnn_history):
    assert diagnose(cnn_history, num_classes=10) == []
    assert format_hints([]).startswith("No problems found")


def test_overfitting_names_the_epochs_and_the_gap():
    train_loss = [1.0, 0.5, 0.3, 0.2, 0.1, 0.05, 0.02, 0.01]
    val_loss = [1.0, 0.6, 0.45, 0.5, 0.55, 0.62, 0.7, 0.8]
    train_acc = [0.7, 0.85, 0.9, 0.94, 0.97, 0.99, 0.995, 1.0]
    val_acc = [0.7, 0.82, 0.86, 0.86, 0.85, 0.85, 0.84, 0.84]
    hints = diagnose(curve(train_loss, val_loss, train_acc, val_acc), num_classes=10)
    assert names(hints) == ["overfitting"]
    hint = hints[0]
    assert hint.evidence["best_epoch"] == 3 and hint.evidence["last_epoch"] == 8
    assert hint.evidence["accuracy_gap"] == pytest.approx(0.16)
    assert "from 0.45 (epoch 3) to 0.8 (epoch 8)" in hint.message
    assert "16.0 points (100.0% against 84.0%)" in hint.message
    assert "EarlyStopping" in hint.message
    # two epochs past the best are not yet "several"
    assert diagnose(curve(train_loss[:5], val_loss[:5], train_acc[:5], val_acc[:5])) == []


def test_overfitting_without_accuracy_names_the_loss_gap():
    hints = diagnose(curve([1.0, 0.6, 0.4, 0.3, 0.2, 0.1], [1.0, 0.7, 0.9, 1.0, 1.1, 1.2]))
    assert names(hints) == ["overfitting"]
    assert hints[0].evidence["loss_gap"] == pytest.approx(1.1)
    assert "the validation loss is 1.1 above the training loss" in hints[0].message


def test_an_exploding_loss_blames_the_learning_rate():
    hints = diagnose(curve([2.3, 1.5, 4.0, 30.0], lr=3.0))
    assert names(hints) == ["learning_rate_too_high"]
    assert "rose from 1.5 (epoch 2) to 30 (epoch 4)" in hints[0].message
    assert "lower the learning rate (now 3)" in hints[0].message
    nan = curve([2.3, 1.0]) + [{"epoch": 3, "train_loss": math.nan, "step_losses": [], "lr": 3.0}]
    hints = diagnose(nan, num_classes=10)
    assert names(hints) == ["learning_rate_too_high"]  # and not "not learning" on top
    assert "the training loss became nan at epoch 3" in hints[0].message
    stopped = curve([2.3, 1.0]) + [{"epoch": 3, "train_loss": 0.9, "stopped": "loss became inf at epoch 3, step 7"}]
    assert "loss became inf at epoch 3, step 7" in diagnose(stopped)[0].message


def test_an_oscillating_or_spiking_loss_blames_the_learning_rate():
    hints = diagnose(curve([2.3, 1.2, 1.8, 1.0, 1.6, 0.9]))
    assert names(hints) == ["learning_rate_too_high"]
    assert "went up and down, rising in 2 epochs (epoch 3: 1.2 -> 1.8, epoch 5: 1 -> 1.6)" in hints[0].message
    spiky = curve([2.3, 1.0, 0.6])
    spiky[1]["step_losses"][2] = 9.2
    hints = diagnose(spiky)
    assert names(hints) == ["learning_rate_too_high"]
    assert hints[0].evidence == {"first_step_loss": 2.3, "worst_step_loss": 9.2, "epoch": 2, "spikes": 1}


def test_accuracy_at_chance_means_not_learning():
    history = curve(train_loss=[2.303, 2.302, 2.301, 2.301, 2.300], val_loss=[2.303] * 5,
                    train_acc=[0.1, 0.11, 0.1, 0.09, 0.1], val_acc=[0.1, 0.1, 0.12, 0.1, 0.1])
    hints = diagnose(history, num_classes=10)
    assert names(hints) == ["not_learning"]
    assert "After 5 epochs the best accuracy is 12.0%, near chance (10.0%, one in 10)" in hints[0].message
    # without the number of classes the flat loss gives it away
    hints = diagnose(history)
    assert names(hints) == ["not_learning"] and "went only from 2.303 to 2.3" in hints[0].message
    assert diagnose(history[:2], num_classes=10) == []  # too early to tell


# -- hints on health records ----------------------------------------------------------------

def health_record(norms, dead=None):
    """A HealthMonitor record with the given gradient norms {layer: [...]} (steps 1, 11, ...)."""
    steps = len(next(iter(norms.values())))
    return {
        "every": 10,
        "layers": {name: "Linear" for name in norms},
        "activation_layers": {name: "Linear" for name in norms},
        "gradient_norms": {"step": list(range(1, 10 * steps + 1, 10)), "epoch": [1] * steps, "norm": norms},
        "weights": {"epoch": [], "mean": {}, "std": {}, "norm": {}},
        "activations": {"epoch": [1], "sample_size": 64, "mean": {}, "std": {}, "dead": dead or {}, "units": {}},
        "histograms": [],
    }


def test_vanishing_gradients_from_a_health_record():
    healthy = curve([2.3, 1.0, 0.5])
    health = health_record({"0": [1e-6, 2e-6, 1e-6], "2": [1e-4, 1e-4, 1e-4], "4": [0.5, 0.4, 0.6]})
    hints = diagnose(healthy, health)
    assert names(hints) == ["vanishing_gradients"]
    assert hints[0].evidence["ratio"] == pytest.approx(1e-6 / 0.5)
    assert hints[0].evidence["faded_layers"] == ["0", "2"]
    assert "first layer 0 (Linear) is 1.00e-06" in hints[0].message
    assert diagnose(healthy, health_record({"0": [0.1, 0.2, 0.1], "4": [0.5, 0.4, 0.6]})) == []


def test_exploding_gradients_from_a_health_record():
    healthy = curve([2.3, 1.0, 0.5])
    growing = health_record({"0": [1.0, 1.0, 2.0, 10.0, 1e3], "1": [0.5, 0.6, 0.5, 0.6, 5.0]})
    hints = diagnose(healthy, growing)
    assert names(hints) == ["exploding_gradients"]
    assert hints[0].evidence["layer"] == "0" and hints[0].evidence["step"] == 41
    assert "grew 1000 times" in hints[0].message
    broken = health_record({"0": [1.0, 1.0, None], "1": [0.5, 0.6, 0.7]})  # None: not finite
    hints = diagnose(healthy, broken)
    assert names(hints) == ["exploding_gradients"] and "at step 21" in hints[0].message


def test_format_hints_lists_every_hint():
    hints = [Hint("overfitting", "the validation loss rose. " * 10, {}), Hint("dead_relu_units", "layer 3", {})]
    text = format_hints(hints, width=80)
    assert text.splitlines()[0] == "2 possible problems:"
    assert "- overfitting: the validation loss rose." in text and "- dead relu units: layer 3" in text
    assert max(len(line) for line in text.splitlines()) <= 80
